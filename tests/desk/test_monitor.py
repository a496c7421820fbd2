"""The monitor loop: SLA checks and delivery retries, recomputed from SQLite each pass."""

from __future__ import annotations

import threading
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from desk import sla
from desk.delivery import INTENT_OPERATOR_MESSAGE
from desk.monitor import run_forever, run_once
from desk.tickets import (
    EVENT_BREACHED,
    EVENT_ESCALATED,
    answer_ticket,
    get_ticket,
    open_ticket,
    pending_answers,
)
from sportello.settings import Settings
from tests.databases import open_db
from tests.desk.fake_rasa import fake_rasa

ROME = ZoneInfo("Europe/Rome")
POLICY = sla.SlaPolicy()


def test_one_pass_escalates_breaches_and_delivers_the_outbox(tmp_path: Path) -> None:
    db = open_db(tmp_path / "sportello.db")
    late, _ = open_ticket(
        db, "conv-late", lang="it", channel="rest", policy=POLICY,
        now=datetime(2026, 11, 23, 9, tzinfo=ROME),
    )  # fmt: skip
    waiting, _ = open_ticket(
        db, "conv-push", lang="en", channel="socketio", policy=POLICY,
        now=datetime(2026, 11, 23, 12, tzinfo=ROME),
    )  # fmt: skip
    with fake_rasa() as rasa:
        rasa.status = 503
        # On the test's own clock: a real "now" may fall after the ticket's deadline.
        answered_at = datetime(2026, 11, 23, 12, 5, tzinfo=ROME)
        answer_ticket(db, waiting.id, "anna", "Hello!", now=answered_at)
        settings = Settings(data_dir=tmp_path, rasa_port=rasa.port)
        now = datetime(2026, 11, 23, 14, 30, tzinfo=ROME)

        first = run_once(db, POLICY, settings, now)
        assert [(e.ticket_id, e.kind) for e in first.events] == [
            (late.id, EVENT_BREACHED),
            (late.id, EVENT_ESCALATED),
        ]
        assert first.delivered == 0  # Rasa is down: the answer waits

        rasa.status = 200
        second = run_once(open_db(tmp_path / "sportello.db"), POLICY, settings, now)
        assert second.events == []  # nothing flagged twice
        assert second.delivered == 1
        assert rasa.intents[-1] == ("conv-push", INTENT_OPERATOR_MESSAGE)
    assert pending_answers(db) == []
    assert get_ticket(db, late.id).escalation_level == 1


def test_run_forever_keeps_going_until_stopped(tmp_path: Path) -> None:
    db = open_db(tmp_path / "sportello.db")
    ticket, _ = open_ticket(db, "conv-old", lang="it", policy=POLICY,
                            now=datetime(2026, 1, 5, 9, tzinfo=ROME))  # fmt: skip
    stop = threading.Event()
    settings = Settings(data_dir=tmp_path)
    thread = threading.Thread(target=run_forever, args=(0.05, stop, settings))
    thread.start()
    try:
        for _ in range(100):
            if get_ticket(db, ticket.id).breached:
                break
            stop.wait(0.05)
    finally:
        stop.set()
        thread.join(timeout=5)
    assert not thread.is_alive()
    assert get_ticket(db, ticket.id).breached
