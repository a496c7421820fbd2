"""Handoff tickets: what the bot could not solve, with its SLA, transcript and audit log.

The bot opens a ticket when a conversation escalates (the customer asks for a person,
the knowledge base abstains twice, answers are rejected, a personal case). A
conversation has at most one active (open or claimed) ticket: asking again returns the
ticket already there, so operators never see duplicates. The check and the insert run
in one write transaction, and a partial unique index makes SQLite refuse a second
active ticket whatever code writes it.

Everything lives in SQLite, nothing only in memory, so a restart loses nothing:

- ``tickets``: one row per ticket, with the SLA deadlines computed at creation by
  :mod:`desk.sla` (stored in UTC, ISO 8601) and the flags the monitor sets;
- ``ticket_messages``: the transcript (``customer``/``bot`` turns copied from the
  conversation, customer messages recorded while an operator owns the conversation)
  and the operators' answers, which double as the outbox: an answer is stored with
  ``delivered = 0`` first and marked delivered once it reached the customer
  (see :mod:`desk.delivery`);
- ``ticket_events``: the audit log (created, claimed, answered, at_risk, breached,
  escalated, closed, email).

The operator console uses only the functions below, never its own SQL.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import sqlite_utils

from desk import sla
from sportello.clock import format_time, parse_time, utc_now
from sportello.db import write_transaction

TABLE = "tickets"
MESSAGES = "ticket_messages"
EVENTS = "ticket_events"
# Every conversation a ticket has lived in: a customer recognised on another channel
# continues the same ticket there (see move_ticket).
CONVERSATIONS = "ticket_conversations"

# Why a ticket was opened; kept as plain strings so reports can group by them.
REASON_ASKED_FOR_HUMAN = "asked_for_human"
REASON_KB_ABSTAINED = "kb_abstained"
REASON_ANSWER_REJECTED = "answer_rejected"
REASON_PERSONAL_CASE = "personal_case"
REASON_BOT_ERROR = "bot_error"
# The customer replied by e-mail to a ticket already closed: a follow-up ticket.
REASON_EMAIL_REPLY = "email_reply"
REASONS = (
    REASON_ASKED_FOR_HUMAN,
    REASON_KB_ABSTAINED,
    REASON_ANSWER_REJECTED,
    REASON_PERSONAL_CASE,
    REASON_BOT_ERROR,
    REASON_EMAIL_REPLY,
)

STATUS_OPEN = "open"
STATUS_CLAIMED = "claimed"
STATUS_CLOSED = "closed"
STATUSES = (STATUS_OPEN, STATUS_CLAIMED, STATUS_CLOSED)
ACTIVE_STATUSES = (STATUS_OPEN, STATUS_CLAIMED)

DEFAULT_PRIORITY = "normal"

ROLE_CUSTOMER = "customer"
ROLE_BOT = "bot"
ROLE_OPERATOR = "operator"
ROLES = (ROLE_CUSTOMER, ROLE_BOT, ROLE_OPERATOR)

EVENT_CREATED = "created"
EVENT_CLAIMED = "claimed"
EVENT_TAKEN_OVER = "taken_over"
EVENT_ANSWERED = "answered"
EVENT_AT_RISK = "at_risk"
EVENT_BREACHED = "breached"
EVENT_ESCALATED = "escalated"
EVENT_CLOSED = "closed"
EVENT_EMAIL = "email"
EVENT_MOVED = "moved"
# E-mail with the customer (desk/mailbox.py): a mail that could not be sent, a reply
# added, a reply not added (auto-reply, bounce, wrong sender), a follow-up ticket.
EVENT_EMAIL_FAILED = "email_failed"
EVENT_EMAIL_REPLY = "email_reply"
EVENT_EMAIL_IGNORED = "email_ignored"
EVENT_FOLLOW_UP = "follow_up"

# The two SLA clocks a ticket runs, named in at_risk/breached events' ``detail``.
TARGET_FIRST_RESPONSE = "first_response"
TARGET_RESOLUTION = "resolution"

_ACTIVE_SQL = "status IN ('open', 'claimed')"


class TicketError(Exception):
    """A ticket operation that cannot be done; the message says why."""


class TicketClosedError(TicketError):
    """The ticket is closed: nobody can answer or claim it any more."""


class TicketClaimedError(TicketError):
    """Another operator holds the ticket."""


@dataclass(frozen=True)
class Ticket:
    """One escalated conversation as the operators see it.

    Datetimes are ISO 8601 strings in UTC (``...+00:00``); :func:`sportello.clock.parse_time` turns
    them into aware datetimes. ``at_risk``/``breached`` are set by :func:`check_sla`.
    """

    id: int
    conversation_id: str
    customer_id: str | None
    channel: str | None
    lang: str
    reason: str
    status: str
    created_at: str
    transcript: list[dict[str, Any]] = field(default_factory=list)
    priority: str = DEFAULT_PRIORITY
    assigned_to: str | None = None
    first_response_due: str | None = None
    resolution_due: str | None = None
    first_response_at: str | None = None
    closed_at: str | None = None
    closed_by: str | None = None
    escalation_level: int = 0
    at_risk: bool = False
    breached: bool = False
    customer_email: str | None = None
    resume_delivered: bool = False

    @property
    def active(self) -> bool:
        """Open or claimed: an operator owns (or will own) the conversation."""
        return self.status in ACTIVE_STATUSES

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
            priority=row.get("priority") or DEFAULT_PRIORITY,
            assigned_to=row.get("assigned_to"),
            first_response_due=row.get("first_response_due"),
            resolution_due=row.get("resolution_due"),
            first_response_at=row.get("first_response_at"),
            closed_at=row.get("closed_at"),
            closed_by=row.get("closed_by"),
            escalation_level=row.get("escalation_level") or 0,
            at_risk=bool(row.get("at_risk")),
            breached=bool(row.get("breached")),
            customer_email=row.get("customer_email"),
            resume_delivered=bool(row.get("resume_delivered")),
        )


@dataclass(frozen=True)
class Message:
    """One line of a ticket's transcript, or an operator's answer (the outbox).

    ``delivered`` matters for operator answers only: False until the answer reached
    the customer's conversation.
    """

    id: int
    ticket_id: int
    role: str
    text: str
    created_at: str
    author: str | None = None
    delivered: bool = True
    delivered_at: str | None = None

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Message:
        return cls(
            id=row["id"],
            ticket_id=row["ticket_id"],
            role=row["role"],
            text=row["text"],
            created_at=row["created_at"],
            author=row["author"],
            delivered=bool(row["delivered"]),
            delivered_at=row["delivered_at"],
        )


@dataclass(frozen=True)
class Event:
    """One entry of a ticket's audit log."""

    id: int
    ticket_id: int
    kind: str
    detail: str | None
    actor: str | None
    created_at: str

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Event:
        return cls(
            id=row["id"],
            ticket_id=row["ticket_id"],
            kind=row["kind"],
            detail=row["detail"],
            actor=row["actor"],
            created_at=row["created_at"],
        )


