"""An operator works a ticket in headless Chromium, against the console served by uvicorn.

Log in, open the queue, open the ticket, claim it, type and send an answer, close it.
The console runs on a free loopback port over a temporary data directory; the user and
the ticket are created through the library, exactly as the CLI and the bot do. The
ticket is a REST customer's, so the answer waits in the outbox for the customer's next
request and nothing needs a Rasa server. The screenshot of the ticket page after the
answer is saved as test-artifacts/console-ticket.png (the queue as console-queue.png).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from desk import tickets, users
from desk.console.app import create_app
from desk.console.text import UI_TEXT
from sportello.settings import Settings, get_settings
from tests.browser import chromium
from tests.databases import open_db
from tests.servers import free_port, serving

pytestmark = [pytest.mark.integration, pytest.mark.browser]

PASSWORD = "browser-test-passphrase"
HOSTILE = "Il pacco è rotto <script>alert('x')</script> <b>aiuto</b>"
ANSWER = "Ci dispiace molto: le spediamo subito un pacco nuovo."
TEXT = UI_TEXT["it"]


@pytest.fixture
def console_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    # The ticket library delivers through the process-wide settings: same directory,
    # and a Rasa port where nothing listens.
    monkeypatch.setenv("SPORTELLO_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("SPORTELLO_RASA_PORT", str(free_port()))
    monkeypatch.delenv("SPORTELLO_SECRET_KEY", raising=False)
    get_settings.cache_clear()
    yield get_settings()
    get_settings.cache_clear()


@pytest.fixture
def console_url(console_settings: Settings) -> Iterator[str]:
    with serving(create_app(console_settings), "console") as url:
        yield url


def test_operator_answers_and_closes_a_ticket_in_the_browser(
    console_settings: Settings, console_url: str, artifacts_dir: Path
) -> None:
    db = open_db(console_settings.db_path)
    users.create_user(db, "giulia", PASSWORD, "operator")
    ticket, _ = tickets.open_ticket(
        db,
        "conv-browser",
        lang="it",
        channel="rest",
        customer_id="cliente-42",
        priority="high",
        transcript=[
            {"role": "customer", "text": HOSTILE, "timestamp": time.time() - 120},
            {"role": "bot", "text": "Ti passo a un operatore.", "timestamp": time.time() - 60},
        ],
    )

    with chromium() as browser:
        page = browser.new_page(locale="it-IT", viewport={"width": 1200, "height": 900})
        problems: list[str] = []
        page.on("pageerror", lambda error: problems.append(str(error)))
        page.on("dialog", lambda dialog: problems.append(f"dialog: {dialog.message}"))
        page.on(
            "console",
            lambda m: problems.append(m.text) if m.type in ("error", "warning") else None,
        )

        page.goto(f"{console_url}/queue", wait_until="load")
        assert page.url.startswith(f"{console_url}/login")
        page.fill("#username", "giulia")
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{console_url}/queue")
        assert page.locator("h1").inner_text() == TEXT["queue_title"]
        row = page.locator(f'tr[data-ticket="{ticket.id}"]')
        assert TEXT["status_open"] in row.inner_text()
        page.screenshot(path=str(artifacts_dir / "console-queue.png"), full_page=True)

        row.locator(f'a[href="/tickets/{ticket.id}"]').click()
        page.wait_for_url(f"{console_url}/tickets/{ticket.id}")
        # The customer's markup is shown as text, never run or rendered.
        assert page.locator(".message-customer .text").first.inner_text() == HOSTILE
        assert page.locator(".message-customer b").count() == 0

        page.click("#claim")
        page.wait_for_selector("#claimed-by")
        assert page.locator("#claimed-by").inner_text() == TEXT["claimed_by_you"]
        assert page.locator("#claim").count() == 0

        page.fill("#answer-text", ANSWER)
        page.click("#send-answer")
        page.wait_for_selector(".message-operator")
        assert page.locator(".message-operator .text").inner_text() == ANSWER
        assert TEXT["answer_sent"] in page.locator(".notice").first.inner_text()
        page.screenshot(path=str(artifacts_dir / "console-ticket.png"), full_page=True)

        page.click("#close-ticket")
        page.wait_for_url(f"{console_url}/queue")
        assert TEXT["ticket_closed"] in page.locator(".notice").first.inner_text()
        assert page.locator(f'tr[data-ticket="{ticket.id}"]').count() == 0

        page.click("#logout")
        page.wait_for_url(f"{console_url}/login")
        page.goto(f"{console_url}/queue", wait_until="load")
        assert page.url.startswith(f"{console_url}/login")
        assert problems == []

    closed = tickets.get_ticket(db, ticket.id)
    assert (closed.status, closed.closed_by) == (tickets.STATUS_CLOSED, "giulia")
    answer = tickets.ticket_messages(db, ticket.id)[-1]
    assert (answer.role, answer.author, answer.text) == ("operator", "giulia", ANSWER)
