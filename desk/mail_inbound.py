"""Customers' replies by e-mail: read from the IMAP mailbox and put on their ticket.

The monitor polls the mailbox ``SPORTELLO_IMAP_URL`` names
(``imaps://user:password@host:993/INBOX``; ``imap://`` only for a server on loopback)
every ``SPORTELLO_IMAP_POLL_SECONDS``. Each unseen mail is read (its first 2 MB,
desk/mail_reply.py), handled by :func:`handle`, recorded in ``mail_inbox``
(desk/mailbox.py) and only then flagged ``\\Seen`` on the server; a crash in between
shows the mail again and ``mail_inbox`` says it was handled. Mails are never deleted:
what Sportello could not place stays in the mailbox for a person to read.

Which ticket: the thread headers first (``In-Reply-To``/``References`` naming a mail we
sent for the ticket, or a reply already added to it), then the signed reference in the
subject (``[#123-1a2b3c4d]``). Whichever matched, the sender must be the address the
ticket's customer left: a mail that names another customer's thread (a forged
``In-Reply-To``, a forwarded mail) is never added to that ticket; the operator is told
on the ticket that someone else wrote, without the text.

What becomes of a reply (``mail_inbox.outcome``):

- ``added``: the words are added to the ticket as the customer's message, exactly as a
  chat message while an operator owns the conversation (the SLA clocks do not move);
- ``csat``: a reply to the satisfaction mail that is just a number 1-5 is the ticket's
  CSAT (once; a reply with words is handled as below);
- a reply to a **closed** ticket opens a **follow-up ticket** in the same conversation,
  with the reply as its first message and its own SLA deadlines (``follow_up`` on both
  tickets' logs): the closed ticket's history and CSAT stay as they were;
- ``auto-reply``/``bounce``: recorded, logged on the ticket it concerns, never added,
  never answered (no mail loops);
- ``wrong-sender``, ``unmatched``, ``empty``, ``unreadable``: recorded and logged;
  nothing added.
"""

from __future__ import annotations

import hashlib
import imaplib
import logging
import re
import ssl
from dataclasses import dataclass
from datetime import datetime
from email import message_from_bytes, policy
from urllib.parse import unquote, urlsplit

import sqlite_utils
from sqlite_utils.db import NotFoundError

from customerlog import ratings, schema
from desk import mail_reply, mail_text, mailbox, tickets
from sportello.settings import Settings

logger = logging.getLogger(__name__)

OUTCOME_ADDED = "added"
OUTCOME_CSAT = "csat"
OUTCOME_AUTO = "auto-reply"
OUTCOME_BOUNCE = "bounce"
OUTCOME_WRONG_SENDER = "wrong-sender"
OUTCOME_UNMATCHED = "unmatched"
OUTCOME_EMPTY = "empty"
OUTCOME_DUPLICATE = "duplicate"
OUTCOME_UNREADABLE = "unreadable"

DEFAULT_PORTS = {"imap": 143, "imaps": 993}
TIMEOUT_S = 30.0
# At most this many mails per poll, so a flooded mailbox never stalls the monitor.
BATCH = 50


class MailboxError(Exception):
    """The mailbox could not be read; ``str()`` says why (bilingual)."""


@dataclass(frozen=True)
class ImapMailbox:
    """An IMAP mailbox as ``SPORTELLO_IMAP_URL`` names it."""

    host: str
    port: int
    tls: bool
    username: str
    password: str
    folder: str = "INBOX"


@dataclass(frozen=True)
class Handled:
    """What became of one mail."""

    outcome: str
    ticket_id: int | None = None
    detail: str | None = None


def parse_imap_url(url: str) -> ImapMailbox:
    """``imaps://user:pass@host:993/INBOX`` → :class:`ImapMailbox`."""
    parts = urlsplit(url.strip())
    if parts.scheme not in DEFAULT_PORTS:
        raise MailboxError(
            f"SPORTELLO_IMAP_URL must start with imaps:// or imap://, got {parts.scheme!r} / "
            "deve iniziare con imaps:// o imap://"
        )
    if not parts.hostname or not parts.username:
        raise MailboxError("SPORTELLO_IMAP_URL needs user and host / servono utente e server")
    try:
        port = parts.port or DEFAULT_PORTS[parts.scheme]
    except ValueError as exc:
        raise MailboxError(f"SPORTELLO_IMAP_URL: bad port / porta non valida ({exc})") from exc
    return ImapMailbox(
        host=parts.hostname,
        port=port,
        tls=parts.scheme == "imaps",
        username=unquote(parts.username),
        password=unquote(parts.password or ""),
        folder=unquote(parts.path.strip("/")) or "INBOX",
    )


