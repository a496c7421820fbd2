"""A customer's data: export everything held about them, or erase it and prove it.

A customer is found by their customer id or by a conversation id (for web visitors
they are the same): every conversation logged under that customer id belongs to them,
and so does every ticket and rating of those conversations. What is held:

- the customer log (:mod:`customerlog.schema`): turns, ratings, rating questions;
- the desk (:mod:`desk.tickets`): tickets with transcripts and e-mail addresses,
  their messages (operators' answers included) and audit events;
- Rasa's tracker store: every event of those conversations.

Knowledge-base articles are not the customer's: operator answers are scrubbed before
they become drafts, so approved articles survive an erasure.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import sqlite_utils

from customerlog import retention, schema, turns
from sportello.db import write_transaction


@dataclass(frozen=True)
class Footprint:
    """Where a customer appears: their conversation ids and ticket ids."""

    customer_id: str
    conversations: list[str]
    tickets: list[int]

    def rows_of_customer(self) -> tuple[str, list[Any]]:
        """SQL condition and parameters for the log's and the desk's rows of the customer."""
        marks = ", ".join("?" for _ in self.conversations)
        return (
            f"customer_id = ? OR conversation_id IN ({marks})",
            [self.customer_id, *self.conversations],
        )

    def rows_of_tickets(self, column: str = "ticket_id") -> tuple[str, list[Any]]:
        """SQL condition and parameters for rows of the customer's tickets."""
        marks = ", ".join("?" for _ in self.tickets) or "NULL"
        return f"{column} IN ({marks})", list(self.tickets)


def find(db: sqlite_utils.Database, customer_id: str) -> Footprint:
    """Every conversation and ticket of the customer (by customer or conversation id)."""
    schema.ensure_schema(db)
    conversations = {customer_id}
    for table in (schema.TURNS, schema.RATINGS, schema.REQUESTS, "tickets"):
        for (conversation,) in db.execute(
            f"SELECT DISTINCT conversation_id FROM {table} WHERE customer_id = ?", [customer_id]
        ).fetchall():
            conversations.add(conversation)
    marks = ", ".join("?" for _ in conversations)
    ids = [
        row[0]
        for row in db.execute(
            f"SELECT id FROM tickets WHERE customer_id = ? OR conversation_id IN ({marks}) "
            "ORDER BY id",
            [customer_id, *conversations],
        ).fetchall()
    ]
    return Footprint(customer_id, sorted(conversations), ids)


def _rows(db: sqlite_utils.Database, sql: str, params: list[Any]) -> list[dict[str, Any]]:
    return list(db.query(sql, params))


def _tracker_events(tracker_path: Path | None, conversations: list[str]) -> list[dict[str, Any]]:
    if not conversations:
        return []
    with turns.tracker_store(tracker_path) as conn:
        if conn is None:
            return []
        marks = ", ".join("?" for _ in conversations)
        rows = conn.execute(
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
    db: sqlite_utils.Database, customer_id: str, tracker_path: Path | None = None
) -> dict[str, Any]:
    """Everything held about the customer, as one JSON-ready dictionary."""
    turns.sync(db, tracker_path)
    footprint = find(db, customer_id)
    by_customer, params = footprint.rows_of_customer()
    tickets_where, ticket_ids = footprint.rows_of_tickets("id")
    return {
        "customer_id": customer_id,
        "exported_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
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
            }
            for ticket in _rows(
                db, f"SELECT * FROM tickets WHERE {tickets_where} ORDER BY id", ticket_ids
            )
        ],
        "tracker_events": _tracker_events(tracker_path, footprint.conversations),
    }


def remaining(
    db: sqlite_utils.Database, footprint: Footprint, tracker_path: Path | None = None
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
    for table in ("ticket_messages", "ticket_events"):
        counts[table] = count(f"SELECT COUNT(*) FROM {table} WHERE {of_tickets}", ticket_ids)
    counts["tracker_events"] = len(_tracker_events(tracker_path, footprint.conversations))
    return counts


def erase(
    db: sqlite_utils.Database, customer_id: str, tracker_path: Path | None = None
) -> dict[str, int]:
    """Delete everything held about the customer; returns what remains (all zeros).

    The log and the desk are cleaned in one transaction; then the tracker store.
    """
    turns.sync(db, tracker_path)
    footprint = find(db, customer_id)
    by_customer, params = footprint.rows_of_customer()
    of_tickets, ticket_ids = footprint.rows_of_tickets()
    tickets_where, _ = footprint.rows_of_tickets("id")
    with write_transaction(db) as conn:
        for table in ("ticket_messages", "ticket_events"):
            conn.execute(f"DELETE FROM {table} WHERE {of_tickets}", ticket_ids)
        conn.execute(f"DELETE FROM tickets WHERE {tickets_where}", ticket_ids)
        for table in (schema.TURNS, schema.RATINGS, schema.REQUESTS):
            conn.execute(f"DELETE FROM {table} WHERE {by_customer}", params)
    retention.delete_tracker_events(db, tracker_path, senders=footprint.conversations)
    return remaining(db, footprint, tracker_path)
