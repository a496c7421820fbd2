"""Telling operators and supervisors by e-mail, without a storm.

Who hears what (settings, comma-separated addresses):

- ``SPORTELLO_ALERT_OPERATORS``: an **urgent** or **high**-priority ticket was opened;
- ``SPORTELLO_ALERT_SUPERVISORS``: a ticket is **at risk** of missing an SLA deadline,
  or **breached** it (and went up one level).

The monitor reads these events from the tickets' audit log (:mod:`desk.tickets`, which
records each once) and keeps one row per event and audience in ``alerts``, the table
this module owns. It sends one mail per audience with every alert of that audience not
yet sent, once the oldest has waited :data:`BATCH_WINDOW` (a minute): ten breaches in
the same minute are one mail, never ten. A mail server that is away keeps the alerts
for the next try (after :data:`RETRY_AFTER`); an alert is sent once. Events before
alerts were first switched on are not told (the first pass starts from the newest
event). Alerts name the ticket, the priority and the deadline, never the customer's
words: the details are in the console.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime

import sqlite_utils

from desk import mail_text, mailer, tickets
from sportello import clock
from sportello.db import write_transaction
from sportello.settings import Settings

logger = logging.getLogger(__name__)

TABLE = "alerts"
STATE = "alert_state"

OPERATORS = "operators"
SUPERVISORS = "supervisors"

BATCH_WINDOW = timedelta(minutes=1)
RETRY_AFTER = timedelta(minutes=5)
ALERT_PRIORITIES = ("urgent", "high")

_WORDS = {
    tickets.EVENT_CREATED: ("nuova richiesta {priority}", "new {priority_en} request"),
    tickets.EVENT_AT_RISK: ("a rischio ({target})", "at risk ({target_en})"),
    tickets.EVENT_BREACHED: ("scadenza superata ({target})", "deadline breached ({target_en})"),
}
_PRIORITY_IT = {"urgent": "urgente", "high": "ad alta priorità"}
_TARGET_IT = {"first_response": "prima risposta", "resolution": "risoluzione"}
_TARGET_EN = {"first_response": "first response", "resolution": "resolution"}


@dataclass(frozen=True)
class Alert:
    id: int
    audience: str
    ticket_id: int
    kind: str
    detail: str | None
    priority: str
    created_at: str


def recipients(settings: Settings, audience: str) -> tuple[str, ...]:
    """The audience's well-formed addresses (others are logged and skipped)."""
    listed = settings.alert_operators if audience == OPERATORS else settings.alert_supervisors
    good = tuple(a for a in (mailer.valid_address(x) for x in listed) if a)
    if len(good) != len(listed):
        logger.warning("alerts for %s: malformed addresses skipped in %s", audience, listed)
    return good


def _audience(event: tickets.Event, ticket: tickets.Ticket) -> str | None:
    if event.kind == tickets.EVENT_CREATED:
        return OPERATORS if ticket.priority in ALERT_PRIORITIES else None
    if event.kind in (tickets.EVENT_AT_RISK, tickets.EVENT_BREACHED):
        return SUPERVISORS
    return None


def collect(db: sqlite_utils.Database, now: datetime) -> int:
    """Turn the audit log's new events into alerts; returns how many were added."""
    row = db.execute(f"SELECT last_event_id FROM {STATE} WHERE id = 1").fetchone()
    if row is None:  # switched on now: from here on, not the history
        newest = tickets.last_event_id(db)
        with write_transaction(db) as conn:
            conn.execute(
                f"INSERT OR IGNORE INTO {STATE} (id, last_event_id) VALUES (1, ?)", [newest]
            )
        return 0
    kinds = (tickets.EVENT_CREATED, tickets.EVENT_AT_RISK, tickets.EVENT_BREACHED)
    found = tickets.events_after(db, int(row[0]), kinds)
    if not found:
        return 0
    added = 0
    with write_transaction(db) as conn:
        for event, ticket in found:
            audience = _audience(event, ticket)
            if audience is None:
                continue
            added += conn.execute(
                f"INSERT OR IGNORE INTO {TABLE} (event_id, audience, ticket_id, kind, detail, "
                "priority, created_at, next_attempt_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    event.id, audience, ticket.id, event.kind, event.detail, ticket.priority,
                    event.created_at, event.created_at,
                ],
            ).rowcount  # fmt: skip
        conn.execute(
            f"UPDATE {STATE} SET last_event_id = MAX(last_event_id, ?) WHERE id = 1",
            [found[-1][0].id],
        )
    return added


