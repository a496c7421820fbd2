"""Handoff tickets: one open ticket per conversation, with the transcript kept."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import sqlite_utils

from desk.tickets import (
    REASON_ASKED_FOR_HUMAN,
    REASON_KB_ABSTAINED,
    STATUS_OPEN,
    get_open_ticket,
    get_ticket,
    list_tickets,
    open_ticket,
)
from sportello.db import open_db


@pytest.fixture
def db(tmp_path: Path) -> sqlite_utils.Database:
    return open_db(tmp_path / "sportello.db")


TRANSCRIPT = [
    {"role": "customer", "text": "quanto costa spedire in Islanda?", "timestamp": 1.0},
    {"role": "bot", "text": "Non lo so, vuoi parlare con un operatore?", "timestamp": 2.0},
]


def test_open_ticket_records_the_request(db: sqlite_utils.Database) -> None:
    ticket, created = open_ticket(
        db,
        "conv-1",
        lang="it",
        reason=REASON_KB_ABSTAINED,
        channel="rest",
        customer_id="cust-9",
        transcript=TRANSCRIPT,
    )
    assert created
    assert ticket.conversation_id == "conv-1"
    assert ticket.customer_id == "cust-9"
    assert ticket.channel == "rest"
    assert ticket.lang == "it"
    assert ticket.reason == REASON_KB_ABSTAINED
    assert ticket.status == STATUS_OPEN
    assert ticket.created_at.endswith("+00:00")
    assert ticket.transcript == TRANSCRIPT
    assert get_ticket(db, ticket.id) == ticket


def test_asking_again_returns_the_open_ticket(db: sqlite_utils.Database) -> None:
    first, created_first = open_ticket(db, "conv-1", lang="en", transcript=TRANSCRIPT[:1])
    again, created_again = open_ticket(db, "conv-1", lang="en", transcript=TRANSCRIPT)
    assert created_first and not created_again
    assert again == first
    assert db["tickets"].count == 1


def test_each_conversation_gets_its_own_ticket(db: sqlite_utils.Database) -> None:
    one, _ = open_ticket(db, "conv-1", lang="it")
    two, _ = open_ticket(db, "conv-2", lang="en")
    assert one.id != two.id
    assert get_open_ticket(db, "conv-2") == two
    assert get_open_ticket(db, "conv-3") is None


def test_a_closed_ticket_does_not_block_a_new_one(db: sqlite_utils.Database) -> None:
    first, _ = open_ticket(db, "conv-1", lang="it")
    db["tickets"].update(first.id, {"status": "closed"})
    second, created = open_ticket(db, "conv-1", lang="it")
    assert created and second.id != first.id


def test_database_refuses_a_second_open_ticket(db: sqlite_utils.Database) -> None:
    """The guarantee does not depend on callers going through open_ticket."""
    open_ticket(db, "conv-1", lang="it")
    with pytest.raises(Exception, match="UNIQUE"):
        db["tickets"].insert(
            {
                "conversation_id": "conv-1",
                "lang": "it",
                "reason": REASON_ASKED_FOR_HUMAN,
                "status": STATUS_OPEN,
                "created_at": "2026-01-01T00:00:00+00:00",
                "transcript": "[]",
            }
        )


def test_simultaneous_requests_make_one_ticket(tmp_path: Path) -> None:
    path = tmp_path / "sportello.db"
    open_db(path)  # create the file before the threads race
    ids: list[int] = []
    errors: list[BaseException] = []

    def request() -> None:
        try:
            ticket, _ = open_ticket(open_db(path), "conv-race", lang="it")
            ids.append(ticket.id)
        except BaseException as exc:  # collected and re-raised in the test thread
            errors.append(exc)

    threads = [threading.Thread(target=request) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert len(set(ids)) == 1
    assert open_db(path)["tickets"].count == 1


def test_unknown_reason_is_refused(db: sqlite_utils.Database) -> None:
    with pytest.raises(ValueError, match="reason"):
        open_ticket(db, "conv-1", lang="it", reason="bored")


def test_transcript_keeps_non_ascii_text(db: sqlite_utils.Database) -> None:
    transcript = [{"role": "customer", "text": "perché? 😀", "timestamp": 1.0}]
    ticket, _ = open_ticket(db, "conv-1", lang="it", transcript=transcript)
    assert get_ticket(db, ticket.id).transcript == transcript


def test_list_tickets_oldest_first_and_by_status(db: sqlite_utils.Database) -> None:
    first, _ = open_ticket(db, "conv-1", lang="it")
    second, _ = open_ticket(db, "conv-2", lang="en")
    db["tickets"].update(first.id, {"status": "closed"})
    assert [t.id for t in list_tickets(db)] == [first.id, second.id]
    assert [t.id for t in list_tickets(db, status=STATUS_OPEN)] == [second.id]
    assert list_tickets(db, status="closed")[0].status == "closed"


def test_list_tickets_on_a_new_database_is_empty(db: sqlite_utils.Database) -> None:
    assert list_tickets(db) == []
