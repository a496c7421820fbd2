"""The desk's share of a customer's export and erasure, and of the retention period.

Only the desk writes its tables (tickets, their messages, audit events, conversations
and mails); :mod:`privacy`, which exports, erases and purges across every domain, asks
through these functions. A customer is named here by their channel ids and their
conversations: finding them all across the domains is :func:`privacy.customers.find`'s
job.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from typing import Any

import sqlite_utils

from desk import mailbox, tickets

# The tables whose rows belong to a ticket (by ``ticket_id``), in the order they are counted.
TICKET_ROWS = (tickets.MESSAGES, tickets.EVENTS, tickets.CONVERSATIONS)


def _marks(values: Sequence[Any]) -> str:
    return ", ".join("?" for _ in values) or "NULL"


def conversations_of(db: sqlite_utils.Database, channel_ids: Sequence[str]) -> set[str]:
    """The conversations the customer's tickets were opened in, by channel id."""
    return {
        row[0]
        for row in db.execute(
            f"SELECT DISTINCT conversation_id FROM {tickets.TABLE} "
            f"WHERE customer_id IN ({_marks(channel_ids)})",
            list(channel_ids),
        ).fetchall()
    }


def tickets_of(
    db: sqlite_utils.Database, channel_ids: Sequence[str], conversations: Sequence[str]
) -> list[int]:
    """The ids of the customer's tickets: opened by these channel ids, in these
    conversations, or moved through them (a ticket follows a returning customer)."""
    marks = _marks(conversations)
    return [
        row[0]
        for row in db.execute(
            f"SELECT id FROM {tickets.TABLE} WHERE customer_id IN ({_marks(channel_ids)}) "
            f"OR conversation_id IN ({marks}) OR id IN (SELECT ticket_id FROM "
            f"{tickets.CONVERSATIONS} WHERE conversation_id IN ({marks})) ORDER BY id",
            [*channel_ids, *conversations, *conversations],
        ).fetchall()
    ]


def conversations_of_tickets(db: sqlite_utils.Database, ticket_ids: Sequence[int]) -> set[str]:
    """Every conversation these tickets lived in."""
    return {
        row["conversation_id"]
        for ticket_id in ticket_ids
        for row in tickets.ticket_conversations(db, ticket_id)
    }


def _rows(db: sqlite_utils.Database, sql: str, params: list[Any]) -> list[dict[str, Any]]:
    return list(db.query(sql, params))


def export(db: sqlite_utils.Database, ticket_ids: Sequence[int]) -> list[dict[str, Any]]:
    """The tickets as stored, each with its transcript (parsed), messages, audit events
    and mails, oldest first."""
    return [
        {
            **ticket,
            "transcript": json.loads(ticket["transcript"] or "[]"),
            "messages": _rows(
                db,
                f"SELECT * FROM {tickets.MESSAGES} WHERE ticket_id = ? ORDER BY id",
                [ticket["id"]],
            ),
            "events": _rows(
                db,
                f"SELECT * FROM {tickets.EVENTS} WHERE ticket_id = ? ORDER BY id",
                [ticket["id"]],
            ),
            **mailbox.mail_rows(db, ticket["id"]),
        }
        for ticket in _rows(
            db,
            f"SELECT * FROM {tickets.TABLE} WHERE id IN ({_marks(ticket_ids)}) ORDER BY id",
            list(ticket_ids),
        )
    ]


def count(
    db: sqlite_utils.Database,
    channel_ids: Sequence[str],
    conversations: Sequence[str],
    ticket_ids: Sequence[int],
) -> dict[str, int]:
    """How many desk rows about the customer each table holds (after erasure: zeros)."""

    def number(sql: str, values: list[Any]) -> int:
        return int(db.execute(sql, values).fetchone()[0])

    counts = {
        tickets.TABLE: number(
            f"SELECT COUNT(*) FROM {tickets.TABLE} WHERE customer_id IN "
            f"({_marks(channel_ids)}) OR conversation_id IN ({_marks(conversations)})",
            [*channel_ids, *conversations],
        )
    }
    for table in TICKET_ROWS:
        counts[table] = number(
            f"SELECT COUNT(*) FROM {table} WHERE ticket_id IN ({_marks(ticket_ids)})",
            list(ticket_ids),
        )
    counts.update(mailbox.count_for(db, list(ticket_ids)))
    return counts


def erase(conn: sqlite3.Connection, ticket_ids: Sequence[int]) -> None:
    """Delete the tickets and everything of theirs (messages, events, conversations,
    mails), inside the caller's transaction (the erasure deletes from every domain at
    once). The tables exist: the caller found the tickets through :func:`tickets_of`."""
    marks, ids = _marks(ticket_ids), list(ticket_ids)
    mailbox.forget(conn, marks, ids)
    for table in TICKET_ROWS:
        conn.execute(f"DELETE FROM {table} WHERE ticket_id IN ({marks})", ids)
    conn.execute(f"DELETE FROM {tickets.TABLE} WHERE id IN ({marks})", ids)


def purge_closed(conn: sqlite3.Connection, before: str) -> tuple[int, int]:
    """Empty the tickets closed before ``before`` (ISO 8601) of what a customer wrote or
    left, inside the caller's transaction; returns (messages deleted, tickets emptied).

    The messages go, the transcript and the e-mail address are emptied, also where the
    audit log recorded the address. The ticket rows stay, without text: numbers for the
    insights.
    """
    old_closed = (
        f"SELECT id FROM {tickets.TABLE} WHERE status = '{tickets.STATUS_CLOSED}' AND closed_at < ?"
    )
    gone_messages = conn.execute(
        f"DELETE FROM {tickets.MESSAGES} WHERE ticket_id IN ({old_closed})", (before,)
    ).rowcount
    conn.execute(
        f"UPDATE {tickets.EVENTS} SET detail = NULL WHERE kind = '{tickets.EVENT_EMAIL}' "
        f"AND detail IS NOT NULL AND ticket_id IN ({old_closed})",
        (before,),
    )
    emptied = conn.execute(
        f"UPDATE {tickets.TABLE} SET transcript = '[]', customer_email = NULL "
        f"WHERE status = '{tickets.STATUS_CLOSED}' AND closed_at < ? "
        "AND (transcript != '[]' OR customer_email IS NOT NULL)",
        (before,),
    ).rowcount
    return gone_messages, emptied
