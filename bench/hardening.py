"""Hardening: hostile input and crashes, measured as a benchmark rather than a timed test.

``python -m bench.hardening`` runs the project's own hypothesis fuzzers and its kill -9
fault injection, with far more examples than ``make test`` and from a random seed:

- ``tests/integration/test_fuzz_rest.py``: generated JSON and raw bodies against the REST
  channel of the real stack (Rasa server, action server, knowledge base), then the
  databases' integrity check and one ordinary question;
- ``tests/desk/console/test_fuzz_forms.py``: every console form and query string,
  markup-laden text, in process;
- ``tests/integration/test_faults.py``: kill -9 the action server, the Rasa server and the
  console, wait for the supervisor to restart them, check that the ticket, its SLA
  deadlines, the rating and the operator's waiting answer survived; repeated in rounds on
  the same, ever older, data;
- the attack checks of issue 20 on the real stack: ``tests/integration/test_exposure.py``
  (the Rasa API's token and CORS, loopback binds, private files, access logs),
  ``tests/integration/test_limits.py`` (1 MB bodies, 60,000-character messages, bursts
  of new conversations and ratings from one client) and
  ``tests/integration/test_hijack.py`` (a socket taking over a REST customer's ticket, a
  customer typing the desk's intent); the CSV export's formula cells are checked by
  ``tests/insights/test_report.py``.

The tests are run by pytest in a subprocess with the knobs below (examples, seed, rounds;
read by ``tests/hardening.py``), so the benchmark checks exactly what the suite checks. Their
JUnit report (with hypothesis' statistics in it) is read back: examples run per target,
server errors, unescaped or leaked text, the other failures, the checks after the fuzzing,
the fault rounds and what they lost. The figures go to BENCHMARKS.md (section
``hardening``) with the seed, so a finding can be replayed; the exit status is 1 when
anything failed. ``--quick`` is what a CI run can afford (3-6 minutes, by the load).
"""

from __future__ import annotations

import argparse
import base64
import os
import re
import secrets
import signal
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from bench.sections import load_average, machine, write_section
from sportello.settings import PROJECT_ROOT

# The knobs this benchmark turns on the suite's fuzzers and fault injection (read by
# tests/hardening.py; unset = the ``make test`` behaviour): examples per fuzzed test, the
# hypothesis seed (a failure is replayed with the same seed and count), and how many
# times the fault injection kills every service. Here so that this module, packaged with
# ``sportello bench``, imports nothing from ``tests/``.
EXAMPLES_ENV = "SPORTELLO_FUZZ_EXAMPLES"
SEED_ENV = "SPORTELLO_FUZZ_SEED"
FAULT_ROUNDS_ENV = "SPORTELLO_FAULT_ROUNDS"
BENCHMARKS = PROJECT_ROOT / "BENCHMARKS.md"
SECTION = "hardening"
REST_FUZZ = "tests/integration/test_fuzz_rest.py"
CONSOLE_FUZZ = "tests/desk/console/test_fuzz_forms.py"
FAULTS = "tests/integration/test_faults.py"
FUZZ_MODULES = {
    REST_FUZZ: "REST channel, real stack",
    CONSOLE_FUZZ: "console forms, in process",
}
SECURITY_MODULES = {
    "tests/integration/test_exposure.py": "what is exposed",
    "tests/integration/test_limits.py": "size and rate limits",
    "tests/integration/test_hijack.py": "hijacking",
    "tests/insights/test_report.py": "CSV formula cells",
}
KILLED = "action server, Rasa server, operator console"
TIMEOUT_S = 3 * 3600  # a hung stack must not hold a CI runner forever


@dataclass(frozen=True)
class Mode:
    """How hard a run pushes: examples per fuzzed test and rounds of kill -9."""

    examples: int
    rounds: int


QUICK = Mode(examples=150, rounds=1)
FULL = Mode(examples=1000, rounds=5)

# What a failure is, read from pytest's failure text. Only the error lines count (``E``
# in a plain failure, ``|`` inside hypothesis' group of distinct failures): the source
# lines printed around them contain the same words without the values.
_ERROR_LINE = r"^\s*(?:E|\|)\s+"
FINDINGS: dict[str, list[re.Pattern[str]]] = {
    "server error": [
        re.compile(_ERROR_LINE + r"assert \(?5\d\d (?:<|==|in) ", re.M),  # a 5xx status
        re.compile(_ERROR_LINE + r"assert 'Traceback' not in ", re.M),  # internals shown
        re.compile(_ERROR_LINE + r"httpx\.\w+: ", re.M),  # the server died or hung
    ],
    "unescaped text": [re.compile(_ERROR_LINE + r"AssertionError: unescaped: ", re.M)],
    "leaked text": [
        re.compile(_ERROR_LINE + r"AssertionError: another customer's words leaked", re.M)
    ],
}
OTHER = "other failure"
_FAILING_CASE = re.compile(_ERROR_LINE + r"Failing test case:", re.M)
_PHASE = re.compile(r"during (\w+) phase")
_CASES = re.compile(r"(\d+) passing, (\d+) failing, and (\d+) invalid")
_STOPPED = re.compile(r"Stopped because (.+)")
STATS_PROPERTY = "hypothesis-statistics-"


