"""The retention period: old conversation data goes, ratings and recent data stay."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import sqlite_utils

from customerlog import ratings, schema, turns
from desk import tickets
from privacy import retention
from tests.customerlog.tracker import FakeTracker, kb_turn

TRANSCRIPT = [{"role": "customer", "text": "mi chiamo Mario, 333 1234567", "timestamp": 1.0}]


def test_old_conversations_are_deleted_recent_ones_kept(
    db: sqlite_utils.Database, tracker: FakeTracker
) -> None:
    tracker.add("old", *kb_turn("old", "vecchia domanda", "faq"))
    old_time = tracker.clock
    tracker.clock += 40 * 86400
    tracker.add("new", *kb_turn("new", "domanda recente", "faq"))
    now = datetime.fromtimestamp(tracker.clock, tz=timezone.utc)
    ratings.record_helpful(db, ratings.Rater("old", "old"), "faq", True, now)

    purged = retention.purge(db, 30, now)

    assert purged.turns == 1
    assert purged.tracker_events == len(kb_turn("old", "", None))
    assert [r["conversation_id"] for r in db[schema.TURNS].rows] == ["new"]
    assert tracker.count("old") == 0 and tracker.count("new") > 0
    assert db[schema.RATINGS].count == 1, "ratings hold no text and stay for the figures"
    assert old_time < now.timestamp()


def test_closed_tickets_lose_their_text_open_ones_keep_it(db: sqlite_utils.Database) -> None:
    start = datetime(2026, 1, 5, 10, 0, tzinfo=timezone.utc)
    old, _ = tickets.open_ticket(
        db,
        "old",
        lang="it",
        reason=tickets.REASON_ASKED_FOR_HUMAN,
        transcript=TRANSCRIPT,
        now=start,
    )
    tickets.set_customer_email(db, old.id, "mario@example.com")
    tickets.answer_ticket(db, old.id, "anna", "Ciao Mario", now=start + timedelta(hours=1))
    tickets.close_ticket(db, old.id, "anna", now=start + timedelta(hours=2))
    still_open, _ = tickets.open_ticket(
        db,
        "open",
        lang="it",
        reason=tickets.REASON_ASKED_FOR_HUMAN,
        transcript=TRANSCRIPT,
        now=start,
    )

    retention.purge(db, 30, start + timedelta(days=60))

    emptied = tickets.get_ticket(db, old.id)
    assert emptied.transcript == [] and emptied.customer_email is None
    assert tickets.ticket_messages(db, old.id) == []
    assert all(
        "mario@example.com" not in (event.detail or "")
        for event in tickets.ticket_events(db, old.id)
    )
    assert emptied.status == tickets.STATUS_CLOSED, "the ticket row stays for SLA figures"
    assert tickets.get_ticket(db, still_open.id).transcript != []


def test_logging_continues_after_a_purge(db: sqlite_utils.Database, tracker: FakeTracker) -> None:
    tracker.add("a", *kb_turn("a", "prima", "faq"))
    turns.sync(db)
    now = datetime.fromtimestamp(tracker.clock + 400 * 86400, tz=timezone.utc)
    retention.purge(db, 365, now)
    assert tracker.count() == 0
    tracker.add("b", *kb_turn("b", "dopo", "faq"))
    assert turns.sync(db) == 1, "ids reused by SQLite after the purge are still logged"


def test_the_period_is_at_least_a_day(db: sqlite_utils.Database) -> None:
    with pytest.raises(ValueError):
        retention.purge(db, 0, datetime.now(timezone.utc))
