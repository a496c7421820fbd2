"""Reading tickets, their transcripts and audit logs; nothing here writes."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import sqlite_utils

from desk.tickets.models import Event, Message, Ticket
from desk.tickets.schema import (
    ACTIVE_SQL,
    CONVERSATIONS,
    EVENTS,
    MESSAGES,
    ROLE_CUSTOMER,
    ROLE_OPERATOR,
    STATUS_CLOSED,
    TABLE,
)
from sportello.clock import format_time


def get_ticket(db: sqlite_utils.Database, ticket_id: int) -> Ticket:
    """The ticket with this id; raises ``sqlite_utils.db.NotFoundError`` when missing."""
    return Ticket.from_row(db[TABLE].get(ticket_id))


def get_open_ticket(db: sqlite_utils.Database, conversation_id: str) -> Ticket | None:
    """The conversation's active (open or claimed) ticket, or None."""
    rows = list(db[TABLE].rows_where(f"conversation_id = ? AND {ACTIVE_SQL}", [conversation_id]))
    return Ticket.from_row(rows[0]) if rows else None


def latest_ticket(db: sqlite_utils.Database, conversation_id: str) -> Ticket | None:
    """The conversation's most recent ticket, whatever its status, or None."""
    rows = list(
        db[TABLE].rows_where("conversation_id = ?", [conversation_id], order_by="id DESC", limit=1)
    )
    return Ticket.from_row(rows[0]) if rows else None


def list_tickets(db: sqlite_utils.Database, status: str | None = None) -> list[Ticket]:
    """Tickets oldest first, all of them or only those with ``status`` (e.g. "open")."""
    where, args = ("status = ?", [status]) if status is not None else (None, [])
    return [
        Ticket.from_row(row) for row in db[TABLE].rows_where(where, args, order_by="created_at, id")
    ]


def list_queue(db: sqlite_utils.Database, now: datetime | None = None) -> list[Ticket]:
    """Tickets not closed, the nearest first-response deadline first.

    Answered tickets keep their place by that deadline too; ``now`` is accepted so
    callers can show time left against the same clock (the order does not depend on it).
    """
    rows = db[TABLE].rows_where(
        ACTIVE_SQL, order_by="first_response_due IS NULL, first_response_due, created_at, id"
    )
    return [Ticket.from_row(row) for row in rows]


def ticket_messages(db: sqlite_utils.Database, ticket_id: int) -> list[Message]:
    """The ticket's transcript and answers, oldest first."""
    rows = db[MESSAGES].rows_where("ticket_id = ?", [ticket_id], order_by="id")
    return [Message.from_row(row) for row in rows]


def last_customer_messages(
    db: sqlite_utils.Database, ticket_ids: Iterable[int]
) -> dict[int, Message]:
    """Each ticket's latest customer message (chat or e-mail), for the queue's rows."""
    ids = list(ticket_ids)
    if not ids:
        return {}
    marks = ", ".join("?" for _ in ids)
    rows = db.query(
        f"SELECT m.* FROM {MESSAGES} m WHERE m.id IN (SELECT MAX(id) FROM {MESSAGES} "
        f"WHERE role = ? AND ticket_id IN ({marks}) GROUP BY ticket_id)",
        [ROLE_CUSTOMER, *ids],
    )
    return {row["ticket_id"]: Message.from_row(row) for row in rows}


def get_message(db: sqlite_utils.Database, message_id: int) -> Message:
    """One message; raises ``sqlite_utils.db.NotFoundError`` when missing."""
    return Message.from_row(db[MESSAGES].get(message_id))


def ticket_events(db: sqlite_utils.Database, ticket_id: int) -> list[Event]:
    """The ticket's audit log, oldest first."""
    rows = db[EVENTS].rows_where("ticket_id = ?", [ticket_id], order_by="id")
    return [Event.from_row(row) for row in rows]


def events_after(
    db: sqlite_utils.Database, after_id: int, kinds: Iterable[str]
) -> list[tuple[Event, Ticket]]:
    """Audit-log entries of these kinds newer than ``after_id``, with their ticket, oldest
    first (desk/alerts.py tells operators and supervisors about them)."""
    wanted = list(kinds)
    marks = ", ".join("?" for _ in wanted) or "NULL"
    rows = list(
        db.query(
            f"SELECT * FROM {EVENTS} WHERE id > ? AND kind IN ({marks}) ORDER BY id",
            [after_id, *wanted],
        )
    )
    found: dict[int, Ticket] = {}
    for row in rows:
        if row["ticket_id"] not in found:
            found[row["ticket_id"]] = get_ticket(db, row["ticket_id"])
    return [(Event.from_row(row), found[row["ticket_id"]]) for row in rows]


