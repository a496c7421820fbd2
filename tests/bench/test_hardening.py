"""The hardening benchmark's accounting: it adds up pytest's report and fails on any finding.

Most cases are JUnit reports written here by hand, shaped like pytest's; one runs pytest
with hypothesis for real on failing tests, so that a change in their report formats shows.
"""

from __future__ import annotations

import base64
import subprocess
import sys
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bench import hardening
from bench.hardening import Mode, Report, parse_statistics, read_junit, render
from tests.hardening import EXAMPLES_ENV, FAULT_ROUNDS_ENV, SEED_ENV, fault_rounds, fuzz

REST = "tests.integration.test_fuzz_rest"
CONSOLE = "tests.desk.console.test_fuzz_forms"
FAULTS = "tests.integration.test_faults"
FAULT_TEST = "test_killed_services_come_back_and_nothing_is_lost"


def statistics(examples: int, invalid: int = 0, failing: int = 0, shrinks: int = 0) -> str:
    """Hypothesis' statistics text of one test, as its pytest plugin writes it."""
    text = (
        "  - during generate phase (3.11 seconds):\n"
        "    - Typical runtimes: ~ 0-126 ms, of which ~ 0-3 ms in data generation\n"
        f"    - {examples - failing} passing, {failing} failing, and {invalid} invalid test cases\n"
    )
    if shrinks:
        text += (
            "    - Found 1 distinct error in this phase\n\n"
            "  - during shrink phase (0.50 seconds):\n"
            "    - Typical runtimes: ~ 1ms, of which < 1ms in data generation\n"
            f"    - 0 passing, {shrinks} failing, and 0 invalid test cases\n"
        )
    return text + f"\n  - Stopped because settings.max_examples={examples}"


def case(classname: str, name: str, failure: tuple[str, str] | None = None, tag="failure") -> str:
    body = ""
    if failure is not None:
        message, text = failure
        body = f"<{tag} message={quoteattr(message)}>{escape(text)}</{tag}>"
    return f'<testcase classname="{classname}" name="{name}" time="2.5">{body}</testcase>'


def junit(cases: list[str], stats: dict[str, str]) -> str:
    properties = "".join(
        f'<property name="hypothesis-statistics-{nodeid}" '
        f'value="{base64.b64encode(text.encode()).decode()}"/>'
        for nodeid, text in stats.items()
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest">'
        f"<properties>{properties}</properties>{''.join(cases)}</testsuite></testsuites>"
    )


def clean_run(rounds: int = 2, **replace: str) -> str:
    """Two fuzzed tests per module, the integrity check, ``rounds`` fault rounds: all pass."""
    cases = {
        "rest_json": case(REST, "test_json_payloads_never_break_the_channel"),
        "rest_raw": case(REST, "test_raw_bodies_never_break_the_channel"),
        "integrity": case(REST, "test_the_databases_are_intact_and_the_bot_still_answers"),
        "login": case(CONSOLE, "test_login_form"),
        "answer": case(CONSOLE, "test_answer_form"),
        "exposure": case(
            "tests.integration.test_exposure", "test_the_rasa_token_is_on_no_command_line"
        ),
        "limits": case("tests.integration.test_limits", "test_ratings_are_limited_per_client"),
        "hijack": case(
            "tests.integration.test_hijack",
            "test_a_socket_cannot_take_over_a_rest_customers_ticket",
        ),
        "csv": case("tests.insights.test_report", "test_ordinary_cells_and_numbers_are_unchanged"),
    }
    cases.update(replace)
    faults = [case(FAULTS, f"{FAULT_TEST}[round{n}]") for n in range(1, rounds + 1)]
    stats = {
        "tests/integration/test_fuzz_rest.py::test_json_payloads_never_break_the_channel": (
            statistics(1500, invalid=40)
        ),
        "tests/integration/test_fuzz_rest.py::test_raw_bodies_never_break_the_channel": (
            statistics(1500)
        ),
        "tests/desk/console/test_fuzz_forms.py::test_login_form": statistics(1500, invalid=7),
        "tests/desk/console/test_fuzz_forms.py::test_answer_form": statistics(1500),
    }
    return junit([*cases.values(), *faults], stats)


INFO = {
    "mode": Mode(examples=1500, rounds=2),
    "seed": 424242,
    "command": ".venv/bin/python -m bench.hardening",
    "when": "2026-11-23 10:00 UTC",
    "seconds": 900.0,
    "load_before": "1.00 / 1.00 / 1.00",
    "load_after": "1.50 / 1.20 / 1.00",
}

