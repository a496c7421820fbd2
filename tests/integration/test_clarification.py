""" "Forse cercavi…" and follow-ups on the real stack: REST, socket.io and the web chat.

A stack of its own whose knowledge-base cut-offs put every question in the
clarification band (never sure enough to answer, always worth offering choices), so
that each step of the flow is reached whatever the shipped calibration says. Nothing is
mocked: Rasa parses, the rules pick the actions, the action server searches the demo
knowledge base, the channels deliver the buttons.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from knowledge.store import get_article
from sportello.settings import PROJECT_ROOT, Settings
from stack.services import app_env, running_stack, train_model
from tests.browser import chromium
from tests.databases import open_db
from tests.integration.rest import say
from tests.servers import free_port

pytestmark = pytest.mark.integration

SOCKETIO_CLIENT = PROJECT_ROOT / "tests" / "integration" / "socketio_client.py"


@pytest.fixture(scope="module")
def unsure(tmp_path_factory: pytest.TempPathFactory, rasa_bin: Path) -> Iterator[Settings]:
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("sportello-unsure"),
        rasa_port=free_port(),
        action_port=free_port(),
        web_port=free_port(),
        console_port=free_port(),
        rasa_token="clarification-token",
        kb_threshold=1.01,
        kb_clarify_threshold=0.0,
    )
    subprocess.run(
        [sys.executable, "-m", "cli", "kb", "seed-demo", "--quiet"],  # indexes it too
        cwd=PROJECT_ROOT,
        env={**os.environ, **app_env(settings)},
        check=True,
    )
    with running_stack(settings, train_model()):
        yield settings


def offered(messages: list[dict]) -> list[tuple[str, str]]:
    """(title, payload) of the buttons in the bot's messages."""
    return [(b["title"], b["payload"]) for m in messages for b in m.get("buttons") or []]


def article_of(payload: str) -> str:
    """The article a button's payload names: /choose_article{"article": "..."}."""
    return json.loads("{" + payload.split("{", 1)[1])["article"]


def answer(settings: Settings, article_id: str, lang: str) -> str:
    found = get_article(open_db(settings.db_path), article_id, lang)
    assert found is not None
    return found.answer


def test_rest_offers_numbered_choices_and_a_click_gives_the_answer(unsure: Settings) -> None:
    sender = f"rest-{uuid.uuid4().hex}"
    reply = say(unsure, sender, "quanto costa la spedizione?")
    buttons = offered(reply)
    text = "\n".join(m.get("text", "") for m in reply)
    assert text.startswith("Non sono sicuro di aver capito. Forse cercavi una di queste?")
    assert buttons[-1] == ("Nessuna di queste", "/none_of_these")
    choices = [(title, payload) for title, payload in buttons if payload.startswith("/choose_")]
    assert 2 <= len(choices) <= 3
    for i, (title, _) in enumerate(choices, start=1):
        assert f"{i}. {title}" in text  # the numbered list, for text-only front ends
    assert article_of(choices[0][1]) == "spedizione-costi"

    chosen = say(unsure, sender, choices[0][1])
    assert chosen[0]["text"] == answer(unsure, "spedizione-costi", "it")
    assert article_of(offered(chosen)[0][1]) == "spedizione-costi"  # the 👍 names it


def test_rest_typed_number_picks_the_choice_in_english(unsure: Settings) -> None:
    sender = f"rest-{uuid.uuid4().hex}"
    reply = say(unsure, sender, "how long does delivery take?")
    assert "Did you mean one of these?" in reply[0]["text"]
    choices = [p for _, p in offered(reply) if p.startswith("/choose_article")]
    second = article_of(choices[1])
    picked = say(unsure, sender, "2")
    assert picked[0]["text"] == answer(unsure, second, "en")


def test_none_of_these_offers_a_person_and_yes_hands_over(unsure: Settings) -> None:
    sender = f"rest-{uuid.uuid4().hex}"
    say(unsure, sender, "quanto costa la spedizione?")
    refused = say(unsure, sender, "/none_of_these")
    assert "Vuoi che ti metta in contatto con un operatore?" in refused[0]["text"]
    handed = say(unsure, sender, "sì")
    text = "\n".join(m.get("text", "") for m in handed)
    assert "operatore" in text
    from desk.tickets import list_tickets

    assert any(t.conversation_id == sender for t in list_tickets(open_db(unsure.db_path)))


def test_a_follow_up_is_read_in_the_context_of_the_chosen_article(unsure: Settings) -> None:
    sender = f"rest-{uuid.uuid4().hex}"
    first = say(unsure, sender, "vorrei ricevere il caffè ogni mese, come funziona?")
    choices = [article_of(p) for _, p in offered(first) if p.startswith("/choose_article")]
    assert "abbonamento-come-funziona" in choices
    say(unsure, sender, '/choose_article{"article": "abbonamento-come-funziona"}')
    follow = say(unsure, sender, "quanto costa?")
    ids = [article_of(p) for _, p in offered(follow) if p.startswith("/choose_article")]
    assert ids[0] == "abbonamento-come-funziona"
    alone = say(unsure, f"rest-{uuid.uuid4().hex}", "quanto costa?")
    alone_ids = [article_of(p) for _, p in offered(alone) if p.startswith("/choose_article")]
    assert alone_ids[0] != "abbonamento-come-funziona"  # the context made the difference


def test_socketio_gets_buttons_without_the_numbered_list(unsure: Settings, rasa_bin: Path) -> None:
    session = f"web-{uuid.uuid4().hex}"
    lines = "".join(
        json.dumps({"message": m}) + "\n"
        for m in ("quanto costa la spedizione?", '/choose_article{"article": "spedizione-costi"}')
    )
    done = subprocess.run(
        [str(rasa_bin.with_name("python")), str(SOCKETIO_CLIENT), unsure.rasa_url, session],
        input=lines,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    asked, chosen = [json.loads(line) for line in done.stdout.splitlines()]
    question = asked["messages"][0]
    assert question["text"] == "Non sono sicuro di aver capito. Forse cercavi una di queste?"
    buttons = question.get("quick_replies") or question.get("buttons")
    assert buttons[0]["payload"] == '/choose_article{"article": "spedizione-costi"}'
    assert buttons[-1]["title"] == "Nessuna di queste"
    assert chosen["replies"][0] == answer(unsure, "spedizione-costi", "it")


@pytest.mark.browser
def test_the_web_chat_shows_the_choices_and_a_click_answers(
    unsure: Settings, artifacts_dir: Path
) -> None:
    expected = answer(unsure, "spedizione-costi", "it")
    with chromium() as browser:
        page = browser.new_page()
        page.goto(f"http://{unsure.host}:{unsure.web_port}/?lang=it", wait_until="load")
        widget = page.locator("#webchat .rw-widget-embedded")
        widget.locator(".rw-response", has_text="Ciao!").wait_for(timeout=30_000)
        field = widget.locator("textarea.rw-new-message")
        field.fill("quanto costa la spedizione?")
        field.press("Enter")
        widget.locator(".rw-response", has_text="Forse cercavi").wait_for(timeout=30_000)
        choice = widget.locator(".rw-reply", has_text="Quanto costa la spedizione?").first
        choice.wait_for(timeout=10_000)
        assert widget.locator(".rw-reply", has_text="Nessuna di queste").count() >= 1
        page.screenshot(path=str(artifacts_dir / "webchat-clarification.png"), full_page=True)
        choice.click()
        widget.locator(".rw-response", has_text=expected[:60]).wait_for(timeout=30_000)
