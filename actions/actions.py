"""The bot's custom actions: thin adapters from a Rasa turn to Sportello's libraries.

Each action reads what it needs from the tracker, calls library functions
(``knowledge.search`` to answer, ``desk.tickets`` through :mod:`actions.handoff` to
hand over to a person) and says the result through the domain's responses, which Rasa
renders in the customer's language (the ``language`` slot). An action never lets an
exception reach Rasa: the customer gets an apology and the offer of a person, and the
error is logged.

While an operator owns the conversation (``handoff_active``) only
``action_record_for_operator`` runs for customer messages, and the desk's triggered
intents run ``action_deliver_operator_message`` and ``action_handoff_closed`` (see
desk/delivery.py for what reaches the customer on each channel).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import clarify, handoff, ratings
from actions.handoff import (
    ABSTENTIONS_TO_ESCALATE,
    PERSONAL_CASE_PRIORITY,
    REJECTIONS_TO_ESCALATE,
    SLOT_ABSTAIN_STREAK,
    SLOT_ARTICLE_ID,
    SLOT_CONFIDENCE,
    SLOT_HANDOFF_ACTIVE,
    SLOT_HANDOFF_OFFERED,
    SLOT_HANDOFF_REASON,
    SLOT_REJECTIONS,
    SLOT_TICKET_CONTINUED,
    STATUS_ALREADY_OPEN,
    STATUS_CONTINUED,
    customer_language,
    escalate,
    say_pending_answers,
    say_ticket_status,
    transcript_from_events,
    with_db,
)
from actions.wording import looks_like_personal_case, parse_choice, parse_rating
from desk import sla, tickets
from desk.mailer import valid_address
from desk.returning import continue_ticket
from desk.tickets import (
    REASON_ANSWER_REJECTED,
    REASON_ASKED_FOR_HUMAN,
    REASON_BOT_ERROR,
    REASON_KB_ABSTAINED,
    REASON_PERSONAL_CASE,
)
from knowledge import phrasings
from sportello.pii import find_email, find_email_like
from sportello.settings import get_settings

logger = logging.getLogger(__name__)

__all__ = [
    "ActionAnswerFromKb",
    "ActionAnswerRejected",
    "ActionChooseArticle",
    "ActionDeclineHuman",
    "ActionDeliverOperatorMessage",
    "ActionHandoffClosed",
    "ActionNoneOfThese",
    "ActionRecordForOperator",
    "ActionRecordRating",
    "ActionRequestHuman",
    "answer_from_kb",
    "transcript_from_events",
]

INTENT_PERSONAL_CASE = "personal_case"
INTENT_ASK_HUMAN = "ask_human"
# Intents whose message goes to the knowledge base.
KB_INTENTS = ("ask_question", "nlu_fallback")


def _intent(tracker: Tracker) -> str:
    return (tracker.latest_message.get("intent") or {}).get("name") or ""


def _offer_human(dispatcher: CollectingDispatcher, response: str, reason: str) -> list[EventType]:
    dispatcher.utter_message(response=response)
    return [SlotSet(SLOT_HANDOFF_OFFERED, True), SlotSet(SLOT_HANDOFF_REASON, reason)]


async def answer_from_kb(dispatcher: CollectingDispatcher, tracker: Tracker) -> list[EventType]:
    """Answer the latest message from the knowledge base, ask which article was meant,
    or escalate / offer a person.

    A personal case (damaged delivery, double charge, complaint) is not answered from
    articles: it becomes a high-priority ticket. Right after the bot offered articles
    to choose from, a reply that picks one ("2", "la seconda") gets that article. A
    short message right after an answer is read in its context (knowledge.followup).
    The second abstention in a row opens a ticket instead of offering one again.
    """
    text = tracker.latest_message.get("text") or ""
    offered = clarify.offered(tracker)
    if offered:
        if clarify.picks_none(text, len(offered)):
            return await _abstain(dispatcher, tracker, tracker.get_slot(SLOT_CONFIDENCE))
        choice = parse_choice(text, [title for _, title in offered])
        if choice is not None:
            return await answer_article(dispatcher, tracker, offered[choice][0])
    if looks_like_personal_case(text):
        return await escalate(dispatcher, tracker, REASON_PERSONAL_CASE, PERSONAL_CASE_PRIORITY)
    try:
        # Imported here so a knowledge-base failure cannot stop the action server
        # (and with it the handoff) from starting.
        from knowledge.followup import search_in_context
        from knowledge.search import clean_query, get_searcher

        settings = get_settings()
        query = clean_query(text, settings.max_message_chars)
        if not query:
            dispatcher.utter_message(response="utter_ask_rephrase")
            return []
        lang = customer_language(tracker)
        previous = tracker.get_slot(SLOT_ARTICLE_ID)
        result = await asyncio.to_thread(search_in_context, get_searcher(), query, lang, previous)
    except Exception:
        logger.exception("knowledge-base search failed for %s", tracker.sender_id)
        return [
            *_offer_human(dispatcher, "utter_error", REASON_BOT_ERROR),
            SlotSet(SLOT_ARTICLE_ID, None),
            SlotSet(SLOT_CONFIDENCE, None),
            SlotSet(clarify.SLOT_SUGGESTIONS, None),
        ]

    best = result.results[0] if result.results else None
    if result.suggestions:
        channel = tracker.get_latest_input_channel()
        return [
            *clarify.offer(dispatcher, result.suggestions, customer_language(tracker), channel),
            SlotSet(SLOT_ARTICLE_ID, None),
            SlotSet(SLOT_CONFIDENCE, best.score if best else None),
        ]
    if result.abstain or best is None:
        return await _abstain(dispatcher, tracker, best.score if best else None)
    return _answer(dispatcher, tracker, best.id, best.answer, best.score)


def _answer(
    dispatcher: CollectingDispatcher,
    tracker: Tracker,
    article_id: str,
    answer: str,
    confidence: float,
) -> list[EventType]:
    """Say an article's answer with the 👍/👎 buttons that name it."""
    dispatcher.utter_message(
        text=answer, buttons=ratings.answer_buttons(article_id, customer_language(tracker))
    )
    return [
        SlotSet(SLOT_HANDOFF_OFFERED, False),
        SlotSet(SLOT_ARTICLE_ID, article_id),
        SlotSet(SLOT_CONFIDENCE, confidence),
        SlotSet(SLOT_ABSTAIN_STREAK, 0.0),
        SlotSet(clarify.SLOT_SUGGESTIONS, None),
    ]