SERVER_ERROR = (
    "AssertionError: (500, 'Internal Server Error')\nassert 500 in (200, 400)",
    "    @FUZZ\n    @given(payload=PAYLOAD)\n"
    "    def test_json_payloads_never_break_the_channel(stack, victim, payload):\n"
    ">       assert reply.status_code in (200, 400), (reply.status_code, reply.text[:300])\n"
    "E       AssertionError: (500, 'Internal Server Error')\n"
    "E       assert 500 in (200, 400)\n"
    "E        +  where 500 = <Response [500 Internal Server Error]>.status_code\n"
    "E       Failing test case: test_json_payloads_never_break_the_channel(\n"
    "E           payload={'sender': 0},\n"
    "E       )\n\ntests/integration/test_fuzz_rest.py:64: AssertionError",
)
UNESCAPED = (
    "AssertionError: unescaped: '<script>alert(1)</script>'",
    '    for text in submitted:\n        if "<" in text and text.strip():\n'
    '>           assert text not in html, f"unescaped: {text!r}"\n'
    "E           AssertionError: unescaped: '<script>alert(1)</script>'\n"
    "E           Failing test case: test_login_form(\n"
    "E               username='<script>alert(1)</script>', password='',\n"
    "E           )\n",
)
LOST = (
    "AssertionError: assert [] == [{'conversation_id': 'fault-2-ab12'}]",
    ">       assert ratings.ratings_for(db, schema.TARGET_ARTICLE, 'spedizione-costi') == votes\n"
    "E       AssertionError: assert [] == [{'conversation_id': 'fault-2-ab12'}]\n",
)


def test_statistics_count_generated_examples_not_shrinks() -> None:
    examples, invalid, stopped = parse_statistics(
        statistics(300, invalid=12, failing=1, shrinks=80)
    )
    assert (examples, invalid) == (300, 12)
    assert stopped == "settings.max_examples=300"


def test_a_clean_run_passes_and_says_how_much_was_tried() -> None:
    report = Report(read_junit(clean_run()), rounds=2)
    assert report.problems() == []
    assert [o.examples for o in report.fuzz_targets()] == [1500, 1500, 1500, 1500]
    assert [o.name for o in report.checks()] == [
        "test_the_databases_are_intact_and_the_bot_still_answers"
    ]
    text = render(report, INFO)
    assert "6,000 examples in 4 fuzzed tests" in text
    assert "| server errors | 0 | 0 | ✅ |" in text
    assert "| fault rounds with nothing lost | 2/2 | 2/2 | ✅ |" in text
    assert "SPORTELLO_FUZZ_SEED=424242" in text
    assert "❌" not in text


def test_a_server_error_fails_the_run_and_shows_the_minimal_example() -> None:
    bad = case(REST, "test_json_payloads_never_break_the_channel", SERVER_ERROR)
    report = Report(read_junit(clean_run(rest_json=bad)), rounds=2)
    assert report.findings == {"server error": 1}
    assert "1 server error found" in report.problems()
    text = render(report, INFO)
    assert "| server errors | 0 | 1 | ❌ |" in text
    assert "payload={'sender': 0}" in text  # the shrunk example, to replay


def test_a_dead_server_is_a_server_error_not_unescaped_text() -> None:
    # The source printed around the error mentions "unescaped" and "status_code < 500":
    # only the error lines count.
    died = (
        "httpx.ReadTimeout: timed out",
        '>       assert reply.status_code < 500 and f"unescaped: {text!r}"\n'
        "E       httpx.ReadTimeout: timed out\n"
        "E       Failing test case: test_answer_form(text='x')\n",
    )
    report = Report(read_junit(clean_run(answer=case(CONSOLE, "test_answer_form", died))), 2)
    assert report.findings == {"server error": 1}


def test_unescaped_text_in_a_page_fails_the_run() -> None:
    bad = case(CONSOLE, "test_login_form", UNESCAPED)
    report = Report(read_junit(clean_run(login=bad)), rounds=2)
    assert report.findings == {"unescaped text": 1}
    assert report.problems()
    assert "| customer text unescaped in a console page | 0 | 1 | ❌ |" in render(report, INFO)


def test_a_fault_round_that_lost_something_fails_the_run_and_names_it() -> None:
    xml = clean_run(rounds=1) + ""
    lost_round = case(FAULTS, f"{FAULT_TEST}[round2]", LOST)
    xml = xml.replace("</testsuite>", lost_round + "</testsuite>")
    report = Report(read_junit(xml), rounds=2)
    assert any("round2" in problem for problem in report.problems())
    text = render(report, INFO)
    assert "| fault rounds with nothing lost | 2/2 | 1/2 | ❌ |" in text
    assert (
        "| 2 | action server, Rasa server, operator console | AssertionError: assert [] ==" in text
    )


def test_rounds_that_never_ran_or_a_silent_fuzzer_fail_the_run() -> None:
    assert "1 of 2 fault rounds ran" in Report(read_junit(clean_run(rounds=1)), 2).problems()
    no_stats = junit([case(REST, "test_json_payloads_never_break_the_channel")], {})
    problems = Report(read_junit(no_stats), rounds=0).problems()
    assert any("no fuzzer reported" in p for p in problems)


