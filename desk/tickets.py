"""Handoff tickets: a customer's request for a person, recorded for the operators.

The bot opens a ticket when a customer asks for a human or accepts the offer of one
after the knowledge base could not answer. A conversation has at most one open ticket:
asking again (or pressing the button twice) returns the ticket already open, so
operators never see duplicates. The check and the insert run in one write transaction,
so two simultaneous requests cannot race into two tickets, and a partial unique index
makes SQLite refuse a second open ticket whatever code writes it.

The transcript is stored as JSON (a list of ``{"role", "text", "timestamp"}`` with role
``"customer"`` or ``"bot"``) so the operator sees what happened before the handoff.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import sqlite_utils

TABLE = "tickets"

# Why a ticket was opened; kept as plain strings so reports can group by them.
REASON_ASKED_FOR_HUMAN = "asked_for_human"
REASON_KB_ABSTAINED = "kb_abstained"
REASON_BOT_ERROR = "bot_error"
REASONS = (REASON_ASKED_FOR_HUMAN, REASON_KB_ABSTAINED, REASON_BOT_ERROR)

STATUS_OPEN = "open"


@dataclass(frozen=True)
class Ticket:
    """One handoff request as the operators see it."""

    id: int
    conversation_id: str
    customer_id: str | None
    channel: str | None
    lang: str
    reason: str
    status: str
    created_at: str
    transcript: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Ticket:
        return cls(
            id=row["id"],
            conversation_id=row["conversation_id"],
            customer_id=row["customer_id"],
            channel=row["channel"],
            lang=row["lang"],
            reason=row["reason"],
            status=row["status"],
            created_at=row["created_at"],
            transcript=json.loads(row["transcript"] or "[]"),
        )


@contextmanager
def _write_transaction(db: sqlite_utils.Database) -> Iterator[sqlite3.Connection]:
    """A transaction that takes the write lock up front (waiting for it up to the busy
    timeout), so that check-then-write sequences are atomic and never fail with
    "database is locked" when a read would have to be upgraded to a write."""
    conn = db.conn
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def ensure_schema(db: sqlite_utils.Database) -> None:
    """Create the tickets table and its indexes if missing (safe to call every time)."""
    if TABLE in db.table_names():
        return
    with _write_transaction(db) as conn:
        conn.execute(
            f"""CREATE TABLE IF NOT EXISTS {TABLE} (
                id INTEGER PRIMARY KEY,
                conversation_id TEXT NOT NULL,
                customer_id TEXT,
                channel TEXT,
                lang TEXT NOT NULL,
                reason TEXT NOT NULL,
                status TEXT NOT NULL,
                created_at TEXT NOT NULL,
                transcript TEXT NOT NULL DEFAULT '[]'
            )"""
        )
        # One open ticket per conversation, enforced by SQLite itself.
        conn.execute(
            f"CREATE UNIQUE INDEX IF NOT EXISTS {TABLE}_one_open_per_conversation "
            f"ON {TABLE}(conversation_id) WHERE status = '{STATUS_OPEN}'"
        )
        conn.execute(f"CREATE INDEX IF NOT EXISTS {TABLE}_status ON {TABLE}(status, created_at)")


def get_open_ticket(db: sqlite_utils.Database, conversation_id: str) -> Ticket | None:
    """The conversation's open ticket, or None."""
    ensure_schema(db)
    rows = list(
        db[TABLE].rows_where(
            "conversation_id = ? AND status = ?", [conversation_id, STATUS_OPEN], limit=1
        )
    )
    return Ticket.from_row(rows[0]) if rows else None


def list_tickets(db: sqlite_utils.Database, status: str | None = None) -> list[Ticket]:
    """Tickets oldest first, all of them or only those with ``status`` (e.g. "open")."""
    ensure_schema(db)
    where, args = ("status = ?", [status]) if status is not None else (None, [])
    return [
        Ticket.from_row(row) for row in db[TABLE].rows_where(where, args, order_by="created_at, id")
    ]


def get_ticket(db: sqlite_utils.Database, ticket_id: int) -> Ticket:
    """The ticket with this id; raises ``sqlite_utils.db.NotFoundError`` when missing."""
    ensure_schema(db)
    return Ticket.from_row(db[TABLE].get(ticket_id))


def open_ticket(
    db: sqlite_utils.Database,
    conversation_id: str,
    *,
    lang: str,
    reason: str = REASON_ASKED_FOR_HUMAN,
    channel: str | None = None,
    customer_id: str | None = None,
    transcript: Iterable[dict[str, Any]] = (),
) -> tuple[Ticket, bool]:
    """Open a ticket for the conversation, or return the one already open.

    Returns ``(ticket, created)``; ``created`` is False when the conversation already
    had an open ticket, which is then returned unchanged. ``lang`` is the customer's
    language (``"it"``/``"en"``), the one operators should answer in.
    """
    if not conversation_id:
        raise ValueError("a ticket needs the conversation id")
    if reason not in REASONS:
        raise ValueError(f"unknown ticket reason {reason!r}; expected one of {REASONS}")
    ensure_schema(db)
    row = {
        "conversation_id": conversation_id,
        "customer_id": customer_id,
        "channel": channel,
        "lang": lang,
        "reason": reason,
        "status": STATUS_OPEN,
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "transcript": json.dumps(list(transcript), ensure_ascii=False),
    }
    with _write_transaction(db) as conn:
        existing = conn.execute(
            f"SELECT id FROM {TABLE} WHERE conversation_id = ? AND status = ? LIMIT 1",
            [conversation_id, STATUS_OPEN],
        ).fetchone()
        if existing is None:
            columns = ", ".join(row)
            placeholders = ", ".join("?" for _ in row)
            cursor = conn.execute(
                f"INSERT INTO {TABLE} ({columns}) VALUES ({placeholders})", list(row.values())
            )
            ticket_id, created = cursor.lastrowid, True
        else:
            ticket_id, created = existing[0], False
    return get_ticket(db, ticket_id), created