async def _abstain(
    dispatcher: CollectingDispatcher, tracker: Tracker, confidence: float | None
) -> list[EventType]:
    """No article fits: offer a person, or hand over on the second time in a row."""
    streak = int(tracker.get_slot(SLOT_ABSTAIN_STREAK) or 0) + 1
    found = [
        SlotSet(SLOT_ARTICLE_ID, None),
        SlotSet(SLOT_CONFIDENCE, confidence),
        SlotSet(clarify.SLOT_SUGGESTIONS, None),
    ]
    if streak >= ABSTENTIONS_TO_ESCALATE:
        return [*found, *await escalate(dispatcher, tracker, REASON_KB_ABSTAINED)]
    return [
        *_offer_human(dispatcher, "utter_kb_abstain", REASON_KB_ABSTAINED),
        *found,
        SlotSet(SLOT_ABSTAIN_STREAK, float(streak)),
    ]


async def answer_article(
    dispatcher: CollectingDispatcher, tracker: Tracker, article_id: str
) -> list[EventType]:
    """Give the article the customer picked among those offered (in their language).

    Only an article the bot offered in this conversation is given: a hand-typed
    ``/choose_article{"article": ...}`` naming another id is searched as text instead.
    """
    if article_id not in {aid for aid, _ in clarify.offered(tracker)}:
        return [SlotSet(clarify.SLOT_SUGGESTIONS, None), *await _search_text(dispatcher, tracker)]
    try:
        from knowledge.search import get_searcher

        hit = await asyncio.to_thread(
            get_searcher().article, article_id, customer_language(tracker)
        )
    except Exception:
        logger.exception("could not read article %s for %s", article_id, tracker.sender_id)
        return [
            *_offer_human(dispatcher, "utter_error", REASON_BOT_ERROR),
            SlotSet(clarify.SLOT_SUGGESTIONS, None),
        ]
    if hit is None:  # retired since it was offered
        dispatcher.utter_message(response="utter_ask_rephrase")
        return [SlotSet(clarify.SLOT_SUGGESTIONS, None)]
    await asyncio.to_thread(_learn_wording, tracker, hit.id)
    return _answer(dispatcher, tracker, hit.id, hit.answer, hit.score)