def test_the_attack_checks_are_reported_and_must_run() -> None:
    report = Report(read_junit(clean_run()), 2)
    assert report.problems() == []
    section = render(report, INFO)
    assert "| hijacking | `test_a_socket_cannot_take_over_a_rest_customers_ticket` |" in section
    assert "| attack checks that held | 4/4 | 4/4 | ✅ |" in section
    without = Report(read_junit(clean_run(hijack="")), 2).problems()
    assert without == ["tests/integration/test_hijack.py: the attack checks did not run"]


def test_a_stack_that_did_not_start_fails_the_run() -> None:
    error = ("failed on setup with ServiceError: Rasa server did not answer", "E   ServiceError")
    xml = clean_run(
        rest_json=case(REST, "test_json_payloads_never_break_the_channel", error, "error")
    )
    report = Report(read_junit(xml), rounds=2)
    assert report.findings == {"other failure": 1}
    assert any("error: failed on setup" in p for p in report.problems())


def test_a_pytest_crash_without_failures_fails_the_run() -> None:
    assert Report(read_junit(clean_run()), rounds=2, exit_code=3).problems() == [
        "pytest exited with status 3 (see its output)"
    ]


def test_main_writes_the_section_and_exits_non_zero_on_a_finding(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bad = case(REST, "test_json_payloads_never_break_the_channel", SERVER_ERROR)
    asked: list[tuple[Mode, int]] = []

    def fake_run(mode: Mode, seed: int, junit_path: Path) -> int:
        asked.append((mode, seed))
        junit_path.write_text(clean_run(rounds=1, rest_json=bad), encoding="utf-8")
        return 1

    benchmarks = tmp_path / "BENCHMARKS.md"
    monkeypatch.setattr(hardening, "run_tests", fake_run)
    monkeypatch.setattr(hardening, "BENCHMARKS", benchmarks)
    assert hardening.main(["--quick", "--seed", "7"]) == 1
    assert asked == [(hardening.QUICK, 7)]
    text = benchmarks.read_text(encoding="utf-8")
    assert "<!-- hardening:start -->" in text
    assert "Command: `.venv/bin/python -m bench.hardening --quick --seed 7`" in text


def test_main_passes_a_clean_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def fake_run(mode: Mode, seed: int, junit_path: Path) -> int:
        junit_path.write_text(clean_run(rounds=mode.rounds), encoding="utf-8")
        return 0

    monkeypatch.setattr(hardening, "run_tests", fake_run)
    assert hardening.main(["--no-write", "--rounds", "3"]) == 0


FAILING_MODULE = """
from hypothesis import given, settings, strategies as st

class Reply:
    status_code = 500
    text = "Internal Server Error"

@settings(max_examples=20, database=None)
@given(st.text())
def test_status(text):
    reply = Reply()
    assert reply.status_code < 500, reply.text[:300]

@settings(max_examples=20, database=None)
@given(st.text(min_size=1))
def test_unescaped(text):
    html = "<p><" + text + "</p>"
    assert "<" + text not in html, f"unescaped: {'<' + text!r}"

@settings(max_examples=30, database=None)
@given(st.integers())
def test_passes(number):
    assert isinstance(number, int)
"""


def test_real_pytest_and_hypothesis_reports_are_read(tmp_path: Path) -> None:
    (tmp_path / "test_fake.py").write_text(FAILING_MODULE, encoding="utf-8")
    xml = tmp_path / "junit.xml"
    subprocess.run(
        [sys.executable, "-m", "pytest", "test_fake.py", f"--junitxml={xml}", "-p",
         "no:cacheprovider", "-q"],
        cwd=tmp_path,
        capture_output=True,
        check=False,
    )  # fmt: skip
    outcomes = {o.name: o for o in read_junit(xml.read_text(encoding="utf-8"))}
    assert outcomes["test_status"].findings() == {"server error": 1}
    assert outcomes["test_unescaped"].findings() == {"unescaped text": 1}
    assert outcomes["test_passes"].passed and outcomes["test_passes"].examples == 30
    assert "Failing test case: test_status(" in outcomes["test_status"].error_lines()


def _count_examples() -> list[str]:
    seen: list[str] = []

    @fuzz(5)
    @given(st.text())
    def generated(text: str) -> None:
        seen.append(text)

    generated()
    return seen


def test_fuzz_knobs_default_to_the_suite_and_obey_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(EXAMPLES_ENV, raising=False)
    monkeypatch.delenv(SEED_ENV, raising=False)
    assert len(_count_examples()) == 5
    assert _count_examples() == _count_examples()  # derandomized: the same every run
    monkeypatch.setenv(EXAMPLES_ENV, "17")
    monkeypatch.setenv(SEED_ENV, "1")
    first = _count_examples()
    assert len(first) == 17 and _count_examples() == first  # a seed replays the run
    monkeypatch.setenv(SEED_ENV, "2")
    assert _count_examples() != first


def test_fault_rounds_default_to_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(FAULT_ROUNDS_ENV, raising=False)
    assert list(fault_rounds()) == [1]
    monkeypatch.setenv(FAULT_ROUNDS_ENV, "5")
    assert list(fault_rounds()) == [1, 2, 3, 4, 5]
