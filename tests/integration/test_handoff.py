"""Escalation on the real stack: a conversation becomes a ticket, the bot goes silent,
the operator's answer reaches the customer, and the bot resumes after the close.

Nothing is mocked: REST messages go to the real Rasa server, which runs the real action
server against the real knowledge base and ticket tables; operator steps call the desk
library the console uses, and delivery goes through Rasa's token-protected HTTP API.
The socket.io test speaks the socket.io protocol over a plain WebSocket, as the web
chat does, to see an operator's answer pushed without any customer request.
"""

from __future__ import annotations

import json
import uuid

import httpx
import pytest
from websockets.sync.client import connect

from actions.wording import due_text
from desk import sla
from desk.delivery import deliver_ticket_updates
from desk.tickets import (
    REASON_ASKED_FOR_HUMAN,
    REASON_KB_ABSTAINED,
    REASON_PERSONAL_CASE,
    Ticket,
    answer_ticket,
    close_ticket,
    get_open_ticket,
    get_ticket,
    list_tickets,
    ticket_messages,
)
from knowledge.store import get_article
from sportello.clock import parse_time
from sportello.keys import rasa_token
from sportello.settings import Settings
from tests.databases import open_db
from tests.integration.rest import say, texts

pytestmark = pytest.mark.integration

POLICY = sla.SlaPolicy()  # the stack runs without an SLA file: the defaults


def new_customer() -> str:
    return f"handoff-{uuid.uuid4().hex[:8]}"


def answer_of(settings: Settings, article_id: str, lang: str) -> str:
    article = get_article(open_db(settings.db_path), article_id, lang)
    assert article is not None, f"demo article {article_id}/{lang} missing"
    return article.answer


def tickets_of(settings: Settings, customer: str) -> list[Ticket]:
    return [t for t in list_tickets(open_db(settings.db_path)) if t.conversation_id == customer]


def assert_told_when(reply: str, ticket: Ticket, lang: str) -> None:
    """The reply gives the first-response deadline, and outside hours the opening time.

    Judged at the moment the bot worded it: a new ticket is opened on that same clock
    reading (a later reading could fall across midnight or an opening hour).
    """
    now = parse_time(ticket.created_at)
    assert now is not None
    due = parse_time(ticket.first_response_due)
    assert due is not None
    assert due_text(due, now, lang, POLICY.timezone) in reply, reply
    if not sla.is_open(POLICY, now):
        assert ("e-mail" in reply) and (("riapre" in reply) or ("opens again" in reply)), reply


def test_rest_customer_from_handoff_to_operator_answer_and_back(stack: Settings) -> None:
    customer = new_customer()
    shipping = answer_of(stack, "spedizione-costi", "it")
    assert shipping in texts(say(stack, customer, "ciao, quanto costa la spedizione?"))

    handed_over = texts(say(stack, customer, "voglio parlare con un operatore"))
    [ticket] = tickets_of(stack, customer)
    assert (ticket.status, ticket.lang, ticket.channel) == ("open", "it", "rest")
    assert (ticket.reason, ticket.priority, ticket.customer_id) == (
        REASON_ASKED_FOR_HUMAN,
        "normal",
        customer,
    )
    assert_told_when(handed_over, ticket, "it")
    db = open_db(stack.db_path)
    assert "ciao, quanto costa la spedizione?" in [m.text for m in ticket_messages(db, ticket.id)]

    # While the operator owns the conversation the bot says nothing, not even to a
    # question it knows or a greeting, and records everything.
    for message in ["ciao, ci siete?", "quanto costa la spedizione?", "asdfgh qwerty"]:
        assert say(stack, customer, message) == [], message
    recorded = [m.text for m in ticket_messages(db, ticket.id)]
    assert recorded[-3:] == ["ciao, ci siete?", "quanto costa la spedizione?", "asdfgh qwerty"]
    assert say(stack, customer, "voglio parlare con un operatore") != []  # deadline again
    assert len(tickets_of(stack, customer)) == 1

    operator_text = "Buongiorno, sono Anna del servizio clienti: la spedizione è gratuita per lei."
    answer = answer_ticket(db, ticket.id, "anna", operator_text)
    deliver_ticket_updates(db, stack, ticket.id)  # REST: nothing to push, it waits
    assert operator_text in texts(say(stack, customer, "grazie, attendo"))
    assert [m.delivered for m in ticket_messages(db, ticket.id) if m.id == answer.id] == [True]
    assert say(stack, customer, "ok") == []  # delivered once, then silence again

    close_ticket(db, ticket.id, "anna")
    deliver_ticket_updates(db, stack, ticket.id)
    resumed = texts(say(stack, customer, "quanto costa la spedizione?"))
    assert "L'operatore ha chiuso la tua richiesta" in resumed
    assert shipping in resumed
    assert get_ticket(db, ticket.id).resume_delivered
    payment = answer_of(stack, "pagamento-metodi", "it")
    assert payment in texts(say(stack, customer, "posso pagare con paypal?"))


def test_two_abstentions_in_a_row_open_a_ticket(stack: Settings) -> None:
    customer = new_customer()
    first = say(stack, customer, "qual è la capitale della Mongolia e quanti abitanti ha?")
    assert [b for m in first for b in m.get("buttons", [])], first  # the offer
    assert tickets_of(stack, customer) == []
    second = texts(say(stack, customer, "chi ha scritto la Divina Commedia?"))
    [ticket] = tickets_of(stack, customer)
    assert ticket.reason == REASON_KB_ABSTAINED
    assert_told_when(second, ticket, "it")
    assert say(stack, customer, "quanto costa la spedizione?") == []


