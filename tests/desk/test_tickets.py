"""Tickets: one active ticket per conversation, SLA deadlines, claims, the outbox, the audit log."""

from __future__ import annotations

import multiprocessing
import socket
import sqlite3
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import sqlite_utils

from desk import sla
from desk.tickets import (
    EVENT_ANSWERED,
    EVENT_AT_RISK,
    EVENT_BREACHED,
    EVENT_CLAIMED,
    EVENT_CLOSED,
    EVENT_CREATED,
    EVENT_ESCALATED,
    REASON_ASKED_FOR_HUMAN,
    REASON_KB_ABSTAINED,
    STATUS_CLAIMED,
    STATUS_CLOSED,
    STATUS_OPEN,
    TARGET_FIRST_RESPONSE,
    TARGET_RESOLUTION,
    Ticket,
    TicketClaimedError,
    TicketClosedError,
    answer_ticket,
    check_sla,
    claim_ticket,
    close_ticket,
    closed_awaiting_resume,
    get_message,
    get_open_ticket,
    get_ticket,
    latest_ticket,
    list_queue,
    list_tickets,
    mark_delivered,
    open_ticket,
    pending_answers,
    record_customer_message,
    set_customer_email,
    take_over_ticket,
    ticket_events,
    ticket_messages,
)
from sportello.settings import get_settings
from tests.databases import open_db


@pytest.fixture
def db(tmp_path: Path) -> sqlite_utils.Database:
    return open_db(tmp_path / "sportello.db")


TRANSCRIPT = [
    {"role": "customer", "text": "quanto costa spedire in Islanda?", "timestamp": 1.0},
    {"role": "bot", "text": "Non lo so, vuoi parlare con un operatore?", "timestamp": 2.0},
]


def test_open_ticket_records_the_request(db: sqlite_utils.Database) -> None:
    ticket, created = open_ticket(
        db,
        "conv-1",
        lang="it",
        reason=REASON_KB_ABSTAINED,
        channel="rest",
        customer_id="cust-9",
        transcript=TRANSCRIPT,
    )
    assert created
    assert ticket.conversation_id == "conv-1"
    assert ticket.customer_id == "cust-9"
    assert ticket.channel == "rest"
    assert ticket.lang == "it"
    assert ticket.reason == REASON_KB_ABSTAINED
    assert ticket.status == STATUS_OPEN
    assert ticket.created_at.endswith("+00:00")
    assert ticket.transcript == TRANSCRIPT
    assert get_ticket(db, ticket.id) == ticket


def test_asking_again_returns_the_open_ticket(db: sqlite_utils.Database) -> None:
    first, created_first = open_ticket(db, "conv-1", lang="en", transcript=TRANSCRIPT[:1])
    again, created_again = open_ticket(db, "conv-1", lang="en", transcript=TRANSCRIPT)
    assert created_first and not created_again
    assert again == first
    assert db["tickets"].count == 1


def test_each_conversation_gets_its_own_ticket(db: sqlite_utils.Database) -> None:
    one, _ = open_ticket(db, "conv-1", lang="it")
    two, _ = open_ticket(db, "conv-2", lang="en")
    assert one.id != two.id
    assert get_open_ticket(db, "conv-2") == two
    assert get_open_ticket(db, "conv-3") is None


def test_a_closed_ticket_does_not_block_a_new_one(db: sqlite_utils.Database) -> None:
    first, _ = open_ticket(db, "conv-1", lang="it")
    db["tickets"].update(first.id, {"status": "closed"})
    second, created = open_ticket(db, "conv-1", lang="it")
    assert created and second.id != first.id


def test_database_refuses_a_second_open_ticket(db: sqlite_utils.Database) -> None:
    """The guarantee does not depend on callers going through open_ticket."""
    open_ticket(db, "conv-1", lang="it")
    with pytest.raises(Exception, match="UNIQUE"):
        db["tickets"].insert(
            {
                "conversation_id": "conv-1",
                "lang": "it",
                "reason": REASON_ASKED_FOR_HUMAN,
                "status": STATUS_OPEN,
                "created_at": "2026-01-01T00:00:00+00:00",
                "transcript": "[]",
            }
        )


