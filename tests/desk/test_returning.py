"""A returning customer on another channel continues their open ticket."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlite_utils

from desk import returning, tickets
from identity import profiles
from identity.contacts import identity_secret, signed_metadata
from sportello.settings import get_settings
from tests.databases import open_db


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[sqlite_utils.Database]:
    """A fresh database, and the identity secret that signs a customer's metadata."""
    monkeypatch.setenv("SPORTELLO_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("SPORTELLO_IDENTITY_SECRET", "test-identity-secret-0123456789abcdef")
    get_settings.cache_clear()
    database = open_db(tmp_path / "sportello.db")
    yield database
    database.close()
    get_settings.cache_clear()


def anna() -> dict[str, str]:
    return signed_metadata(identity_secret(), email="anna@example.com")


def test_the_ticket_follows_the_customer_to_another_channel(db: sqlite_utils.Database) -> None:
    assert returning.continue_ticket(db, "web-1", "socketio", anna()) is None  # no ticket yet
    ticket, _ = tickets.open_ticket(db, "web-1", lang="it", channel="socketio")
    tickets.answer_ticket(db, ticket.id, "marta", "Le rispondo subito")
    moved = returning.continue_ticket(db, "wa-1", "callback", anna())
    assert moved is not None and moved.id == ticket.id
    assert (moved.conversation_id, moved.channel) == ("wa-1", "callback")
    assert (moved.first_response_due, moved.resolution_due) == (
        ticket.first_response_due,
        ticket.resolution_due,
    )
    # The operator's answer waiting for delivery now goes to the new conversation.
    assert [m.text for m in tickets.conversation_pending_answers(db, "wa-1")] == [
        "Le rispondo subito"
    ]
    assert tickets.conversation_pending_answers(db, "web-1") == []
    history = [row["conversation_id"] for row in tickets.ticket_conversations(db, ticket.id)]
    assert history == ["web-1", "wa-1"]
    assert tickets.ticket_events(db, ticket.id)[-1].kind == tickets.EVENT_MOVED
    # Writing in the first conversation again takes the ticket back there.
    back = returning.continue_ticket(db, "web-1", "socketio", {})
    assert back is not None and back.conversation_id == "web-1"
    assert tickets.active_ticket_of(db, ["wa-1"]) is not None  # still found from either


def test_unsigned_or_unknown_customers_do_not_get_someone_elses_ticket(
    db: sqlite_utils.Database,
) -> None:
    ticket, _ = tickets.open_ticket(db, "web-1", lang="it", channel="socketio")
    returning.recognise(db, "web-1", "socketio", anna())
    # The same address, unsigned (typed, or forged in a widget's customData): no ticket.
    assert returning.continue_ticket(db, "evil-1", "rest", {"email": "anna@example.com"}) is None
    assert returning.continue_ticket(db, "evil-2", "rest", {}, "sono anna@example.com") is None
    # Nor with an unsigned customer id naming the victim's channel id.
    assert returning.continue_ticket(db, "evil-3", "rest", {"customer_id": "web-1"}) is None
    assert tickets.get_ticket(db, ticket.id).conversation_id == "web-1"


def test_a_closed_ticket_is_not_continued(db: sqlite_utils.Database) -> None:
    ticket, _ = tickets.open_ticket(db, "web-1", lang="it", channel="socketio")
    returning.recognise(db, "web-1", "socketio", anna())
    tickets.close_ticket(db, ticket.id, "marta")
    assert returning.continue_ticket(db, "wa-1", "callback", anna()) is None


def test_an_operator_merge_is_enough_to_continue(db: sqlite_utils.Database) -> None:
    ticket, _ = tickets.open_ticket(db, "web-1", lang="it", channel="socketio")
    returning.recognise(db, "web-1", "socketio", {})
    returning.recognise(db, "tg-1", "telegram", {})
    profiles.merge(db, "web-1", "tg-1", actor="marta")
    moved = returning.continue_ticket(db, "tg-1", "telegram", {})
    assert moved is not None and moved.id == ticket.id


def test_a_conversation_with_its_own_ticket_keeps_it(db: sqlite_utils.Database) -> None:
    first, _ = tickets.open_ticket(db, "web-1", lang="it", channel="socketio")
    second, _ = tickets.open_ticket(db, "wa-1", lang="it", channel="callback")
    with pytest.raises(tickets.TicketError):
        tickets.move_ticket(db, first.id, "wa-1", channel="callback")
    assert tickets.get_ticket(db, first.id).conversation_id == "web-1"
    assert tickets.get_ticket(db, second.id).conversation_id == "wa-1"


def test_a_ticket_whose_channel_changes_says_so_in_its_audit_log(db: sqlite_utils.Database) -> None:
    """The same conversation id arriving on another channel moves the ticket there; that
    move is in the ticket's log like any other (the channels refuse such a sender now)."""
    ticket, _ = tickets.open_ticket(db, "conv-1", lang="it", channel="rest")
    moved = tickets.move_ticket(db, ticket.id, "conv-1", channel="socketio")
    assert moved.channel == "socketio"
    last = tickets.ticket_events(db, ticket.id)[-1]
    assert (last.kind, last.detail) == (tickets.EVENT_MOVED, "rest → socketio")