def unsent(db: sqlite_utils.Database, audience: str) -> list[Alert]:
    rows = db.query(
        f"SELECT id, audience, ticket_id, kind, detail, priority, created_at FROM {TABLE} "
        "WHERE audience = ? AND sent_at IS NULL ORDER BY id",
        [audience],
    )
    return [Alert(**row) for row in rows]


def _line(alert: Alert, lang: str) -> str:
    target = (alert.detail or "").split(" ")[0]
    it, en = _WORDS[alert.kind]
    values = {
        "priority": _PRIORITY_IT.get(alert.priority, alert.priority),
        "priority_en": alert.priority,
        "target": _TARGET_IT.get(target, target),
        "target_en": _TARGET_EN.get(target, target),
    }
    what = (it if lang == "it" else en).format(**values)
    return f"#{alert.ticket_id}: {what} · /tickets/{alert.ticket_id}"


def alert_mail(
    settings: Settings, audience: str, batch: list[Alert], to: tuple[str, ...], now: datetime
) -> EmailMessage:
    """One mail for the batch, in Italian and English (operators may be either)."""
    message = EmailMessage()
    message["From"] = settings.mail_from or ""
    message["To"] = ", ".join(to)
    tickets_named = ", ".join(f"#{alert.ticket_id}" for alert in batch[:5])
    more = "…" if len(batch) > 5 else ""
    message["Subject"] = (
        f"[Sportello] {len(batch)} avvisi / alerts: {tickets_named}{more}"
        if len(batch) > 1
        else f"[Sportello] avviso / alert: {_line(batch[0], 'it').split(' · ')[0]}"
    )
    message["Date"] = format_datetime(now)
    message["Message-ID"] = mail_text.new_message_id(settings.mail_from or "")
    message["Auto-Submitted"] = "auto-generated"
    who_it = "operatori" if audience == OPERATORS else "supervisori"
    who_en = audience
    body = [
        f"Sportello per {settings.company_name}: avvisi per i {who_it}.",
        "\n".join(_line(alert, "it") for alert in batch),
        "I dettagli sono nella console degli operatori.",
        "—",
        f"Sportello for {settings.company_name}: alerts for the {who_en}.",
        "\n".join(_line(alert, "en") for alert in batch),
        "The details are in the operators' console.",
    ]
    message.set_content("\n\n".join(body) + "\n")
    return message


def send_due(db: sqlite_utils.Database, settings: Settings, now: datetime) -> int:
    """Send each audience's batch once its oldest alert has waited a minute; returns
    mails sent. At most one mail per audience per call."""
    if not settings.mail_enabled:
        return 0
    sent = 0
    stamp = clock.format_time(now)
    for audience in (OPERATORS, SUPERVISORS):
        to = recipients(settings, audience)
        batch = unsent(db, audience)
        if not to or not batch:
            continue
        oldest = clock.parse_time(batch[0].created_at)
        assert oldest is not None
        due = db.execute(
            f"SELECT MAX(next_attempt_at) FROM {TABLE} WHERE audience = ? AND sent_at IS NULL",
            [audience],
        ).fetchone()[0]
        if now - oldest < BATCH_WINDOW or (due and due > stamp):
            continue
        ids = [alert.id for alert in batch]
        marks = ", ".join("?" for _ in ids)
        try:
            mailer.send(settings.smtp_url or "", alert_mail(settings, audience, batch, to, now))
        except mailer.MailError as exc:
            logger.warning("alerts for %s not sent, retrying later: %s", audience, exc)
            with write_transaction(db) as conn:
                conn.execute(
                    f"UPDATE {TABLE} SET next_attempt_at = ?, last_error = ? WHERE id IN ({marks})",
                    [clock.format_time(now + RETRY_AFTER), str(exc), *ids],
                )
            continue
        with write_transaction(db) as conn:
            conn.execute(
                f"UPDATE {TABLE} SET sent_at = ?, last_error = NULL WHERE id IN ({marks})",
                [stamp, *ids],
            )
        logger.info("alerts for %s sent: %s", audience, ", ".join(map(str, ids)))
        sent += 1
    return sent
