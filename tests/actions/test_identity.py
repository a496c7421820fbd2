"""action_session_start: Rasa's session start, plus the returning customer's ticket."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions import handoff
from actions.actions import ActionRecordForOperator, ActionRequestHuman
from actions.identity import ActionSessionStart
from desk import tickets
from identity.contacts import identity_secret, signed_metadata
from sportello.settings import get_settings
from tests.actions.test_actions import OPEN_HOURS, make_tracker, run
from tests.databases import open_db


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("SPORTELLO_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    open_db(tmp_path).close()  # migrated, as the action server's start-up does
    monkeypatch.setattr(handoff, "clock", lambda: OPEN_HOURS)
    yield tmp_path
    get_settings.cache_clear()


def anna() -> dict[str, str]:
    return signed_metadata(identity_secret(), email="anna@example.com")


def start_session(
    sender: str, metadata: dict[str, Any] | None, slots: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    """Run action_session_start as Rasa does before a session's first message."""
    tracker = Tracker.from_dict(
        {
            "sender_id": sender,
            "slots": {"session_started_metadata": metadata, **(slots or {})},
            "latest_message": {},
            "events": [],
            "paused": False,
            "followup_action": None,
            "active_loop": {},
            "latest_action_name": None,
        }
    )
    dispatcher = CollectingDispatcher()
    domain = {"session_config": {"carry_over_slots_to_new_session": True}}
    events = asyncio.run(ActionSessionStart().run(dispatcher, tracker, domain))
    assert dispatcher.messages == []  # the language is not known yet: nothing is said
    return events


def test_a_new_customer_gets_rasas_usual_session_start(data_dir: Path) -> None:
    events = start_session("web-1", anna(), {"language": "en", "handoff_active": False})
    assert events[0]["event"] == "session_started"
    assert events[-1] == {**events[-1], "event": "action", "name": "action_listen"}
    slots = {e["name"]: e["value"] for e in events if e["event"] == "slot"}
    # Slots carry over, as with Rasa's default action; no ticket, no handoff.
    assert slots["language"] == "en" and slots["handoff_active"] is False
    assert slots["session_started_metadata"] == anna()
    assert "ticket_continued" not in slots


def test_a_returning_customer_continues_their_ticket_on_another_channel(data_dir: Path) -> None:
    # Anna asked for a person on the web chat, signed in on the company's site.
    tracker = make_tracker(
        "voglio un operatore",
        language="it",
        sender="web-1",
        intent="ask_human",
        metadata=anna(),
        channel="socketio",
    )
    messages, _ = run(ActionRequestHuman(), tracker)
    assert [m["response"] for m in messages] == ["utter_handoff_recorded"]
    db = open_db(data_dir / "sportello.db")
    ticket = tickets.get_open_ticket(db, "web-1")
    assert ticket is not None

    # She writes from the messaging app, where the integration signs the same address.
    events = start_session("wa-1", anna())
    slots = {e["name"]: e["value"] for e in events if e["event"] == "slot"}
    assert slots["handoff_active"] is True and slots["ticket_continued"] == ticket.id
    assert tickets.get_ticket(db, ticket.id).conversation_id == "wa-1"

    # Her first message there is told which ticket it joined, and reaches the operator.
    first = make_tracker(
        "ciao, novità?",
        language="it",
        sender="wa-1",
        intent="greet",
        metadata=anna(),
        channel="callback",
        slots={"handoff_active": True, "ticket_continued": ticket.id},
    )
    messages, slots = run(ActionRecordForOperator(), first)
    assert [m["response"] for m in messages] == ["utter_ticket_continued"]
    assert messages[0]["ticket"] == ticket.id
    assert slots == {"ticket_continued": None}
    moved = tickets.get_ticket(db, ticket.id)
    assert (moved.conversation_id, moved.channel) == ("wa-1", "callback")
    assert tickets.ticket_messages(db, ticket.id)[-1].text == "ciao, novità?"


def test_asking_for_a_person_on_the_new_channel_continues_the_same_ticket(
    data_dir: Path,
) -> None:
    web = make_tracker(
        "voglio un operatore",
        language="en",
        sender="web-1",
        intent="ask_human",
        metadata=anna(),
        channel="socketio",
    )
    run(ActionRequestHuman(), web)
    again = make_tracker(
        "I want a human",
        language="en",
        sender="wa-1",
        intent="ask_human",
        metadata=anna(),
        channel="callback",
    )
    messages, slots = run(ActionRequestHuman(), again)
    assert [m["response"] for m in messages] == ["utter_ticket_continued"]
    assert slots["handoff_active"] is True
    db = open_db(data_dir / "sportello.db")
    assert len(list(db["tickets"].rows)) == 1
    assert tickets.get_open_ticket(db, "wa-1") is not None


def test_an_unsigned_address_does_not_continue_anyones_ticket(data_dir: Path) -> None:
    web = make_tracker(
        "voglio un operatore",
        language="it",
        sender="web-1",
        intent="ask_human",
        metadata=anna(),
        channel="socketio",
    )
    run(ActionRequestHuman(), web)
    events = start_session("evil-1", {"email": "anna@example.com"})
    slots = {e["name"]: e["value"] for e in events if e["event"] == "slot"}
    assert "ticket_continued" not in slots
    db = open_db(data_dir / "sportello.db")
    assert tickets.get_open_ticket(db, "web-1") is not None


def test_a_broken_database_still_starts_the_session(data_dir: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        (data_dir / f"sportello.db{suffix}").unlink(missing_ok=True)
    (data_dir / "sportello.db").mkdir()  # open_db cannot open a directory
    events = start_session("web-1", anna())
    assert events[0]["event"] == "session_started"
    assert events[-1]["name"] == "action_listen"