def _learn_wording(tracker: Tracker, article_id: str) -> None:
    """The customer picked ``article_id`` for the question they asked: propose their
    wording as a phrasing of it (a later 👎 here withdraws it)."""
    question = clarify.asked(tracker)
    lang = customer_language(tracker)
    try:
        with_db(
            phrasings.propose, article_id, lang, question, phrasings.SOURCE_PICK, tracker.sender_id
        )
    except Exception:
        logger.exception("could not propose a phrasing for %s", tracker.sender_id)


async def _search_text(dispatcher: CollectingDispatcher, tracker: Tracker) -> list[EventType]:
    """The message searched as a question, whatever its intent or payload said."""
    text = tracker.latest_message.get("text") or ""
    if text.startswith("/"):
        dispatcher.utter_message(response="utter_ask_rephrase")
        return []
    return await answer_from_kb(dispatcher, tracker)


class ActionAnswerFromKb(Action):
    """Answer the latest message from the knowledge base, or say honestly we don't know.

    The knowledge base decides: when it abstains (its calibrated confidence is below
    the threshold) the bot offers a person instead of guessing, and the second time in
    a row opens a ticket. ``kb_article_id`` and ``kb_confidence`` record the answer
    given (on abstention: no article, and the best candidate's confidence).
    """

    def name(self) -> str:
        return "action_answer_from_kb"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        return await answer_from_kb(dispatcher, tracker)


class ActionRecordRating(Action):
    """A number for the pending CSAT/CES/NPS question (:func:`actions.ratings.record_answer`).

    With no question pending (or a long message that merely contains a number) the
    message is treated as a question for the knowledge base. This choice is why the
    action lives here and not in :mod:`actions.ratings`: the ratings know nothing of
    answering, so the two modules import each other in one direction only.
    """

    def name(self) -> str:
        return "action_record_rating"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        pending = ratings.Pending.decode(tracker.get_slot(ratings.SLOT_PENDING))
        given = ratings.entity_value(tracker, "rating")
        value = parse_rating(given if given is not None else tracker.latest_message.get("text"))
        if pending is None or value is None:
            return await answer_from_kb(dispatcher, tracker)
        return await asyncio.to_thread(ratings.record_answer, dispatcher, tracker, pending, value)


class ActionChooseArticle(Action):
    """The customer picked one of the offered articles (a button, or typed words that
    NLU read as a choice): give its answer."""

    def name(self) -> str:
        return "action_choose_article"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        named = ratings.entity_value(tracker, "article")
        if named is not None:
            return await answer_article(dispatcher, tracker, named)
        return await _search_text(dispatcher, tracker)


class ActionNoneOfThese(Action):
    """None of the offered articles is what the customer asked: as an abstention (offer
    a person; the second time in a row, hand over). With no offer open, the words are
    searched like any question."""

    def name(self) -> str:
        return "action_none_of_these"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        if not clarify.offered(tracker):
            return await _search_text(dispatcher, tracker)
        return await _abstain(dispatcher, tracker, tracker.get_slot(SLOT_CONFIDENCE))


class ActionRequestHuman(Action):
    """Hand the conversation to a person: a ticket (one per conversation) and its due time.

    Runs when the customer asks for a human, accepts the bot's offer of one, or
    describes a personal case (high priority); the ticket's reason says which. Asking
    again re-uses the active ticket. The pending offer is always cleared (the rules in
    bot/data/rules/handoff.yml rely on it).
    """

    def name(self) -> str:
        return "action_request_human"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        if _intent(tracker) == INTENT_PERSONAL_CASE:
            return await escalate(dispatcher, tracker, REASON_PERSONAL_CASE, PERSONAL_CASE_PRIORITY)
        offered = tracker.get_slot(SLOT_HANDOFF_OFFERED)
        reason = (tracker.get_slot(SLOT_HANDOFF_REASON) if offered else None) or (
            REASON_ASKED_FOR_HUMAN
        )
        return await escalate(dispatcher, tracker, reason)