@dataclass
class Outcome:
    """One test of the run, as pytest's JUnit report tells it."""

    nodeid: str
    status: str  # "passed", "failed", "error" or "skipped"
    seconds: float
    message: str = ""  # pytest's short failure message; "" when the test passed
    details: str = ""  # the whole failure text: traceback, falsifying examples
    examples: int | None = None  # hypothesis test cases run, passing + failing
    invalid: int | None = None  # generated then rejected (too large, filtered)
    stopped_because: str = ""

    @property
    def module(self) -> str:
        return self.nodeid.split("::", 1)[0]

    @property
    def name(self) -> str:
        return self.nodeid.split("::", 1)[-1]

    @property
    def passed(self) -> bool:
        return self.status == "passed"

    def findings(self) -> Counter[str]:
        """Failures by kind: hypothesis reports each distinct failure once, shrunk."""
        found: Counter[str] = Counter()
        if self.passed:
            return found
        for kind, patterns in FINDINGS.items():
            hits = sum(len(pattern.findall(self.details)) for pattern in patterns)
            if hits:
                found[kind] = hits
        distinct = max(len(_FAILING_CASE.findall(self.details)), 1)
        if distinct > sum(found.values()):
            found[OTHER] = distinct - sum(found.values())
        return found

    def error_lines(self, limit: int = 1500) -> str:
        """The failure's own lines (values, the minimal example), without source code."""
        lines = [
            re.sub(_ERROR_LINE, "", line)
            for line in self.details.splitlines()
            if re.match(_ERROR_LINE, line)
        ]
        text = "\n".join(lines) or self.message or self.status
        return text if len(text) <= limit else text[:limit] + "\n[...]"


def parse_statistics(text: str) -> tuple[int, int, str]:
    """(examples, invalid, why it stopped) from hypothesis' statistics of one test.

    Shrinking replays variations of a failure already found, so its cases are not counted.
    """
    examples = invalid = 0
    phase = ""
    for line in text.splitlines():
        if match := _PHASE.search(line):
            phase = match.group(1)
        elif (match := _CASES.search(line)) and phase not in ("shrink", "explain"):
            passing, failing, rejected = (int(n) for n in match.groups())
            examples += passing + failing
            invalid += rejected
    stopped = _STOPPED.search(text)
    return examples, invalid, stopped.group(1).strip() if stopped else ""


def _nodeid(case: ET.Element) -> str:
    module = case.get("classname", "").replace(".", "/") + ".py"
    return f"{module}::{case.get('name', '')}"


def read_junit(xml_text: str) -> list[Outcome]:
    """Every test case of a pytest JUnit XML report, with hypothesis' statistics merged in."""
    root = ET.fromstring(xml_text)
    statistics = {
        prop.get("name", "")[len(STATS_PROPERTY) :]: base64.b64decode(prop.get("value", "")).decode(
            "utf-8", "replace"
        )
        for prop in root.iter("property")
        if prop.get("name", "").startswith(STATS_PROPERTY)
    }
    outcomes: dict[str, Outcome] = {}
    for case in root.iter("testcase"):
        nodeid = _nodeid(case)
        outcome = outcomes.setdefault(
            nodeid, Outcome(nodeid, "passed", float(case.get("time") or 0))
        )
        for child in case:
            if child.tag in ("failure", "error", "skipped") and outcome.passed:
                outcome.status = "failed" if child.tag == "failure" else child.tag
                outcome.message = child.get("message", "")
                outcome.details = child.text or ""
        if nodeid in statistics:
            outcome.examples, outcome.invalid, outcome.stopped_because = parse_statistics(
                statistics[nodeid]
            )
    return list(outcomes.values())


