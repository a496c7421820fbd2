"""The console's tickets over HTTP: roles, the ticket page, claim, answer, close, the queue."""

from __future__ import annotations

import re
import threading
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest
import sqlite_utils
from fastapi import FastAPI
from fastapi.testclient import TestClient

from desk import tickets
from desk.console.app import create_app
from desk.console.text import UI_TEXT
from desk.delivery import INTENT_OPERATOR_MESSAGE, INTENT_TICKET_CLOSED
from sportello import clock
from sportello.settings import Settings
from tests.desk.console.conftest import (
    logged_in,
    page_token,
)
from tests.desk.fake_rasa import fake_rasa

# --- roles --------------------------------------------------------------------------------


def test_marketing_sees_the_insights_and_no_tickets(
    client: TestClient, people: dict, ticket: tickets.Ticket
) -> None:
    logged_in(client, "mara")
    assert client.get("/").headers["location"] == "/insights"
    insights = client.get("/insights")
    assert insights.status_code == 200
    assert UI_TEXT["it"]["insights_title"] in insights.text and 'id="figures"' in insights.text
    assert client.get("/queue").status_code == 403
    assert client.get(f"/tickets/{ticket.id}").status_code == 403
    assert client.get("/api/queue").status_code == 403
    token = page_token(client)
    for action in ("claim", "answer", "close"):
        response = client.post(
            f"/tickets/{ticket.id}/{action}", data={"csrf_token": token, "text": "hi"}
        )
        assert response.status_code == 403, action
    assert "Il pacco" not in client.get("/queue").text


@pytest.mark.parametrize("username", ["anna", "sara"])
def test_operators_and_supervisors_work_tickets(
    client: TestClient, people: dict, ticket: tickets.Ticket, username: str
) -> None:
    logged_in(client, username)
    assert client.get("/queue").status_code == 200
    assert client.get(f"/tickets/{ticket.id}").status_code == 200
    assert client.get("/api/queue").json()[0]["id"] == ticket.id


# --- the ticket page ----------------------------------------------------------------------


def test_customer_text_is_escaped(
    client: TestClient, db: sqlite_utils.Database, people: dict
) -> None:
    hostile = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    created, _ = tickets.open_ticket(
        db,
        "conv-xss",
        lang="en",
        channel="rest",
        customer_id='"><b>cust</b>',
        transcript=[{"role": "customer", "text": hostile, "timestamp": 1.0}],
    )
    tickets.record_customer_message(db, created.id, "</p><script>steal()</script>")
    logged_in(client, "anna")
    html = client.get(f"/tickets/{created.id}").text
    assert "<script>" not in html
    assert "<img" not in html
    assert "<b>cust</b>" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html
    assert "&lt;/p&gt;&lt;script&gt;steal()&lt;/script&gt;" in html


def test_ticket_page_shows_transcript_language_and_buttons(
    client: TestClient, people: dict, ticket: tickets.Ticket
) -> None:
    logged_in(client, "anna")
    html = client.get(f"/tickets/{ticket.id}").text
    assert "Il pacco è arrivato rotto" in html
    assert "Mi dispiace! Ti passo a un operatore." in html
    assert UI_TEXT["it"]["lang_it"] in html
    for button in ("claim", "send-answer", "close-ticket"):
        assert f'id="{button}"' in html
    assert client.get("/tickets/999").status_code == 404


