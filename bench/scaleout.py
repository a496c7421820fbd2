"""Several Rasa servers on one machine, sharing PostgreSQL or SQLite, and Redis.

``python -m bench.scaleout`` (about 25 minutes) or ``--quick`` (about 5) starts, on
loopback, a throwaway PostgreSQL cluster, a redis-server, one action server and two Rasa
servers whose endpoints name Rasa's SQL tracker store on PostgreSQL and its Redis lock
store (:mod:`bench.scaleout_stack`, the smoke test's set-up; PostgreSQL with its
durable defaults here), and two more Rasa servers sharing one SQLite tracker store file
and the same Redis lock store (several Rasa processes on one machine without
PostgreSQL). Then 16 customers talk back to back (closed loop, the conversations of
:mod:`bench.load`, knowledge-base phrasings screened as :mod:`bench.speed` does) through:

- **1 server**: every conversation to Rasa server 1;
- **2 servers, sticky, least busy**: each conversation stays on the server that had
  fewer conversations under way when it began (a balancer with sticky sessions and
  least-connections);
- **2 servers, sticky, round-robin**: each conversation stays on the next server in
  turn (like a balancer hashing the conversation id: blind to load);
- **2 servers, per turn**: each message to the next server (no stickiness);
- **SQLite: 1 server, 2 servers** (sticky, least busy) and 2 servers with 8 customers
  (the 60 turns/s target asks for p95 <= 250 ms, which 16 customers back to back cannot
  give at that rate: their mean wait alone would be 16/60 s);
- full mode only, **SQLite, in-memory locks**: a fifth Rasa server with the shipped
  single-machine endpoints, as a reference.

Full mode runs each configuration three times, interleaved, so that a change in the
machine's load spreads over all of them. The headline is the ratios between
configurations, not absolute times: this 2-core machine runs the load generator, the
databases and every server at once, and other work on it moves absolute figures. The
CPU seconds of each process (with its workers) are read from /proc during each run, to
show where the two cores went. The section ``scale-out`` of BENCHMARKS.md is rewritten.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from bench import load, speed
from bench.scaleout_stack import ScaleOut, missing_binaries, running_scale_out
from bench.sections import load_average, machine, write_section
from sportello.settings import PROJECT_ROOT
from stack.services import train_model

BENCHMARKS = PROJECT_ROOT / "BENCHMARKS.md"
SECTION = "scale-out"
CONCURRENCY = 16
SEED = 20261123
SQLITE = "sqlite"  # name of the reference Rasa server with the shipped endpoints


# How a load balancer deals messages to Rasa servers.
LEAST_BUSY = "least busy"  # a conversation stays on the server with fewest in flight at its start
ROUND_ROBIN = "round-robin"  # a conversation stays on the next server in turn (like hashing its id)
PER_TURN = "per turn"  # every message to the next server: no stickiness


@dataclass(frozen=True)
class Config:
    """One way of sending the load: which Rasa servers, and how messages are dealt."""

    key: str
    label: str
    servers: tuple[int, ...]  # indexes into ScaleOut.rasa
    dealing: str = LEAST_BUSY
    customers: int = CONCURRENCY


# ScaleOut.rasa: 0-1 share PostgreSQL + Redis, 2-3 share one SQLite file + Redis ("S1",
# "S2"), 4 (full mode) has the shipped endpoints: SQLite, in-memory locks.
ONE = Config("pg-1", "PostgreSQL: 1 server", (0,))
TWO = Config("pg-2", "PostgreSQL: 2 servers, sticky, least busy", (0, 1))
TWO_ROUND_ROBIN = Config(
    "pg-2-rr", "PostgreSQL: 2 servers, sticky, round-robin", (0, 1), ROUND_ROBIN
)
TWO_PER_TURN = Config("pg-2-turn", "PostgreSQL: 2 servers, per turn", (0, 1), PER_TURN)
SQ_ONE = Config("sq-1", "SQLite: 1 server", (2,))
SQ_TWO = Config("sq-2", "SQLite: 2 servers, sticky, least busy", (2, 3))
SQ_TWO_8 = Config(
    "sq-2-8", "SQLite: 2 servers, sticky, least busy, 8 customers", (2, 3), customers=8
)
ONE_SQLITE = Config("sqlite-1", "SQLite, in-memory locks: 1 server (as shipped)", (4,))


@dataclass(frozen=True)
class Plan:
    quick: bool
    configs: tuple[Config, ...]
    repeats: int
    run_s: float
    warm_s: float
    kb_phrasings_per_lang: int

    @classmethod
    def for_mode(cls, quick: bool) -> Plan:
        if quick:
            return cls(True, (ONE, TWO, SQ_ONE, SQ_TWO, SQ_TWO_8), 1, 15.0, 4.0, 60)
        configs = (ONE, TWO, TWO_ROUND_ROBIN, TWO_PER_TURN, SQ_ONE, SQ_TWO, SQ_TWO_8, ONE_SQLITE)
        return cls(False, configs, 3, 40.0, 5.0, 200)

    def schedule(self) -> list[Config]:
        """Every run in order: the configurations interleaved, ``repeats`` rounds."""
        return [config for _ in range(self.repeats) for config in self.configs]


@dataclass
class Measured:
    """All runs of one configuration, pooled."""

    results: list[load.TurnResult] = field(default_factory=list)
    wall_s: float = 0.0
    throughputs: list[float] = field(default_factory=list)  # one per run: the spread
    cpu_s: dict[str, float] = field(default_factory=dict)  # process -> CPU seconds

    def add(self, run: load.Run, cpu_s: dict[str, float]) -> None:
        self.results += run.results
        self.wall_s += run.wall_s
        self.throughputs.append(sum(r.ok for r in run.results) / run.wall_s)
        for name, seconds in cpu_s.items():
            self.cpu_s[name] = self.cpu_s.get(name, 0.0) + seconds

    def summary(self) -> load.Summary:
        return load.summarise(self.results, self.wall_s)


# ---- sending --------------------------------------------------------------------------------
class Dealer:
    """Which Rasa server gets each message, as a load balancer would choose it.

    ``least busy`` and ``round-robin`` keep a conversation on the server chosen at its
    first message (sticky sessions); ``per turn`` sends each message to the next
    server. ``in_flight`` counts the conversations under way on each server.
    """

    def __init__(self, servers: int, dealing: str) -> None:
        if dealing not in (LEAST_BUSY, ROUND_ROBIN, PER_TURN):
            raise ValueError(f"unknown dealing {dealing!r}")
        self.dealing = dealing
        self.in_flight = [0] * servers
        self._next = 0

    def start(self) -> int:
        """A new conversation begins: the server of its first message."""
        if self.dealing == LEAST_BUSY:
            server = min(range(len(self.in_flight)), key=lambda i: (self.in_flight[i], i))
        else:
            server = self._next
            self._next = (self._next + 1) % len(self.in_flight)
        self.in_flight[server] += 1
        return server

    def turn(self, first: int, turn: int) -> int:
        """The server of message number ``turn`` (0-based) of a conversation that began
        on ``first``."""
        if self.dealing == PER_TURN:
            return (first + turn) % len(self.in_flight)
        return first

    def end(self, first: int) -> None:
        self.in_flight[first] -= 1


async def closed_loop_across(
    rasa_urls: Sequence[str],
    stream: Iterator[list[load.Turn]],
    concurrency: int,
    duration_s: float,
    dealing: str,
) -> load.Run:
    """:func:`bench.load.closed_loop` with the messages dealt across several servers."""
    urls = [load.rest_url(url) for url in rasa_urls]
    dealer = Dealer(len(urls), dealing)
    started = time.monotonic()
    deadline = started + duration_s
    results: list[load.TurnResult] = []

    async def customer(client: httpx.AsyncClient) -> None:
        while time.monotonic() < deadline:
            first, sender = dealer.start(), f"scale-{uuid.uuid4().hex[:12]}"
            try:
                for i, turn in enumerate(next(stream)):
                    url = urls[dealer.turn(first, i)]
                    results.append(await load.send_turn(client, url, sender, turn))
            finally:
                dealer.end(first)

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, trust_env=False) as client:
        await asyncio.gather(*(customer(client) for _ in range(concurrency)))
    return load.Run(results, started, time.monotonic() - started)


# ---- where the CPU went ---------------------------------------------------------------------
def stat_parent_ticks(stat: str) -> tuple[int, int]:
    """(parent pid, user + system clock ticks) from a /proc/PID/stat line.

    The command name in parentheses may hold spaces and parentheses itself, so the
    fields are counted after its last ``)``.
    """
    fields = stat.rsplit(")", 1)[1].split()
    # After the name: state(0) ppid(1) pgrp(2) ... utime(11) stime(12).
    return int(fields[1]), int(fields[11]) + int(fields[12])


def attribute(processes: dict[int, tuple[int, int]], roots: dict[int, str]) -> dict[str, int]:
    """Ticks per named root: each process counts for its nearest ancestor (or itself)
    among ``roots``. A tree, not a process group: PostgreSQL's backends leave the
    postmaster's group (they call setsid), and the servers are this process's children."""
    totals = dict.fromkeys(roots.values(), 0)
    for pid, (_, ticks) in processes.items():
        node, hops = pid, 0
        while node not in roots and node in processes and hops < 64:
            node, hops = processes[node][0], hops + 1
        if node in roots:
            totals[roots[node]] += ticks
    return totals


def process_cpu_s(roots: dict[int, str]) -> dict[str, float]:
    """CPU seconds used so far by each named process and its descendants (live ones)."""
    processes = {}
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                processes[int(proc.name)] = stat_parent_ticks((proc / "stat").read_text())
            except (OSError, ValueError, IndexError):
                continue
    hertz = os.sysconf("SC_CLK_TCK")
    return {name: ticks / hertz for name, ticks in attribute(processes, roots).items()}


def process_roots(scale_out: ScaleOut) -> dict[int, str]:
    """Pid -> name, for the servers and this load generator."""
    roots = {os.getpid(): "load generator"}
    for service in scale_out.services:
        if service.process is not None:
            roots[service.process.pid] = service.name
    for name, server in (("PostgreSQL", scale_out.postgres), ("Redis", scale_out.redis)):
        if server.process is not None:
            roots[server.process.pid] = name
    return roots


def cpu_delta(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {name: after[name] - before.get(name, 0.0) for name in after}


# ---- the run --------------------------------------------------------------------------------
def measure(
    scale_out: ScaleOut,
    plan: Plan,
    pools: dict,
    progress: Callable[[str], None] = print,
) -> dict[str, Measured]:
    """Every configuration of the plan on the running stack; pooled per configuration."""
    stream = load.conversations(pools, SEED)
    roots = process_roots(scale_out)
    measured = {config.key: Measured() for config in plan.configs}
    for config in plan.schedule():
        urls = [scale_out.rasa[i].rasa_url for i in config.servers]
        customers, dealing = config.customers, config.dealing
        asyncio.run(closed_loop_across(urls, stream, customers, plan.warm_s, dealing))
        before = process_cpu_s(roots)
        run = asyncio.run(closed_loop_across(urls, stream, customers, plan.run_s, dealing))
        measured[config.key].add(run, cpu_delta(before, process_cpu_s(roots)))
        s = load.summarise(run.results, run.wall_s)
        progress(
            f"  {config.label}: {s.turns} turns, {s.errors} errors, {s.throughput:.1f} turns/s, "
            f"p50 {s.p50_ms:.0f} ms, p95 {s.p95_ms:.0f} ms"
        )
    return measured


def screened_pools(scale_out: ScaleOut, plan: Plan) -> dict:
    """The load's texts, with knowledge-base phrasings that Rasa would hand over or the
    knowledge base would not answer left out (:func:`bench.speed.screen_kb_phrasings`)."""
    kept = speed.screen_kb_phrasings(
        scale_out.settings,
        speed.Plan(quick=plan.quick, kb_phrasings_per_lang=plan.kb_phrasings_per_lang),
        speed.StackResults(),
    )
    return load.build_pools(kept)


# ---- the report -----------------------------------------------------------------------------
def ratio(new: float, old: float) -> float:
    """``new / old``; NaN when there is nothing to compare with."""
    return new / old if old and old == old and new == new else float("nan")


def _x(value: float) -> str:
    return "–" if value != value else f"×{value:.2f}"


def _ms(value: float) -> str:
    return "–" if value != value else f"{value:.0f}"


COMPARISONS = (
    (TWO, ONE, "2 servers (sticky, least busy) vs 1"),
    (TWO_ROUND_ROBIN, TWO, "2 servers: sticky round-robin vs sticky least busy"),
    (TWO_PER_TURN, TWO, "2 servers: per turn vs sticky least busy"),
    (SQ_TWO, SQ_ONE, "SQLite: 2 servers (sticky, least busy) vs 1"),
    (SQ_TWO, TWO, "2 servers: SQLite + Redis vs PostgreSQL + Redis"),
    (ONE, ONE_SQLITE, "1 server: PostgreSQL + Redis vs SQLite + in-memory locks"),
    (SQ_ONE, ONE_SQLITE, "1 server: SQLite + Redis locks vs SQLite + in-memory locks"),
)


def ratio_rows(summaries: dict[str, load.Summary]) -> list[str]:
    """The headline: throughput and latency ratios between configurations."""
    rows = [
        "| comparison | throughput | p50 | p95 |",
        "|---|---|---|---|",
    ]
    for new, old, label in COMPARISONS:
        if new.key in summaries and old.key in summaries:
            a, b = summaries[new.key], summaries[old.key]
            rows.append(
                f"| {label} | {_x(ratio(a.throughput, b.throughput))} | "
                f"{_x(ratio(a.p50_ms, b.p50_ms))} | {_x(ratio(a.p95_ms, b.p95_ms))} |"
            )
    return rows


CPU_COLUMNS = (
    "Rasa server 1",
    "Rasa server 2",
    "Rasa server S1",
    "Rasa server S2",
    f"Rasa server {SQLITE}",
    "action server",
    "PostgreSQL",
    "Redis",
    "load generator",
)


def render(plan: Plan, measured: dict[str, Measured], info: dict) -> str:
    summaries = {key: m.summary() for key, m in measured.items()}
    configs = [c for c in plan.configs if c.key in measured]
    columns = [c for c in CPU_COLUMNS if any(m.cpu_s.get(c, 0) > 0.05 for m in measured.values())]
    lines = [
        "## Scaling out: one Rasa server or two, sharing PostgreSQL or SQLite, and Redis",
        "",
        f"Measured {info['when']} on {machine()}; load average {info['load_before']} before, "
        f"{info['load_after']} after (other work on the machine moves absolute figures; "
        "the ratios compare runs made side by side).",
        "",
        f"Command: `{info['command']}` ({info['minutes']:.0f} min). How to run several "
        "servers, and what is tested: `docs/scaling.md`.",
        "",
        f"{CONCURRENCY} customers (unless the row says otherwise) back to back (closed "
        f"loop) through the REST channel, {plan.run_s:.0f} s per run after "
        f"{plan.warm_s:.0f} s of warm-up, {plan.repeats} run(s) per configuration, "
        "interleaved. PostgreSQL rows: the Rasa servers keep conversations in Rasa's SQL "
        "tracker store on one PostgreSQL (durable defaults); SQLite rows: in one SQLite "
        "file (`bot.tracker_store.SQLiteTrackerStore`, WAL), the way to run several Rasa "
        "processes on one machine. Both take the Redis lock store "
        "(`bot.lock_store.AtomicRedisLockStore`) unless the row says in-memory locks; one "
        "action server serves them all. "
        '"Sticky": a conversation stays on the server its first message went to, chosen '
        "as the least busy or in turn (round-robin, blind to load like hashing the "
        'conversation id); "per turn": every message goes to the next server.',
        "",
        *ratio_rows(summaries),
        "",
        "| configuration | turns | errors | turns/s (runs) | p50 ms | p95 ms | p99 ms |",
        "|---|---|---|---|---|---|---|",
    ]
    for config in configs:
        s, runs = summaries[config.key], measured[config.key].throughputs
        spread = ", ".join(f"{t:.1f}" for t in runs)
        lines.append(
            f"| {config.label} | {s.turns} | {s.errors} | {s.throughput:.1f} ({spread}) | "
            f"{_ms(s.p50_ms)} | {_ms(s.p95_ms)} | {_ms(s.p99_ms)} |"
        )
    lines += [
        "",
        "Where the CPU went: milliseconds of CPU per answered turn, by process (with its "
        "workers). Unlike times, these hardly move when other work shares the machine; "
        '"cores used" is the CPU the whole stack got per second of run (at most 2).',
        "",
        "| configuration | " + " | ".join(columns) + " | total | cores used |",
        "|---|" + "---|" * (len(columns) + 2),
    ]
    for config in configs:
        m, answered = (
            measured[config.key],
            summaries[config.key].turns - summaries[config.key].errors,
        )
        ms_per_turn = [
            1000 * m.cpu_s.get(c, 0.0) / answered if answered else float("nan") for c in columns
        ]
        used = sum(m.cpu_s.get(c, 0.0) for c in columns) / m.wall_s
        lines.append(
            f"| {config.label} | "
            + " | ".join(f"{v:.1f}" for v in ms_per_turn)
            + f" | {sum(ms_per_turn):.1f} | {used:.2f} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.scaleout", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--quick", action="store_true", help="one short run each (about 4 min)")
    parser.add_argument("--model", type=Path, help="Rasa model to use (default: train if stale)")
    parser.add_argument("--no-write", action="store_true", help="print, leave BENCHMARKS.md")
    args = parser.parse_args(argv)
    missing = missing_binaries()
    if missing:
        print("cannot run: " + "; ".join(missing))
        return 2
    plan = Plan.for_mode(args.quick)
    began = time.monotonic()
    info = {
        "command": ".venv/bin/python -m bench.scaleout" + (" --quick" if args.quick else ""),
        "load_before": load_average(),
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }
    model = args.model or train_model()
    extra = () if plan.quick else (SQLITE,)
    with tempfile.TemporaryDirectory(prefix="sportello-scaleout-") as tmp:
        print("starting PostgreSQL, Redis, the action server and the Rasa servers", flush=True)
        with running_scale_out(
            Path(tmp), model, durable=True, sqlite_shared=2, extra_rasa=extra
        ) as scale_out:
            print(f"  ready after {time.monotonic() - began:.0f} s; screening phrasings")
            pools = screened_pools(scale_out, plan)
            measured = measure(scale_out, plan, pools, lambda line: print(line, flush=True))
    info["load_after"] = load_average()
    info["minutes"] = (time.monotonic() - began) / 60
    text = render(plan, measured, info)
    print(text)
    if not args.no_write:
        write_section(BENCHMARKS, SECTION, text)
        print(f"wrote the {SECTION} section of {BENCHMARKS}")
    errors = sum(m.summary().errors for m in measured.values())
    return 1 if errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
