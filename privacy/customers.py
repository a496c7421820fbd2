"""A customer's data: export everything held about them, or erase it and prove it.

A customer is found by any id that names them: their profile id (``cust-…``), a channel
(customer) id or a conversation id. The whole linked identity is covered
(:mod:`identity.profiles`): every channel id linked to the profile, every conversation
of those, every ticket and rating of those conversations. What is held:

- the customer log (:mod:`customerlog.schema`): turns, ratings, rating questions;
- the desk (:mod:`desk.tickets`): tickets with transcripts and e-mail addresses,
  their messages (operators' answers included) and audit events;
- Rasa's tracker store (a SQLite file or PostgreSQL, :mod:`customerlog.tracker`):
  every event of those conversations;
- the identity tables: the profile, its channel ids, contact details and links.

Knowledge-base articles are not the customer's: operator answers are scrubbed before
they become drafts, so approved articles survive an erasure.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import sqlite_utils

from customerlog import retention, schema, turns
from customerlog.tracker import tracker_store
from desk import mailbox, tickets
from identity import profiles
from identity import schema as identity_schema
from sportello.db import checkpoint, write_transaction


@dataclass(frozen=True)
class Footprint:
    """Where a customer appears: their channel ids, conversation ids and ticket ids."""

    customer_id: str
    conversations: list[str]
    tickets: list[int]
    channel_ids: list[str] = field(default_factory=list)
    profile_id: str | None = None

    def rows_of_customer(self) -> tuple[str, list[Any]]:
        """SQL condition and parameters for the log's and the desk's rows of the customer."""
        ids = self.channel_ids or [self.customer_id]
        id_marks = ", ".join("?" for _ in ids)
        marks = ", ".join("?" for _ in self.conversations) or "NULL"
        return (
            f"customer_id IN ({id_marks}) OR conversation_id IN ({marks})",
            [*ids, *self.conversations],
        )

    def rows_of_tickets(self, column: str = "ticket_id") -> tuple[str, list[Any]]:
        """SQL condition and parameters for rows of the customer's tickets."""
        marks = ", ".join("?" for _ in self.tickets) or "NULL"
        return f"{column} IN ({marks})", list(self.tickets)


def find(db: sqlite_utils.Database, customer_id: str) -> Footprint:
    """Every channel id, conversation and ticket of the customer named by any of their ids."""
    schema.ensure_schema(db)
    profile_id = profiles.resolve(db, customer_id)
    profile = profiles.get_profile(db, profile_id) if profile_id else None
    if profile is not None:
        channel_ids = set(profile.channel_ids) or {customer_id}
        conversations = set(profile.conversation_ids)
    else:
        channel_ids, conversations = {customer_id}, {customer_id}
    id_marks = ", ".join("?" for _ in channel_ids)
    for table in (schema.TURNS, schema.RATINGS, schema.REQUESTS, "tickets"):
        for (conversation,) in db.execute(
            f"SELECT DISTINCT conversation_id FROM {table} WHERE customer_id IN ({id_marks})",
            sorted(channel_ids),
        ).fetchall():
            conversations.add(conversation)
    marks = ", ".join("?" for _ in conversations)
    ids = [
        row[0]
        for row in db.execute(
            f"SELECT id FROM tickets WHERE customer_id IN ({id_marks}) "
            f"OR conversation_id IN ({marks}) OR id IN (SELECT ticket_id FROM "
            f"{tickets.CONVERSATIONS} WHERE conversation_id IN ({marks})) ORDER BY id",
            [*sorted(channel_ids), *conversations, *conversations],
        ).fetchall()
    ]
    # A ticket that moved with the customer lived in conversations of theirs.
    for ticket_id in ids:
        conversations.update(
            row["conversation_id"] for row in tickets.ticket_conversations(db, ticket_id)
        )
    return Footprint(
        customer_id,
        sorted(conversations),
        ids,
        sorted(channel_ids),
        profile_id if profile else None,
    )


def _rows(db: sqlite_utils.Database, sql: str, params: list[Any]) -> list[dict[str, Any]]:
    return list(db.query(sql, params))


def _profile(db: sqlite_utils.Database, footprint: Footprint) -> dict[str, Any] | None:
    """The identity profile: channel ids, conversations, contact details, links."""
    profile = profiles.get_profile(db, footprint.profile_id) if footprint.profile_id else None
    if profile is None:
        return None
    data = asdict(profile)
    data["merges"] = [asdict(merge) for merge in profile.merges]
    return data


def _tracker_events(tracker: str | Path | None, conversations: list[str]) -> list[dict[str, Any]]:
    if not conversations:
        return []
    with tracker_store(tracker) as store:
        if store is None:
            return []
        marks = ", ".join("?" for _ in conversations)
        rows = store.execute(
            f"SELECT sender_id, data FROM events WHERE sender_id IN ({marks}) ORDER BY id",
            conversations,
        ).fetchall()
    events = []
    for sender, data in rows:
        try:
            event = json.loads(data)
        except (TypeError, ValueError):
            event = {"unreadable": data}
        events.append({"conversation_id": sender, "event": event})
    return events