# ---- one mail ------------------------------------------------------------------------------


def handle(
    db: sqlite_utils.Database, settings: Settings, raw: bytes, size: int | None, now: datetime
) -> Handled:
    """Place one mail (its raw bytes, maybe cut at 2 MB; ``size`` its full size)."""
    digest = hashlib.sha256(raw).hexdigest()
    try:
        message = message_from_bytes(raw, policy=policy.default)
        reply = mail_reply.read(message, size, digest=digest)
    except Exception as exc:  # a mail no parser reads must not block the mailbox
        logger.warning("mail sha256:%s unreadable, left in the mailbox: %s", digest, exc)
        mailbox.record_inbound(
            db, f"sha256:{digest}", sender=None, ticket_id=None,
            outcome=OUTCOME_UNREADABLE, detail=str(exc)[:200], now=now,
        )  # fmt: skip
        return Handled(OUTCOME_UNREADABLE, None, str(exc)[:200])
    if mailbox.seen(db, reply.message_key):
        return Handled(OUTCOME_DUPLICATE)
    handled = _place(db, settings, message, reply, now)
    mailbox.record_inbound(
        db,
        reply.message_key,
        sender=reply.sender or None,
        ticket_id=handled.ticket_id,
        outcome=handled.outcome,
        detail=handled.detail,
        now=now,
    )
    log = logger.info if handled.outcome in (OUTCOME_ADDED, OUTCOME_CSAT) else logger.warning
    log(
        "mail %s from %s: %s%s%s",
        reply.message_key,
        reply.sender or "?",
        handled.outcome,
        f" (ticket {handled.ticket_id})" if handled.ticket_id else "",
        f": {handled.detail}" if handled.detail else "",
    )
    return handled


def _matching_ticket(
    db: sqlite_utils.Database, settings: Settings, reply: mail_reply.Reply
) -> tuple[tickets.Ticket | None, mailbox.OutboxMail | None]:
    ours = mailbox.sent_mail(db, reply.refers_to)
    ticket_id = ours.ticket_id if ours else mailbox.inbox_ticket(db, reply.refers_to)
    if ticket_id is None:
        ticket_id = mail_text.ticket_from_subject(reply.subject, mailbox.mail_key(settings))
    if ticket_id is None:
        return None, None
    try:
        return tickets.get_ticket(db, ticket_id), ours
    except NotFoundError:
        return None, None


def _place(
    db: sqlite_utils.Database,
    settings: Settings,
    message: object,
    reply: mail_reply.Reply,
    now: datetime,
) -> Handled:
    ticket, ours = _matching_ticket(db, settings, reply)
    if reply.machine is not None:
        outcome = OUTCOME_BOUNCE if reply.machine == "bounce" else OUTCOME_AUTO
        if ticket is not None:
            tickets.log_event(db, ticket.id, tickets.EVENT_EMAIL_IGNORED, detail=outcome, now=now)
        return Handled(outcome, ticket.id if ticket else None, reply.subject[:200] or None)
    if ticket is None:
        return Handled(OUTCOME_UNMATCHED, None, reply.subject[:200] or None)
    senders = mail_reply.from_addresses(message)  # type: ignore[arg-type]
    customer = (ticket.customer_email or "").strip().lower()
    if not customer or senders != [customer]:
        tickets.log_event(
            db,
            ticket.id,
            tickets.EVENT_EMAIL_IGNORED,
            detail=f"{OUTCOME_WRONG_SENDER}: {', '.join(senders)[:200] or '?'}",
            now=now,
        )
        return Handled(OUTCOME_WRONG_SENDER, ticket.id, ", ".join(senders)[:200] or None)
    if not reply.text.strip() and not reply.notes:
        return Handled(OUTCOME_EMPTY, ticket.id, None)
    if (
        ours is not None
        and ours.kind == mail_text.KIND_CSAT
        and _record_csat(db, ticket, reply, now)
    ):
        return Handled(OUTCOME_CSAT, ticket.id, reply.text[:20])
    if not ticket.active:
        ticket = tickets.follow_up_ticket(db, ticket, now)
    limit = max(settings.max_message_chars, mail_reply.MAX_TEXT_CHARS)
    text = mail_reply.with_notes(reply)[: limit + 500]
    tickets.record_customer_message(db, ticket.id, text, now, author="e-mail")
    tickets.log_event(db, ticket.id, tickets.EVENT_EMAIL_REPLY, now=now)
    return Handled(OUTCOME_ADDED, ticket.id, None)


