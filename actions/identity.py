"""Recognising a returning customer when a conversation starts (``action_session_start``).

Rasa runs ``action_session_start`` before the first message of every session, with that
message's metadata in the ``session_started_metadata`` slot. Ours does what Rasa's
default does (start the session, carry the slots over when the domain says so, listen)
and also records who is writing (:mod:`desk.returning`). A customer whose profile
has an active ticket in another conversation — the same verified e-mail on the web and
in a messaging app, or channels an operator merged — continues that ticket here: the
conversation is handed off straight away, and ``action_record_for_operator`` tells the
customer so with their first message (their language is known only then).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActionExecuted, EventType, SessionStarted, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.handoff import SLOT_HANDOFF_ACTIVE, SLOT_TICKET_CONTINUED, with_db
from desk.returning import continue_ticket

logger = logging.getLogger(__name__)

SLOT_SESSION_METADATA = "session_started_metadata"


def carried_over_slots(tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
    """The slots the new session keeps (all that are set, as Rasa's default does)."""
    config = domain.get("session_config") or {}
    if not config.get("carry_over_slots_to_new_session", True):
        metadata = tracker.get_slot(SLOT_SESSION_METADATA)
        return [SlotSet(SLOT_SESSION_METADATA, metadata)] if metadata else []
    return [SlotSet(name, value) for name, value in tracker.slots.items() if value is not None]


class ActionSessionStart(Action):
    """Start a session; a returning customer with an open ticket continues it here."""

    def name(self) -> str:
        return "action_session_start"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        events: list[EventType] = [SessionStarted(), *carried_over_slots(tracker, domain)]
        metadata = tracker.get_slot(SLOT_SESSION_METADATA)
        try:
            ticket = await asyncio.to_thread(
                with_db,
                continue_ticket,
                tracker.sender_id,
                tracker.get_latest_input_channel(),
                metadata,
            )
        except Exception:
            logger.exception("could not recognise the customer of %s", tracker.sender_id)
            ticket = None
        if ticket is not None and tracker.get_slot(SLOT_HANDOFF_ACTIVE) is not True:
            events += [
                SlotSet(SLOT_HANDOFF_ACTIVE, True),
                SlotSet(SLOT_TICKET_CONTINUED, ticket.id),
            ]
        events.append(ActionExecuted("action_listen"))
        return events
