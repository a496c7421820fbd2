"""Operators hear of urgent tickets, supervisors of SLA risks and breaches: by mail, one
mail per minute's events, never a storm, through a real SMTP server on loopback."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlite_utils

from desk import alerts, tickets
from desk.monitor import run_once
from desk.sla import SlaPolicy
from sportello import clock
from sportello.settings import Settings
from tests.databases import open_db
from tests.mail_servers import closed_port, smtp_server

NOW = datetime(2026, 12, 7, 9, 30, tzinfo=timezone.utc)  # a Monday, desk open
POLICY = SlaPolicy()


@pytest.fixture
def db(tmp_path: Path) -> sqlite_utils.Database:
    database = open_db(tmp_path / "sportello.db")
    alerts.collect(database, NOW)  # alerts switched on before the tickets below
    return database


def settings_for(tmp_path: Path, url: str) -> Settings:
    return Settings(
        data_dir=tmp_path,
        smtp_url=url,
        mail_from="Sportello <desk@aurora.example>",
        alert_operators=("turno@aurora.example", "not an address"),
        alert_supervisors=("capo@aurora.example",),
    )


def open_ticket(
    db: sqlite_utils.Database, conv: str, priority: str, at: datetime
) -> tickets.Ticket:
    ticket, _ = tickets.open_ticket(db, conv, lang="it", priority=priority, policy=POLICY, now=at)
    return ticket


def test_urgent_and_high_tickets_of_one_minute_are_one_mail_to_the_operators(
    db: sqlite_utils.Database, tmp_path: Path
) -> None:
    urgent = open_ticket(db, "c1", "urgent", NOW)
    high = open_ticket(db, "c2", "high", NOW + timedelta(seconds=20))
    open_ticket(db, "c3", "normal", NOW + timedelta(seconds=30))  # not an alert
    with smtp_server() as server:
        settings = settings_for(tmp_path, server.url())
        assert alerts.collect(db, NOW + timedelta(seconds=40)) == 2
        assert alerts.send_due(db, settings, NOW + timedelta(seconds=40)) == 0  # batching
        assert alerts.send_due(db, settings, NOW + timedelta(seconds=61)) == 1
        assert alerts.send_due(db, settings, NOW + timedelta(minutes=5)) == 0  # sent once
        [mail] = server.wait_for(1)
    assert mail.recipients == ["turno@aurora.example"]
    body = mail.message.get_body(("plain",)).get_content()
    assert f"#{urgent.id}: nuova richiesta urgente" in body
    assert f"#{high.id}: new high request" in body
    assert f"/tickets/{high.id}" in body
    assert mail.message["Subject"] == f"[Sportello] 2 avvisi / alerts: #{urgent.id}, #{high.id}"
    assert mail.message["Auto-Submitted"] == "auto-generated"


def test_risks_and_breaches_go_to_the_supervisors_once(
    db: sqlite_utils.Database, tmp_path: Path
) -> None:
    ticket = open_ticket(db, "c1", "normal", NOW)
    due = clock.parse_time(ticket.first_response_due)
    assert due is not None
    with smtp_server() as server:
        settings = settings_for(tmp_path, server.url())
        for moment in (due - timedelta(minutes=10), due + timedelta(minutes=1)):
            for step in range(0, 180, 10):  # the monitor's passes, every 10 s for 3 minutes
                run_once(db, POLICY, settings, moment + timedelta(seconds=step))
        mails = server.wait_for(2)
    assert [m.recipients for m in mails] == [["capo@aurora.example"]] * 2
    risk, breach = (m.message.get_body(("plain",)).get_content() for m in mails)
    assert f"#{ticket.id}: a rischio (prima risposta)" in risk
    assert f"#{ticket.id}: scadenza superata (prima risposta)" in breach
    assert f"#{ticket.id}: deadline breached (first response)" in breach
    assert len(server.received) == 2  # one per event, whatever the number of passes


def test_a_mail_server_that_is_down_delays_the_alerts_without_a_storm(
    db: sqlite_utils.Database, tmp_path: Path
) -> None:
    open_ticket(db, "c1", "urgent", NOW)
    down = settings_for(tmp_path, f"smtp://127.0.0.1:{closed_port()}")
    alerts.collect(db, NOW)
    assert alerts.send_due(db, down, NOW + timedelta(minutes=1)) == 0
    [waiting] = alerts.unsent(db, alerts.OPERATORS)
    with smtp_server() as server:
        up = settings_for(tmp_path, server.url())
        assert alerts.send_due(db, up, NOW + timedelta(minutes=2)) == 0  # waits its pause
        assert alerts.send_due(db, up, NOW + timedelta(minutes=7)) == 1
        assert len(server.wait_for(1)) == 1
    assert alerts.unsent(db, alerts.OPERATORS) == []
    assert waiting.kind == tickets.EVENT_CREATED


def test_history_before_alerts_were_switched_on_is_not_told(tmp_path: Path) -> None:
    db = open_db(tmp_path / "sportello.db")
    open_ticket(db, "old", "urgent", NOW)
    assert alerts.collect(db, NOW) == 0  # first pass: starts from here
    open_ticket(db, "new", "urgent", NOW)
    assert alerts.collect(db, NOW) == 1
    assert alerts.collect(db, NOW) == 0


def test_no_alerts_without_recipients_or_mail(db: sqlite_utils.Database, tmp_path: Path) -> None:
    open_ticket(db, "c1", "urgent", NOW)
    alerts.collect(db, NOW)
    assert alerts.send_due(db, Settings(data_dir=tmp_path), NOW + timedelta(minutes=2)) == 0
    with smtp_server() as server:
        nobody = Settings(data_dir=tmp_path, smtp_url=server.url(), mail_from="desk@aurora.example")
        assert alerts.send_due(db, nobody, NOW + timedelta(minutes=2)) == 0
    assert server.received == []
