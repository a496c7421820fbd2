"""Writing tickets: the bot opens them, operators claim, answer and close them.

Every write runs in one write transaction (:func:`sportello.db.write_transaction`), so
check-then-write sequences are atomic; the audit log is written in the same transaction."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from datetime import datetime, timezone
from typing import Any

import sqlite_utils

from desk import sla
from desk.tickets.models import Message, Ticket, TicketClaimedError, TicketClosedError, TicketError
from desk.tickets.queries import get_message, get_ticket
from desk.tickets.schema import (
    ACTIVE_SQL,
    ACTIVE_STATUSES,
    CONVERSATIONS,
    DEFAULT_PRIORITY,
    EVENT_ANSWERED,
    EVENT_CLAIMED,
    EVENT_CLOSED,
    EVENT_CREATED,
    EVENT_EMAIL,
    EVENT_FOLLOW_UP,
    EVENT_MOVED,
    EVENT_TAKEN_OVER,
    EVENTS,
    MESSAGES,
    REASON_ASKED_FOR_HUMAN,
    REASON_EMAIL_REPLY,
    REASONS,
    ROLE_CUSTOMER,
    ROLE_OPERATOR,
    ROLES,
    STATUS_CLAIMED,
    STATUS_CLOSED,
    STATUS_OPEN,
    TABLE,
)
from sportello.clock import format_time, utc_now
from sportello.db import write_transaction


def write_event(
    conn: sqlite3.Connection,
    ticket_id: int,
    kind: str,
    at: datetime,
    *,
    detail: str | None = None,
    actor: str | None = None,
) -> None:
    """Add an entry to the ticket's audit log inside the caller's write transaction (the
    SLA checks write theirs in the same transaction as the flags they set)."""
    conn.execute(
        f"INSERT INTO {EVENTS} (ticket_id, kind, detail, actor, created_at) VALUES (?, ?, ?, ?, ?)",
        [ticket_id, kind, detail, actor, format_time(at)],
    )


def _insert_message(
    conn: sqlite3.Connection,
    ticket_id: int,
    role: str,
    text: str,
    at: str,
    *,
    author: str | None = None,
    delivered: bool = True,
) -> int:
    if role not in ROLES:
        raise ValueError(f"unknown message role {role!r}; expected one of {ROLES}")
    cursor = conn.execute(
        f"INSERT INTO {MESSAGES} (ticket_id, role, text, author, created_at, delivered) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        [ticket_id, role, text, author, at, int(delivered)],
    )
    return int(cursor.lastrowid or 0)


def _transcript_time(entry: dict[str, Any], fallback: str) -> str:
    """A transcript entry's time (Rasa gives Unix seconds) in the stored form."""
    stamp = entry.get("timestamp")
    if isinstance(stamp, int | float):
        return format_time(datetime.fromtimestamp(stamp, timezone.utc))
    return fallback


def move_ticket(
    db: sqlite_utils.Database,
    ticket_id: int,
    conversation_id: str,
    *,
    channel: str | None,
    actor: str = "customer",
    now: datetime | None = None,
) -> Ticket:
    """The customer continues the ticket in another conversation (another channel).

    From now on the customer's messages there are recorded on the ticket and operators'
    answers are delivered there (pending ones included). The old conversation stays in
    the ticket's history; writing there again moves the ticket back. Raises
    :class:`TicketClosedError` for a closed ticket and :class:`TicketError` when the
    conversation has another active ticket.
    """
    moment = (now or utc_now()).astimezone(timezone.utc)
    with write_transaction(db) as conn:
        row = conn.execute(
            f"SELECT status, conversation_id, channel, created_at FROM {TABLE} WHERE id = ?",
            [ticket_id],
        ).fetchone()
        if row is None:
            raise TicketError(f"no ticket #{ticket_id}")
        status, current, current_channel, created_at = row
        if status not in ACTIVE_STATUSES:
            raise TicketClosedError(f"ticket #{ticket_id} is closed")
        if current == conversation_id and channel and channel != current_channel:
            # A new conversation's channel is known only from its first message. A known
            # channel that changes is a move like any other: in the audit log.
            conn.execute(f"UPDATE {TABLE} SET channel = ? WHERE id = ?", [channel, ticket_id])
            if current_channel:
                write_event(
                    conn,
                    ticket_id,
                    EVENT_MOVED,
                    moment,
                    detail=f"{current_channel} → {channel}",
                    actor=actor,
                )
        elif current != conversation_id:
            other = conn.execute(
                f"SELECT id FROM {TABLE} WHERE conversation_id = ? AND {ACTIVE_SQL} AND id != ?",
                [conversation_id, ticket_id],
            ).fetchone()
            if other is not None:
                raise TicketError(f"conversation {conversation_id} already has ticket #{other[0]}")
            conn.execute(
                f"INSERT OR IGNORE INTO {CONVERSATIONS} (ticket_id, conversation_id, channel, "
                "joined_at) VALUES (?, ?, ?, ?)",
                [ticket_id, current, current_channel, created_at],
            )
            conn.execute(
                f"INSERT OR IGNORE INTO {CONVERSATIONS} (ticket_id, conversation_id, channel, "
                "joined_at) VALUES (?, ?, ?, ?)",
                [ticket_id, conversation_id, channel, format_time(moment)],
            )
            conn.execute(
                f"UPDATE {TABLE} SET conversation_id = ?, channel = ? WHERE id = ?",
                [conversation_id, channel, ticket_id],
            )
            write_event(
                conn,
                ticket_id,
                EVENT_MOVED,
                moment,
                detail=f"{current_channel or '?'} → {channel or '?'}",
                actor=actor,
            )
    return get_ticket(db, ticket_id)


