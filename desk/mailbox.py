"""E-mail with customers who left an address: the mail outbox and the replies read back.

Owns two tables:

- ``mail_outbox``: one row per mail a ticket owes its customer: each operator answer
  (``kind = 'answer'``, ``source`` the answer's message id) and the satisfaction
  question after the close (``kind = 'csat'``, ``source`` the ticket id). The pair is
  unique, so an answer is queued once whatever how often :func:`queue_new` runs; the
  Message-ID is chosen when queued and kept across retries, so a retry after a crash
  between the server's "250 OK" and our commit is the *same* mail (clients thread and
  de-duplicate it), and a row marked ``sent`` is never sent again.
- ``mail_inbox``: one row per mail read from the IMAP mailbox (desk/mail_inbound.py),
  keyed by its Message-ID, with what became of it: a mail is handled once even if the
  mailbox shows it again.

The queue is filled from the tickets (:func:`desk.tickets.mail_candidates`) by the
monitor, after the operator's answer or the close was committed; the monitor then
sends what is due (:func:`send_pending`). Delivery is at least once and never from
inside a data function: a mail server that is down, slow or refuses the login leaves
the row ``pending`` with a growing pause (1, 2, 4 … 60 minutes) and the reason in
``last_error``; a refused recipient or a malformed address marks it ``failed`` and
logs ``email_failed`` on the ticket for the operator. Rows never multiply: one per
answer, however long the server is away, so it never comes back to a storm.
"""

from __future__ import annotations

import logging
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlite_utils
from sqlite_utils.db import NotFoundError

from customerlog import ratings, schema
from desk import mail_text, mailer, tickets
from sportello import chatlinks, clock
from sportello.db import write_transaction
from sportello.keys import load_key
from sportello.settings import Settings

logger = logging.getLogger(__name__)

OUTBOX = "mail_outbox"
INBOX = "mail_inbox"

STATUS_PENDING = "pending"
STATUS_SENDING = "sending"
STATUS_SENT = "sent"
STATUS_FAILED = "failed"
STATUS_CANCELLED = "cancelled"

# The web chat's channel: only its conversations can be reopened by a mail's link.
WEB_CHAT = "socketio"
# Answers and closes older than this when mail is first switched on are not mailed.
QUEUE_WINDOW = timedelta(days=7)
# A sender that died mid-send leaves its row "sending"; after this it is retried.
LEASE = timedelta(minutes=5)
FIRST_RETRY = timedelta(minutes=1)
MAX_RETRY = timedelta(minutes=60)
# After this long without success a mail is given up (marked failed, operator told).
GIVE_UP_AFTER = timedelta(days=3)
# At most this many mails per pass, so a long queue never stalls the monitor.
BATCH = 20


@dataclass(frozen=True)
class OutboxMail:
    """One mail a ticket owes its customer, and how far it got."""

    id: int
    ticket_id: int
    kind: str
    source: str
    recipient: str
    message_id: str
    status: str
    attempts: int
    created_at: str
    next_attempt_at: str | None = None
    sent_at: str | None = None
    last_error: str | None = None
    in_reply_to: str | None = None
    refs: str | None = None

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> OutboxMail:
        return cls(**{name: row[name] for name in cls.__dataclass_fields__})


@dataclass(frozen=True)
class InboxMail:
    """One mail read from the mailbox and what became of it (``outcome``)."""

    id: int
    message_key: str
    received_at: str
    sender: str | None
    ticket_id: int | None
    outcome: str
    detail: str | None

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> InboxMail:
        return cls(**{name: row[name] for name in cls.__dataclass_fields__})


@dataclass(frozen=True)
class SendResult:
    """What one :func:`send_pending` pass did."""

    sent: int = 0
    retrying: int = 0
    failed: int = 0


def mail_key(settings: Settings) -> bytes:
    """The key that signs ticket references in subjects (the console's secret key)."""
    return load_key(settings.secret_key, settings.data_dir, "secret_key")


# ---- queueing ------------------------------------------------------------------------------


