"""A returning customer: recognised from their message, taken back to their open ticket.

A customer who wrote to us on the web, got a ticket, and now writes from a messaging app
(or the other way round) should not open a second ticket nor explain everything again:
when this conversation's profile (:mod:`identity.profiles`) has an active ticket in
another conversation, the ticket moves here (:func:`desk.tickets.move_ticket`) and the
operator's answers follow the customer.
"""

from __future__ import annotations

from typing import Any

import sqlite_utils

from customerlog.turns import customer_id_from
from desk import tickets
from identity import contacts, profiles


def recognise(
    db: sqlite_utils.Database,
    conversation_id: str,
    channel: str | None,
    metadata: Any,
    text: str = "",
) -> str:
    """Record who is writing (channel id, contact details); returns their profile id."""
    found = contacts.observed(metadata, text, contacts.identity_secret())
    return profiles.record(
        db,
        conversation_id=conversation_id,
        channel_id=customer_id_from(metadata, conversation_id),
        channel=channel,
        contacts=found,
    )


def open_ticket_of(db: sqlite_utils.Database, profile_id: str) -> tickets.Ticket | None:
    """The active ticket of any of the profile's conversations or channel ids."""
    profile = profiles.get_profile(db, profile_id)
    if profile is None:
        return None
    return tickets.active_ticket_of(db, profile.conversation_ids, profile.channel_ids)


def continue_ticket(
    db: sqlite_utils.Database,
    conversation_id: str,
    channel: str | None,
    metadata: Any,
    text: str = "",
) -> tickets.Ticket | None:
    """The customer's active ticket, moved into this conversation; None when they have none.

    Also for a conversation that already holds the ticket: then only its channel is
    brought up to date (the first message tells which channel a new conversation is on).
    """
    profile_id = recognise(db, conversation_id, channel, metadata, text)
    ticket = open_ticket_of(db, profile_id)
    if ticket is None:
        return None
    if ticket.conversation_id == conversation_id and (channel is None or ticket.channel == channel):
        return ticket
    try:
        return tickets.move_ticket(
            db, ticket.id, conversation_id, channel=channel or ticket.channel
        )
    except tickets.TicketError:
        return None  # closed meanwhile, or this conversation has a ticket of its own