def export(
    db: sqlite_utils.Database, customer_id: str, tracker: str | Path | None = None
) -> dict[str, Any]:
    """Everything held about the customer, as one JSON-ready dictionary.

    ``tracker``: the tracker store's file or URL (default: the settings'). The log is
    first brought up to the call (on PostgreSQL that waits out the log's safe horizon,
    10-20 s), so that conversations linked by their latest messages are included.
    """
    turns.sync(db, tracker, settle=True)
    footprint = find(db, customer_id)
    by_customer, params = footprint.rows_of_customer()
    tickets_where, ticket_ids = footprint.rows_of_tickets("id")
    return {
        "customer_id": customer_id,
        "exported_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "profile": _profile(db, footprint),
        "channel_ids": footprint.channel_ids,
        "conversations": footprint.conversations,
        "turns": _rows(db, f"SELECT * FROM {schema.TURNS} WHERE {by_customer} ORDER BY id", params),
        "ratings": _rows(
            db, f"SELECT * FROM {schema.RATINGS} WHERE {by_customer} ORDER BY id", params
        ),
        "rating_requests": _rows(
            db, f"SELECT * FROM {schema.REQUESTS} WHERE {by_customer} ORDER BY id", params
        ),
        "tickets": [
            {
                **ticket,
                "transcript": json.loads(ticket["transcript"] or "[]"),
                "messages": _rows(
                    db,
                    "SELECT * FROM ticket_messages WHERE ticket_id = ? ORDER BY id",
                    [ticket["id"]],
                ),
                "events": _rows(
                    db,
                    "SELECT * FROM ticket_events WHERE ticket_id = ? ORDER BY id",
                    [ticket["id"]],
                ),
                **mailbox.mail_rows(db, ticket["id"]),
            }
            for ticket in _rows(
                db, f"SELECT * FROM tickets WHERE {tickets_where} ORDER BY id", ticket_ids
            )
        ],
        "tracker_events": _tracker_events(tracker, footprint.conversations),
    }


def remaining(
    db: sqlite_utils.Database, footprint: Footprint, tracker: str | Path | None = None
) -> dict[str, int]:
    """How many rows about the customer each place still holds (after erasure: zeros)."""
    by_customer, params = footprint.rows_of_customer()
    of_tickets, ticket_ids = footprint.rows_of_tickets()

    def count(sql: str, values: list[Any]) -> int:
        return int(db.execute(sql, values).fetchone()[0])

    counts = {
        table: count(f"SELECT COUNT(*) FROM {table} WHERE {by_customer}", params)
        for table in (schema.TURNS, schema.RATINGS, schema.REQUESTS, "tickets")
    }
    for table in ("ticket_messages", "ticket_events", tickets.CONVERSATIONS):
        counts[table] = count(f"SELECT COUNT(*) FROM {table} WHERE {of_tickets}", ticket_ids)
    counts.update(mailbox.count_for(db, list(footprint.tickets)))
    ids = footprint.channel_ids or [footprint.customer_id]
    id_marks = ", ".join("?" for _ in ids)
    conv_marks = ", ".join("?" for _ in footprint.conversations) or "NULL"
    for table in (identity_schema.CHANNELS, identity_schema.CONTACTS):
        counts[table] = count(f"SELECT COUNT(*) FROM {table} WHERE channel_id IN ({id_marks})", ids)
    counts[identity_schema.CONVERSATIONS] = count(
        f"SELECT COUNT(*) FROM {identity_schema.CONVERSATIONS} WHERE channel_id IN ({id_marks}) "
        f"OR conversation_id IN ({conv_marks})",
        [*ids, *footprint.conversations],
    )
    profile = [footprint.profile_id or ""]
    counts[identity_schema.PROFILES] = count(
        f"SELECT COUNT(*) FROM {identity_schema.PROFILES} WHERE id = ? OR merged_into = ?",
        profile * 2,
    )
    counts[identity_schema.MERGES] = count(
        f"SELECT COUNT(*) FROM {identity_schema.MERGES} WHERE kept = ? OR absorbed = ?",
        profile * 2,
    )
    counts["tracker_events"] = len(_tracker_events(tracker, footprint.conversations))
    return counts


def erase(
    db: sqlite_utils.Database, customer_id: str, tracker: str | Path | None = None
) -> dict[str, int]:
    """Delete everything held about the customer; returns what remains (all zeros).

    The log is first brought up to the call, as for :func:`export`; the log and the
    desk are cleaned in one transaction; then the tracker store.
    """
    turns.sync(db, tracker, settle=True)
    footprint = find(db, customer_id)
    by_customer, params = footprint.rows_of_customer()
    of_tickets, ticket_ids = footprint.rows_of_tickets()
    tickets_where, _ = footprint.rows_of_tickets("id")
    identity_schema.ensure_schema(db)
    with write_transaction(db) as conn:
        marks = ", ".join("?" for _ in ticket_ids) or "NULL"
        mailbox.forget(conn, marks, ticket_ids)
        for table in ("ticket_messages", "ticket_events", tickets.CONVERSATIONS):
            conn.execute(f"DELETE FROM {table} WHERE {of_tickets}", ticket_ids)
        conn.execute(f"DELETE FROM tickets WHERE {tickets_where}", ticket_ids)
        for table in (schema.TURNS, schema.RATINGS, schema.REQUESTS):
            conn.execute(f"DELETE FROM {table} WHERE {by_customer}", params)
        profiles.forget(conn, footprint.channel_ids)
        marks = ", ".join("?" for _ in footprint.conversations) or "NULL"
        conn.execute(
            f"DELETE FROM {identity_schema.CONVERSATIONS} WHERE conversation_id IN ({marks})",
            footprint.conversations,
        )
    checkpoint(db)  # erased text leaves the WAL too (secure_delete zeroed the pages)
    retention.delete_tracker_events(db, tracker, senders=footprint.conversations)
    return remaining(db, footprint, tracker)
