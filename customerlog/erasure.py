"""The log's share of a customer's export and erasure, and of the retention period.

Only customerlog writes the log's tables (``log_turns``, ``ratings``,
``rating_requests``, ``log_state``) and reads Rasa's tracker store; :mod:`privacy`,
which exports, erases and purges across every domain, asks through these functions. A
customer is named here by their channel ids and their conversations: finding them all
across the domains is :func:`privacy.customers.find`'s job.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import sqlite_utils

from customerlog import schema, turns
from customerlog.tracker import tracker_store
from sportello.db import write_transaction

# The log's tables that hold rows about a customer, by the name an export gives them.
TABLES = {"turns": schema.TURNS, "ratings": schema.RATINGS, "rating_requests": schema.REQUESTS}


def _of_customer(channel_ids: Sequence[str], conversations: Sequence[str]) -> tuple[str, list]:
    """SQL condition and parameters for the log's rows of the customer."""
    id_marks = ", ".join("?" for _ in channel_ids) or "NULL"
    marks = ", ".join("?" for _ in conversations) or "NULL"
    return (
        f"customer_id IN ({id_marks}) OR conversation_id IN ({marks})",
        [*channel_ids, *conversations],
    )


def conversations_of(db: sqlite_utils.Database, channel_ids: Sequence[str]) -> set[str]:
    """Every conversation the log saw these channel ids in (turns, ratings, questions)."""
    marks = ", ".join("?" for _ in channel_ids) or "NULL"
    return {
        row[0]
        for table in TABLES.values()
        for row in db.execute(
            f"SELECT DISTINCT conversation_id FROM {table} WHERE customer_id IN ({marks})",
            list(channel_ids),
        ).fetchall()
    }


def export(
    db: sqlite_utils.Database, channel_ids: Sequence[str], conversations: Sequence[str]
) -> dict[str, list[dict[str, Any]]]:
    """The customer's turns, ratings and rating questions, oldest first."""
    where, params = _of_customer(channel_ids, conversations)
    return {
        name: list(db.query(f"SELECT * FROM {table} WHERE {where} ORDER BY id", params))
        for name, table in TABLES.items()
    }


def count(
    db: sqlite_utils.Database, channel_ids: Sequence[str], conversations: Sequence[str]
) -> dict[str, int]:
    """How many rows about the customer each log table holds (after erasure: zeros)."""
    where, params = _of_customer(channel_ids, conversations)
    return {
        table: int(db.execute(f"SELECT COUNT(*) FROM {table} WHERE {where}", params).fetchone()[0])
        for table in TABLES.values()
    }


def erase(
    conn: sqlite3.Connection, channel_ids: Sequence[str], conversations: Sequence[str]
) -> None:
    """Delete the customer's log rows, inside the caller's transaction (the erasure
    deletes from every domain at once)."""
    where, params = _of_customer(channel_ids, conversations)
    for table in TABLES.values():
        conn.execute(f"DELETE FROM {table} WHERE {where}", params)


def purge_turns(conn: sqlite3.Connection, before: str) -> int:
    """Delete the turns older than ``before`` (ISO 8601), inside the caller's transaction;
    returns how many. Ratings stay: numbers for the insights, nothing a customer wrote."""
    return conn.execute(f"DELETE FROM {schema.TURNS} WHERE at < ?", (before,)).rowcount


def tracker_events(tracker: str | Path | None, conversations: list[str]) -> list[dict[str, Any]]:
    """Every event Rasa keeps of these conversations, as ``{conversation_id, event}``.

    ``tracker`` is the tracker store's file or URL (default: the settings'). An event
    whose JSON cannot be read is kept as ``{"unreadable": data}``.
    """
    if not conversations:
        return []
    with tracker_store(tracker) as store:
        if store is None:
            return []
        rows = store.events_of(conversations)
    events = []
    for sender, data in rows:
        try:
            event = json.loads(data)
        except (TypeError, ValueError):
            event = {"unreadable": data}
        events.append({"conversation_id": sender, "event": event})
    return events


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
        deleted, highest = store.delete_events(before=before, senders=senders or ())
    with write_transaction(db) as log:
        log.execute(
            f"UPDATE {schema.STATE} SET value = MIN(value, ?) WHERE name = ?",
            (highest, turns.MARK),
        )
    return deleted
