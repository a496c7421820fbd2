"""The retention period: conversations older than it are deleted, in every domain.

What goes (older than ``SPORTELLO_LOG_RETENTION_DAYS``): the log's turns, Rasa's
tracker events, the text of closed tickets (transcript, messages, the e-mail
address, also where the audit log recorded it), and the identity of customers not seen
since (their channel ids, conversations and contact details, :mod:`identity.profiles`).
What stays: ratings and ticket rows without their text (numbers for the insights,
nothing that says who wrote what), and knowledge-base articles, which are scrubbed
when they are made. The SLA monitor runs :func:`purge` once an hour.

Each domain deletes its own rows (:mod:`customerlog.erasure`, :mod:`desk.erasure`,
:mod:`identity.erasure`); this module only decides the cut-off and holds them in one
transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import sqlite_utils

from customerlog import erasure as log_erasure
from customerlog import turns
from desk import erasure as desk_erasure
from identity import erasure as identity_erasure
from sportello.clock import format_time
from sportello.db import write_transaction


@dataclass(frozen=True)
class Purged:
    """How many rows one retention pass deleted (or emptied), per place."""

    turns: int = 0
    tracker_events: int = 0
    ticket_messages: int = 0
    tickets_emptied: int = 0
    channel_ids: int = 0

    @property
    def total(self) -> int:
        return (
            self.turns
            + self.tracker_events
            + self.ticket_messages
            + self.tickets_emptied
            + self.channel_ids
        )


def purge(
    db: sqlite_utils.Database, days: int, now: datetime, tracker: str | Path | None = None
) -> Purged:
    """Delete conversation data older than ``days`` days before ``now``; ``tracker`` is
    the tracker store's file or URL (default: the settings')."""
    if days < 1:
        raise ValueError("the retention period is at least one day")
    cutoff = now - timedelta(days=days)
    cutoff_iso = format_time(cutoff)
    # Project what is still unlogged first, so the mark never points into deleted rows.
    turns.sync(db, tracker)
    with write_transaction(db) as conn:
        gone_turns = log_erasure.purge_turns(conn, cutoff_iso)
        gone_messages, emptied = desk_erasure.purge_closed(conn, cutoff_iso)
        forgotten = identity_erasure.purge(conn, cutoff_iso)
    gone_events = log_erasure.delete_tracker_events(db, tracker, before=cutoff.timestamp())
    return Purged(gone_turns, gone_events, gone_messages, emptied, forgotten)