def queue_new(db: sqlite_utils.Database, settings: Settings, now: datetime) -> int:
    """Queue a mail for every answer and close that owes one; returns how many were new.

    Idempotent (``UNIQUE (kind, source)``). Does nothing while mail is not configured. A
    malformed address is queued as ``failed`` with the reason, so the operator sees why
    the customer got nothing.
    """
    if not settings.mail_enabled:
        return 0
    answers, closed = tickets.mail_candidates(db, now - QUEUE_WINDOW)
    wanted: list[tuple[tickets.Ticket, str, str]] = [
        (ticket, mail_text.KIND_ANSWER, str(message.id)) for ticket, message in answers
    ]
    wanted += [(ticket, mail_text.KIND_CSAT, str(ticket.id)) for ticket in closed]
    if not wanted:
        return 0
    have = {
        (row[0], row[1])
        for row in db.execute(
            f"SELECT kind, source FROM {OUTBOX} WHERE ticket_id IN "
            f"({', '.join('?' for _ in wanted)})",
            [ticket.id for ticket, _, _ in wanted],
        )
    }
    new = 0
    for ticket, kind, source in wanted:
        if (kind, source) not in have and _queue(db, settings, ticket, kind, source, now):
            new += 1
    return new


def _queue(
    db: sqlite_utils.Database,
    settings: Settings,
    ticket: tickets.Ticket,
    kind: str,
    source: str,
    now: datetime,
) -> bool:
    recipient = mailer.valid_address(ticket.customer_email)
    thread = thread_of(db, ticket.id)
    message_id = mail_text.new_message_id(settings.mail_from or "")
    stamp = clock.format_time(now)
    with write_transaction(db) as conn:
        cursor = conn.execute(
            f"""INSERT OR IGNORE INTO {OUTBOX} (ticket_id, kind, source, recipient, lang,
                message_id, in_reply_to, refs, status, next_attempt_at, created_at, last_error)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            [
                ticket.id,
                kind,
                source,
                recipient or (ticket.customer_email or "")[:254],
                ticket.lang,
                message_id,
                thread[-1] if thread else None,
                " ".join(thread) or None,
                STATUS_PENDING if recipient else STATUS_FAILED,
                stamp,
                stamp,
                None if recipient else "malformed address / indirizzo non valido",
            ],
        )
        added = cursor.rowcount == 1
    if added and not recipient:
        logger.warning(
            "ticket %s: not mailing %r, malformed address", ticket.id, ticket.customer_email
        )
        tickets.log_event(
            db, ticket.id, tickets.EVENT_EMAIL_FAILED,
            detail=f"{kind}: malformed address / indirizzo non valido", now=now,
        )  # fmt: skip
    return added


def thread_of(db: sqlite_utils.Database, ticket_id: int) -> list[str]:
    """Message-IDs of the ticket's mail thread so far (ours and the customer's), oldest first."""
    ours = db.execute(
        f"SELECT created_at, message_id FROM {OUTBOX} WHERE ticket_id = ? AND status != ?",
        [ticket_id, STATUS_FAILED],
    ).fetchall()
    theirs = db.execute(
        f"SELECT received_at, message_key FROM {INBOX} WHERE ticket_id = ? AND outcome IN "
        "('added', 'csat') AND message_key LIKE '<%'",
        [ticket_id],
    ).fetchall()
    return [message_id for _, message_id in sorted([*ours, *theirs])]


# ---- sending -------------------------------------------------------------------------------


def _retry_delay(attempts: int) -> timedelta:
    return min(FIRST_RETRY * (2 ** max(attempts - 1, 0)), MAX_RETRY)


def _claim(db: sqlite_utils.Database, now: datetime) -> OutboxMail | None:
    """Take the next due mail (pending, or sending with an expired lease) for this process."""
    stamp = clock.format_time(now)
    with write_transaction(db) as conn:
        conn.row_factory = sqlite3.Row
        try:
            row = conn.execute(
                f"SELECT * FROM {OUTBOX} WHERE status IN (?, ?) AND next_attempt_at <= ? "
                "ORDER BY next_attempt_at, id LIMIT 1",
                [STATUS_PENDING, STATUS_SENDING, stamp],
            ).fetchone()
        finally:
            conn.row_factory = None
        if row is None:
            return None
        conn.execute(
            f"UPDATE {OUTBOX} SET status = ?, attempts = attempts + 1, next_attempt_at = ? "
            "WHERE id = ?",
            [STATUS_SENDING, clock.format_time(now + LEASE), row["id"]],
        )
    return OutboxMail.from_row({**dict(row), "attempts": row["attempts"] + 1})


def _finish(
    db: sqlite_utils.Database,
    mail: OutboxMail,
    status: str,
    now: datetime,
    error: str | None = None,
    retry_at: datetime | None = None,
) -> None:
    with write_transaction(db) as conn:
        conn.execute(
            f"UPDATE {OUTBOX} SET status = ?, last_error = ?, next_attempt_at = ?, "
            "sent_at = CASE WHEN ? = 'sent' THEN ? ELSE sent_at END WHERE id = ?",
            [
                status,
                error,
                clock.format_time(retry_at) if retry_at else None,
                status,
                clock.format_time(now),
                mail.id,
            ],
        )


def resume_link(settings: Settings, ticket: tickets.Ticket, now: datetime) -> mail_text.Link | None:
    """The "continue the conversation" link for a web-chat ticket's answer mail, or None:
    the ticket is not the web chat's (a REST or Telegram conversation cannot be opened in
    the page), there is no public chat address, or resuming is switched off."""
    if ticket.channel != WEB_CHAT or not chatlinks.is_signed_session_id(
        ticket.conversation_id, chatlinks.session_key(settings)
    ):
        return None
    url = chatlinks.resume_url(settings, ticket.id, ticket.lang, now)
    if url is None:
        return None
    return mail_text.resume_link(url, ticket.lang, settings.webchat_keep_days)


def compose(db: sqlite_utils.Database, settings: Settings, mail: OutboxMail, now: datetime) -> Any:
    """The mail for an outbox row, or None when it no longer has anything to say (the
    answer or ticket was erased, the CSAT was already given or declined in the chat).

    Sending the CSAT mail does not mark the question asked: a customer back in the
    chat is still asked there. Whichever answer comes first counts, once
    (desk/mail_inbound.py ignores a number by mail for a CSAT already given)."""
    try:
        ticket = tickets.get_ticket(db, mail.ticket_id)
    except NotFoundError:
        return None
    thread = mail_text.Thread(mail.message_id, mail.in_reply_to, tuple((mail.refs or "").split()))
    common = {
        "sender": settings.mail_from or "",
        "recipient": mail.recipient,
        "company": settings.company_name,
        "ticket_id": ticket.id,
        "ref": mail_text.reference(ticket.id, mail_key(settings)),
        "lang": ticket.lang,
        "thread": thread,
        "when": now,
    }
    if mail.kind == mail_text.KIND_ANSWER:
        try:
            answer = tickets.get_message(db, int(mail.source))
        except NotFoundError:
            return None
        return mail_text.answer_mail(
            answer=answer.text, resume=resume_link(settings, ticket, now), **common
        )
    if ratings.request_status(db, schema.RATING_CSAT, schema.TARGET_TICKET, str(ticket.id)) in (
        schema.REQUEST_ANSWERED,
        schema.REQUEST_SKIPPED,
    ):
        return None
    return mail_text.csat_mail(**common)


def send_pending(
    db: sqlite_utils.Database, settings: Settings, now: datetime, limit: int = BATCH
) -> SendResult:
    """Send the mails that are due, oldest first; returns what happened.

    A temporary failure puts the mail back with a longer pause and ends the pass (the
    server is away: no point hammering it with the rest); a permanent one marks it
    failed and tells the operator on the ticket.
    """
    if not settings.mail_enabled:
        return SendResult()
    sent = retrying = failed = 0
    for _ in range(limit):
        mail = _claim(db, now)
        if mail is None:
            break
        message = compose(db, settings, mail, now)
        if message is None:
            _finish(db, mail, STATUS_CANCELLED, now, "nothing left to send / niente da inviare")
            continue
        try:
            mailer.send(settings.smtp_url or "", message)
        except mailer.MailPermanentError as exc:
            failed += 1
            _fail(db, mail, str(exc), now)
            continue
        except mailer.MailError as exc:
            if clock.parse_time(mail.created_at) + GIVE_UP_AFTER <= now:  # type: ignore[operator]
                failed += 1
                _fail(db, mail, f"gave up / rinuncia dopo {mail.attempts} tentativi: {exc}", now)
                continue
            retrying += 1
            retry_at = now + _retry_delay(mail.attempts)
            _finish(db, mail, STATUS_PENDING, now, str(exc), retry_at)
            logger.warning(
                "mail %s for ticket %s not sent (attempt %s, next at %s): %s",
                mail.id, mail.ticket_id, mail.attempts, clock.format_time(retry_at), exc,
            )  # fmt: skip
            break
        sent += 1
        _finish(db, mail, STATUS_SENT, now)
        logger.info("mail %s (%s) for ticket %s sent", mail.id, mail.kind, mail.ticket_id)
    return SendResult(sent, retrying, failed)


def _fail(db: sqlite_utils.Database, mail: OutboxMail, reason: str, now: datetime) -> None:
    _finish(db, mail, STATUS_FAILED, now, reason)
    logger.error("mail %s for ticket %s failed: %s", mail.id, mail.ticket_id, reason)
    tickets.log_event(
        db, mail.ticket_id, tickets.EVENT_EMAIL_FAILED, detail=f"{mail.kind}: {reason}", now=now
    )


def resume_links_status(settings: Settings) -> str:
    """Whether answer mails to web-chat customers carry a "continue the conversation"
    link, and if not, what to set (bilingual; ``sportello mail test`` prints it)."""
    if settings.webchat_keep_days <= 0:
        return (
            "answer mails carry no link to continue the chat: SPORTELLO_WEBCHAT_KEEP_DAYS is 0 "
            "/ le e-mail di risposta non hanno il link per continuare la chat: "
            "SPORTELLO_WEBCHAT_KEEP_DAYS è 0"
        )
    if not settings.public_chat_url:
        return (
            "answer mails carry no link to continue the chat: set SPORTELLO_PUBLIC_CHAT_URL "
            "to the chat page's public address / le e-mail di risposta non hanno il link "
            "per continuare la chat: imposta SPORTELLO_PUBLIC_CHAT_URL"
        )
    return (
        f"answer mails link back to the chat at {settings.public_chat_url}/ (valid "
        f"{settings.webchat_keep_days} days) / le e-mail di risposta hanno il link per "
        f"continuare la chat su {settings.public_chat_url}/ (valido "
        f"{settings.webchat_keep_days} giorni)"
    )


def send_test(settings: Settings, address: str, lang: str, now: datetime) -> str:
    """Send the test mail to ``address``; returns its Message-ID or raises a
    :class:`desk.mailer.MailError` naming what failed (configuration, connection, TLS,
    login, refused recipient)."""
    if not settings.mail_enabled:
        raise mailer.MailConfigError(
            "mail is not configured: set SPORTELLO_SMTP_URL and SPORTELLO_MAIL_FROM / "
            "e-mail non configurata: imposta SPORTELLO_SMTP_URL e SPORTELLO_MAIL_FROM"
        )
    recipient = mailer.valid_address(address)
    if recipient is None:
        raise mailer.MailPermanentError(f"malformed address / indirizzo non valido: {address!r}")
    message = mail_text.test_mail(
        sender=settings.mail_from or "",
        recipient=recipient,
        company=settings.company_name,
        lang=lang,
        when=now,
    )
    mailer.send(settings.smtp_url or "", message)
    return str(message["Message-ID"])


# ---- reading -------------------------------------------------------------------------------


def ticket_mails(db: sqlite_utils.Database, ticket_id: int) -> list[OutboxMail]:
    """The ticket's mails, oldest first (for the console)."""
    return [
        OutboxMail.from_row(row)
        for row in db[OUTBOX].rows_where("ticket_id = ?", [ticket_id], order_by="id")
    ]