def test_simultaneous_requests_make_one_ticket(tmp_path: Path) -> None:
    path = tmp_path / "sportello.db"
    open_db(path)  # create the file before the threads race
    ids: list[int] = []
    errors: list[BaseException] = []

    def request() -> None:
        try:
            ticket, _ = open_ticket(open_db(path), "conv-race", lang="it")
            ids.append(ticket.id)
        except BaseException as exc:  # collected and re-raised in the test thread
            errors.append(exc)

    threads = [threading.Thread(target=request) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert len(set(ids)) == 1
    assert open_db(path)["tickets"].count == 1


def test_unknown_reason_is_refused(db: sqlite_utils.Database) -> None:
    with pytest.raises(ValueError, match="reason"):
        open_ticket(db, "conv-1", lang="it", reason="bored")


def test_transcript_keeps_non_ascii_text(db: sqlite_utils.Database) -> None:
    transcript = [{"role": "customer", "text": "perché? 😀", "timestamp": 1.0}]
    ticket, _ = open_ticket(db, "conv-1", lang="it", transcript=transcript)
    assert get_ticket(db, ticket.id).transcript == transcript


def test_list_tickets_oldest_first_and_by_status(db: sqlite_utils.Database) -> None:
    first, _ = open_ticket(db, "conv-1", lang="it")
    second, _ = open_ticket(db, "conv-2", lang="en")
    db["tickets"].update(first.id, {"status": "closed"})
    assert [t.id for t in list_tickets(db)] == [first.id, second.id]
    assert [t.id for t in list_tickets(db, status=STATUS_OPEN)] == [second.id]
    assert list_tickets(db, status="closed")[0].status == "closed"


def test_list_tickets_on_a_new_database_is_empty(db: sqlite_utils.Database) -> None:
    assert list_tickets(db) == []


# ---- SLA-aware tickets --------------------------------------------------------------------

POLICY = sla.SlaPolicy()
ROME = ZoneInfo("Europe/Rome")


def rome(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=ROME)


MONDAY_10 = rome(2026, 11, 23, 10)


def new_ticket(
    db: sqlite_utils.Database,
    conversation: str = "conv-1",
    *,
    priority: str = "normal",
    at: datetime = MONDAY_10,
    channel: str = "rest",
) -> Ticket:
    ticket, _ = open_ticket(
        db, conversation, lang="it", priority=priority, policy=POLICY, now=at, channel=channel
    )
    return ticket


def utc(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat(timespec="seconds")


def test_deadlines_count_business_hours_from_creation(db: sqlite_utils.Database) -> None:
    ticket = new_ticket(db)
    assert ticket.status == STATUS_OPEN
    assert ticket.priority == "normal"
    # 4 business hours for a first response: 10-13, then 14-15 after lunch.
    assert ticket.first_response_due == utc(rome(2026, 11, 23, 15))
    # 16 business hours to resolve: Monday 7, Tuesday 8, Wednesday 9-10.
    assert ticket.resolution_due == utc(rome(2026, 11, 25, 10))
    assert (ticket.escalation_level, ticket.at_risk, ticket.breached) == (0, False, False)


def test_priority_sets_the_targets(db: sqlite_utils.Database) -> None:
    high = new_ticket(db, "conv-high", priority="high")
    assert high.first_response_due == utc(rome(2026, 11, 23, 11))
    with pytest.raises(ValueError, match="priority"):
        new_ticket(db, "conv-x", priority="whenever")


def test_a_ticket_opened_late_on_friday_is_due_on_monday(db: sqlite_utils.Database) -> None:
    ticket = new_ticket(db, at=rome(2026, 11, 27, 23, 59))
    assert ticket.first_response_due == utc(rome(2026, 11, 30, 13))


def test_the_transcript_becomes_the_tickets_first_messages(db: sqlite_utils.Database) -> None:
    ticket, _ = open_ticket(db, "conv-1", lang="it", transcript=TRANSCRIPT, policy=POLICY)
    messages = ticket_messages(db, ticket.id)
    assert [(m.role, m.text) for m in messages] == [
        ("customer", "quanto costa spedire in Islanda?"),
        ("bot", "Non lo so, vuoi parlare con un operatore?"),
    ]
    assert [e.kind for e in ticket_events(db, ticket.id)] == [EVENT_CREATED]


def test_the_queue_shows_active_tickets_nearest_deadline_first(
    db: sqlite_utils.Database,
) -> None:
    normal = new_ticket(db, "conv-normal", priority="normal", at=MONDAY_10)
    urgent = new_ticket(db, "conv-urgent", priority="urgent", at=rome(2026, 11, 23, 11))
    low = new_ticket(db, "conv-low", priority="low", at=rome(2026, 11, 23, 9))
    closed = new_ticket(db, "conv-closed", priority="urgent", at=rome(2026, 11, 23, 9))
    close_ticket(db, closed.id, "anna")
    queue = list_queue(db, MONDAY_10)
    assert [t.id for t in queue] == [urgent.id, normal.id, low.id]


def test_one_operator_claims_a_ticket(db: sqlite_utils.Database) -> None:
    ticket = new_ticket(db)
    assert claim_ticket(db, ticket.id, "anna")
    assert claim_ticket(db, ticket.id, "anna")  # already hers
    assert not claim_ticket(db, ticket.id, "bruno")
    claimed = get_ticket(db, ticket.id)
    assert (claimed.status, claimed.assigned_to) == (STATUS_CLAIMED, "anna")
    assert [e.kind for e in ticket_events(db, ticket.id)] == [EVENT_CREATED, EVENT_CLAIMED]


def test_a_claimed_ticket_still_blocks_a_second_ticket(db: sqlite_utils.Database) -> None:
    ticket = new_ticket(db)
    claim_ticket(db, ticket.id, "anna")
    again, created = open_ticket(db, "conv-1", lang="it", policy=POLICY)
    assert not created and again.id == ticket.id


def test_two_threads_claiming_at_once_one_wins(tmp_path: Path) -> None:
    path = tmp_path / "sportello.db"
    ticket = new_ticket(open_db(path))
    operators = [f"operator-{i}" for i in range(8)]
    results: dict[str, bool] = {}
    start = threading.Barrier(len(operators))

    def claim(operator: str) -> None:
        db = open_db(path)
        start.wait()
        results[operator] = claim_ticket(db, ticket.id, operator)

    threads = [threading.Thread(target=claim, args=(op,)) for op in operators]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    winners = [op for op, won in results.items() if won]
    assert len(results) == len(operators)
    assert len(winners) == 1
    assert get_ticket(open_db(path), ticket.id).assigned_to == winners[0]


def _claim_in_process(path: str, ticket_id: int, operator: str, start_at: float) -> bool:
    while time.time() < start_at:
        time.sleep(0.001)
    return claim_ticket(open_db(path), ticket_id, operator)


def test_two_processes_claiming_at_once_one_wins(tmp_path: Path) -> None:
    path = tmp_path / "sportello.db"
    ticket = new_ticket(open_db(path))
    context = multiprocessing.get_context("spawn")
    start_at = time.time() + 3  # both processes are up by then
    with context.Pool(2) as pool:
        results = pool.starmap(
            _claim_in_process,
            [(str(path), ticket.id, "anna", start_at), (str(path), ticket.id, "bruno", start_at)],
        )
    assert sorted(results) == [False, True]
    winner = "anna" if results[0] else "bruno"
    assert get_ticket(open_db(path), ticket.id).assigned_to == winner


def test_an_answer_goes_to_the_outbox_first(db: sqlite_utils.Database) -> None:
    ticket = new_ticket(db)
    answered_at = rome(2026, 11, 23, 11)
    message = answer_ticket(
        db, ticket.id, "anna", "  Buongiorno, controllo subito.  ", now=answered_at
    )
    assert (message.role, message.text, message.author) == (
        "operator",
        "Buongiorno, controllo subito.",
        "anna",
    )
    assert not message.delivered
    assert pending_answers(db) == [message]
    after = get_ticket(db, ticket.id)
    assert (after.status, after.assigned_to) == (STATUS_CLAIMED, "anna")
    assert after.first_response_at == utc(answered_at)
    # A second answer keeps the first-response time.
    answer_ticket(db, ticket.id, "anna", "Fatto.", now=rome(2026, 11, 23, 12))
    assert get_ticket(db, ticket.id).first_response_at == utc(answered_at)
    assert [e.kind for e in ticket_events(db, ticket.id)] == [
        EVENT_CREATED,
        EVENT_CLAIMED,
        EVENT_ANSWERED,
        EVENT_ANSWERED,
    ]
    mark_delivered(db, [message.id])
    assert get_message(db, message.id).delivered
    assert [m.text for m in pending_answers(db)] == ["Fatto."]


def test_only_the_holder_answers_and_nobody_answers_a_closed_ticket(
    db: sqlite_utils.Database,
) -> None:
    ticket = new_ticket(db)
    claim_ticket(db, ticket.id, "anna")
    with pytest.raises(TicketClaimedError):
        answer_ticket(db, ticket.id, "bruno", "Ciao")
    with pytest.raises(TicketClaimedError):
        close_ticket(db, ticket.id, "bruno")
    with pytest.raises(ValueError):
        answer_ticket(db, ticket.id, "anna", "   ")
    close_ticket(db, ticket.id, "anna")
    with pytest.raises(TicketClosedError):
        answer_ticket(db, ticket.id, "anna", "Ciao")
    assert not claim_ticket(db, ticket.id, "anna")
    assert pending_answers(db) == []


def test_an_answer_survives_an_unreachable_rasa(
    db: sqlite_utils.Database, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("SPORTELLO_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("SPORTELLO_RASA_PORT", str(_closed_port()))
    get_settings.cache_clear()
    try:
        ticket = new_ticket(db, channel="socketio")
        message = answer_ticket(db, ticket.id, "anna", "Eccomi")
    finally:
        get_settings.cache_clear()
    assert not message.delivered
    assert pending_answers(db) == [message]


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_closing_records_who_and_when(db: sqlite_utils.Database) -> None:
    ticket = new_ticket(db)
    closed_at = rome(2026, 11, 23, 12)
    close_ticket(db, ticket.id, "anna", now=closed_at)
    close_ticket(db, ticket.id, "anna")  # twice is harmless
    closed = get_ticket(db, ticket.id)
    assert (closed.status, closed.closed_by, closed.closed_at) == (
        STATUS_CLOSED,
        "anna",
        utc(closed_at),
    )
    assert not closed.resume_delivered
    assert closed_awaiting_resume(db) == [closed]
    assert [e.kind for e in ticket_events(db, ticket.id)] == [EVENT_CREATED, EVENT_CLOSED]
    assert get_open_ticket(db, "conv-1") is None
    assert latest_ticket(db, "conv-1") == closed


def test_customer_messages_and_email_are_kept(db: sqlite_utils.Database) -> None:
    ticket = new_ticket(db)
    record_customer_message(db, ticket.id, "ci siete?")
    set_customer_email(db, ticket.id, "mario@example.it")
    assert [m.text for m in ticket_messages(db, ticket.id)] == ["ci siete?"]
    assert get_ticket(db, ticket.id).customer_email == "mario@example.it"


# ---- SLA monitoring -----------------------------------------------------------------------


def test_check_sla_flags_at_risk_then_breach_once(db: sqlite_utils.Database) -> None:
    ticket = new_ticket(db)  # first response due Monday 15:00
    assert check_sla(db, POLICY, rome(2026, 11, 23, 11)) == []
    # 3 of 4 business hours gone at 13:00 (75%): at risk.
    at_risk = check_sla(db, POLICY, rome(2026, 11, 23, 14, 30))
    assert [(e.kind, e.detail) for e in at_risk] == [(EVENT_AT_RISK, TARGET_FIRST_RESPONSE)]
    assert check_sla(db, POLICY, rome(2026, 11, 23, 14, 31)) == []
    assert get_ticket(db, ticket.id).at_risk

    breached = check_sla(db, POLICY, rome(2026, 11, 23, 15, 1))
    assert [(e.kind, e.detail) for e in breached] == [
        (EVENT_BREACHED, TARGET_FIRST_RESPONSE),
        (EVENT_ESCALATED, "level 1 (first_response)"),
    ]
    # Idempotent, also from another connection (a restarted monitor).
    assert check_sla(db, POLICY, rome(2026, 11, 23, 15, 2)) == []
    restarted = open_db(db.conn.execute("PRAGMA database_list").fetchone()[2])
    assert check_sla(restarted, POLICY, rome(2026, 11, 23, 16)) == []
    after = get_ticket(db, ticket.id)
    assert (after.breached, after.escalation_level) == (True, 1)


def test_a_resolution_breach_escalates_one_more_level(db: sqlite_utils.Database) -> None:
    ticket = new_ticket(db)
    answer_ticket(db, ticket.id, "anna", "Ci penso io", now=rome(2026, 11, 23, 11))
    events = check_sla(db, POLICY, rome(2026, 11, 25, 10, 1))
    assert [(e.kind, e.detail) for e in events] == [
        (EVENT_BREACHED, TARGET_RESOLUTION),
        (EVENT_ESCALATED, "level 1 (resolution)"),
    ]
    assert get_ticket(db, ticket.id).escalation_level == 1


def test_an_answer_clears_the_at_risk_flag(db: sqlite_utils.Database) -> None:
    ticket = new_ticket(db)
    check_sla(db, POLICY, rome(2026, 11, 23, 14, 30))
    assert get_ticket(db, ticket.id).at_risk
    answer_ticket(db, ticket.id, "anna", "Eccomi", now=rome(2026, 11, 23, 14, 40))
    assert check_sla(db, POLICY, rome(2026, 11, 23, 14, 45)) == []
    assert not get_ticket(db, ticket.id).at_risk


def test_closed_tickets_are_not_monitored(db: sqlite_utils.Database) -> None:
    ticket = new_ticket(db)
    close_ticket(db, ticket.id, "anna", now=rome(2026, 11, 23, 11))
    assert check_sla(db, POLICY, rome(2026, 12, 1, 12)) == []


def test_a_first_release_database_is_migrated(tmp_path: Path) -> None:
    """Tickets written before SLAs existed keep working and get deadlines."""
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    conn.executescript(
        """
        CREATE TABLE tickets (
            id INTEGER PRIMARY KEY, conversation_id TEXT NOT NULL, customer_id TEXT,
            channel TEXT, lang TEXT NOT NULL, reason TEXT NOT NULL, status TEXT NOT NULL,
            created_at TEXT NOT NULL, transcript TEXT NOT NULL DEFAULT '[]');
        CREATE UNIQUE INDEX tickets_one_open_per_conversation
            ON tickets(conversation_id) WHERE status = 'open';
        INSERT INTO tickets (conversation_id, lang, reason, status, created_at, transcript)
            VALUES ('old-conv', 'en', 'asked_for_human', 'open', '2026-11-23T09:00:00+00:00', '[]');
        """
    )
    conn.commit()
    conn.close()
    db = open_db(path)
    [old] = list_tickets(db)
    assert (old.priority, old.first_response_due, old.escalation_level) == ("normal", None, 0)
    check_sla(db, POLICY, rome(2026, 11, 23, 10, 30))
    assert get_ticket(db, old.id).first_response_due == utc(rome(2026, 11, 23, 15))
    claim_ticket(db, old.id, "anna")
    with pytest.raises(sqlite3.IntegrityError, match="UNIQUE"):
        db["tickets"].insert(
            {
                "conversation_id": "old-conv",
                "lang": "en",
                "reason": REASON_ASKED_FOR_HUMAN,
                "status": STATUS_OPEN,
                "created_at": "2026-11-23T10:00:00+00:00",
                "transcript": "[]",
            }
        )


def test_take_over_moves_a_claimed_ticket_and_logs_who_had_it(db) -> None:
    ticket, _ = open_ticket(db, "conv-take-over", lang="it")
    assert claim_ticket(db, ticket.id, "anna")
    assert take_over_ticket(db, ticket.id, "carla") == "anna"
    assert get_ticket(db, ticket.id).assigned_to == "carla"
    with pytest.raises(TicketClaimedError):
        answer_ticket(db, ticket.id, "anna", "troppo tardi")
    close_ticket(db, ticket.id, "carla")
    with pytest.raises(TicketClosedError):
        take_over_ticket(db, ticket.id, "dario")
