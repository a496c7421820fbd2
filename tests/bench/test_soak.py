"""The soak's accounting: it finds what was sent, and says when something is missing."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from bench.soak import Ledger, account, render
from customerlog import ratings
from desk import tickets
from tests.customerlog.tracker import FakeTracker, kb_turn
from tests.databases import open_db

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=timezone.utc)


def test_everything_sent_is_found_and_a_loss_is_reported(tmp_path: Path) -> None:
    db_path, tracker_path = tmp_path / "sportello.db", tmp_path / "tracker.db"
    tracker = FakeTracker(tracker_path)
    tracker.add("soak-a", *kb_turn("soak-a", "quanto costa la spedizione?", "spedizione-costi"))
    tracker.add("soak-b", *kb_turn("soak-b", "orari?", "negozio-orari"))
    db = open_db(db_path)
    ticket, _ = tickets.open_ticket(
        db, "soak-b", lang="it", reason=tickets.REASON_ASKED_FOR_HUMAN, now=NOW
    )
    tickets.record_customer_message(db, ticket.id, "grazie, aspetto (oak-b)")
    ratings.record_helpful(db, ratings.Rater("soak-a", "soak-a"), "spedizione-costi", True, NOW)

    ledger = Ledger()
    ledger.messages.update({"soak-a": 1, "soak-b": 2})  # soak-b's second message was lost
    ledger.escalated = {"soak-b"}
    ledger.for_operator = {"soak-b": "grazie, aspetto (oak-b)"}
    ledger.helpful = {"soak-a": "spedizione-costi"}
    ledger.csat = {"soak-a"}  # never recorded
    ledger.latencies = [0.1, 0.2, 0.3]

    found = account(db_path, tracker_path, ledger)
    assert found["messages logged as turns"] == (3, 2)
    assert found["requests for a person → tickets"] == (1, 1)
    assert found["messages for the operator → ticket lines"] == (1, 1)
    assert found["👍 → helpful ratings on the right article"] == (1, 1)
    assert found["CSAT answers → ratings"] == (1, 0)
    text = render(
        ledger,
        found,
        {
            "when": "now",
            "load_before": "0",
            "load_after": "0",
            "command": "x",
            "customers": 1,
            "seconds": 1.0,
        },
    )
    assert text.count("❌") == 2 and "| 3 | 2 |" in text
