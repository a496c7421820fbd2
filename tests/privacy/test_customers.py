"""Export and erasure of a customer's data, across the log, the desk and the tracker."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

import pytest
import sqlite_utils

from customerlog import ratings, schema
from desk import mailbox, tickets
from identity.contacts import identity_secret, signed_metadata
from privacy import customers
from sportello.settings import get_settings
from tests.customerlog.tracker import FakeTracker, kb_turn, user
from tests.databases import open_db
from tests.servers import free_port

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=timezone.utc)


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[sqlite_utils.Database]:
    monkeypatch.setenv("SPORTELLO_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("SPORTELLO_RASA_PORT", str(free_port()))
    get_settings.cache_clear()
    database = open_db()
    yield database
    database.close()
    get_settings.cache_clear()


@pytest.fixture
def tracker(db: sqlite_utils.Database) -> FakeTracker:
    return FakeTracker(get_settings().tracker_db_path)


def _two_customers(db: sqlite_utils.Database, tracker: FakeTracker) -> tickets.Ticket:
    """Mario has two conversations (one via a CRM id) and a ticket; Bianca has one."""
    tracker.add("web-1", *kb_turn("web-1", "quanto costa la spedizione?", "shipping"))
    first = kb_turn("rest-9", "I need help with my order AUR-1234", None, lang="en")
    first[0] = user(
        first[0]["text"],
        "ask_question",
        "en",
        metadata=signed_metadata(identity_secret(), now=FakeTracker.START, customer_id="web-1"),
    )
    tracker.add("rest-9", *first)
    tracker.add("bianca", *kb_turn("bianca", "orari del negozio?", "opening-hours"))
    ticket, _ = tickets.open_ticket(
        db,
        "rest-9",
        lang="en",
        reason=tickets.REASON_ASKED_FOR_HUMAN,
        customer_id="web-1",
        transcript=[{"role": "customer", "text": "order AUR-1234", "timestamp": 1.0}],
        now=NOW,
    )
    tickets.answer_ticket(db, ticket.id, "anna", "Your order ships today", now=NOW)
    mario = ratings.Rater("web-1", "web-1")
    ratings.record_helpful(db, mario, "shipping", True, NOW)
    ratings.record(db, mario, schema.RATING_CSAT, 5, schema.TARGET_TICKET, str(ticket.id), NOW)
    ratings.record_helpful(db, ratings.Rater("bianca", "bianca"), "opening-hours", True, NOW)
    return ticket


def test_export_holds_everything_about_the_customer_and_nothing_else(
    db: sqlite_utils.Database, tracker: FakeTracker
) -> None:
    ticket = _two_customers(db, tracker)
    data = customers.export(db, "web-1")
    text = json.dumps(data, ensure_ascii=False)
    assert data["conversations"] == ["rest-9", "web-1"]
    assert {t["conversation_id"] for t in data["turns"]} == {"web-1", "rest-9"}
    assert [t["id"] for t in data["tickets"]] == [ticket.id]
    assert data["tickets"][0]["messages"][-1]["text"] == "Your order ships today"
    assert len(data["ratings"]) == 2
    assert {e["conversation_id"] for e in data["tracker_events"]} == {"web-1", "rest-9"}
    assert "bianca" not in text and "orari del negozio" not in text


def test_erasure_leaves_nothing_behind_and_spares_others(
    db: sqlite_utils.Database, tracker: FakeTracker
) -> None:
    _two_customers(db, tracker)
    footprint = customers.find(db, "web-1")
    left = customers.erase(db, "web-1")
    assert left and all(count == 0 for count in left.values()), left
    assert customers.remaining(db, footprint) == left
    # Every table, searched for the customer's words directly.
    for table in db.table_names():
        for row in db[table].rows:
            flat = json.dumps(row, ensure_ascii=False, default=str)
            assert "AUR-1234" not in flat and "web-1" not in flat, (table, row)
    assert tracker.count("web-1") == 0 and tracker.count("rest-9") == 0
    assert tracker.count("bianca") > 0
    assert customers.export(db, "bianca")["turns"], "another customer's data is untouched"


def test_erasing_an_unknown_customer_is_harmless(
    db: sqlite_utils.Database, tracker: FakeTracker
) -> None:
    _two_customers(db, tracker)
    before = tracker.count()
    assert all(v == 0 for v in customers.erase(db, "nobody' OR 1=1 --").values())
    assert tracker.count() == before


def test_mails_to_and_from_the_customer_are_exported_and_erased(
    db: sqlite_utils.Database, tracker: FakeTracker
) -> None:
    ticket = _two_customers(db, tracker)
    tickets.set_customer_email(db, ticket.id, "mario.rossi@example.com", NOW)
    settings = replace(
        get_settings(), smtp_url="smtp://127.0.0.1:25", mail_from="assistenza@aurora.example"
    )
    assert mailbox.queue_new(db, settings, NOW) == 1
    mailbox.record_inbound(
        db, "<reply@example.com>", sender="mario.rossi@example.com", ticket_id=ticket.id,
        outcome="added", detail=None, now=NOW,
    )  # fmt: skip
    data = customers.export(db, "web-1")
    [exported] = data["tickets"]
    assert [m["recipient"] for m in exported["mails_sent"]] == ["mario.rossi@example.com"]
    assert [m["sender"] for m in exported["mails_received"]] == ["mario.rossi@example.com"]
    left = customers.erase(db, "web-1")
    assert left[mailbox.OUTBOX] == 0 and left[mailbox.INBOX] == 0
    for table in db.table_names():
        for row in db[table].rows:
            assert "mario.rossi@example.com" not in json.dumps(row, default=str), (table, row)


def test_erased_text_is_gone_from_the_files_themselves(
    db: sqlite_utils.Database, tracker: FakeTracker
) -> None:
    """Deleted rows would survive in SQLite's free pages and in the WAL, readable with
    ``strings``; secure_delete and the checkpoint after erasure overwrite them."""
    _two_customers(db, tracker)
    customers.export(db, "web-1")  # the log now holds the words too
    data_dir = get_settings().data_dir
    files = sorted(
        p for p in data_dir.iterdir() if p.suffix in {".db", ".db-wal"} or "-wal" in p.name
    )
    assert any(b"AUR-1234" in path.read_bytes() for path in files)  # the check can see it
    customers.erase(db, "web-1")
    for path in sorted(data_dir.iterdir()):
        if path.is_file():
            assert b"AUR-1234" not in path.read_bytes(), path.name
            assert b"Your order ships today" not in path.read_bytes(), path.name
