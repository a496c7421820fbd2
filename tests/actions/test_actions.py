"""The custom actions against a real knowledge base and a real ticket table.

Trackers are built from the JSON Rasa posts to the action server, the dispatcher is
rasa-sdk's own; nothing in the knowledge package is replaced. The first search loads
the embedding models, so the knowledge base is built once per module.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.actions import (
    ActionAnswerFromKb,
    ActionDeclineHuman,
    ActionRequestHuman,
    transcript_from_events,
)
from desk.tickets import REASON_ASKED_FOR_HUMAN, REASON_BOT_ERROR, REASON_KB_ABSTAINED
from knowledge.store import Article, upsert_articles
from sportello.db import open_db
from sportello.settings import get_settings

SHIPPING_IT = "La spedizione costa 5 euro ed è gratuita per ordini sopra i 50 euro."
SHIPPING_EN = "Shipping costs 5 euros and is free for orders over 50 euros."
RETURNS_IT = "Puoi restituire un prodotto entro 30 giorni dalla consegna."
RETURNS_EN = "You can return a product within 30 days of delivery."

ARTICLES = [
    Article(
        id="shipping-cost",
        lang="it",
        question="Quanto costa la spedizione?",
        answer=SHIPPING_IT,
        alt_questions=["Quali sono i costi di spedizione?", "La consegna è gratuita?"],
    ),
    Article(
        id="shipping-cost",
        lang="en",
        question="How much does shipping cost?",
        answer=SHIPPING_EN,
        alt_questions=["What are the delivery costs?", "Is delivery free?"],
    ),
    Article(
        id="returns",
        lang="it",
        question="Come faccio a restituire un prodotto?",
        answer=RETURNS_IT,
        alt_questions=["Posso fare un reso?", "Entro quanto tempo posso fare il reso?"],
    ),
    Article(
        id="returns",
        lang="en",
        question="How do I return a product?",
        answer=RETURNS_EN,
        alt_questions=["Can I send an item back?", "What is your return policy?"],
    ),
    Article(
        id="opening-hours",
        lang="it",
        question="Quali sono gli orari del negozio?",
        answer="Il negozio è aperto dal lunedì al sabato, dalle 9 alle 19.",
        alt_questions=["Siete aperti la domenica?", "A che ora aprite?"],
    ),
    Article(
        id="opening-hours",
        lang="en",
        question="What are the shop's opening hours?",
        answer="The shop is open Monday to Saturday, 9am to 7pm.",
        alt_questions=["Are you open on Sundays?", "What time do you open?"],
    ),
]


def use_data_dir(monkeypatch: pytest.MonkeyPatch, path: Path) -> None:
    monkeypatch.setenv("SPORTELLO_DATA_DIR", str(path))
    get_settings.cache_clear()


@pytest.fixture(scope="module")
def kb_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data directory whose knowledge base holds the articles above."""
    path = tmp_path_factory.mktemp("kb")
    upsert_articles(open_db(path / "sportello.db"), ARTICLES)
    return path