def outbox(db: sqlite_utils.Database, status: str | None = None) -> list[OutboxMail]:
    """Every mail (or those with ``status``), oldest first."""
    where, args = ("status = ?", [status]) if status else (None, [])
    return [OutboxMail.from_row(row) for row in db[OUTBOX].rows_where(where, args, order_by="id")]


def sent_mail(db: sqlite_utils.Database, message_ids: list[str]) -> OutboxMail | None:
    """The mail of ours with one of these Message-IDs (the latest named first wins)."""
    for message_id in reversed(message_ids):
        rows = list(db[OUTBOX].rows_where("message_id = ?", [message_id], limit=1))
        if rows:
            return OutboxMail.from_row(rows[0])
    return None


def inbox_ticket(db: sqlite_utils.Database, message_ids: list[str]) -> int | None:
    """The ticket an earlier reply with one of these Message-IDs was added to."""
    for message_id in reversed(message_ids):
        row = db.execute(
            f"SELECT ticket_id FROM {INBOX} WHERE message_key = ? AND ticket_id IS NOT NULL",
            [message_id],
        ).fetchone()
        if row:
            return int(row[0])
    return None


def seen(db: sqlite_utils.Database, message_key: str) -> bool:
    """This mail was already handled."""
    return (
        db.execute(f"SELECT 1 FROM {INBOX} WHERE message_key = ?", [message_key]).fetchone()
        is not None
    )


