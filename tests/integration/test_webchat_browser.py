"""The chat page in headless Chromium talks to the real Rasa server over socket.io.

This is the customer's real path: the widget greets through ``/greet``, the customer
types a question, the answer comes back from the knowledge base through the action
server. It also proves the socket.io channel fix (as shipped, Rasa 3.6 never delivers
``bot_uttered`` with session persistence on), and that a long answer imported from a FAQ
web page reads well in the widget while HTML in an answer stays text.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from knowledge.importer import import_file
from knowledge.store import get_article, set_status
from sportello.settings import Settings
from tests.browser import chromium
from tests.databases import open_db

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


def _ask(widget, question: str, first_words: str, last_words: str):
    """Ask ``question``; the bot's reply, all of its bubbles (Rasa's socket.io channel sends
    each paragraph of an answer as its own message)."""
    field = widget.locator("textarea.rw-new-message")
    field.fill(question)
    field.press("Enter")
    reply = widget.locator(".rw-group-message.rw-from-response", has_text=first_words)
    reply.locator(".rw-response", has_text=last_words).wait_for(timeout=30_000)
    return reply


def test_a_long_answer_with_a_list_and_a_link_reads_well_and_html_stays_text(
    stack: Settings, tmp_path: Path, artifacts_dir: Path
) -> None:
    db = open_db(stack.db_path)
    page_url = f"http://{stack.host}:{stack.web_port}"
    # The company's FAQ page, as a browser saves it, imported as a company would.
    faq_page = tmp_path / "faq.html"
    faq_page.write_text(
        f"<!-- saved from url=(0040){page_url}/faq -->"
        '<html lang="it"><body><h2>Come si prenota una visita guidata alla torrefazione?</h2>'
        "<p>Le visite guidate alla torrefazione si tengono il sabato mattina e durano "
        "circa un'ora e mezza. Per prenotare:</p><ul>"
        "<li>scegli la data nel calendario delle visite sul nostro sito</li>"
        "<li>indica quante persone partecipano, al massimo venti per gruppo</li>"
        "<li>paga la quota di 8 € a persona, gratis per i bambini sotto i 12 anni</li></ul>"
        '<p>Il programma completo è nella <a href="/healthz">pagina delle visite</a>.<br>'
        "Per le scuole scrivi a scuole@example.com.</p>"
        "</body></html>",
        encoding="utf-8",
    )
    assert import_file(db, faq_page).errors == []
    # An answer typed with HTML in it (a JSONL export, an operator's paste).
    hostile = tmp_path / "hostile.jsonl"
    hostile.write_text(
        json.dumps(
            {
                "id": "hostile-markup-visit",
                "lang": "it",
                "question": "Posso portare il mio telescopio alla torrefazione di notte?",
                "answer": 'Risposta con markup <img src=x onerror="alert(1)"> '
                "<script>alert(2)</script> e [premi qui](javascript:alert(3)).",
            },
            ensure_ascii=False,
        ),
        encoding="utf-8",
    )
    assert import_file(db, hostile).errors == []
    visit_id = "come-si-prenota-una-visita-guidata-alla-torrefazione"
    try:
        with chromium() as browser:
            context = browser.new_context()
            dialogs: list[str] = []
            blocked: list[str] = []

            def watch(new_page) -> None:  # in this page and any window a link opens
                new_page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
                new_page.on("console", lambda m: blocked.append(m.text))

            context.on("page", watch)
            page = context.new_page()
            page.goto(f"{page_url}/?lang=it", wait_until="load")
            widget = page.locator("#webchat .rw-widget-embedded")
            widget.locator(".rw-response", has_text=GREETING["it"]).wait_for(timeout=30_000)

            answer = _ask(
                widget,
                "come si prenota una visita guidata alla torrefazione?",
                "Le visite guidate",
                "Per le scuole",
            )
            items = answer.locator("li")
            assert items.count() == 3
            tops = [items.nth(i).bounding_box()["y"] for i in range(3)]
            assert tops[0] < tops[1] < tops[2], "each list item starts its own line"
            assert items.nth(0).inner_text().startswith("scegli la data")
            link = answer.locator(f'a[href="{page_url}/healthz"]')
            assert link.inner_text() == "pagina delle visite"
            assert link.get_attribute("target") == "_blank"
            assert "noopener" in link.get_attribute("rel")
            # The <br> of the page is a line break in the chat too, not a folded space.
            paragraph = answer.locator("p", has_text="Per le scuole")
            assert "pagina delle visite.\nPer le scuole" in paragraph.inner_text()
            page.screenshot(path=str(artifacts_dir / "webchat-long-answer.png"), full_page=True)
            with page.expect_popup() as popup:
                link.click()
            popup.value.wait_for_load_state()
            assert popup.value.url == f"{page_url}/healthz"

            answer = _ask(
                widget,
                "posso portare il mio telescopio alla torrefazione di notte?",
                "Risposta con markup",
                "premi qui",
            )
            assert answer.locator("img, script, iframe").count() == 0
            assert "<script>alert(2)</script>" in answer.inner_text()
            answer.locator("a", has_text="premi qui").click()
            page.wait_for_timeout(1_000)
            assert dialogs == [], "no markup in an answer may run a script"
            # The widget keeps a javascript: link's address; the page's policy stops it.
            assert any("Running the JavaScript URL violates" in m for m in blocked)
    finally:
        set_status(db, visit_id, "it", "retired")
        set_status(db, "hostile-markup-visit", "it", "retired")