def test_claim_answer_close(
    client: TestClient, db: sqlite_utils.Database, people: dict, ticket: tickets.Ticket
) -> None:
    logged_in(client, "anna")
    token = page_token(client)
    response = client.post(f"/tickets/{ticket.id}/claim", data={"csrf_token": token})
    assert response.status_code == 303
    assert tickets.get_ticket(db, ticket.id).assigned_to == "anna"
    assert UI_TEXT["it"]["claimed_by_you"] in client.get(f"/tickets/{ticket.id}").text

    response = client.post(
        f"/tickets/{ticket.id}/answer",
        data={"csrf_token": token, "text": "  Ci scusiamo: la rimborsiamo subito.  "},
    )
    assert response.status_code == 303
    answer = tickets.ticket_messages(db, ticket.id)[-1]
    assert (answer.role, answer.author, answer.text) == (
        "operator",
        "anna",
        "Ci scusiamo: la rimborsiamo subito.",
    )
    page = client.get(f"/tickets/{ticket.id}").text
    assert UI_TEXT["it"]["answer_sent"] in page
    assert "Ci scusiamo: la rimborsiamo subito." in page

    response = client.post(f"/tickets/{ticket.id}/close", data={"csrf_token": token})
    assert response.status_code == 303 and response.headers["location"] == "/queue"
    assert tickets.get_ticket(db, ticket.id).status == tickets.STATUS_CLOSED
    queue = client.get("/queue").text
    assert f'href="/tickets/{ticket.id}"' not in queue
    assert UI_TEXT["it"]["ticket_closed"] in queue
    again = client.post(f"/tickets/{ticket.id}/answer", data={"csrf_token": token, "text": "x"})
    assert again.status_code == 409


def test_the_console_delivers_the_answer_and_the_close_at_once(
    settings: Settings, db: sqlite_utils.Database, people: dict, ticket: tickets.Ticket
) -> None:
    """Delivery is the console's job, after each commit, through the console's settings."""
    with fake_rasa() as rasa:
        app = create_app(replace(settings, rasa_port=rasa.port), failure_delay=0)
        client = logged_in(TestClient(app, follow_redirects=False), "anna")
        token = page_token(client)
        client.post(f"/tickets/{ticket.id}/answer", data={"csrf_token": token, "text": "Eccomi"})
        assert tickets.ticket_messages(db, ticket.id)[-1].delivered
        client.post(f"/tickets/{ticket.id}/close", data={"csrf_token": token})
    assert rasa.intents == [("conv-1", INTENT_OPERATOR_MESSAGE), ("conv-1", INTENT_TICKET_CLOSED)]
    assert tickets.get_ticket(db, ticket.id).resume_delivered


def test_empty_or_oversized_answers_are_refused(
    client: TestClient, db: sqlite_utils.Database, people: dict, ticket: tickets.Ticket
) -> None:
    logged_in(client, "anna")
    token = page_token(client)
    for text in ("", "   ", "x" * 4001):
        response = client.post(
            f"/tickets/{ticket.id}/answer", data={"csrf_token": token, "text": text}
        )
        assert response.status_code == 422
    assert [m.role for m in tickets.ticket_messages(db, ticket.id)] == ["customer", "bot"]


def test_second_operator_cannot_claim_answer_or_close(
    client: TestClient,
    other_client: TestClient,
    db: sqlite_utils.Database,
    people: dict,
    ticket: tickets.Ticket,
) -> None:
    logged_in(client, "anna")
    logged_in(other_client, "bruno")
    anna_token, bruno_token = page_token(client), page_token(other_client)
    assert (
        client.post(f"/tickets/{ticket.id}/claim", data={"csrf_token": anna_token}).status_code
        == 303
    )

    refused = other_client.post(f"/tickets/{ticket.id}/claim", data={"csrf_token": bruno_token})
    assert refused.status_code == 409
    assert UI_TEXT["it"]["claim_refused"].format(who="anna") in refused.text

    page = other_client.get(f"/tickets/{ticket.id}").text
    assert UI_TEXT["it"]["claimed_by_other"].format(who="anna") in page
    assert 'id="send-answer"' not in page

    answer = other_client.post(
        f"/tickets/{ticket.id}/answer", data={"csrf_token": bruno_token, "text": "Bruno here"}
    )
    assert answer.status_code == 403
    close = other_client.post(f"/tickets/{ticket.id}/close", data={"csrf_token": bruno_token})
    assert close.status_code == 403
    after = tickets.get_ticket(db, ticket.id)
    assert (after.status, after.assigned_to) == (tickets.STATUS_CLAIMED, "anna")
    assert all(m.author != "bruno" for m in tickets.ticket_messages(db, ticket.id))


