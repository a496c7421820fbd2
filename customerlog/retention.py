"""The log's retention period: conversations older than it are deleted.

What goes (older than ``SPORTELLO_LOG_RETENTION_DAYS``): the log's turns, Rasa's
tracker events, the text of closed tickets (transcript, messages, the e-mail
address, also where the audit log recorded it), and the identity of customers not seen
since (their channel ids, conversations and contact details, :mod:`identity.profiles`).
What stays: ratings and ticket rows without their text (numbers for the insights,
nothing that says who wrote what), and knowledge-base articles, which are scrubbed
when they are made. The SLA monitor runs :func:`purge` once an hour.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import sqlite_utils

from customerlog import schema, turns
from customerlog.tracker import SQLITE, tracker_store
from identity import profiles
from identity import schema as identity_schema
from sportello.db import checkpoint, write_transaction


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
    cutoff_iso = cutoff.isoformat(timespec="seconds")
    # Project what is still unlogged first, so the mark never points into deleted rows.
    turns.sync(db, tracker)
    with write_transaction(db) as conn:
        gone_turns = conn.execute(
            f"DELETE FROM {schema.TURNS} WHERE at < ?", (cutoff_iso,)
        ).rowcount
        old_closed = "SELECT id FROM tickets WHERE status = 'closed' AND closed_at < ?"
        gone_messages = conn.execute(
            f"DELETE FROM ticket_messages WHERE ticket_id IN ({old_closed})", (cutoff_iso,)
        ).rowcount
        # The e-mail address a customer left is also in the audit log's "email" event.
        conn.execute(
            f"UPDATE ticket_events SET detail = NULL WHERE kind = 'email' "
            f"AND detail IS NOT NULL AND ticket_id IN ({old_closed})",
            (cutoff_iso,),
        )
        emptied = conn.execute(
            "UPDATE tickets SET transcript = '[]', customer_email = NULL "
            "WHERE status = 'closed' AND closed_at < ? "
            "AND (transcript != '[]' OR customer_email IS NOT NULL)",
            (cutoff_iso,),
        ).rowcount
        stale = [
            row[0]
            for row in conn.execute(
                f"SELECT channel_id FROM {identity_schema.CHANNELS} WHERE last_seen < ?",
                (cutoff_iso,),
            )
        ]
        profiles.forget(conn, stale)
        conn.execute(
            f"DELETE FROM {identity_schema.CONVERSATIONS} WHERE last_seen < ?", (cutoff_iso,)
        )
    gone_events = delete_tracker_events(db, tracker, before=cutoff.timestamp())
    return Purged(gone_turns, gone_events, gone_messages, emptied, len(stale))


def delete_tracker_events(
    db: sqlite_utils.Database,
    tracker: str | Path | None,
    *,
    before: float | None = None,
    senders: list[str] | None = None,
) -> int:
    """Delete tracker events older than ``before`` (a Unix time) or of ``senders``.

    ``tracker`` is a SQLite file or a URL (:func:`customerlog.tracker.tracker_store`).
    SQLite may hand a deleted row's id to the next event, so the log's position is moved
    back to the highest id left: nothing written afterwards is skipped (PostgreSQL never
    reuses ids; there the move is harmless).
    """
    with tracker_store(tracker) as store:
        if store is None:
            return 0
        deleted = 0
        with store.transaction():
            if before is not None:
                deleted += store.execute(
                    "DELETE FROM events WHERE timestamp < ?", (before,)
                ).rowcount
            if senders:
                for start in range(0, len(senders), 500):
                    chunk = senders[start : start + 500]
                    marks = ", ".join("?" for _ in chunk)
                    deleted += store.execute(
                        f"DELETE FROM events WHERE sender_id IN ({marks})", chunk
                    ).rowcount
            highest = store.execute("SELECT COALESCE(MAX(id), 0) FROM events").fetchone()[0]
        if deleted and store.dialect == SQLITE:
            checkpoint(store.conn)  # the WAL still holds the deleted events' pages
    with write_transaction(db) as log:
        log.execute(
            f"UPDATE {schema.STATE} SET value = MIN(value, ?) WHERE name = ?",
            (highest, turns.MARK),
        )
    return deleted