def open_ticket(
    db: sqlite_utils.Database,
    conversation_id: str,
    *,
    lang: str,
    reason: str = REASON_ASKED_FOR_HUMAN,
    channel: str | None = None,
    customer_id: str | None = None,
    transcript: Iterable[dict[str, Any]] = (),
    priority: str = DEFAULT_PRIORITY,
    policy: sla.SlaPolicy | None = None,
    now: datetime | None = None,
) -> tuple[Ticket, bool]:
    """Open a ticket for the conversation, or return the one already active.

    Returns ``(ticket, created)``; ``created`` is False when the conversation already
    had an open or claimed ticket, which is then returned unchanged. ``lang`` is the
    customer's language (``"it"``/``"en"``), the one operators should answer in. The
    deadlines come from ``policy`` (default: the configured SLA file) and ``priority``.
    """
    if not conversation_id:
        raise ValueError("a ticket needs the conversation id")
    if reason not in REASONS:
        raise ValueError(f"unknown ticket reason {reason!r}; expected one of {REASONS}")
    if priority not in sla.PRIORITIES:
        raise ValueError(f"unknown priority {priority!r}; expected one of {sla.PRIORITIES}")
    policy = policy or configured_policy()
    created_at = (now or utc_now()).astimezone(timezone.utc).replace(microsecond=0)
    first_due, resolution_due = sla.due_dates(policy, priority, created_at)
    entries = [e for e in transcript if e.get("text")]
    stamp = format_time(created_at)
    row = {
        "conversation_id": conversation_id,
        "customer_id": customer_id,
        "channel": channel,
        "lang": lang,
        "reason": reason,
        "status": STATUS_OPEN,
        "created_at": stamp,
        "transcript": json.dumps(entries, ensure_ascii=False),
        "priority": priority,
        "first_response_due": format_time(first_due),
        "resolution_due": format_time(resolution_due),
    }
    with write_transaction(db) as conn:
        existing = conn.execute(
            f"SELECT id FROM {TABLE} WHERE conversation_id = ? AND {ACTIVE_SQL} LIMIT 1",
            [conversation_id],
        ).fetchone()
        if existing is None:
            columns = ", ".join(row)
            placeholders = ", ".join("?" for _ in row)
            cursor = conn.execute(
                f"INSERT INTO {TABLE} ({columns}) VALUES ({placeholders})", list(row.values())
            )
            ticket_id, created = int(cursor.lastrowid or 0), True
            for entry in entries:
                role = entry.get("role") if entry.get("role") in ROLES else ROLE_CUSTOMER
                _insert_message(
                    conn, ticket_id, role, str(entry["text"]), _transcript_time(entry, stamp)
                )
            write_event(conn, ticket_id, EVENT_CREATED, created_at, detail=f"{reason}/{priority}")
        else:
            ticket_id, created = existing[0], False
    return get_ticket(db, ticket_id), created


def configured_policy() -> sla.SlaPolicy:
    """The SLA policy of the settings' file (``SPORTELLO_SLA_FILE``), else the defaults."""
    from sportello.settings import get_settings

    return sla.load_policy(get_settings().sla_file)