def test_simultaneous_claims_have_one_winner(
    app: FastAPI,
    db: sqlite_utils.Database,
    people: dict,
    ticket: tickets.Ticket,
) -> None:
    clients = {
        name: logged_in(TestClient(app, follow_redirects=False), name) for name in ("anna", "bruno")
    }
    tokens = {name: page_token(c) for name, c in clients.items()}
    barrier = threading.Barrier(2)
    codes: dict[str, int] = {}

    def claim(name: str) -> None:
        barrier.wait()
        response = clients[name].post(
            f"/tickets/{ticket.id}/claim", data={"csrf_token": tokens[name]}
        )
        codes[name] = response.status_code

    threads = [threading.Thread(target=claim, args=(name,)) for name in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(codes.values()) == [303, 409]
    winner = next(name for name, code in codes.items() if code == 303)
    assert tickets.get_ticket(db, ticket.id).assigned_to == winner


def test_answering_an_unclaimed_ticket_claims_it(
    client: TestClient,
    db: sqlite_utils.Database,
    people: dict,
    ticket: tickets.Ticket,
) -> None:
    logged_in(client, "bruno")
    response = client.post(
        f"/tickets/{ticket.id}/answer", data={"csrf_token": page_token(client), "text": "Eccomi"}
    )
    assert response.status_code == 303
    assert tickets.get_ticket(db, ticket.id).assigned_to == "bruno"


def test_operator_actions_are_stamped_by_the_consoles_clock(
    settings: Settings, db: sqlite_utils.Database, people: dict, ticket: tickets.Ticket
) -> None:
    """One clock for the console: the deadlines it shows and the times it records agree."""
    now = datetime(2026, 11, 24, 9, 30, tzinfo=timezone.utc)
    client = TestClient(
        create_app(settings, clock=lambda: now, failure_delay=0), follow_redirects=False
    )
    logged_in(client, "anna")
    token = page_token(client)
    client.post(f"/tickets/{ticket.id}/answer", data={"csrf_token": token, "text": "Eccomi."})
    client.post(f"/tickets/{ticket.id}/close", data={"csrf_token": token})
    stored = tickets.get_ticket(db, ticket.id)
    assert clock.parse_time(stored.first_response_at) == now
    assert clock.parse_time(stored.closed_at) == now
    assert clock.parse_time(tickets.ticket_messages(db, ticket.id)[-1].created_at) == now


def test_supervisor_takes_over_a_ticket_an_operator_holds(
    client: TestClient,
    other_client: TestClient,
    db: sqlite_utils.Database,
    people: dict,
    ticket: tickets.Ticket,
) -> None:
    logged_in(client, "anna")
    anna_token = page_token(client)
    client.post(f"/tickets/{ticket.id}/claim", data={"csrf_token": anna_token})

    # An operator sees no take-over button and is refused if they post anyway.
    assert (
        'id="take-over"' not in logged_in(other_client, "bruno").get(f"/tickets/{ticket.id}").text
    )
    bruno_token = page_token(other_client)
    refused = other_client.post(f"/tickets/{ticket.id}/take-over", data={"csrf_token": bruno_token})
    assert refused.status_code == 403
    assert tickets.get_ticket(db, ticket.id).assigned_to == "anna"

    other_client.post("/logout", data={"csrf_token": bruno_token})
    logged_in(other_client, "sara")
    assert 'id="take-over"' in other_client.get(f"/tickets/{ticket.id}").text
    sara_token = page_token(other_client)
    taken = other_client.post(f"/tickets/{ticket.id}/take-over", data={"csrf_token": sara_token})
    assert taken.status_code == 303
    assert tickets.get_ticket(db, ticket.id).assigned_to == "sara"
    answered = other_client.post(
        f"/tickets/{ticket.id}/answer", data={"csrf_token": sara_token, "text": "Ci penso io."}
    )
    assert answered.status_code == 303
    events = [(e.kind, e.actor, e.detail) for e in tickets.ticket_events(db, ticket.id)]
    assert ("taken_over", "sara", "anna") in events


# --- the queue ----------------------------------------------------------------------------


def test_queue_orders_by_deadline_with_badges(
    settings: Settings, db: sqlite_utils.Database, people: dict
) -> None:
    opened = datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc)  # a Monday, 10:00 in Rome
    low, _ = tickets.open_ticket(db, "c-low", lang="en", priority="low", now=opened)
    urgent, _ = tickets.open_ticket(
        db, "c-urgent", lang="it", channel="socketio", priority="urgent", now=opened
    )
    normal, _ = tickets.open_ticket(db, "c-normal", lang="it", priority="normal", now=opened)
    # Just past the urgent ticket's first-response deadline.
    now = clock.parse_time(urgent.first_response_due) + timedelta(minutes=5)
    assert now < clock.parse_time(normal.first_response_due)
    client = TestClient(
        create_app(settings, clock=lambda: now, failure_delay=0), follow_redirects=False
    )
    logged_in(client, "anna")
    html = client.get("/queue").text
    order = [int(n) for n in re.findall(r'data-ticket="(\d+)"', html)]
    assert order == [urgent.id, normal.id, low.id]
    assert '<meta http-equiv="refresh" content="30">' in html
    states = {
        int(tid): state
        for state, tid in re.findall(r'<tr class="sla-(\w+)" data-ticket="(\d+)"', html)
    }
    assert states[urgent.id] == "breached"
    assert states[low.id] == "ok"
    assert "scaduto da 5 min" in html
    assert 'class="flag flag-it"' in html and 'class="flag flag-en"' in html
    assert UI_TEXT["it"]["priority_urgent"] in html


