"""The scale-out benchmark's own logic: dealing turns to servers, CPU accounting, ratios."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from itertools import pairwise

import pytest
from fastapi import FastAPI, Request

from bench import load
from bench.scaleout import (
    LEAST_BUSY,
    ONE,
    ONE_SQLITE,
    PER_TURN,
    ROUND_ROBIN,
    TWO,
    TWO_PER_TURN,
    TWO_ROUND_ROBIN,
    Dealer,
    Measured,
    Plan,
    attribute,
    closed_loop_across,
    cpu_delta,
    ratio,
    render,
    stat_parent_ticks,
)
from tests.servers import serving

SCRIPT = [load.Turn(kind, "it", f"{kind} text") for kind in load.SCRIPT]


def test_round_robin_is_blind_to_load_and_sticky() -> None:
    dealer = Dealer(2, ROUND_ROBIN)
    firsts = [dealer.start() for _ in range(4)]
    assert firsts == [0, 1, 0, 1]
    dealer.end(1)
    dealer.end(1)  # server 1 is now idle, server 0 still has two conversations
    assert dealer.start() == 0
    assert [dealer.turn(0, t) for t in range(3)] == [0, 0, 0]


def test_least_busy_fills_the_idle_server_first() -> None:
    dealer = Dealer(2, LEAST_BUSY)
    assert [dealer.start() for _ in range(3)] == [0, 1, 0]
    dealer.end(0)
    dealer.end(0)
    assert dealer.in_flight == [0, 1]
    assert [dealer.start(), dealer.start()] == [0, 0]  # 0 was idle, then tied: lowest index
    assert [dealer.turn(1, t) for t in range(3)] == [1, 1, 1]


def test_per_turn_alternates_within_a_conversation() -> None:
    dealer = Dealer(2, PER_TURN)
    first = dealer.start()
    assert [dealer.turn(first, t) for t in range(4)] == [first, 1 - first, first, 1 - first]
    assert Dealer(1, PER_TURN).turn(0, 3) == 0


def test_unknown_dealing_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown dealing"):
        Dealer(2, "random")


def _recording_app(name: str, seen: dict[str, list[str]]) -> FastAPI:
    app = FastAPI()

    @app.post("/webhooks/rest/webhook")
    async def webhook(request: Request) -> list[dict]:
        body = await request.json()
        seen[body["sender"]].append(name)
        return [{"text": "ok"}]

    return app


def _drive(dealing: str) -> tuple[dict[str, list[str]], load.Run]:
    seen: dict[str, list[str]] = defaultdict(list)
    stream = iter(lambda: list(SCRIPT), None)
    with (
        serving(_recording_app("a", seen), "server a") as a,
        serving(_recording_app("b", seen), "server b") as b,
    ):
        run = asyncio.run(closed_loop_across([a, b], stream, 4, 0.5, dealing))
    return seen, run


def test_closed_loop_keeps_each_conversation_on_one_server_and_uses_both() -> None:
    for dealing in (LEAST_BUSY, ROUND_ROBIN):
        seen, run = _drive(dealing)
        failed = [r for r in run.results if not r.ok]
        assert run.results and not failed, failed
        assert all(len(set(servers)) == 1 for servers in seen.values()), dealing
        firsts = [servers[0] for servers in seen.values()]
        assert firsts.count("a") and firsts.count("b"), dealing


def test_closed_loop_per_turn_alternates_within_a_conversation() -> None:
    seen, _ = _drive(PER_TURN)
    whole = [servers for servers in seen.values() if len(servers) == len(SCRIPT)]
    assert whole
    for servers in whole:
        assert all(x != y for x, y in pairwise(servers)), servers


def test_stat_line_with_odd_command_name_gives_parent_and_ticks() -> None:
    line = "4242 (rasa (main) x) S 1 4200 4200 0 -1 4194560 100 0 0 0 250 37 0 0 20 0 9 0 12"
    assert stat_parent_ticks(line) == (1, 287)


def test_cpu_goes_to_the_nearest_named_ancestor() -> None:
    processes = {
        100: (1, 5),  # the load generator
        200: (100, 40),  # a Rasa server, started by it
        201: (200, 7),  # its worker
        300: (100, 10),  # PostgreSQL's postmaster
        301: (300, 3),  # a backend (its own process group, same parent)
        999: (1, 1000),  # someone else's process
    }
    roots = {100: "load generator", 200: "Rasa server 1", 300: "PostgreSQL"}
    assert attribute(processes, roots) == {
        "load generator": 5,
        "Rasa server 1": 47,
        "PostgreSQL": 13,
    }


def test_cpu_delta_is_per_group() -> None:
    assert cpu_delta({"a": 1.0, "b": 2.0}, {"a": 3.5, "b": 2.0, "c": 1.0}) == {
        "a": 2.5,
        "b": 0.0,
        "c": 1.0,
    }


def test_plan_interleaves_configurations() -> None:
    full = Plan.for_mode(quick=False)
    assert full.schedule()[: len(full.configs) + 1] == [*full.configs, full.configs[0]]
    assert len(full.schedule()) == full.repeats * len(full.configs)
    assert ONE_SQLITE in full.configs and ONE_SQLITE not in Plan.for_mode(quick=True).configs


def test_ratio_is_nan_without_a_base() -> None:
    assert ratio(30.0, 20.0) == 1.5
    assert ratio(30.0, 0.0) != ratio(30.0, 0.0)
    assert ratio(float("nan"), 2.0) != ratio(float("nan"), 2.0)


def _measured(latency_s: float, turns: int, wall_s: float, cpu: dict[str, float]) -> Measured:
    measured = Measured()
    results = [load.TurnResult("kb", latency_s, True, float(i)) for i in range(turns)]
    measured.add(load.Run(results, 0.0, wall_s), cpu)
    return measured


def test_report_leads_with_ratios_and_shows_where_the_cpu_went() -> None:
    plan = Plan.for_mode(quick=True)
    measured = {
        ONE.key: _measured(0.200, 300, 10.0, {"Rasa server 1": 9.0, "action server": 6.0}),
        TWO.key: _measured(0.150, 450, 10.0, {"Rasa server 1": 6.0, "Rasa server 2": 6.0}),
        TWO_ROUND_ROBIN.key: _measured(0.300, 225, 10.0, {"Rasa server 1": 6.0}),
        TWO_PER_TURN.key: _measured(0.150, 450, 10.0, {"Rasa server 1": 6.0}),
    }
    info = {
        "when": "2026-11-23 10:00 UTC",
        "load_before": "1.0 / 1.0 / 1.0",
        "load_after": "2.0 / 1.5 / 1.0",
        "command": ".venv/bin/python -m bench.scaleout --quick",
        "minutes": 3.0,
    }
    text = render(plan, measured, info)
    assert "| 2 servers (sticky, least busy) vs 1 | ×1.50 | ×0.75 | ×0.75 |" in text
    assert "| 2 servers: sticky round-robin vs sticky least busy | ×0.50 | ×2.00 | ×2.00 |" in text
    assert "| 2 servers: per turn vs sticky least busy | ×1.00 | ×1.00 | ×1.00 |" in text
    ratio_rows = [
        line for line in text.split("| configuration | turns")[0].splitlines() if line[:2] == "| "
    ]
    assert not any("SQLite" in line for line in ratio_rows)  # not measured: no row
    assert "| PostgreSQL: 1 server | 300 | 0 | 30.0 (30.0) | 200 | 200 | 200 |" in text
    # 9 s of Rasa CPU over 300 turns = 30 ms a turn; 15 CPU seconds in 10 s = 1.5 cores
    assert "| PostgreSQL: 1 server | 30.0 | 0.0 | 20.0 | 50.0 | 1.50 |" in text
    assert "Rasa server sqlite" not in text  # a column only for processes that ran
