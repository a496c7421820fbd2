"""The desk's background loop: SLA breach detection, outbox retries, e-mail, the customer log.

E-mail (desk/mailbox.py, desk/mail_inbound.py), when configured: each pass queues the
mails owed for answers and closes committed since, and sends what is due; every
``SPORTELLO_IMAP_POLL_SECONDS`` it reads customers' replies from the mailbox; it mails
operators and supervisors the alerts they asked for (desk/alerts.py). A mail
server or mailbox that is away is logged and tried again later; the rest of the pass
goes on.

Each pass also logs the conversations' new turns (:func:`customerlog.turns.sync`, from the
tracker store the settings name: the SQLite file or ``SPORTELLO_TRACKER_URL``); once
an hour it applies the log's retention period (:func:`privacy.retention.purge`) and
rotates and purges the services' log files (:mod:`sportello.logfiles`).

Every pass recomputes everything from SQLite (deadlines are stored on the tickets, the
audit log says what was already flagged), so the loop keeps no state of its own: it can
be stopped, restarted or run in several processes without losing or repeating work.
Rasa reminders are not used for SLA clocks: they live in memory only and do not run in
paused conversations (see RASA-NOTES).

Run it as a process (``python -m desk.monitor``, which migrates the database's schema
first) or a thread (:func:`run_forever` with a ``threading.Event`` to stop it, on a
database its caller has prepared).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime

import sqlite_utils

from customerlog import turns
from desk import alerts, mail_inbound, mailbox, sla, tickets
from desk.delivery import deliver_pending
from privacy import retention
from sportello import clock, logfiles
from sportello.db import open_db
from sportello.settings import Settings, get_settings
from stack.database import prepare

logger = logging.getLogger(__name__)

DEFAULT_INTERVAL_S = 10.0
RETENTION_EVERY_S = 3600.0


@dataclass(frozen=True)
class PassResult:
    """What one pass did: the SLA events it logged and the tickets it delivered."""

    events: list[tickets.Event] = field(default_factory=list)
    delivered: int = 0
    logged: int = 0
    mailed: mailbox.SendResult = field(default_factory=mailbox.SendResult)


def run_once(
    db: sqlite_utils.Database, policy: sla.SlaPolicy, settings: Settings, now: datetime
) -> PassResult:
    """One pass: flag at-risk and breached tickets (escalating breaches), retry deliveries."""
    events = tickets.check_sla(db, policy, now)
    for event in events:
        logger.warning("ticket %s: %s %s", event.ticket_id, event.kind, event.detail or "")
    delivered = deliver_pending(db, settings)
    mailed = mailbox.SendResult()
    if settings.mail_enabled:
        try:
            mailbox.queue_new(db, settings, now)
            mailed = mailbox.send_pending(db, settings, now)
        except Exception:
            logger.exception("sending mail failed; the outbox keeps it for the next pass")
        if settings.alert_operators or settings.alert_supervisors:
            try:
                alerts.collect(db, now)
                alerts.send_due(db, settings, now)
            except Exception:
                logger.exception("alerting failed; the alerts wait for the next pass")
    logged = turns.sync(db, settings.tracker_store)
    return PassResult(events=events, delivered=delivered, logged=logged, mailed=mailed)


def read_replies(db: sqlite_utils.Database, settings: Settings, now: datetime) -> int:
    """Read customers' replies from the mailbox; returns how many mails were handled.

    A mailbox that cannot be read is logged (once per poll) and read again next time.
    """
    if not settings.imap_url:
        return 0
    try:
        return len(mail_inbound.poll(db, settings, now))
    except mail_inbound.MailboxError as exc:
        logger.warning(
            "mailbox not read, trying again in %s s: %s", settings.imap_poll_seconds, exc
        )
        return 0


def run_forever(
    interval_s: float = DEFAULT_INTERVAL_S,
    stop: threading.Event | None = None,
    settings: Settings | None = None,
) -> None:
    """Run passes every ``interval_s`` seconds until ``stop`` is set (or forever).

    A failing pass (database locked for too long, a broken policy file) is logged and
    the next one tries again; the policy is re-read each pass so edits apply without a
    restart.
    """
    stop = stop or threading.Event()
    settings = settings or get_settings()
    db = open_db(settings.db_path)
    last_purge = -RETENTION_EVERY_S
    last_poll = -float(settings.imap_poll_seconds)
    try:
        while not stop.is_set():
            try:
                policy = sla.load_policy(settings.sla_file)
                if time.monotonic() - last_poll >= settings.imap_poll_seconds:
                    last_poll = time.monotonic()
                    read_replies(db, settings, clock.utc_now())
                run_once(db, policy, settings, clock.utc_now())
                if time.monotonic() - last_purge >= RETENTION_EVERY_S:
                    last_purge = time.monotonic()
                    purged = retention.purge(
                        db,
                        settings.log_retention_days,
                        clock.utc_now(),
                        settings.tracker_store,
                    )
                    if purged.total:
                        logger.info("retention: %s", purged)
                    mails = mailbox.purge(db, settings.log_retention_days, clock.utc_now())
                    if mails:
                        logger.info("retention: %s mail rows", mails)
                    tidy_log_files(settings, clock.utc_now())
            except Exception:
                logger.exception("desk monitor pass failed; retrying in %.0f s", interval_s)
            stop.wait(interval_s)
    finally:
        db.close()


def tidy_log_files(settings: Settings, now: datetime) -> None:
    """Rotate the services' logs and delete rotated ones past the retention period."""
    run = settings.data_dir / "run"
    if run.is_dir():
        logfiles.rotate(run, now)
        logfiles.purge(run, settings.log_retention_days, now)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Sportello's SLA and delivery monitor")
    parser.add_argument("--interval", type=float, default=DEFAULT_INTERVAL_S, help="seconds")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    prepare(get_settings().db_path).close()  # the schema, once, before the first pass
    with contextlib.suppress(KeyboardInterrupt):
        run_forever(args.interval)


if __name__ == "__main__":
    main()