def record_inbound(
    db: sqlite_utils.Database,
    message_key: str,
    *,
    sender: str | None,
    ticket_id: int | None,
    outcome: str,
    detail: str | None,
    now: datetime,
) -> bool:
    """Remember a mail read from the mailbox and its outcome; False if already there."""
    with write_transaction(db) as conn:
        cursor = conn.execute(
            f"INSERT OR IGNORE INTO {INBOX} (message_key, received_at, sender, ticket_id, "
            "outcome, detail) VALUES (?, ?, ?, ?, ?, ?)",
            [message_key, clock.format_time(now), sender, ticket_id, outcome, detail],
        )
        return cursor.rowcount == 1


def ticket_replies(db: sqlite_utils.Database, ticket_id: int) -> list[InboxMail]:
    """Mails read for the ticket (added or not), oldest first (for the console)."""
    return [
        InboxMail.from_row(row)
        for row in db[INBOX].rows_where("ticket_id = ?", [ticket_id], order_by="id")
    ]


def mail_rows(db: sqlite_utils.Database, ticket_id: int) -> dict[str, list[dict[str, Any]]]:
    """The ticket's mails and replies as stored (a customer's export)."""
    return {
        "mails_sent": list(db[OUTBOX].rows_where("ticket_id = ?", [ticket_id], order_by="id")),
        "mails_received": list(db[INBOX].rows_where("ticket_id = ?", [ticket_id], order_by="id")),
    }