def last_event_id(db: sqlite_utils.Database) -> int:
    """The newest audit-log entry's id (0 when empty)."""
    return int(db.execute(f"SELECT COALESCE(MAX(id), 0) FROM {EVENTS}").fetchone()[0])


def pending_answers(db: sqlite_utils.Database, ticket_id: int | None = None) -> list[Message]:
    """Operator answers not delivered yet (the outbox), oldest first; one ticket or all."""
    where = "role = ? AND delivered = 0"
    args: list[Any] = [ROLE_OPERATOR]
    if ticket_id is not None:
        where += " AND ticket_id = ?"
        args.append(ticket_id)
    return [Message.from_row(row) for row in db[MESSAGES].rows_where(where, args, order_by="id")]


def conversation_pending_answers(db: sqlite_utils.Database, conversation_id: str) -> list[Message]:
    """Undelivered operator answers of any of the conversation's tickets, oldest first."""
    rows = db.query(
        f"SELECT m.* FROM {MESSAGES} m JOIN {TABLE} t ON t.id = m.ticket_id "
        "WHERE t.conversation_id = ? AND m.role = ? AND m.delivered = 0 ORDER BY m.id",
        [conversation_id, ROLE_OPERATOR],
    )
    return [Message.from_row(row) for row in rows]


def active_ticket_of(
    db: sqlite_utils.Database, conversation_ids: Iterable[str], customer_ids: Iterable[str] = ()
) -> Ticket | None:
    """The active ticket of any of these conversations or customer (channel) ids, the one
    that has lived in any of the conversations included; the nearest deadline first."""
    conversations, customers = list(conversation_ids), list(customer_ids)
    if not conversations and not customers:
        return None
    conv_marks = ", ".join("?" for _ in conversations) or "NULL"
    cust_marks = ", ".join("?" for _ in customers) or "NULL"
    rows = list(
        db.query(
            f"""SELECT * FROM {TABLE} WHERE {ACTIVE_SQL} AND (
                    conversation_id IN ({conv_marks}) OR customer_id IN ({cust_marks})
                    OR id IN (SELECT ticket_id FROM {CONVERSATIONS}
                              WHERE conversation_id IN ({conv_marks})))
                ORDER BY first_response_due IS NULL, first_response_due, id LIMIT 1""",
            [*conversations, *customers, *conversations],
        )
    )
    return Ticket.from_row(rows[0]) if rows else None


def ticket_conversations(db: sqlite_utils.Database, ticket_id: int) -> list[dict[str, Any]]:
    """The conversations the ticket has lived in, in order (the first one included)."""
    ticket = get_ticket(db, ticket_id)
    rows = list(
        db.query(
            f"SELECT conversation_id, channel, joined_at FROM {CONVERSATIONS} "
            "WHERE ticket_id = ? ORDER BY rowid",
            [ticket_id],
        )
    )
    if not any(row["conversation_id"] == ticket.conversation_id for row in rows):
        rows.insert(
            0,
            {
                "conversation_id": ticket.conversation_id,
                "channel": ticket.channel,
                "joined_at": ticket.created_at,
            },
        )
    return rows


def mail_candidates(
    db: sqlite_utils.Database, since: datetime
) -> tuple[list[tuple[Ticket, Message]], list[Ticket]]:
    """What may have to be mailed: operator answers since ``since`` on tickets with a
    customer e-mail address, and tickets with an address closed since then (CSAT).

    desk/mailbox.py keeps which of these it has already queued; this only reads.
    """
    stamp = format_time(since)
    rows = list(
        db.query(
            f"SELECT m.* FROM {MESSAGES} m JOIN {TABLE} t ON t.id = m.ticket_id "
            "WHERE t.customer_email IS NOT NULL AND m.role = ? AND m.created_at >= ? "
            "ORDER BY m.id",
            [ROLE_OPERATOR, stamp],
        )
    )
    answered = {row["ticket_id"] for row in rows}
    closed = [
        Ticket.from_row(row)
        for row in db[TABLE].rows_where(
            "customer_email IS NOT NULL AND status = ? AND closed_at >= ?",
            [STATUS_CLOSED, stamp],
            order_by="id",
        )
    ]
    by_id = {ticket_id: get_ticket(db, ticket_id) for ticket_id in answered}
    answers = [(by_id[row["ticket_id"]], Message.from_row(row)) for row in rows]
    return answers, closed


def closed_awaiting_resume(db: sqlite_utils.Database) -> list[Ticket]:
    """Closed tickets whose customer has not yet been told that the bot is back."""
    rows = db[TABLE].rows_where("status = ? AND resume_delivered = 0", [STATUS_CLOSED])
    return [Ticket.from_row(row) for row in rows]
