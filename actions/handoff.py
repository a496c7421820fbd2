"""Escalation from the bot to a person: opening the ticket and telling the customer when.

Shared by every action that escalates (the customer asks for a person, the knowledge
base abstains twice in a row, answers are rejected twice, a personal case). The
ticket gets the conversation so far, the language, the channel, the customer id and a
priority; its SLA deadlines come from :mod:`desk.sla`. The customer is told, in their
language, when an operator will answer (the first-response deadline in the desk's
local time) and, outside business hours, when the desk opens and how the answer will
reach them: when e-mail is configured (``SPORTELLO_SMTP_URL`` and
``SPORTELLO_MAIL_FROM``) they are invited to leave an address and will be answered there
too (desk/mailbox.py); otherwise the bot promises only the chat.

While a ticket is active the ``handoff_active`` slot is true and the rules in
bot/data/rules/handoff.yml send every customer message to
``action_record_for_operator``: the bot stays silent and records. A slot, not
``ConversationPaused``: a paused conversation runs no triggered intents, so operators'
answers could not be pushed into it (RASA-NOTES, "Handoff").
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.wording import due_text, when_text
from customerlog.turns import customer_id_from
from desk import sla, tickets
from desk.returning import continue_ticket
from sportello.clock import parse_time, utc_now
from sportello.db import open_db
from sportello.settings import get_settings

logger = logging.getLogger(__name__)

# Slots the actions set (declared in bot/domain.yml).
SLOT_LANGUAGE = "language"
SLOT_HANDOFF_OFFERED = "handoff_offered"
SLOT_HANDOFF_REASON = "handoff_reason"
SLOT_HANDOFF_ACTIVE = "handoff_active"
SLOT_ABSTAIN_STREAK = "kb_abstain_streak"
SLOT_REJECTIONS = "kb_rejections"
SLOT_ARTICLE_ID = "kb_article_id"
SLOT_CONFIDENCE = "kb_confidence"
# The ticket a returning customer continues in this conversation, until they are told.
SLOT_TICKET_CONTINUED = "ticket_continued"

# Escalate when the knowledge base abstains this many times in a row, or when the
# customer rejects this many answers.
ABSTENTIONS_TO_ESCALATE = 2
REJECTIONS_TO_ESCALATE = 2

PERSONAL_CASE_PRIORITY = "high"

# Which ticket the customer is told about (say_ticket_status).
STATUS_CREATED = "created"
STATUS_ALREADY_OPEN = "already_open"
STATUS_CONTINUED = "continued"
_STATUS_RESPONSES = {
    STATUS_CREATED: "utter_handoff_recorded",
    STATUS_ALREADY_OPEN: "utter_handoff_already_open",
    STATUS_CONTINUED: "utter_ticket_continued",
}

T = TypeVar("T")


def clock() -> datetime:
    """Now, in UTC (tests replace it to fix business hours)."""
    return utc_now()


def customer_language(tracker: Tracker) -> str:
    """The conversation's language (slot filled by the NLU), else the configured default."""
    return tracker.get_slot(SLOT_LANGUAGE) or get_settings().default_lang


def is_external(event_or_message: dict[str, Any]) -> bool:
    """A message triggered by the desk (``EXTERNAL_*`` intent), not typed by the customer."""
    parse = event_or_message.get("parse_data") or event_or_message
    intent = (parse.get("intent") or {}).get("name") or ""
    return intent.startswith("EXTERNAL_")