def forget(conn: sqlite3.Connection, tickets_sql: str, params: list[Any]) -> int:
    """Delete the mails of the tickets ``tickets_sql`` selects (ids), inside the caller's
    transaction (erasure, retention); returns rows deleted. The addresses, Message-IDs and
    subjects go with them."""
    gone = 0
    for table in (OUTBOX, INBOX):
        exists = conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", [table]
        ).fetchone()
        if exists:
            gone += conn.execute(
                f"DELETE FROM {table} WHERE ticket_id IN ({tickets_sql})", params
            ).rowcount
    return gone


def purge(db: sqlite_utils.Database, days: int, now: datetime) -> int:
    """The retention period for mail: delete the mails of tickets closed more than
    ``days`` days ago (as privacy/retention.py empties their text); returns rows
    deleted. The monitor runs it with the log's purge, hourly."""
    with write_transaction(db) as conn:
        return forget(
            conn,
            f"SELECT id FROM {tickets.TABLE} WHERE status = ? AND closed_at < ?",
            [tickets.STATUS_CLOSED, clock.format_time(now - timedelta(days=days))],
        )


def count_for(db: sqlite_utils.Database, ticket_ids: list[int]) -> dict[str, int]:
    """How many mail rows the tickets still have, per table (after erasure: zeros)."""
    marks = ", ".join("?" for _ in ticket_ids) or "NULL"
    return {
        table: int(
            db.execute(
                f"SELECT COUNT(*) FROM {table} WHERE ticket_id IN ({marks})", ticket_ids
            ).fetchone()[0]
        )
        for table in (OUTBOX, INBOX)
    }


def inbox(db: sqlite_utils.Database) -> list[InboxMail]:
    """Every mail read, oldest first."""
    return [InboxMail.from_row(row) for row in db[INBOX].rows_where(order_by="id")]