def record_customer_message(
    db: sqlite_utils.Database,
    ticket_id: int,
    text: str,
    now: datetime | None = None,
    *,
    author: str | None = None,
) -> Message:
    """Add what the customer wrote while an operator owns the conversation.

    ``author`` names where it came from when not the chat (``"e-mail"``); the SLA
    clocks do not change, whichever way the customer wrote.
    """
    with write_transaction(db) as conn:
        message_id = _insert_message(
            conn, ticket_id, ROLE_CUSTOMER, text, format_time(now or utc_now()), author=author
        )
    return get_message(db, message_id)


def log_event(
    db: sqlite_utils.Database,
    ticket_id: int,
    kind: str,
    *,
    detail: str | None = None,
    actor: str | None = None,
    now: datetime | None = None,
) -> None:
    """Add an entry to the ticket's audit log (what the console shows operators)."""
    with write_transaction(db) as conn:
        write_event(conn, ticket_id, kind, now or utc_now(), detail=detail, actor=actor)


def follow_up_ticket(
    db: sqlite_utils.Database, closed: Ticket, now: datetime | None = None
) -> Ticket:
    """A new ticket for a customer who wrote again (by e-mail) after ``closed`` was closed.

    It lives in the same conversation, language, channel and priority, keeps the
    customer's address, and gets its own SLA deadlines, as if the customer had asked
    again in the chat; both tickets' audit logs name the other. If the conversation
    already has an active ticket, that one is returned.
    """
    moment = now or utc_now()
    ticket, created = open_ticket(
        db,
        closed.conversation_id,
        lang=closed.lang,
        reason=REASON_EMAIL_REPLY,
        channel=closed.channel,
        customer_id=closed.customer_id,
        priority=closed.priority,
        now=moment,
    )
    if closed.customer_email and not ticket.customer_email:
        set_customer_email(db, ticket.id, closed.customer_email, moment)
    if created:
        log_event(db, closed.id, EVENT_FOLLOW_UP, detail=f"#{ticket.id}", now=moment)
        log_event(db, ticket.id, EVENT_FOLLOW_UP, detail=f"← #{closed.id}", now=moment)
    return get_ticket(db, ticket.id)


def set_customer_email(
    db: sqlite_utils.Database, ticket_id: int, email: str, now: datetime | None = None
) -> None:
    """Keep the address the customer left to be answered by e-mail (outside hours)."""
    with write_transaction(db) as conn:
        conn.execute(f"UPDATE {TABLE} SET customer_email = ? WHERE id = ?", [email, ticket_id])
        write_event(conn, ticket_id, EVENT_EMAIL, now or utc_now(), detail=email)


def mark_delivered(
    db: sqlite_utils.Database, message_ids: Iterable[int], now: datetime | None = None
) -> None:
    """The answers reached the customer's conversation (idempotent)."""
    ids = list(message_ids)
    if not ids:
        return
    with write_transaction(db) as conn:
        conn.executemany(
            f"UPDATE {MESSAGES} SET delivered = 1, delivered_at = ? WHERE id = ? AND delivered = 0",
            [(format_time(now or utc_now()), message_id) for message_id in ids],
        )


def mark_resume_delivered(db: sqlite_utils.Database, ticket_id: int) -> None:
    """The customer was told that the bot is back after the ticket was closed."""
    with write_transaction(db) as conn:
        conn.execute(f"UPDATE {TABLE} SET resume_delivered = 1 WHERE id = ?", [ticket_id])


def claim_ticket(
    db: sqlite_utils.Database, ticket_id: int, operator: str, now: datetime | None = None
) -> bool:
    """Take the ticket; False if another operator holds it or it is closed.

    One conditional UPDATE under the write lock: of two operators claiming at once,
    exactly one wins. Claiming a ticket one already holds returns True.
    """
    if not operator:
        raise ValueError("claiming needs the operator's name")
    with write_transaction(db) as conn:
        cursor = conn.execute(
            f"UPDATE {TABLE} SET status = ?, assigned_to = ? WHERE id = ? AND status = ?",
            [STATUS_CLAIMED, operator, ticket_id, STATUS_OPEN],
        )
        if cursor.rowcount == 1:
            write_event(conn, ticket_id, EVENT_CLAIMED, now or utc_now(), actor=operator)
            return True
        status, holder = _status_and_holder(conn, ticket_id)
    return status == STATUS_CLAIMED and holder == operator


def _status_and_holder(conn: sqlite3.Connection, ticket_id: int) -> tuple[str, str | None]:
    """The ticket's status and assignee, read inside the caller's write transaction."""
    row = conn.execute(
        f"SELECT status, assigned_to FROM {TABLE} WHERE id = ?", [ticket_id]
    ).fetchone()
    if row is None:
        raise sqlite_utils.db.NotFoundError(f"no ticket {ticket_id}")
    return row[0], row[1]


