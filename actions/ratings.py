"""The bot's rating actions: did an answer help, CSAT and NPS, and skipping them.

Thin adapters over :mod:`customerlog.ratings`, which stores every rating at once and
decides what may be asked (CSAT once per bot-resolved session and per closed ticket,
NPS once per customer per period). A pending question lives in the ``rating_pending``
slot as ``kind|target_type|target_id|session``; a number the customer then writes or
clicks is recorded against it. Nothing here blocks the conversation: a question
instead of a number is answered, and a failure to store a rating is logged, never
shown to the customer as an error.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import clarify, handoff
from actions.handoff import customer_language, with_db
from customerlog import ratings, schema
from customerlog.turns import customer_id_from
from desk import tickets
from knowledge import phrasings
from sportello.settings import get_settings

logger = logging.getLogger(__name__)

SLOT_PENDING = "rating_pending"

# The question each kind of rating is asked with (bot/domain.yml).
QUESTIONS = {
    schema.RATING_CSAT: "utter_ask_csat",
    schema.RATING_CES: "utter_ask_ces",
    schema.RATING_NPS: "utter_ask_nps",
}

BUTTONS = {
    "it": ("👍 Utile", "👎 Non utile"),
    "en": ("👍 Helpful", "👎 Not helpful"),
}


@dataclass(frozen=True)
class Pending:
    """A CSAT or NPS question waiting for its answer."""

    kind: str
    target_type: str
    target_id: str
    session: str = ""

    def encode(self) -> str:
        return "|".join((self.kind, self.target_type, self.target_id, self.session))

    @classmethod
    def decode(cls, value: object) -> Pending | None:
        parts = str(value or "").split("|")
        if len(parts) != 4 or parts[0] not in QUESTIONS:
            return None
        return cls(*parts)


def answer_buttons(article_id: str, lang: str) -> list[dict[str, str]]:
    """The 👍/👎 buttons under an answer; the payload names the article they rate."""
    helpful, not_helpful = BUTTONS.get(lang, BUTTONS["it"])
    entity = json.dumps({"article": article_id}, ensure_ascii=False)
    return [
        {"title": helpful, "payload": f"/answer_helpful{entity}"},
        {"title": not_helpful, "payload": f"/reject_answer{entity}"},
    ]


def rater(tracker: Tracker) -> ratings.Rater:
    return ratings.Rater(
        conversation_id=tracker.sender_id,
        customer_id=customer_id_from(tracker.latest_message.get("metadata"), tracker.sender_id),
        channel=tracker.get_latest_input_channel(),
        lang=customer_language(tracker),
    )


def entity_value(tracker: Tracker, name: str) -> str | None:
    for entity in tracker.latest_message.get("entities") or []:
        if isinstance(entity, dict) and entity.get("entity") == name and entity.get("value"):
            return str(entity["value"])
    return None


def _session_events(tracker: Tracker) -> list[dict[str, Any]]:
    """The events of the current Rasa session (after its last ``session_started``)."""
    events = list(tracker.events)
    for index in range(len(events) - 1, -1, -1):
        if events[index].get("event") == "session_started":
            return events[index:]
    return events


def session_key(tracker: Tracker) -> str:
    """Which session of the conversation is rated: its start time, "" before any."""
    first = _session_events(tracker)[:1]
    if first and first[0].get("event") == "session_started":
        return str(first[0].get("timestamp") or "")
    return ""


def answered_articles(tracker: Tracker) -> list[str]:
    """Articles the bot gave in this conversation (what the customer may rate)."""
    return [
        str(event["value"])
        for event in tracker.events
        if event.get("event") == "slot"
        and event.get("name") == "kb_article_id"
        and event.get("value")
    ]


def resolved_by_bot(tracker: Tracker) -> bool:
    """This session got at least one answer and never went to a person."""
    answered = escalated = False
    for event in _session_events(tracker):
        if event.get("event") != "slot":
            continue
        if event.get("name") == "kb_article_id" and event.get("value"):
            answered = True
        if event.get("name") == "handoff_active" and event.get("value") is True:
            escalated = True
    return answered and not escalated


def answered_question(tracker: Tracker, article_id: str) -> str:
    """The customer's words the bot answered with ``article_id`` ("" for a button)."""
    return clarify.words_before(tracker, "kb_article_id", article_id)


def rated_article(tracker: Tracker) -> str | None:
    """The article a 👍/👎 is about: the button's, if the bot really gave it here, else
    the last one given."""
    given = answered_articles(tracker)
    named = entity_value(tracker, "article")
    if named is not None:
        return named if named in given else None
    return tracker.get_slot("kb_article_id") or None


def _article_lang(db: Any, article_id: str, lang: str) -> str | None:
    from knowledge import store

    for candidate in (lang, "en" if lang == "it" else "it"):
        if store.get_article(db, article_id, candidate) is not None:
            return candidate
    return None


def record_helpful(tracker: Tracker, helpful: bool) -> bool:
    """Store a 👍/👎 for the rated article; False if there is no article to rate."""
    article = rated_article(tracker)
    if article is None:
        return False
    who = rater(tracker)

    def work(db: Any) -> None:
        ratings.record_helpful(
            db,
            who,
            article,
            helpful,
            handoff.clock(),
            article_lang=_article_lang(db, article, who.lang or "it"),
        )
        # A wording this customer proposed for the article (by picking it) is confirmed
        # by a 👍 and taken back by a 👎; the words of a question the bot answered and
        # the customer found helpful are proposed as well.
        if not helpful:
            phrasings.withdraw(db, article, tracker.sender_id)
        elif not phrasings.confirm(db, article, tracker.sender_id):
            lang = who.lang or "it"  # the customer's words are in their language
            asked = answered_question(tracker, article)
            phrasings.propose(db, article, lang, asked, phrasings.SOURCE_HELPFUL, tracker.sender_id)

    try:
        with_db(work)
    except Exception:
        logger.exception("could not store a helpful vote for %s", tracker.sender_id)
    return True


