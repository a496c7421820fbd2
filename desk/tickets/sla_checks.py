"""The SLA checks the monitor runs: at-risk and breached tickets, escalation."""

from __future__ import annotations

import sqlite3
from datetime import datetime
from typing import Any

import sqlite_utils

from desk import sla
from desk.tickets.commands import write_event
from desk.tickets.models import Event
from desk.tickets.schema import (
    ACTIVE_SQL,
    DEFAULT_PRIORITY,
    EVENT_AT_RISK,
    EVENT_BREACHED,
    EVENT_ESCALATED,
    EVENTS,
    TABLE,
    TARGET_FIRST_RESPONSE,
    TARGET_RESOLUTION,
)
from sportello.clock import format_time, parse_time
from sportello.db import write_transaction


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
            rows = [dict(r) for r in conn.execute(f"SELECT * FROM {TABLE} WHERE {ACTIVE_SQL}")]
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
            write_event(conn, ticket_id, EVENT_AT_RISK, now, detail=target)
            new_ids.append(_last_id(conn))
        if state == "breached" and (EVENT_BREACHED, target) not in logged:
            write_event(conn, ticket_id, EVENT_BREACHED, now, detail=target)
            new_ids.append(_last_id(conn))
            level += 1
            write_event(conn, ticket_id, EVENT_ESCALATED, now, detail=f"level {level} ({target})")
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
