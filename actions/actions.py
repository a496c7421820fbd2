"""The bot's custom actions: thin adapters from a Rasa turn to Sportello's libraries.

Each action reads what it needs from the tracker, calls one library function
(``knowledge.search`` to answer, ``desk.tickets`` to hand over to a person) and says
the result through the domain's responses, which Rasa renders in the customer's
language (the ``language`` slot). An action never lets an exception reach Rasa: the
customer gets an apology and the offer of a person, and the error is logged.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from desk.tickets import (
    REASON_ASKED_FOR_HUMAN,
    REASON_BOT_ERROR,
    REASON_KB_ABSTAINED,
    Ticket,
    open_ticket,
)
from sportello.db import open_db
from sportello.settings import get_settings

logger = logging.getLogger(__name__)

# Slots the actions set (declared in bot/domain.yml).
SLOT_LANGUAGE = "language"
SLOT_HANDOFF_OFFERED = "handoff_offered"
SLOT_HANDOFF_REASON = "handoff_reason"
SLOT_ARTICLE_ID = "kb_article_id"
SLOT_CONFIDENCE = "kb_confidence"


def customer_language(tracker: Tracker) -> str:
    """The conversation's language (slot filled by the NLU), else the configured default."""
    return tracker.get_slot(SLOT_LANGUAGE) or get_settings().default_lang


def transcript_from_events(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What customer and bot said so far, oldest first, for the operator's ticket."""
    roles = {"user": "customer", "bot": "bot"}
    return [
        {"role": roles[event["event"]], "text": event["text"], "timestamp": event.get("timestamp")}
        for event in events
        if event.get("event") in roles and event.get("text")
    ]


def _offer_human(dispatcher: CollectingDispatcher, response: str, reason: str) -> list[EventType]:
    dispatcher.utter_message(response=response)
    return [SlotSet(SLOT_HANDOFF_OFFERED, True), SlotSet(SLOT_HANDOFF_REASON, reason)]


def _open_ticket(conversation_id: str, **details: Any) -> tuple[Ticket, bool]:
    """Open (or re-use) the ticket with a connection of this thread's own (SQLite rule)."""
    db = open_db()
    try:
        return open_ticket(db, conversation_id, **details)
    finally:
        db.close()


class ActionAnswerFromKb(Action):
    """Answer the latest message from the knowledge base, or say honestly we don't know.

    The knowledge base decides: when it abstains (its calibrated confidence is below
    the threshold) the bot offers a person instead of guessing. ``kb_article_id`` and
    ``kb_confidence`` record the answer given (on abstention: no article, and the best
    candidate's confidence) for logging.
    """

    def name(self) -> str:
        return "action_answer_from_kb"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        try:
            # Imported here so a knowledge-base failure cannot stop the action server
            # (and with it the handoff) from starting.
            from knowledge.search import clean_query, get_searcher

            settings = get_settings()
            text = clean_query(tracker.latest_message.get("text"), settings.max_message_chars)
            if not text:
                dispatcher.utter_message(response="utter_ask_rephrase")
                return []
            lang = customer_language(tracker)
            result = await asyncio.to_thread(get_searcher().search, text, lang)
        except Exception:
            logger.exception("knowledge-base search failed for %s", tracker.sender_id)
            return [
                *_offer_human(dispatcher, "utter_error", REASON_BOT_ERROR),
                SlotSet(SLOT_ARTICLE_ID, None),
                SlotSet(SLOT_CONFIDENCE, None),
            ]

        best = result.results[0] if result.results else None
        if result.abstain or best is None:
            return [
                *_offer_human(dispatcher, "utter_kb_abstain", REASON_KB_ABSTAINED),
                SlotSet(SLOT_ARTICLE_ID, None),
                SlotSet(SLOT_CONFIDENCE, best.score if best else None),
            ]
        dispatcher.utter_message(text=best.answer)
        return [
            SlotSet(SLOT_HANDOFF_OFFERED, False),
            SlotSet(SLOT_ARTICLE_ID, best.id),
            SlotSet(SLOT_CONFIDENCE, best.score),
        ]


class ActionRequestHuman(Action):
    """Record the customer's request for a person as a ticket (one per conversation).

    Runs when the customer asks for a human, or accepts the bot's offer of one; the
    ticket's reason says which. Asking again re-uses the open ticket. The pending offer
    is always cleared (the rules in bot/data/rules/handoff.yml rely on it).
    """

    def name(self) -> str:
        return "action_request_human"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        offered = tracker.get_slot(SLOT_HANDOFF_OFFERED)
        reason = (tracker.get_slot(SLOT_HANDOFF_REASON) if offered else None) or (
            REASON_ASKED_FOR_HUMAN
        )
        metadata = tracker.latest_message.get("metadata")
        customer_id = metadata.get("customer_id") if isinstance(metadata, dict) else None
        try:
            _, created = await asyncio.to_thread(
                _open_ticket,
                tracker.sender_id,
                lang=customer_language(tracker),
                reason=reason,
                channel=tracker.get_latest_input_channel(),
                customer_id=customer_id,
                transcript=transcript_from_events(tracker.events),
            )
        except Exception:
            # The offer is cleared all the same: the customer is told to try again.
            logger.exception("could not open a ticket for %s", tracker.sender_id)
            dispatcher.utter_message(response="utter_handoff_failed")
        else:
            dispatcher.utter_message(
                response="utter_handoff_recorded" if created else "utter_handoff_already_open"
            )
        return [SlotSet(SLOT_HANDOFF_OFFERED, False), SlotSet(SLOT_HANDOFF_REASON, None)]


class ActionDeclineHuman(Action):
    """The customer said no to the offer of a person: acknowledge and forget the offer."""

    def name(self) -> str:
        return "action_decline_human"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        dispatcher.utter_message(response="utter_handoff_declined")
        return [SlotSet(SLOT_HANDOFF_OFFERED, False), SlotSet(SLOT_HANDOFF_REASON, None)]