@pytest.fixture
def data_dir(kb_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The shared knowledge base, with an empty ticket table for each test."""
    use_data_dir(monkeypatch, kb_dir)
    yield kb_dir
    db = open_db(kb_dir / "sportello.db")
    if "tickets" in db.table_names():
        db["tickets"].delete_where()
    get_settings.cache_clear()


def make_tracker(
    text: str,
    *,
    language: str | None = None,
    sender: str = "conv-1",
    slots: dict[str, Any] | None = None,
    history: list[dict[str, Any]] | None = None,
    metadata: dict[str, Any] | None = None,
) -> Tracker:
    """The tracker as Rasa sends it, with ``text`` as the latest customer message."""
    latest = {
        "event": "user",
        "text": text,
        "timestamp": 100.0,
        "input_channel": "rest",
        "parse_data": {"intent": {"name": "ask_question", "confidence": 0.9}, "entities": []},
        "metadata": metadata or {},
    }
    events = [*(history or []), latest]
    return Tracker.from_dict(
        {
            "sender_id": sender,
            "slots": {
                "language": language,
                "handoff_offered": False,
                "handoff_reason": None,
                **(slots or {}),
            },
            "latest_message": {
                "text": text,
                "intent": latest["parse_data"]["intent"],
                "entities": [],
                "metadata": metadata or {},
            },
            "events": events,
            "paused": False,
            "followup_action": None,
            "active_loop": {},
            "latest_action_name": "action_listen",
        }
    )


def run(action: Any, tracker: Tracker) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Run an action; returns what it said and the slots it set."""
    dispatcher = CollectingDispatcher()
    result = action.run(dispatcher, tracker, {})
    events = asyncio.run(result) if asyncio.iscoroutine(result) else result
    slots = {e["name"]: e["value"] for e in events if e["event"] == "slot"}
    return dispatcher.messages, slots


def tickets(path: Path) -> list[dict[str, Any]]:
    db = open_db(path / "sportello.db")
    return list(db["tickets"].rows) if "tickets" in db.table_names() else []


# ---- answering from the knowledge base -------------------------------------------------


def test_answers_an_italian_question_in_italian(data_dir: Path) -> None:
    messages, slots = run(
        ActionAnswerFromKb(), make_tracker("quanto costa la spedizione?", language="it")
    )
    assert [m["text"] for m in messages] == [SHIPPING_IT]
    assert slots["kb_article_id"] == "shipping-cost"
    assert 0.0 < slots["kb_confidence"] <= 1.0
    assert slots["handoff_offered"] is False


def test_answers_an_english_question_in_english(data_dir: Path) -> None:
    messages, slots = run(
        ActionAnswerFromKb(), make_tracker("How can I return a product?", language="en")
    )
    assert [m["text"] for m in messages] == [RETURNS_EN]
    assert slots["kb_article_id"] == "returns"


def test_without_a_language_slot_the_default_language_is_used(data_dir: Path) -> None:
    messages, _ = run(ActionAnswerFromKb(), make_tracker("quanto costa la spedizione?"))
    assert [m["text"] for m in messages] == [SHIPPING_IT]


@pytest.mark.parametrize(
    "text",
    ["zzkx qwop blorf", "qual è la capitale della Mongolia?", "chi ha scritto la Divina Commedia?"],
)
def test_unknown_questions_are_not_guessed_and_a_human_is_offered(
    data_dir: Path, text: str
) -> None:
    messages, slots = run(ActionAnswerFromKb(), make_tracker(text, language="it"))
    assert [m["response"] for m in messages] == ["utter_kb_abstain"]
    assert slots["handoff_offered"] is True
    assert slots["handoff_reason"] == REASON_KB_ABSTAINED
    assert slots["kb_article_id"] is None


@pytest.mark.parametrize("text", ["", "   ", "👍👍", "???", "\x00\x07\x1b"])
def test_messages_without_words_get_a_request_to_rephrase(data_dir: Path, text: str) -> None:
    messages, slots = run(ActionAnswerFromKb(), make_tracker(text, language="it"))
    assert [m["response"] for m in messages] == ["utter_ask_rephrase"]
    assert slots == {}


@pytest.mark.parametrize(
    "text",
    [
        "quanto costa la spedizione? " * 800,  # about 22,000 characters
        "<script>alert('x')</script> quanto costa la spedizione?",
        "quanto\x00 costa\x1b[31m la\u200b spedizione?\r\n",
        "\ud800 spedizione",  # a lone surrogate, as a broken client can send
    ],
)
def test_hostile_messages_get_a_reply_not_a_crash(data_dir: Path, text: str) -> None:
    messages, _ = run(ActionAnswerFromKb(), make_tracker(text, language="it"))
    assert len(messages) == 1
    assert (
        messages[0].get("text") == SHIPPING_IT or messages[0].get("response") == "utter_kb_abstain"
    )


def test_a_broken_knowledge_base_gets_an_apology_and_the_offer_of_a_human(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "sportello.db").mkdir()  # the database path is unusable
    use_data_dir(monkeypatch, tmp_path)
    messages, slots = run(ActionAnswerFromKb(), make_tracker("quanto costa la spedizione?"))
    get_settings.cache_clear()
    assert [m["response"] for m in messages] == ["utter_error"]
    assert slots["handoff_offered"] is True
    assert slots["handoff_reason"] == REASON_BOT_ERROR


# ---- handing over to a person ------------------------------------------------------------

HISTORY = [
    {"event": "action", "name": "action_listen", "timestamp": 1.0},
    {"event": "user", "text": "ciao", "timestamp": 2.0, "input_channel": "rest"},
    {"event": "bot", "text": "Ciao! Come posso aiutarti?", "timestamp": 3.0},
    {"event": "slot", "name": "language", "value": "it", "timestamp": 3.5},
]


def test_asking_for_a_human_opens_a_ticket_with_the_transcript(data_dir: Path) -> None:
    tracker = make_tracker(
        "voglio parlare con un operatore",
        language="it",
        history=HISTORY,
        metadata={"customer_id": "cust-7"},
    )
    messages, slots = run(ActionRequestHuman(), tracker)
    assert [m["response"] for m in messages] == ["utter_handoff_recorded"]
    assert slots["handoff_offered"] is False
    [ticket] = tickets(data_dir)
    assert ticket["conversation_id"] == "conv-1"
    assert ticket["customer_id"] == "cust-7"
    assert ticket["channel"] == "rest"
    assert ticket["lang"] == "it"
    assert ticket["reason"] == REASON_ASKED_FOR_HUMAN
    assert ticket["status"] == "open"
    assert '"voglio parlare con un operatore"' in ticket["transcript"]
    assert '"Ciao! Come posso aiutarti?"' in ticket["transcript"]


def test_asking_again_does_not_open_a_second_ticket(data_dir: Path) -> None:
    run(ActionRequestHuman(), make_tracker("human please", language="en"))
    messages, _ = run(ActionRequestHuman(), make_tracker("human please!!", language="en"))
    assert [m["response"] for m in messages] == ["utter_handoff_already_open"]
    assert len(tickets(data_dir)) == 1


def test_accepting_the_offer_records_why_it_was_made(data_dir: Path) -> None:
    tracker = make_tracker(
        "/affirm",
        language="en",
        slots={"handoff_offered": True, "handoff_reason": REASON_KB_ABSTAINED},
    )
    messages, slots = run(ActionRequestHuman(), tracker)
    assert [m["response"] for m in messages] == ["utter_handoff_recorded"]
    assert slots == {"handoff_offered": False, "handoff_reason": None}
    [ticket] = tickets(data_dir)
    assert ticket["reason"] == REASON_KB_ABSTAINED
    assert ticket["lang"] == "en"


def test_a_broken_ticket_store_is_told_to_the_customer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "sportello.db").mkdir()
    use_data_dir(monkeypatch, tmp_path)
    tracker = make_tracker("/affirm", language="it", slots={"handoff_offered": True})
    messages, slots = run(ActionRequestHuman(), tracker)
    get_settings.cache_clear()
    assert [m["response"] for m in messages] == ["utter_handoff_failed"]
    assert slots["handoff_offered"] is False


def test_declining_the_offer_forgets_it(data_dir: Path) -> None:
    tracker = make_tracker("no", slots={"handoff_offered": True, "handoff_reason": "kb_abstained"})
    messages, slots = run(ActionDeclineHuman(), tracker)
    assert [m["response"] for m in messages] == ["utter_handoff_declined"]
    assert slots == {"handoff_offered": False, "handoff_reason": None}
    assert tickets(data_dir) == []


def test_transcript_keeps_customer_and_bot_texts_in_order() -> None:
    events = [
        *HISTORY,
        {"event": "user", "text": "/affirm", "timestamp": 4.0},
        {"event": "bot", "text": None, "timestamp": 5.0, "data": {"image": "x.png"}},
    ]
    assert transcript_from_events(events) == [
        {"role": "customer", "text": "ciao", "timestamp": 2.0},
        {"role": "bot", "text": "Ciao! Come posso aiutarti?", "timestamp": 3.0},
        {"role": "customer", "text": "/affirm", "timestamp": 4.0},
    ]