@dataclass
class Report:
    """The run's outcomes and what they add up to."""

    outcomes: list[Outcome]
    rounds: int  # fault rounds asked for
    exit_code: int = 0  # pytest's
    findings: Counter[str] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        for outcome in self.fuzz_outcomes():
            self.findings.update(outcome.findings())

    def fuzz_outcomes(self, module: str | None = None) -> list[Outcome]:
        modules = (module,) if module else tuple(FUZZ_MODULES)
        return [o for o in self.outcomes if o.module in modules]

    def fuzz_targets(self) -> list[Outcome]:
        """The fuzzed tests (hypothesis reported statistics for them)."""
        return [o for o in self.fuzz_outcomes() if o.examples is not None]

    def checks(self) -> list[Outcome]:
        """Plain tests in the fuzz modules: the databases' integrity, the bot still answers."""
        return [o for o in self.fuzz_outcomes() if o.examples is None]

    def fault_rounds(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.module == FAULTS]

    def security_outcomes(self, module: str | None = None) -> list[Outcome]:
        modules = (module,) if module else tuple(SECURITY_MODULES)
        return [o for o in self.outcomes if o.module in modules]

    def problems(self) -> list[str]:
        """Everything that makes the run a failure; empty when all held."""
        problems = [
            f"{count} {kind}{'s' if count > 1 else ''} found"
            for kind, count in self.findings.items()
        ]
        for outcome in self.outcomes:
            if not outcome.passed:
                first = outcome.message.splitlines()[0] if outcome.message else ""
                problems.append(f"{outcome.nodeid} {outcome.status}: {first}".rstrip(": "))
        for module in FUZZ_MODULES:
            if not any(o.examples is not None for o in self.fuzz_outcomes(module)):
                problems.append(f"{module}: no fuzzer reported how many examples it ran")
        for module in SECURITY_MODULES:
            if not self.security_outcomes(module):
                problems.append(f"{module}: the attack checks did not run")
        if len(self.fault_rounds()) != self.rounds:
            problems.append(f"{len(self.fault_rounds())} of {self.rounds} fault rounds ran")
        if self.exit_code != 0 and not problems:
            problems.append(f"pytest exited with status {self.exit_code} (see its output)")
        return problems


def pytest_command(junit: Path) -> list[str]:
    """Faults after the REST fuzzers: the crashes then hit a stack that took the abuse."""
    return [
        sys.executable, "-m", "pytest", REST_FUZZ, FAULTS, CONSOLE_FUZZ, *SECURITY_MODULES,
        f"--junitxml={junit}", "-p", "no:cacheprovider", "-q",
    ]  # fmt: skip


def run_tests(mode: Mode, seed: int, junit: Path) -> int:
    """pytest's exit status; on time-out, interrupted as Ctrl-C would (the stack stops)."""
    env = {
        **os.environ,
        EXAMPLES_ENV: str(mode.examples),
        SEED_ENV: str(seed),
        FAULT_ROUNDS_ENV: str(mode.rounds),
    }
    process = subprocess.Popen(pytest_command(junit), cwd=PROJECT_ROOT, env=env)
    try:
        return process.wait(timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGINT)
        return process.wait()


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")[:200]


def _mark(ok: bool) -> str:
    return "✅" if ok else "❌"


