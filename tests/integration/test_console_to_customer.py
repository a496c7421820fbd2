"""From a customer's conversation to an operator's answer typed in the console and back.

Everything runs for real: the customer talks to Rasa over REST, the ticket is opened by
the action server, the operator logs in to the console started by ``sportello run``'s
code and works the ticket through its HTTP forms (with their CSRF tokens), and the
answer reaches the customer's conversation through Rasa.
"""

from __future__ import annotations

import re
import uuid

import httpx
import pytest

from desk.tickets import get_open_ticket, get_ticket
from desk.users import create_user
from knowledge.store import get_article
from sportello.settings import Settings
from tests.databases import open_db
from tests.integration.rest import say, texts

pytestmark = pytest.mark.integration

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(page: httpx.Response) -> str:
    match = CSRF.search(page.text)
    assert match, f"no CSRF token in {page.url}"
    return match.group(1)


def logged_in(settings: Settings, username: str, password: str) -> httpx.Client:
    console = httpx.Client(base_url=f"http://{settings.host}:{settings.console_port}", timeout=30)
    login_page = console.get("/login")
    reply = console.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": csrf_of(login_page)},
    )
    assert reply.status_code == 303, reply.text[:300]
    return console


def test_operator_answer_from_the_console_reaches_the_rest_customer(stack: Settings) -> None:
    db = open_db(stack.db_path)
    username = f"op{uuid.uuid4().hex[:6]}"
    create_user(db, username, "integration-password-1", "operator")
    customer = f"console-{uuid.uuid4().hex[:8]}"

    say(stack, customer, "voglio parlare con una persona")
    ticket = get_open_ticket(db, customer)
    assert ticket is not None
    assert say(stack, customer, "il mio ordine 1234 non è arrivato") == []  # bot silent

    console = logged_in(stack, username, "integration-password-1")
    queue = console.get("/queue")
    assert queue.status_code == 200
    assert f"/tickets/{ticket.id}" in queue.text
    page = console.get(f"/tickets/{ticket.id}")
    assert "il mio ordine 1234 non è arrivato" in page.text
    token = csrf_of(page)

    claimed = console.post(f"/tickets/{ticket.id}/claim", data={"csrf_token": token})
    assert claimed.status_code == 303
    answer = "Ciao, sono Luca: il tuo ordine è partito ieri, arriva domani."
    sent = console.post(f"/tickets/{ticket.id}/answer", data={"csrf_token": token, "text": answer})
    assert sent.status_code == 303
    assert get_ticket(db, ticket.id).first_response_at is not None

    assert answer in texts(say(stack, customer, "grazie, aspetto"))

    closed = console.post(f"/tickets/{ticket.id}/close", data={"csrf_token": token})
    assert closed.status_code == 303
    assert get_ticket(db, ticket.id).status == "closed"
    shipping = get_article(db, "spedizione-costi", "it")
    assert shipping is not None
    assert shipping.answer in texts(say(stack, customer, "quanto costa la spedizione?"))


def test_console_refuses_work_without_a_session(stack: Settings) -> None:
    base = f"http://{stack.host}:{stack.console_port}"
    assert httpx.get(f"{base}/api/queue", timeout=10).status_code == 401
    queue = httpx.get(f"{base}/queue", timeout=10)
    assert queue.status_code in (302, 303, 307) and "/login" in queue.headers["location"]