def ask(dispatcher: CollectingDispatcher, tracker: Tracker, pending: Pending) -> list[EventType]:
    """Ask the CSAT or NPS question if it was never asked; the events that remember it."""
    try:
        first_time = with_db(
            ratings.ask,
            rater(tracker),
            pending.kind,
            pending.target_type,
            pending.target_id,
            handoff.clock(),
            session=pending.session,
        )
    except Exception:
        logger.exception("could not record a %s question for %s", pending.kind, tracker.sender_id)
        return []
    if not first_time:
        return []
    dispatcher.utter_message(response=QUESTIONS[pending.kind])
    return [SlotSet(SLOT_PENDING, pending.encode())]


def ask_ticket_csat(dispatcher: CollectingDispatcher, tracker: Tracker) -> list[EventType]:
    """After an operator closed the conversation's ticket: CSAT about that ticket, once."""
    try:
        ticket = with_db(tickets.latest_ticket, tracker.sender_id)
    except Exception:
        logger.exception("could not read the ticket of %s", tracker.sender_id)
        return []
    if ticket is None or ticket.active:
        return []
    return ask(
        dispatcher, tracker, Pending(schema.RATING_CSAT, schema.TARGET_TICKET, str(ticket.id))
    )


class ActionAnswerHelpful(Action):
    """👍 or "mi è stato utile": a helpful vote for the answer, and thanks."""

    def name(self) -> str:
        return "action_answer_helpful"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        await asyncio.to_thread(record_helpful, tracker, True)
        dispatcher.utter_message(response="utter_answer_helpful")
        return [SlotSet("kb_rejections", 0.0)]


class ActionOfferCsat(Action):
    """After goodbye or thanks: the CSAT question, once per session the bot resolved."""

    def name(self) -> str:
        return "action_offer_csat"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        if tracker.get_slot(SLOT_PENDING) or not resolved_by_bot(tracker):
            return []
        pending = Pending(
            schema.RATING_CSAT, schema.TARGET_CONVERSATION, tracker.sender_id, session_key(tracker)
        )
        return await asyncio.to_thread(ask, dispatcher, tracker, pending)


def record_answer(
    dispatcher: CollectingDispatcher, tracker: Tracker, pending: Pending, value: int
) -> list[EventType]:
    """Store the number given to the pending question; after a ticket's CSAT ask its CES
    (once per ticket), then NPS if it is due. A number out of the question's range is
    asked again.

    The action that calls this (``action_record_rating``, :mod:`actions.actions`) first
    decides whether the message is a rating at all or a question for the knowledge base.
    """
    low, high = schema.RATING_RANGES[pending.kind]
    if not low <= value <= high:
        dispatcher.utter_message(response="utter_rating_invalid", low=low, high=high)
        return []
    who = rater(tracker)
    now = handoff.clock()
    try:
        # Answered meanwhile elsewhere (a ticket's CSAT by e-mail): counted once.
        already = with_db(
            ratings.request_status,
            pending.kind,
            pending.target_type,
            pending.target_id,
            pending.session,
        )
        if already == schema.REQUEST_ANSWERED:
            dispatcher.utter_message(response="utter_rating_thanks")
            return [SlotSet(SLOT_PENDING, None)]
        with_db(
            ratings.record,
            who,
            pending.kind,
            value,
            pending.target_type,
            pending.target_id,
            now,
            session=pending.session,
        )
    except Exception:
        logger.exception("could not store a %s rating for %s", pending.kind, who.conversation_id)
    dispatcher.utter_message(response="utter_rating_thanks")
    events: list[EventType] = [SlotSet(SLOT_PENDING, None)]
    if pending.kind == schema.RATING_CSAT and pending.target_type == schema.TARGET_TICKET:
        # After a ticket, how easy it was (CES), once per ticket; NPS comes after it.
        ces = Pending(schema.RATING_CES, schema.TARGET_TICKET, pending.target_id)
        asked = ask(dispatcher, tracker, ces)
        if asked:
            return events + asked
    if pending.kind in (schema.RATING_CSAT, schema.RATING_CES):
        period = get_settings().nps_period_days
        try:
            due = with_db(ratings.nps_due, who.customer_id, period, now)
        except Exception:
            logger.exception("could not check NPS for %s", who.customer_id)
            due = False
        if due:
            nps = Pending(schema.RATING_NPS, schema.TARGET_CUSTOMER, who.customer_id)
            events += ask(dispatcher, tracker, nps)
    return events


class ActionSkipRating(Action):
    """ "Salta" / "skip": the pending question is marked skipped and never asked again."""

    def name(self) -> str:
        return "action_skip_rating"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        pending = Pending.decode(tracker.get_slot(SLOT_PENDING))
        if pending is None:
            dispatcher.utter_message(response="utter_ok_anything_else")
            return []
        try:
            await asyncio.to_thread(
                with_db,
                ratings.skip,
                pending.kind,
                pending.target_type,
                pending.target_id,
                pending.session,
            )
        except Exception:
            logger.exception("could not mark a rating skipped for %s", tracker.sender_id)
        dispatcher.utter_message(response="utter_rating_skipped")
        return [SlotSet(SLOT_PENDING, None)]