class ActionDeclineHuman(Action):
    """The customer said no to the offer of a person: acknowledge and forget the offer.

    The abstention count restarts too: the customer chose to keep talking to the bot,
    so the next unknown question offers a person again rather than handing over.
    """

    def name(self) -> str:
        return "action_decline_human"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        dispatcher.utter_message(response="utter_handoff_declined")
        return [
            SlotSet(SLOT_HANDOFF_OFFERED, False),
            SlotSet(SLOT_HANDOFF_REASON, None),
            SlotSet(SLOT_ABSTAIN_STREAK, 0.0),
        ]


class ActionAnswerRejected(Action):
    """The customer says the answer was wrong ("non è quello che chiedevo", a "no").

    The first time: apologise, ask to rephrase and offer a person. The second time the
    conversation is handed over, so nobody loops through wrong answers. Either way the
    answer's article gets a not-helpful vote (the 👎 button names it).
    """

    def name(self) -> str:
        return "action_answer_rejected"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        if clarify.offered(tracker):  # "no" to "Forse cercavi…": none of those
            return await _abstain(dispatcher, tracker, tracker.get_slot(SLOT_CONFIDENCE))
        await asyncio.to_thread(ratings.record_helpful, tracker, False)
        rejections = int(tracker.get_slot(SLOT_REJECTIONS) or 0) + 1
        if rejections >= REJECTIONS_TO_ESCALATE:
            return await escalate(dispatcher, tracker, REASON_ANSWER_REJECTED)
        return [
            *_offer_human(dispatcher, "utter_answer_rejected", REASON_ANSWER_REJECTED),
            SlotSet(SLOT_REJECTIONS, float(rejections)),
        ]


class ActionRecordForOperator(Action):
    """While a person owns the conversation: record the customer's message, say nothing.

    The only things the customer hears: operators' answers not delivered yet (how REST
    customers receive them), an acknowledgement when they leave an e-mail address, the
    deadline again when they ask for a person again. If the ticket was closed meanwhile
    (REST customers, or a push that failed) the bot says it is back and handles the
    message as usual: a question is answered, a request for a person opens a new ticket.
    """

    def name(self) -> str:
        return "action_record_for_operator"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        text = tracker.latest_message.get("text") or ""
        intent = _intent(tracker)
        lang = customer_language(tracker)
        message = _Incoming(
            conversation_id=tracker.sender_id,
            channel=tracker.get_latest_input_channel(),
            metadata=tracker.latest_message.get("metadata"),
            text=text,
            intent=intent,
            lang=lang,
            continued=tracker.get_slot(SLOT_TICKET_CONTINUED) is not None,
        )
        try:
            ticket = await asyncio.to_thread(with_db, self._record, dispatcher, message)
        except Exception:
            logger.exception("could not record a message for %s", tracker.sender_id)
            return []
        if ticket is not None:
            return [SlotSet(SLOT_TICKET_CONTINUED, None)] if message.continued else []
        dispatcher.utter_message(response="utter_handoff_closed")
        events: list[EventType] = [
            SlotSet(SLOT_HANDOFF_ACTIVE, False),
            SlotSet(SLOT_TICKET_CONTINUED, None),
        ]
        if intent in KB_INTENTS:
            events += await answer_from_kb(dispatcher, tracker)
        elif intent == INTENT_ASK_HUMAN:
            events += await escalate(dispatcher, tracker, REASON_ASKED_FOR_HUMAN)
        elif intent == INTENT_PERSONAL_CASE:
            events += await escalate(
                dispatcher, tracker, REASON_PERSONAL_CASE, PERSONAL_CASE_PRIORITY
            )
        else:
            events += await asyncio.to_thread(ratings.ask_ticket_csat, dispatcher, tracker)
        return events

    @staticmethod
    def _record(
        db: Any, dispatcher: CollectingDispatcher, message: _Incoming
    ) -> tickets.Ticket | None:
        """Record and acknowledge; returns the active ticket, None if it was closed.

        The customer's active ticket may live in another of their conversations (they
        came back on another channel, or went back to the first one): it follows them here.
        """
        conversation_id = message.conversation_id
        now = handoff.clock()  # one reading for everything this message records or says
        ticket = continue_ticket(db, conversation_id, message.channel, message.metadata)
        say_pending_answers(db, dispatcher, conversation_id, now)
        if ticket is None:
            latest = tickets.latest_ticket(db, conversation_id)
            if latest is not None:
                tickets.mark_resume_delivered(db, latest.id)
            return None
        policy = sla.load_policy(get_settings().sla_file)
        if message.continued:
            say_ticket_status(
                dispatcher, ticket, policy, now, message.lang, status=STATUS_CONTINUED
            )
        text = message.text
        if text.strip() and not text.startswith("/"):
            # Cut like knowledge-base queries: a hostile 1 MB message stays out of the desk.
            # Button payloads ("/greet" sent by the web widget on opening) are not words.
            limit = get_settings().max_message_chars
            tickets.record_customer_message(db, ticket.id, text[:limit], now)
        email = find_email(text) or find_email_like(text)
        if email:
            _keep_email(db, dispatcher, ticket, email, now)
        elif message.intent in (INTENT_ASK_HUMAN, INTENT_PERSONAL_CASE) and not message.continued:
            say_ticket_status(
                dispatcher,
                ticket,
                policy,
                now,
                message.lang,
                status=STATUS_ALREADY_OPEN,
            )
        return ticket


