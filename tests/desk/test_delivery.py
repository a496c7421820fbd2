"""Delivery of operators' answers and of the resume, per channel, with retries."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlite_utils

from desk import sla
from desk.delivery import (
    INTENT_OPERATOR_MESSAGE,
    INTENT_TICKET_CLOSED,
    deliver_pending,
    deliver_ticket_updates,
)
from desk.tickets import (
    Ticket,
    answer_ticket,
    close_ticket,
    get_ticket,
    open_ticket,
    pending_answers,
)
from sportello.settings import Settings
from tests.databases import open_db
from tests.desk.fake_rasa import FakeRasa, fake_rasa


@pytest.fixture
def db(tmp_path: Path) -> sqlite_utils.Database:
    return open_db(tmp_path / "sportello.db")


@pytest.fixture
def rasa() -> Iterator[FakeRasa]:
    with fake_rasa() as server:
        yield server


def settings_for(rasa: FakeRasa, tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path, rasa_port=rasa.port, rasa_token="secret-token")


def ticket_on(db: sqlite_utils.Database, channel: str, conversation: str = "conv-1") -> Ticket:
    ticket, _ = open_ticket(db, conversation, lang="it", channel=channel, policy=sla.SlaPolicy())
    return ticket


def test_a_socketio_answer_is_pushed_through_rasas_api(
    db: sqlite_utils.Database, rasa: FakeRasa, tmp_path: Path
) -> None:
    ticket = ticket_on(db, "socketio")
    message = answer_ticket(db, ticket.id, "anna", "Ciao!")
    assert deliver_ticket_updates(db, settings_for(rasa, tmp_path), ticket.id)
    [(path, query, body)] = rasa.requests
    assert path == "/conversations/conv-1/trigger_intent"
    assert query["token"] == ["secret-token"]
    assert query["output_channel"] == ["latest"]
    assert body == {"name": INTENT_OPERATOR_MESSAGE}  # the text stays in the outbox
    assert pending_answers(db) == []
    assert message.id not in [m.id for m in pending_answers(db)]


def test_closing_a_socketio_ticket_pushes_the_resume_after_pending_answers(
    db: sqlite_utils.Database, rasa: FakeRasa, tmp_path: Path
) -> None:
    ticket = ticket_on(db, "socketio")
    answer_ticket(db, ticket.id, "anna", "Risolto.")
    close_ticket(db, ticket.id, "anna")
    assert deliver_ticket_updates(db, settings_for(rasa, tmp_path), ticket.id)
    assert rasa.intents == [("conv-1", INTENT_OPERATOR_MESSAGE), ("conv-1", INTENT_TICKET_CLOSED)]
    assert get_ticket(db, ticket.id).resume_delivered
    # Nothing left: a retry sends nothing.
    assert deliver_pending(db, settings_for(rasa, tmp_path)) == 0
    assert len(rasa.requests) == 2


def test_rest_answers_wait_for_the_customers_next_request(
    db: sqlite_utils.Database, rasa: FakeRasa, tmp_path: Path
) -> None:
    ticket = ticket_on(db, "rest")
    answer_ticket(db, ticket.id, "anna", "Ciao!")
    close_ticket(db, ticket.id, "anna")
    assert not deliver_ticket_updates(db, settings_for(rasa, tmp_path), ticket.id)
    assert deliver_pending(db, settings_for(rasa, tmp_path)) == 0
    assert rasa.requests == []
    assert [m.text for m in pending_answers(db)] == ["Ciao!"]


def test_a_failed_push_stays_in_the_outbox_and_is_retried(
    db: sqlite_utils.Database, rasa: FakeRasa, tmp_path: Path
) -> None:
    settings = settings_for(rasa, tmp_path)
    ticket = ticket_on(db, "socketio")
    rasa.status = 500
    answer_ticket(db, ticket.id, "anna", "Ciao!")
    assert not deliver_ticket_updates(db, settings, ticket.id)
    assert len(pending_answers(db)) == 1

    rasa.status = 200
    assert deliver_pending(db, settings) == 1
    assert pending_answers(db) == []


def test_an_unreachable_rasa_is_not_an_error(db: sqlite_utils.Database, tmp_path: Path) -> None:
    with fake_rasa() as stopped:
        port = stopped.port
    settings = Settings(data_dir=tmp_path, rasa_port=port)
    ticket = ticket_on(db, "socketio")
    answer_ticket(db, ticket.id, "anna", "Ciao!")
    assert deliver_pending(db, settings) == 0
    assert len(pending_answers(db)) == 1


def test_answering_and_closing_send_nothing_until_the_caller_delivers(
    db: sqlite_utils.Database, rasa: FakeRasa, tmp_path: Path
) -> None:
    """The data functions only commit; the edge (console) or the monitor delivers."""
    ticket = ticket_on(db, "socketio")
    message = answer_ticket(db, ticket.id, "anna", "Subito!")
    close_ticket(db, ticket.id, "anna")
    assert rasa.requests == [] and not message.delivered
    assert deliver_ticket_updates(db, settings_for(rasa, tmp_path), ticket.id)
    assert pending_answers(db) == []
    assert rasa.intents == [("conv-1", INTENT_OPERATOR_MESSAGE), ("conv-1", INTENT_TICKET_CLOSED)]