def render(report: Report, info: dict) -> str:
    """The BENCHMARKS.md section: targets, fault rounds, the totals that must be 0."""
    mode: Mode = info["mode"]
    seed = info["seed"]
    lines = [
        "## Hardening: hostile input and crashes",
        "",
        f"Measured {info['when']} on {machine()}; {info['seconds']:.0f} s in all; load average "
        f"{info['load_before']} before, {info['load_after']} after (other work on the machine "
        "inflates the times).",
        "",
        f"Command: `{info['command']}`",
        "",
        f"Seed **{seed}**, {mode.examples} examples per fuzzed test, {mode.rounds} fault "
        f"round{'s' if mode.rounds > 1 else ''}. Replay one test: "
        f"`{EXAMPLES_ENV}={mode.examples} {SEED_ENV}={seed} .venv/bin/python -m pytest "
        "'FILE::TEST'`; the whole run: the command with `--seed " + f"{seed}`.",
        "",
        "The hypothesis fuzzers of the test suite, run with many more examples: generated "
        "JSON and raw bodies against the REST channel of the real stack (Rasa, action server, "
        "knowledge base), markup-laden text in every console form and query string. A target "
        "fails on a 5xx, a traceback shown, a dead server, customer text unescaped in a page "
        "or another customer's words in a reply; hypothesis then stops it and shrinks the "
        "failure to a minimal example (below), so a count is of distinct failures. Then "
        f"kill -9 of the {KILLED}, restarted by the supervisor, in rounds on the same data: "
        "the ticket, its SLA deadlines, the rating and the operator's waiting answer must "
        "all survive. Times include starting the stack (in the first REST target).",
        "",
        "| file | test | examples | invalid | server errors | unescaped or leaked text "
        "| other failures | s | |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for module, label in FUZZ_MODULES.items():
        for outcome in report.fuzz_outcomes(module):
            found = outcome.findings()
            examples = "–" if outcome.examples is None else f"{outcome.examples:,}"
            invalid = "–" if outcome.invalid is None else f"{outcome.invalid:,}"
            lines.append(
                f"| `{module}` ({label}) | `{outcome.name}` | {examples} | {invalid} | "
                f"{found['server error']} | {found['unescaped text'] + found['leaked text']} | "
                f"{found[OTHER]} | {outcome.seconds:.0f} | {_mark(outcome.passed)} |"
            )
    lines += [
        "",
        "| fault round | killed, then restarted | lost | s | |",
        "|---|---|---|---|---|",
    ]
    for number, outcome in enumerate(report.fault_rounds(), 1):
        lost = "nothing" if outcome.passed else _cell(outcome.message or outcome.status)
        lines.append(
            f"| {number} | {KILLED} | {lost} | {outcome.seconds:.0f} | {_mark(outcome.passed)} |"
        )
    lines += ["", "| attacks (issue 20) | test | s | held |", "|---|---|---|---|"]
    for module, label in SECURITY_MODULES.items():
        for outcome in report.security_outcomes(module):
            lines.append(
                f"| {label} | `{outcome.name}` | {outcome.seconds:.0f} | {_mark(outcome.passed)} |"
            )
    targets, checks, rounds = report.fuzz_targets(), report.checks(), report.fault_rounds()
    examples = sum(o.examples or 0 for o in targets)
    held = [
        ("server errors", "0", str(report.findings["server error"])),
        ("customer text unescaped in a console page", "0", str(report.findings["unescaped text"])),
        ("another customer's words in a reply", "0", str(report.findings["leaked text"])),
        ("other failures of the fuzzed tests", "0", str(report.findings[OTHER])),
        (
            "checks after the fuzzing (databases' integrity_check, the bot still answers)",
            f"{len(checks)}/{len(checks)}",
            f"{sum(o.passed for o in checks)}/{len(checks)}",
        ),
        (
            "attack checks that held",
            f"{len(report.security_outcomes())}/{len(report.security_outcomes())}",
            f"{sum(o.passed for o in report.security_outcomes())}/"
            f"{len(report.security_outcomes())}",
        ),
        (
            "fault rounds with nothing lost",
            f"{report.rounds}/{report.rounds}",
            f"{sum(o.passed for o in rounds)}/{report.rounds}",
        ),
    ]
    lines += [
        "",
        f"{examples:,} examples in {len(targets)} fuzzed tests.",
        "",
        "| must be | expected | measured | |",
        "|---|---|---|---|",
        *(f"| {what} | {want} | {got} | {_mark(want == got)} |" for what, want, got in held),
    ]
    failed = [o for o in report.outcomes if not o.passed]
    if failed:
        lines += ["", "### Failures", ""]
        for outcome in failed:
            lines += [f"`{outcome.nodeid}` ({outcome.status}):", "", "~~~text"]
            lines += [outcome.error_lines(), "~~~", ""]
    if report.exit_code and not failed:
        lines += ["", f"pytest exited with status {report.exit_code}: see its output."]
    return "\n".join(lines).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Fuzz the REST channel and the console, kill -9 the services; account"
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"{QUICK.examples} examples per fuzzed test, {QUICK.rounds} fault round (3-6 min) "
        f"instead of {FULL.examples} and {FULL.rounds} (15-20 min)",
    )
    parser.add_argument("--examples", type=int, help="examples per fuzzed test")
    parser.add_argument("--rounds", type=int, help="rounds of kill -9")
    parser.add_argument("--seed", type=int, help="hypothesis seed (default: a random one)")
    parser.add_argument("--no-write", action="store_true", help="do not touch BENCHMARKS.md")
    args = parser.parse_args(argv)
    base = QUICK if args.quick else FULL
    mode = Mode(examples=args.examples or base.examples, rounds=args.rounds or base.rounds)
    seed = args.seed if args.seed is not None else secrets.randbelow(10**9)
    command_args = sys.argv[1:] if argv is None else argv
    info = {
        "command": " ".join([".venv/bin/python -m bench.hardening", *command_args]),
        "mode": mode,
        "seed": seed,
        "load_before": load_average(),
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }
    print(
        f"hardening: {mode.examples} examples per fuzzed test, {mode.rounds} fault "
        f"round{'s' if mode.rounds > 1 else ''}, seed {seed}",
        flush=True,
    )
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="sportello-hardening-") as tmp:
        junit = Path(tmp) / "junit.xml"
        exit_code = run_tests(mode, seed, junit)
        outcomes = read_junit(junit.read_text(encoding="utf-8")) if junit.exists() else []
    info["seconds"] = time.monotonic() - started
    info["load_after"] = load_average()
    report = Report(outcomes, rounds=mode.rounds, exit_code=exit_code)
    text = render(report, info)
    print(text)
    if not args.no_write:
        write_section(BENCHMARKS, SECTION, text)
    problems = report.problems()
    for problem in problems:
        print(f"hardening: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