def test_queue_shows_at_risk_breach_and_escalation(
    settings: Settings, db: sqlite_utils.Database, people: dict
) -> None:
    opened = datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc)
    first, _ = tickets.open_ticket(db, "c-1", lang="it", priority="high", now=opened)
    second, _ = tickets.open_ticket(db, "c-2", lang="it", priority="low", now=opened)
    due = clock.parse_time(first.first_response_due)
    policy = tickets.configured_policy()

    def queue_at(now: datetime) -> tuple[str, dict[int, dict]]:
        app = create_app(settings, clock=lambda: now, failure_delay=0)
        client = logged_in(TestClient(app, follow_redirects=False), "anna")
        return client.get("/queue").text, {
            row["id"]: row for row in client.get("/api/queue").json()
        }

    tickets.check_sla(db, policy, due - timedelta(minutes=1))
    assert tickets.get_ticket(db, first.id).at_risk
    html, api = queue_at(due - timedelta(minutes=1))
    assert f'<tr class="sla-at_risk" data-ticket="{first.id}">' in html
    assert UI_TEXT["it"]["sla_at_risk"] in html
    assert api[first.id]["sla"] == "at_risk"

    tickets.check_sla(db, policy, due + timedelta(minutes=1))
    flagged = tickets.get_ticket(db, first.id)
    assert flagged.breached and flagged.escalation_level == 1
    html, api = queue_at(due + timedelta(minutes=1))
    assert f'<tr class="sla-breached" data-ticket="{first.id}">' in html
    assert UI_TEXT["it"]["escalated"].format(level=1) in html
    assert api[first.id]["sla"] == "breached" and api[first.id]["escalation_level"] == 1
    assert api[second.id]["sla"] == "ok"


def test_empty_queue_says_so(client: TestClient, people: dict) -> None:
    logged_in(client, "anna")
    assert UI_TEXT["it"]["queue_empty"] in client.get("/queue").text
