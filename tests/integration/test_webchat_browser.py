"""The chat page in headless Chromium talks to the real Rasa server over socket.io.

This is the customer's real path: the widget greets through ``/greet``, the customer
types a question, the answer comes back from the knowledge base through the action
server. It also proves the socket.io channel fix (as shipped, Rasa 3.6 never delivers
``bot_uttered`` with session persistence on).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from knowledge.store import get_article
from sportello.db import open_db
from sportello.settings import Settings
from tests.browser import chromium

pytestmark = [pytest.mark.integration, pytest.mark.browser]

GREETING = {"it": "Ciao! Sono l'assistente virtuale", "en": "Hi! I'm the customer service"}


@pytest.mark.parametrize(
    ("lang", "question", "article_id"),
    [
        ("it", "quanto costa la spedizione?", "spedizione-costi"),
        ("en", "how long does delivery take?", "spedizione-tempi"),
    ],
)
def test_customer_asks_in_the_browser_and_gets_the_article(
    stack: Settings, artifacts_dir: Path, lang: str, question: str, article_id: str
) -> None:
    expected = get_article(open_db(stack.db_path), article_id, lang)
    assert expected is not None
    page_url = f"http://{stack.host}:{stack.web_port}/?lang={lang}"
    with chromium() as browser:
        page = browser.new_page()
        page.goto(page_url, wait_until="load")
        widget = page.locator("#webchat .rw-widget-embedded")
        # The greeting, in the page's language, proves the socket.io round trip.
        widget.locator(".rw-response", has_text=GREETING[lang]).wait_for(timeout=30_000)

        field = widget.locator("textarea.rw-new-message")
        field.fill(question)
        field.press("Enter")
        widget.locator(".rw-client", has_text=question).wait_for(timeout=10_000)
        widget.locator(".rw-response", has_text=expected.answer[:60]).wait_for(timeout=30_000)
        page.screenshot(path=str(artifacts_dir / f"webchat-{lang}.png"), full_page=True)