def _keep_email(
    db: Any, dispatcher: CollectingDispatcher, ticket: tickets.Ticket, email: str, now: Any
) -> None:
    """Keep the address the customer left and say truthfully what will happen with it.

    With mail configured, operators' answers and the CSAT question will be mailed there
    (desk/mailbox.py): "we'll also answer you at …". Without it the operator sees the
    address, but the bot promises only the chat. An address that could not be mailed
    (malformed) is not kept; the customer is asked to check it.
    """
    address = valid_address(email)
    if address is None:
        dispatcher.utter_message(response="utter_email_invalid", email=email[:100])
        return
    tickets.set_customer_email(db, ticket.id, address, now)
    if get_settings().mail_enabled:
        dispatcher.utter_message(response="utter_email_recorded", email=address)
    else:
        dispatcher.utter_message(response="utter_email_noted", email=address)


@dataclass(frozen=True)
class _Incoming:
    """A customer message while an operator owns the conversation."""

    conversation_id: str
    channel: str | None
    metadata: Any
    text: str
    intent: str
    lang: str
    continued: bool


class ActionDeliverOperatorMessage(Action):
    """``EXTERNAL_operator_message`` (triggered by desk/delivery.py): say the pending answers.

    The text comes from the outbox, never from the triggering request, so a customer
    who types the intent by hand cannot make the bot say anything.
    """

    def name(self) -> str:
        return "action_deliver_operator_message"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        try:
            await asyncio.to_thread(with_db, say_pending_answers, dispatcher, tracker.sender_id)
        except Exception:
            logger.exception("could not deliver answers to %s", tracker.sender_id)
        return []


class ActionHandoffClosed(Action):
    """``EXTERNAL_ticket_closed``: the operator closed the ticket, the bot is back and
    asks the customer's CSAT about the ticket (once).

    Does nothing unless the conversation is handed off and its ticket really is closed
    in SQLite: a customer typing ``/EXTERNAL_ticket_closed`` (or faking the external
    flag in REST metadata) cannot end a handoff.
    """

    def name(self) -> str:
        return "action_handoff_closed"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        if tracker.get_slot(SLOT_HANDOFF_ACTIVE) is not True:
            return []
        try:
            closed = await asyncio.to_thread(with_db, self._close, dispatcher, tracker.sender_id)
        except Exception:
            logger.exception("could not resume %s", tracker.sender_id)
            return []
        if not closed:
            return []
        dispatcher.utter_message(response="utter_handoff_closed")
        csat = await asyncio.to_thread(ratings.ask_ticket_csat, dispatcher, tracker)
        return [SlotSet(SLOT_HANDOFF_ACTIVE, False), *csat]

    @staticmethod
    def _close(db: Any, dispatcher: CollectingDispatcher, conversation_id: str) -> bool:
        if tickets.get_open_ticket(db, conversation_id) is not None:
            return False
        say_pending_answers(db, dispatcher, conversation_id)
        latest = tickets.latest_ticket(db, conversation_id)
        if latest is not None:
            tickets.mark_resume_delivered(db, latest.id)
        return True
