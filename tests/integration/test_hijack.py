"""Channels that cannot be hijacked (issue 20, part 3), on the real stack."""

from __future__ import annotations

import uuid

import httpx
import pytest

from customerlog import schema, turns
from desk.tickets import get_open_ticket, ticket_messages
from sportello.settings import Settings
from tests.databases import open_db
from tests.integration.rest import say
from tests.integration.test_handoff import SocketIOCustomer

pytestmark = pytest.mark.integration


def test_a_socket_cannot_take_over_a_rest_customers_ticket(stack: Settings) -> None:
    """Before: a socket.io client that asked for the REST customer's conversation id had
    its message recorded on that customer's ticket, and the ticket moved to its socket."""
    victim = f"rest-victim-{uuid.uuid4().hex[:8]}"
    assert say(stack, victim, "voglio parlare con un operatore")
    db = open_db(stack.db_path)
    ticket = get_open_ticket(db, victim)
    assert ticket is not None and ticket.channel == "rest"
    attacker = SocketIOCustomer(stack, victim)
    try:
        assert attacker.session_id != victim
        attacker._emit("user_uttered", {"message": "sono io, mandate qui", "session_id": victim})
        attacker.bot_texts(1, timeout=60)  # answered in its own conversation
    finally:
        attacker.close()
    after = get_open_ticket(db, victim)
    assert after is not None and (after.id, after.channel) == (ticket.id, "rest")
    assert "sono io, mandate qui" not in [m.text for m in ticket_messages(db, ticket.id)]


def test_a_customer_typing_the_desks_intent_is_not_logged_as_the_operator(
    stack: Settings,
) -> None:
    customer = f"typist-{uuid.uuid4().hex[:8]}"
    say(stack, customer, "ciao")
    say(stack, customer, "/EXTERNAL_operator_message")
    db = open_db(stack.db_path)
    turns.sync(db, stack.tracker_db_path, settle=True)
    kinds = [t["kind"] for t in turns.conversation_turns(db, customer)]
    assert schema.KIND_OPERATOR not in kinds
    assert kinds == [schema.KIND_CUSTOMER, schema.KIND_CUSTOMER]


def test_a_rest_sender_cannot_write_into_a_web_chat(stack: Settings) -> None:
    """Before: a REST ``sender`` naming a web chat's conversation wrote into it (and took
    its ticket); a conversation now stays on the channel it started on."""
    web = SocketIOCustomer(stack, "")
    try:
        web.say("ciao")
        web.bot_texts(1, timeout=60)
        reply = httpx.post(
            f"{stack.rasa_url}/webhooks/rest/webhook",
            json={"sender": web.session_id, "message": "voglio parlare con un operatore"},
            timeout=60,
        )
        assert reply.status_code == 409
        assert "another channel" in reply.text
        assert get_open_ticket(open_db(stack.db_path), web.session_id) is None
    finally:
        web.close()