def take_over_ticket(
    db: sqlite_utils.Database, ticket_id: int, supervisor: str, now: datetime | None = None
) -> str | None:
    """Give a claimed (or open) ticket to ``supervisor``; returns the previous holder.

    For escalations: a breached ticket goes up one level to the supervisors, who must
    be able to answer it even when an operator holds it. Role checks are the caller's
    (the console allows it to supervisors only); the audit log records who had it.
    Raises :class:`TicketClosedError` for a closed ticket.
    """
    if not supervisor:
        raise ValueError("taking over needs the supervisor's name")
    with write_transaction(db) as conn:
        status, previous = _status_and_holder(conn, ticket_id)
        if status == STATUS_CLOSED:
            raise TicketClosedError(f"ticket {ticket_id} is closed")
        conn.execute(
            f"UPDATE {TABLE} SET status = ?, assigned_to = ? WHERE id = ?",
            [STATUS_CLAIMED, supervisor, ticket_id],
        )
        write_event(
            conn, ticket_id, EVENT_TAKEN_OVER, now or utc_now(), detail=previous, actor=supervisor
        )
    return previous


def answer_ticket(
    db: sqlite_utils.Database,
    ticket_id: int,
    operator: str,
    text: str,
    *,
    now: datetime | None = None,
) -> Message:
    """Store an operator's answer in the outbox (``delivered = 0``); nothing is sent here.

    An unclaimed ticket is claimed by the answering operator; a ticket held by someone
    else raises :class:`TicketClaimedError`, a closed one :class:`TicketClosedError`.
    The caller delivers after this commit (the console calls
    :func:`desk.delivery.deliver_ticket_updates`) and the monitor retries what is still
    pending (:func:`desk.delivery.deliver_pending`), so a crash or an unreachable Rasa
    loses nothing. The first answer sets ``first_response_at`` (the first-response SLA
    is met).
    """
    text = text.strip()
    if not text:
        raise ValueError("an answer needs some text")
    if not operator:
        raise ValueError("answering needs the operator's name")
    moment = now or utc_now()
    stamp = format_time(moment)
    with write_transaction(db) as conn:
        status, holder = _status_and_holder(conn, ticket_id)
        if status == STATUS_CLOSED:
            raise TicketClosedError(f"ticket {ticket_id} is closed")
        if status == STATUS_CLAIMED and holder != operator:
            raise TicketClaimedError(f"ticket {ticket_id} is held by {holder}")
        if status == STATUS_OPEN:
            conn.execute(
                f"UPDATE {TABLE} SET status = ?, assigned_to = ? WHERE id = ?",
                [STATUS_CLAIMED, operator, ticket_id],
            )
            write_event(conn, ticket_id, EVENT_CLAIMED, moment, actor=operator)
        conn.execute(
            f"UPDATE {TABLE} SET first_response_at = COALESCE(first_response_at, ?) WHERE id = ?",
            [stamp, ticket_id],
        )
        message_id = _insert_message(
            conn, ticket_id, ROLE_OPERATOR, text, stamp, author=operator, delivered=False
        )
        write_event(conn, ticket_id, EVENT_ANSWERED, moment, actor=operator, detail=str(message_id))
    return get_message(db, message_id)


def close_ticket(
    db: sqlite_utils.Database,
    ticket_id: int,
    operator: str,
    *,
    now: datetime | None = None,
) -> None:
    """Close the ticket: the bot resumes in that conversation and tells the customer.

    Anyone may close an unclaimed ticket; a claimed one only its holder (else
    :class:`TicketClaimedError`). Closing twice is harmless. Undelivered answers stay
    in the outbox and still reach the customer before the bot's "I'm back", which the
    caller sends after this commit (:func:`desk.delivery.deliver_ticket_updates`; the
    monitor retries it).
    """
    if not operator:
        raise ValueError("closing needs the operator's name")
    moment = now or utc_now()
    with write_transaction(db) as conn:
        status, holder = _status_and_holder(conn, ticket_id)
        if status == STATUS_CLOSED:
            return
        if status == STATUS_CLAIMED and holder != operator:
            raise TicketClaimedError(f"ticket {ticket_id} is held by {holder}")
        conn.execute(
            f"UPDATE {TABLE} SET status = ?, closed_at = ?, closed_by = ?, "
            "assigned_to = COALESCE(assigned_to, ?) WHERE id = ?",
            [STATUS_CLOSED, format_time(moment), operator, operator, ticket_id],
        )
        write_event(conn, ticket_id, EVENT_CLOSED, moment, actor=operator)
