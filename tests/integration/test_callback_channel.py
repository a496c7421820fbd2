"""Rasa's callback channel on the real stack, with a messaging integration on loopback.

The integration POSTs the customer's messages to ``/webhooks/callback/webhook`` and gets
only ``success`` back; every bot message, an operator's answer included, is POSTed by
Rasa to the URL in ``SPORTELLO_CALLBACK_URL`` (here :class:`CallbackReceiver`). So an
operator's answer is pushed, without waiting for the customer's next message.
"""

from __future__ import annotations

import uuid

import httpx
import pytest

from desk.delivery import deliver_ticket_updates
from desk.tickets import (
    REASON_ASKED_FOR_HUMAN,
    answer_ticket,
    close_ticket,
    get_open_ticket,
    get_ticket,
    ticket_messages,
)
from identity.contacts import identity_secret, signed_metadata
from knowledge.store import get_article
from sportello.settings import Settings
from tests.databases import open_db
from tests.integration.callback import CallbackReceiver

pytestmark = pytest.mark.integration


def send(settings: Settings, body: object) -> httpx.Response:
    """One message from the integration, as JSON, to Sportello's callback channel."""
    return httpx.post(f"{settings.rasa_url}/webhooks/callback/webhook", json=body, timeout=60)


def test_callback_customer_gets_answers_and_the_operators_answer_pushed(
    stack: Settings, callback_receiver: CallbackReceiver
) -> None:
    customer = f"callback-{uuid.uuid4().hex[:8]}"
    db = open_db(stack.db_path)
    shipping = get_article(db, "spedizione-costi", "it")
    assert shipping is not None

    def say(text: str) -> list[str]:
        metadata = signed_metadata(identity_secret(stack), customer_id="crm-4711")
        reply = send(stack, {"sender": customer, "message": text, "metadata": metadata})
        assert (reply.status_code, reply.text) == (200, "success")  # no answer in the response
        return callback_receiver.new_texts(customer)  # Rasa POSTs before it replies

    assert shipping.answer in say("ciao, quanto costa la spedizione?")
    assert "operatore" in "\n".join(say("voglio parlare con un operatore"))
    ticket = get_open_ticket(db, customer)
    assert ticket is not None
    assert (ticket.channel, ticket.reason, ticket.customer_id) == (
        "callback",
        REASON_ASKED_FOR_HUMAN,
        "crm-4711",  # the integration's signed customer id reaches the ticket
    )
    assert say("ci siete?") == []  # a person owns the conversation: the bot is silent
    assert "ci siete?" in [m.text for m in ticket_messages(db, ticket.id)]

    operator_text = "Buongiorno, sono Anna: la spedizione per lei è gratuita."
    answer = answer_ticket(db, ticket.id, "anna", operator_text)
    assert deliver_ticket_updates(db, stack, ticket.id)  # True: nothing left to deliver
    assert callback_receiver.next_texts(customer, 1) == [operator_text]  # no customer request
    assert [m.delivered for m in ticket_messages(db, ticket.id) if m.id == answer.id] == [True]

    close_ticket(db, ticket.id, "anna")
    assert deliver_ticket_updates(db, stack, ticket.id)
    resumed, csat = callback_receiver.next_texts(customer, 2)
    assert "L'operatore ha chiuso la tua richiesta" in resumed
    assert "Da 1 (per niente) a 5" in csat
    assert get_ticket(db, ticket.id).resume_delivered
    assert shipping.answer in say("quanto costa la spedizione?")  # the bot answers again


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b"", "JSON object"),
        (b"{not json", "JSON"),
        (b"[]", "JSON object"),
        (b'{"message": "ciao"}', '"sender"'),
        (b'{"sender": "  ", "message": "ciao"}', '"sender"'),
        (b'{"sender": "c1"}', '"message"'),
        (b'{"sender": "c1", "message": {"text": "ciao"}}', '"message"'),
        (b'{"sender": "c1", "message": "ciao", "metadata": "crm"}', '"metadata"'),
    ],
)
def test_bad_callback_requests_get_a_clear_400(
    stack: Settings, callback_receiver: CallbackReceiver, body: bytes, says: str
) -> None:
    reply = httpx.post(
        f"{stack.rasa_url}/webhooks/callback/webhook",
        content=body,
        headers={"Content-Type": "application/json"},
        timeout=60,
    )
    assert reply.status_code == 400, reply.text
    assert says.lower() in reply.json()["message"].lower()
    assert callback_receiver.new_texts("c1") == []
    assert callback_receiver.new_texts("default") == []  # no shared fallback conversation