def transcript_from_events(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What customer and bot said so far, oldest first, for the operator's ticket."""
    roles = {"user": "customer", "bot": "bot"}
    return [
        {"role": roles[event["event"]], "text": event["text"], "timestamp": event.get("timestamp")}
        for event in events
        if event.get("event") in roles and event.get("text") and not is_external(event)
    ]


def with_db(work: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run ``work(db, ...)`` with a connection of this thread's own (SQLite rule)."""
    db = open_db()
    try:
        return work(db, *args, **kwargs)
    finally:
        db.close()


def say_ticket_status(
    dispatcher: CollectingDispatcher,
    ticket: tickets.Ticket,
    policy: sla.SlaPolicy,
    now: datetime,
    lang: str,
    *,
    status: str,
) -> None:
    """Tell the customer when an operator will answer; outside hours, when we open.

    ``status`` says which ticket: a new one, the one already open here, or the one a
    returning customer continues from another conversation.
    """
    due = parse_time(ticket.first_response_due) or now
    dispatcher.utter_message(
        response=_STATUS_RESPONSES[status],
        due=due_text(due, now, lang, policy.timezone),
        ticket=ticket.id,
    )
    if not sla.is_open(policy, now):
        opening = sla.next_opening(policy, now)
        dispatcher.utter_message(
            response="utter_desk_closed_email"
            if get_settings().mail_enabled
            else "utter_desk_closed",
            opening=when_text(opening, now, lang, policy.timezone),
        )


async def escalate(
    dispatcher: CollectingDispatcher,
    tracker: Tracker,
    reason: str,
    priority: str = tickets.DEFAULT_PRIORITY,
) -> list[EventType]:
    """Open (or re-use) the conversation's ticket, tell the customer, hand over.

    On success the bot goes silent (``handoff_active``) and the escalation counters
    restart. If the ticket cannot be stored the customer is told to try again and the
    bot keeps answering.
    """
    lang = customer_language(tracker)
    now = clock()
    cleared = [SlotSet(SLOT_HANDOFF_OFFERED, False), SlotSet(SLOT_HANDOFF_REASON, None)]
    try:
        policy = sla.load_policy(get_settings().sla_file)
        ticket, status = await asyncio.to_thread(
            with_db, _open_or_continue, tracker, lang, reason, priority, policy, now
        )
    except Exception:
        logger.exception("could not open a ticket for %s", tracker.sender_id)
        dispatcher.utter_message(response="utter_handoff_failed")
        return cleared
    say_ticket_status(dispatcher, ticket, policy, now, lang, status=status)
    return [
        *cleared,
        SlotSet(SLOT_HANDOFF_ACTIVE, True),
        SlotSet(SLOT_TICKET_CONTINUED, None),
        SlotSet(SLOT_ABSTAIN_STREAK, 0.0),
        SlotSet(SLOT_REJECTIONS, 0.0),
    ]


def _open_or_continue(
    db: Any,
    tracker: Tracker,
    lang: str,
    reason: str,
    priority: str,
    policy: sla.SlaPolicy,
    now: datetime,
) -> tuple[tickets.Ticket, str]:
    """The customer's ticket: the one they already have (here or, for a recognised
    returning customer, in another conversation, moved here) or a new one."""
    metadata = tracker.latest_message.get("metadata")
    channel = tracker.get_latest_input_channel()
    text = tracker.latest_message.get("text") or ""
    existing = continue_ticket(db, tracker.sender_id, channel, metadata, text)
    if existing is not None:
        born_here = tickets.ticket_conversations(db, existing.id)[0]["conversation_id"]
        status = STATUS_ALREADY_OPEN if born_here == tracker.sender_id else STATUS_CONTINUED
        return existing, status
    ticket, created = tickets.open_ticket(
        db,
        tracker.sender_id,
        lang=lang,
        reason=reason,
        priority=priority,
        channel=channel,
        customer_id=customer_id_from(metadata, tracker.sender_id),
        transcript=transcript_from_events(tracker.events),
        policy=policy,
        now=now,
    )
    return ticket, STATUS_CREATED if created else STATUS_ALREADY_OPEN


def say_pending_answers(
    db: Any,
    dispatcher: CollectingDispatcher,
    conversation_id: str,
    now: datetime | None = None,
) -> list[tickets.Message]:
    """Utter the operators' undelivered answers of the conversation and mark them delivered."""
    pending = tickets.conversation_pending_answers(db, conversation_id)
    for message in pending:
        dispatcher.utter_message(text=message.text)
    tickets.mark_delivered(db, [message.id for message in pending], now or clock())
    return pending
