"""Simulated demo data: written through the library, marked, never mixed with real rows."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
import sqlite_utils

from customerlog import schema
from customerlog.turns import record_turn
from desk import tickets
from insights.data import simulated_conversations
from insights.demo import DemoRefused, seed_demo
from insights.filters import make_filters
from insights.report import build_report

NOW = datetime(2026, 11, 23, 11, 0, tzinfo=timezone.utc)


def test_a_few_hundred_marked_conversations_over_eight_weeks(db: sqlite_utils.Database) -> None:
    result = seed_demo(db, now=NOW)
    assert 250 <= result.conversations <= 320 and result.tickets > 30
    turns = list(db[schema.TURNS].rows)
    assert len({t["conversation_id"] for t in turns}) == result.conversations
    assert all(t["conversation_id"].startswith("sim-") for t in turns)
    assert all(t["customer_id"].startswith("sim-") for t in turns)
    moments = sorted(datetime.fromisoformat(t["at"]) for t in turns)
    assert moments[-1] <= NOW
    assert (NOW - moments[0]).days in (55, 56)
    assert {t["channel"] for t in turns} == {"socketio", "rest"}
    assert {t["lang"] for t in turns} == {"it", "en"}
    assert all(r["conversation_id"].startswith("sim-") for r in db[schema.RATINGS].rows)


def test_simulated_tickets_never_reach_operators_or_delivery(db: sqlite_utils.Database) -> None:
    seed_demo(db, now=NOW, conversations=80)
    assert tickets.list_queue(db) == []
    assert tickets.pending_answers(db) == []
    assert tickets.closed_awaiting_resume(db) == []
    assert all(t.conversation_id.startswith("sim-") for t in tickets.list_tickets(db))


def test_running_twice_adds_nothing(db: sqlite_utils.Database) -> None:
    first = seed_demo(db, now=NOW, conversations=60)
    count = db[schema.TURNS].count
    second = seed_demo(db, now=NOW, conversations=60)
    assert not first.skipped and second.skipped
    assert db[schema.TURNS].count == count


def test_refuses_to_mix_with_real_conversations_unless_forced(db: sqlite_utils.Database) -> None:
    record_turn(db, conversation_id="real-1", at=NOW.isoformat(), kind="customer", text="Ciao")
    with pytest.raises(DemoRefused):
        seed_demo(db, now=NOW, conversations=20)
    assert db[schema.TURNS].count == 1
    seed_demo(db, now=NOW, conversations=20, force=True)
    real = list(db[schema.TURNS].rows_where("conversation_id = 'real-1'"))
    assert [r["text"] for r in real] == ["Ciao"], "the real row is untouched"
    only_real = make_filters("2026-11-01", "2026-11-23", source="real")
    assert build_report(db, only_real, now=NOW, with_gaps=False).summary.conversations == 1


def test_the_demo_shows_every_figure_and_its_gaps(db: sqlite_utils.Database) -> None:
    seed_demo(db, now=NOW)
    filters = make_filters("2026-10-26", "2026-11-22")
    report = build_report(db, filters, now=NOW)
    s = report.summary
    assert s.conversations > 100 and 0.4 < s.containment_rate < 0.8
    assert s.csat_responses and s.nps_responses and s.tickets_answered and s.tickets_closed
    assert s.sla_met and s.sla_breached
    assert report.articles and report.helpfulness
    assert report.gaps and report.gaps[0].size >= 5
    assert sum(g.size for g in report.gaps[:5]) > sum(g.size for g in report.gaps[5:])
    assert report.simulated == simulated_conversations(db, filters) == s.conversations
