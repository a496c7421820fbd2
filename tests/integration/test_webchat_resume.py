"""The web chat survives a closed tab (issue 19, part 4), in headless Chromium on the
real stack: the customer escalates, closes the page, an operator answers in the console
while nobody is connected, and opening the page again shows the answer and the ticket's
state; "delete this conversation from this browser" forgets it all.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

from desk import tickets
from desk.users import create_user
from sportello.settings import Settings
from tests.browser import chromium
from tests.databases import open_db
from tests.integration.test_console_to_customer import csrf_of, logged_in

pytestmark = [pytest.mark.integration, pytest.mark.browser]

T = TypeVar("T")
GREETING = "Ciao! Sono l'assistente virtuale"
HANDED_OVER = "Ho passato la conversazione al servizio clienti"
PASSWORD = "integration-password-1"


def eventually(check: Callable[[], T | None], what: str, timeout: float = 60.0) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"no {what} after {timeout:.0f} s"
        time.sleep(0.5)


def open_chat(context: Any, url: str) -> tuple[Any, Any]:
    page = context.new_page()
    page.goto(url, wait_until="load")
    widget = page.locator("#webchat .rw-widget-embedded")
    widget.locator("textarea.rw-new-message").wait_for(timeout=30_000)
    return page, widget


def send(widget: Any, text: str) -> None:
    field = widget.locator("textarea.rw-new-message")
    field.fill(text)
    field.press("Enter")
    widget.locator(".rw-client", has_text=text).wait_for(timeout=10_000)


def session_of(page: Any) -> str:
    return page.evaluate("JSON.parse(localStorage.getItem('chat_session')).session_id")


def answer_in_console(stack: Settings, ticket_id: int, text: str) -> None:
    username = f"op{uuid.uuid4().hex[:6]}"
    create_user(open_db(stack.db_path), username, PASSWORD, "operator")
    console = logged_in(stack, username, PASSWORD)
    token = csrf_of(console.get(f"/tickets/{ticket_id}"))
    sent = console.post(f"/tickets/{ticket_id}/answer", data={"csrf_token": token, "text": text})
    assert sent.status_code == 303


def test_closed_tab_then_the_operator_answers_then_the_page_shows_it(
    stack: Settings, artifacts_dir: Path
) -> None:
    db = open_db(stack.db_path)
    url = f"http://127.0.0.1:{stack.web_port}/?lang=it"
    answer = f"Buongiorno, sono Luca: il rimborso {uuid.uuid4().hex[:6]} è stato emesso oggi."
    with chromium() as browser:
        context = browser.new_context()
        page, widget = open_chat(context, url)
        widget.locator(".rw-response", has_text=GREETING).wait_for(timeout=30_000)
        send(widget, "voglio parlare con una persona")
        widget.locator(".rw-response", has_text=HANDED_OVER).wait_for(timeout=30_000)
        session = session_of(page)
        ticket = eventually(lambda: tickets.get_open_ticket(db, session), "ticket")
        assert ticket.channel == "socketio"
        page.close()  # the customer closes the tab; the browser keeps its storage

        answer_in_console(stack, ticket.id, answer)
        eventually(
            lambda: [m for m in tickets.ticket_messages(db, ticket.id) if m.delivered],
            "answer delivered to the (empty) socket.io room",
        )

        page, widget = open_chat(context, url)
        widget.locator(".rw-response", has_text=answer).wait_for(timeout=30_000)
        state = page.locator("#chat-state")
        state.wait_for(timeout=10_000)
        assert state.inner_text() == f"Un operatore ha risposto alla tua richiesta n. {ticket.id}."
        assert session_of(page) == session  # the same conversation continues
        page.screenshot(path=str(artifacts_dir / "webchat-resumed.png"), full_page=True)
        # The earlier messages are there too, and nothing was said twice.
        assert widget.locator(".rw-response", has_text=GREETING).count() == 1
        assert widget.locator(".rw-client", has_text="voglio parlare").count() == 1

        # Writing on goes to the operator, on the same ticket.
        send(widget, "grazie, controllo e vi faccio sapere")
        eventually(
            lambda: any(
                m.text == "grazie, controllo e vi faccio sapere"
                for m in tickets.ticket_messages(db, ticket.id)
            ),
            "follow-up on the ticket",
        )
        page.close()

        # Opened once more: the answer is not added a second time.
        page, widget = open_chat(context, url)
        widget.locator(".rw-response", has_text=answer).wait_for(timeout=30_000)
        page.wait_for_timeout(1500)
        assert widget.locator(".rw-response", has_text=answer).count() == 1
        kept = page.evaluate("JSON.parse(localStorage.getItem('sportello_chat'))")
        assert kept["session_id"] == session
        days_left = (kept["expires_at"] / 1000 - time.time()) / 86400
        assert 6.9 < days_left <= 7.0

        # "Cancella questa conversazione da questo browser": a fresh chat, nothing kept.
        page.get_by_role("button", name="Cancella questa conversazione da questo browser").click()
        page.wait_for_load_state("load")
        widget = page.locator("#webchat .rw-widget-embedded")
        widget.locator(".rw-response", has_text=GREETING).wait_for(timeout=30_000)
        assert widget.locator(".rw-response", has_text=answer).count() == 0
        assert session_of(page) != session
        assert page.locator("#chat-state").is_hidden()


def test_a_conversation_past_its_days_is_forgotten_by_the_browser(stack: Settings) -> None:
    url = f"http://127.0.0.1:{stack.web_port}/?lang=en"
    with chromium() as browser:
        context = browser.new_context()
        page, widget = open_chat(context, url)
        widget.locator(".rw-response", has_text="Hi!").wait_for(timeout=30_000)
        send(widget, "how much is shipping?")
        widget.locator(".rw-response").nth(1).wait_for(timeout=30_000)  # the bot's answer
        old = session_of(page)
        page.evaluate(
            "() => { const kept = JSON.parse(localStorage.getItem('sportello_chat'));"
            " kept.expires_at = Date.now() - 1000;"
            " localStorage.setItem('sportello_chat', JSON.stringify(kept)); }"
        )
        page.close()
        page, widget = open_chat(context, url)
        widget.locator(".rw-response", has_text="Hi!").wait_for(timeout=30_000)
        assert widget.locator(".rw-client", has_text="how much is shipping?").count() == 0
        eventually(lambda: session_of(page) != old, "a new session")