def _record_csat(
    db: sqlite_utils.Database, ticket: tickets.Ticket, reply: mail_reply.Reply, now: datetime
) -> bool:
    """A reply to the CSAT mail that is only a number: the ticket's CSAT, once."""
    value = mail_reply.csat_value(reply.text)
    if value is None:
        return False
    status = ratings.request_status(db, schema.RATING_CSAT, schema.TARGET_TICKET, str(ticket.id))
    if status == schema.REQUEST_ANSWERED:
        return True  # already rated (in the chat or an earlier mail): not counted twice
    rater = ratings.Rater(
        conversation_id=ticket.conversation_id,
        customer_id=ticket.customer_id or ticket.conversation_id,
        channel="email",
        lang=ticket.lang,
    )
    ratings.ask(db, rater, schema.RATING_CSAT, schema.TARGET_TICKET, str(ticket.id), now)
    ratings.record(db, rater, schema.RATING_CSAT, value, schema.TARGET_TICKET, str(ticket.id), now)
    return True


# ---- the mailbox ---------------------------------------------------------------------------


def _connect(box: ImapMailbox) -> imaplib.IMAP4:
    try:
        if box.tls:
            client: imaplib.IMAP4 = imaplib.IMAP4_SSL(
                box.host, box.port, ssl_context=ssl.create_default_context(), timeout=TIMEOUT_S
            )
        else:
            client = imaplib.IMAP4(box.host, box.port, timeout=TIMEOUT_S)
        client.login(box.username, box.password)
    except imaplib.IMAP4.error as exc:
        raise MailboxError(f"IMAP login refused / accesso IMAP rifiutato: {exc}") from exc
    except ssl.SSLError as exc:
        raise MailboxError(f"IMAP TLS failed / TLS non riuscito: {exc}") from exc
    except (TimeoutError, OSError) as exc:
        raise MailboxError(
            f"cannot reach / impossibile raggiungere {box.host}:{box.port}: {exc}"
        ) from exc
    return client


_SIZE = re.compile(rb"RFC822\.SIZE (\d+)")


def poll(db: sqlite_utils.Database, settings: Settings, now: datetime) -> list[Handled]:
    """Read the mailbox's unseen mails once; returns what became of each.

    Raises :class:`MailboxError` when the mailbox cannot be read (the monitor logs it
    and tries again next time).
    """
    if not settings.imap_url:
        return []
    box = parse_imap_url(settings.imap_url)
    client = _connect(box)
    results: list[Handled] = []
    try:
        status, _ = client.select(_quoted(box.folder))
        if status != "OK":
            raise MailboxError(f"no folder / cartella inesistente: {box.folder}")
        status, data = client.uid("SEARCH", "UNSEEN")
        uids = (data[0] or b"").split() if status == "OK" else []
        for uid in uids[:BATCH]:
            status, parts = client.uid(
                "FETCH", uid, f"(RFC822.SIZE BODY.PEEK[]<0.{mail_reply.MAX_FETCH_BYTES}>)"
            )
            raw, size = _fetched(parts)
            if status != "OK" or raw is None:
                logger.warning("could not fetch mail uid %s: %s", uid, status)
                continue
            results.append(handle(db, settings, raw, size, now))
            client.uid("STORE", uid, "+FLAGS", "(\\Seen)")
    except (imaplib.IMAP4.error, OSError) as exc:
        raise MailboxError(f"reading the mailbox failed / lettura non riuscita: {exc}") from exc
    finally:
        try:
            client.logout()
        except (imaplib.IMAP4.error, OSError):
            logger.debug("IMAP logout failed", exc_info=True)
    return results


def _quoted(folder: str) -> str:
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _fetched(parts: list[object]) -> tuple[bytes | None, int | None]:
    for part in parts:
        if isinstance(part, tuple) and len(part) == 2:
            head, body = part
            match = _SIZE.search(head if isinstance(head, bytes) else b"")
            return body, int(match.group(1)) if match else None
    return None, None