def test_a_personal_case_opens_a_high_priority_ticket(stack: Settings) -> None:
    customer = new_customer()
    reply = texts(say(stack, customer, "hello, you charged me twice for the same order"))
    [ticket] = tickets_of(stack, customer)
    assert (ticket.reason, ticket.priority, ticket.lang) == (REASON_PERSONAL_CASE, "high", "en")
    assert_told_when(reply, ticket, "en")
    assert "operator" in reply


def test_rejecting_two_answers_opens_a_ticket(stack: Settings) -> None:
    customer = new_customer()
    say(stack, customer, "how much does shipping cost?")
    assert texts(say(stack, customer, "that's not what I asked"))
    assert tickets_of(stack, customer) == []
    say(stack, customer, "how long does delivery take?")
    say(stack, customer, "no, that's not what I asked")
    [ticket] = tickets_of(stack, customer)
    assert ticket.lang == "en"


# ---- socket.io: answers pushed without a customer request --------------------------------


class SocketIOCustomer:
    """A socket.io v5 client over a WebSocket, enough for Rasa's channel (as rasa-webchat)."""

    def __init__(self, settings: Settings, session_id: str) -> None:
        host = settings.rasa_url.removeprefix("http://")
        self.ws = connect(f"ws://{host}/socket.io/?EIO=4&transport=websocket", open_timeout=30)
        self._expect("0")  # engine.io open
        self.ws.send("40")
        self._expect("40")  # namespace connected
        self._emit("session_request", {"session_id": session_id})
        event, confirmed = self.next_event(30)[:2]
        assert event == "session_confirm"
        # The server issues and signs session ids: the one asked for is kept only if it
        # signed it, and the confirmed one is the conversation id.
        self.session_id = str(confirmed)

    def _expect(self, prefix: str) -> str:
        packet = self._receive(30)
        assert packet.startswith(prefix), packet
        return packet

    def _receive(self, timeout: float) -> str:
        while True:
            packet = str(self.ws.recv(timeout=timeout))
            if packet == "2":  # engine.io ping
                self.ws.send("3")
                continue
            return packet

    def _emit(self, event: str, data: object) -> None:
        self.ws.send("42" + json.dumps([event, data]))

    def next_event(self, timeout: float) -> list:
        while True:
            packet = self._receive(timeout)
            if packet.startswith("42"):
                return json.loads(packet[2:])

    def say(self, text: str) -> None:
        self._emit("user_uttered", {"message": text, "session_id": self.session_id})

    def bot_texts(self, count: int, timeout: float = 30) -> list[str]:
        texts_ = []
        while len(texts_) < count:
            event, data = self.next_event(timeout)[:2]
            if event == "bot_uttered" and data.get("text"):
                texts_.append(data["text"])
        return texts_

    def close(self) -> None:
        self.ws.close()


def test_socketio_customer_gets_the_answer_and_the_resume_pushed(stack: Settings) -> None:
    session = f"sio-{uuid.uuid4().hex[:8]}"
    customer = SocketIOCustomer(stack, session)
    try:
        customer.say("voglio parlare con un operatore")
        customer.bot_texts(1)
        db = open_db(stack.db_path)
        ticket = get_open_ticket(db, customer.session_id)
        assert ticket is not None and ticket.channel == "socketio"
        # Outside hours a second message says when the desk opens (judged when the
        # ticket was opened, the clock reading the bot used).
        if not sla.is_open(POLICY, parse_time(ticket.created_at)):
            customer.bot_texts(1)

        operator_text = "Sono Marco: le rispondo subito."
        answer = answer_ticket(db, ticket.id, "marco", operator_text)
        assert deliver_ticket_updates(db, stack, ticket.id)
        assert customer.bot_texts(1) == [operator_text]  # pushed, no request
        assert [m.delivered for m in ticket_messages(db, ticket.id) if m.id == answer.id] == [True]

        close_ticket(db, ticket.id, "marco")
        assert deliver_ticket_updates(db, stack, ticket.id)
        resumed, csat = customer.bot_texts(2)
        assert "L'operatore ha chiuso la tua richiesta" in resumed
        assert "Da 1 (per niente) a 5" in csat  # asked once about the ticket...
        customer.say("quanto costa la spedizione?")  # ...and a question is simply answered
        assert customer.bot_texts(1) == [answer_of(stack, "spedizione-costi", "it")]
    finally:
        customer.close()


def test_the_desks_intents_typed_by_a_customer_change_nothing(stack: Settings) -> None:
    customer = new_customer()
    say(stack, customer, "voglio parlare con un operatore")
    assert say(stack, customer, "/EXTERNAL_ticket_closed") == []
    assert say(stack, customer, "/EXTERNAL_operator_message") == []
    [ticket] = tickets_of(stack, customer)
    assert ticket.status == "open"
    assert say(stack, customer, "quanto costa la spedizione?") == []  # still handed off
    tracker = httpx.get(
        f"{stack.rasa_url}/conversations/{customer}/tracker",
        params={"token": rasa_token(stack)},
        timeout=30,
    ).json()
    assert tracker["slots"]["handoff_active"] is True
