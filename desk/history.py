"""What a customer did across all their channels, for the operator's console.

The customer log (:mod:`customerlog.schema`) and the desk's operator answers meet in the
``customer_log`` view, which the desk owns (its migrations create it: the desk reads the
log, the log knows nothing of the desk). It is per conversation; a profile
(:mod:`identity.profiles`) knows all of a person's conversations. Together they give the
one history the operator reads on every ticket, whichever channel the ticket came from.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlite_utils

from desk import tickets
from identity.profiles import Profile

HISTORY_LIMIT = 200

# Turns and operators' answers in one timeline per conversation.
VIEW = "customer_log"


@dataclass(frozen=True)
class Entry:
    """One line of the history: what the customer wrote and what they were answered."""

    at: str
    conversation_id: str
    channel: str | None
    kind: str
    text: str
    reply: str
    ticket_id: int | None


def conversations_of(db: sqlite_utils.Database, profile: Profile) -> list[str]:
    """The profile's conversations, with those its tickets lived in."""
    conversations = dict.fromkeys(profile.conversation_ids)
    for ticket in tickets_of(db, profile):
        for row in tickets.ticket_conversations(db, ticket.id):
            conversations.setdefault(row["conversation_id"])
    return list(conversations)


def tickets_of(db: sqlite_utils.Database, profile: Profile) -> list[tickets.Ticket]:
    """Every ticket of the profile's conversations or channel ids, newest first."""
    conversations, channel_ids = profile.conversation_ids, profile.channel_ids
    conv_marks = ", ".join("?" for _ in conversations) or "NULL"
    id_marks = ", ".join("?" for _ in channel_ids) or "NULL"
    rows = db.query(
        f"""SELECT * FROM {tickets.TABLE} WHERE conversation_id IN ({conv_marks})
            OR customer_id IN ({id_marks})
            OR id IN (SELECT ticket_id FROM {tickets.CONVERSATIONS}
                      WHERE conversation_id IN ({conv_marks}))
            ORDER BY id DESC""",
        [*conversations, *channel_ids, *conversations],
    )
    return [tickets.Ticket.from_row(row) for row in rows]


def history(
    db: sqlite_utils.Database, conversation_ids: list[str], limit: int = HISTORY_LIMIT
) -> list[Entry]:
    """The latest ``limit`` lines of these conversations, oldest first."""
    if not conversation_ids:
        return []
    marks = ", ".join("?" for _ in conversation_ids)
    rows: list[dict[str, Any]] = list(
        db.query(
            f"SELECT at, conversation_id, channel, kind, text, reply, ticket_id "
            f"FROM {VIEW} WHERE conversation_id IN ({marks}) "
            "ORDER BY at DESC LIMIT ?",
            [*conversation_ids, limit],
        )
    )
    return [Entry(**row) for row in reversed(rows)]