def _log(
    conn: sqlite3.Connection,
    ticket_id: int,
    kind: str,
    at: datetime,
    *,
    detail: str | None = None,
    actor: str | None = None,
) -> None:
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


# ---- reading -----------------------------------------------------------------------------


def get_ticket(db: sqlite_utils.Database, ticket_id: int) -> Ticket:
    """The ticket with this id; raises ``sqlite_utils.db.NotFoundError`` when missing."""
    return Ticket.from_row(db[TABLE].get(ticket_id))


def get_open_ticket(db: sqlite_utils.Database, conversation_id: str) -> Ticket | None:
    """The conversation's active (open or claimed) ticket, or None."""
    rows = list(db[TABLE].rows_where(f"conversation_id = ? AND {_ACTIVE_SQL}", [conversation_id]))
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
        _ACTIVE_SQL, order_by="first_response_due IS NULL, first_response_due, created_at, id"
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
            f"""SELECT * FROM {TABLE} WHERE {_ACTIVE_SQL} AND (
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
                _log(
                    conn,
                    ticket_id,
                    EVENT_MOVED,
                    moment,
                    detail=f"{current_channel} → {channel}",
                    actor=actor,
                )
        elif current != conversation_id:
            other = conn.execute(
                f"SELECT id FROM {TABLE} WHERE conversation_id = ? AND {_ACTIVE_SQL} AND id != ?",
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
            _log(
                conn,
                ticket_id,
                EVENT_MOVED,
                moment,
                detail=f"{current_channel or '?'} → {channel or '?'}",
                actor=actor,
            )
    return get_ticket(db, ticket_id)


# ---- the bot's side ------------------------------------------------------------------------


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
            f"SELECT id FROM {TABLE} WHERE conversation_id = ? AND {_ACTIVE_SQL} LIMIT 1",
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
            _log(conn, ticket_id, EVENT_CREATED, created_at, detail=f"{reason}/{priority}")
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
        _log(conn, ticket_id, kind, now or utc_now(), detail=detail, actor=actor)


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
        _log(conn, ticket_id, EVENT_EMAIL, now or utc_now(), detail=email)


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


def closed_awaiting_resume(db: sqlite_utils.Database) -> list[Ticket]:
    """Closed tickets whose customer has not yet been told that the bot is back."""
    rows = db[TABLE].rows_where("status = ? AND resume_delivered = 0", [STATUS_CLOSED])
    return [Ticket.from_row(row) for row in rows]


# ---- the operators' side -----------------------------------------------------------------


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
            _log(conn, ticket_id, EVENT_CLAIMED, now or utc_now(), actor=operator)
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
        _log(conn, ticket_id, EVENT_TAKEN_OVER, now or utc_now(), detail=previous, actor=supervisor)
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
            _log(conn, ticket_id, EVENT_CLAIMED, moment, actor=operator)
        conn.execute(
            f"UPDATE {TABLE} SET first_response_at = COALESCE(first_response_at, ?) WHERE id = ?",
            [stamp, ticket_id],
        )
        message_id = _insert_message(
            conn, ticket_id, ROLE_OPERATOR, text, stamp, author=operator, delivered=False
        )
        _log(conn, ticket_id, EVENT_ANSWERED, moment, actor=operator, detail=str(message_id))
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
        _log(conn, ticket_id, EVENT_CLOSED, moment, actor=operator)


# ---- SLA ---------------------------------------------------------------------------------


def check_sla(db: sqlite_utils.Database, policy: sla.SlaPolicy, now: datetime) -> list[Event]:
    """Flag active tickets at risk or breached, escalate breaches; returns the new events.

    Idempotent: each (ticket, clock) is flagged at risk once and breached once, and
    each breach escalates one level (a first-response breach to level 1, a resolution
    breach one more), whatever how often this runs; everything is recomputed from the
    stored deadlines, so restarts change nothing. Tickets from before the SLA columns
    get their deadlines computed here from their creation time and priority.
    """
    new_ids: list[int] = []
    with write_transaction(db) as conn:
        conn.row_factory = sqlite3.Row
        try:
            rows = [dict(r) for r in conn.execute(f"SELECT * FROM {TABLE} WHERE {_ACTIVE_SQL}")]
        finally:
            conn.row_factory = None
        for row in rows:
            new_ids += _check_ticket(conn, row, policy, now)
    if not new_ids:
        return []
    marks = ", ".join("?" for _ in new_ids)
    rows = db.execute(f"SELECT * FROM {EVENTS} WHERE id IN ({marks}) ORDER BY id", new_ids)
    columns = [d[0] for d in rows.description]
    return [Event.from_row(dict(zip(columns, r, strict=True))) for r in rows.fetchall()]


def _check_ticket(
    conn: sqlite3.Connection, row: dict[str, Any], policy: sla.SlaPolicy, now: datetime
) -> list[int]:
    ticket_id = row["id"]
    created = parse_time(row["created_at"])
    assert created is not None
    if not row["first_response_due"] or not row["resolution_due"]:
        first_due, resolution_due = sla.due_dates(
            policy, row["priority"] or DEFAULT_PRIORITY, created
        )
        row["first_response_due"], row["resolution_due"] = (
            format_time(first_due),
            format_time(resolution_due),
        )
        conn.execute(
            f"UPDATE {TABLE} SET first_response_due = ?, resolution_due = ? WHERE id = ?",
            [row["first_response_due"], row["resolution_due"], ticket_id],
        )
    clocks = [
        (TARGET_FIRST_RESPONSE, row["first_response_due"], row["first_response_at"]),
        (TARGET_RESOLUTION, row["resolution_due"], row["closed_at"]),
    ]
    logged = {
        (kind, detail)
        for kind, detail in conn.execute(
            f"SELECT kind, detail FROM {EVENTS} WHERE ticket_id = ? AND kind IN (?, ?)",
            [ticket_id, EVENT_AT_RISK, EVENT_BREACHED],
        )
    }
    new_ids: list[int] = []
    breached, level = bool(row["breached"]), row["escalation_level"]
    now_at_risk = False
    for target, due_text, done_text in clocks:
        due = parse_time(due_text)
        assert due is not None
        state = sla.sla_state(policy, created, due, now, parse_time(done_text))
        if state == "at_risk" and (EVENT_AT_RISK, target) not in logged:
            _log(conn, ticket_id, EVENT_AT_RISK, now, detail=target)
            new_ids.append(_last_id(conn))
        if state == "breached" and (EVENT_BREACHED, target) not in logged:
            _log(conn, ticket_id, EVENT_BREACHED, now, detail=target)
            new_ids.append(_last_id(conn))
            level += 1
            _log(conn, ticket_id, EVENT_ESCALATED, now, detail=f"level {level} ({target})")
            new_ids.append(_last_id(conn))
            breached = True
        if state == "at_risk":
            now_at_risk = True
    # "At risk" says where the ticket stands now (an answer can clear it); a breach and
    # its escalation are history and stay.
    at_risk = now_at_risk and not breached
    if (at_risk, breached, level) != (
        bool(row["at_risk"]),
        bool(row["breached"]),
        row["escalation_level"],
    ):
        conn.execute(
            f"UPDATE {TABLE} SET at_risk = ?, breached = ?, escalation_level = ? WHERE id = ?",
            [int(at_risk), int(breached), level, ticket_id],
        )
    return new_ids


def _last_id(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT last_insert_rowid()").fetchone()[0])
