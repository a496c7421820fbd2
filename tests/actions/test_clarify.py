""" "Forse cercavi…": the bot offers the likeliest articles when it is unsure, and a pick,
a typed number or "none of these" moves the conversation on.

Real knowledge base and searcher (its cut-offs set so that every question falls in the
clarification band), real rasa-sdk trackers and dispatcher.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from rasa_sdk import Tracker

from actions import clarify
from actions.actions import (
    ActionAnswerFromKb,
    ActionAnswerRejected,
    ActionChooseArticle,
    ActionNoneOfThese,
)
from actions.handoff import SLOT_ABSTAIN_STREAK, SLOT_ARTICLE_ID, SLOT_HANDOFF_OFFERED
from actions.ratings import ActionAnswerHelpful
from desk.tickets import list_tickets
from knowledge import phrasings
from knowledge.store import upsert_articles
from sportello.settings import get_settings
from tests.actions.test_actions import (
    ARTICLES,
    SHIPPING_EN,
    SHIPPING_IT,
    desk_clock,  # noqa: F401  (autouse fixture)
    make_tracker,
    run,
)
from tests.databases import open_db


@pytest.fixture(scope="module")
def unsure_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("unsure-kb")
    upsert_articles(open_db(path / "sportello.db"), ARTICLES)
    return path


@pytest.fixture(autouse=True)
def unsure(unsure_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Never sure enough to answer, always worth offering choices."""
    monkeypatch.setenv("SPORTELLO_DATA_DIR", str(unsure_dir))
    monkeypatch.setenv("SPORTELLO_KB_THRESHOLD", "1.01")
    monkeypatch.setenv("SPORTELLO_KB_CLARIFY_THRESHOLD", "0.0")
    get_settings.cache_clear()
    yield unsure_dir
    db = open_db(unsure_dir / "sportello.db")
    for table in ("ticket_events", "ticket_messages", "ticket_conversations", "tickets"):
        if table in db.table_names():
            db[table].delete_where()
    get_settings.cache_clear()


def offer_slot(*pairs: tuple[str, str]) -> dict[str, str]:
    return {clarify.SLOT_SUGGESTIONS: json.dumps([list(p) for p in pairs])}


OFFERED = offer_slot(
    ("shipping-cost", "Quanto costa la spedizione?"),
    ("returns", "Come faccio a restituire un prodotto?"),
)


def with_entity(tracker: Tracker, name: str, value: str) -> Tracker:
    tracker.latest_message["entities"] = [{"entity": name, "value": value}]
    return tracker


def test_an_unsure_question_offers_articles_as_buttons_on_the_web_chat():
    said, slots = run(
        ActionAnswerFromKb(),
        make_tracker("spedizione quanto", language="it", channel="socketio"),
    )
    assert [m["response"] for m in said] == ["utter_kb_clarify"]
    buttons = said[0]["buttons"]
    payloads = [b["payload"] for b in buttons]
    assert payloads[-1] == "/none_of_these" and buttons[-1]["title"] == "Nessuna di queste"
    ids = [json.loads(p.removeprefix("/choose_article"))["article"] for p in payloads[:-1]]
    assert 2 <= len(ids) <= 3 and ids[0] == "shipping-cost"
    assert buttons[0]["title"] == "Quanto costa la spedizione?"
    assert [pair[0] for pair in json.loads(slots[clarify.SLOT_SUGGESTIONS])] == ids
    assert slots[SLOT_ARTICLE_ID] is None
    assert SLOT_ABSTAIN_STREAK not in slots  # asking is not giving up


def test_other_channels_also_get_the_choices_numbered_in_english():
    said, _ = run(
        ActionAnswerFromKb(), make_tracker("shipping price?", language="en", channel="rest")
    )
    message = said[0]
    assert message["response"] == "utter_kb_clarify_numbered"
    lines = message["choices"].splitlines()
    assert lines[0] == "1. How much does shipping cost?"
    assert lines[-1] == f"{len(lines)}. None of these"
    assert message["buttons"][-1]["title"] == "None of these"


def test_a_button_gives_the_chosen_article_in_the_customers_language():
    tracker = with_entity(
        make_tracker('/choose_article{"article": "shipping-cost"}', language="en", slots=OFFERED),
        "article",
        "shipping-cost",
    )
    said, slots = run(ActionChooseArticle(), tracker)
    assert said[0]["text"] == SHIPPING_EN
    assert "shipping-cost" in said[0]["buttons"][0]["payload"]  # the 👍 names it
    assert slots[SLOT_ARTICLE_ID] == "shipping-cost"
    assert slots[clarify.SLOT_SUGGESTIONS] is None


@pytest.mark.parametrize("typed", ["1", "la prima", "il primo", "Quanto costa la spedizione?"])
def test_a_typed_choice_picks_the_offered_article(typed):
    said, slots = run(ActionAnswerFromKb(), make_tracker(typed, language="it", slots=OFFERED))
    assert said[0]["text"] == SHIPPING_IT
    assert slots[SLOT_ARTICLE_ID] == "shipping-cost"


def test_a_payload_naming_an_article_not_offered_is_not_obeyed():
    tracker = with_entity(
        make_tracker('/choose_article{"article": "opening-hours"}', language="it", slots=OFFERED),
        "article",
        "opening-hours",
    )
    said, slots = run(ActionChooseArticle(), tracker)
    assert all("9 alle 19" not in (m.get("text") or "") for m in said)
    assert slots.get(SLOT_ARTICLE_ID) is None
    assert said[0]["response"] == "utter_ask_rephrase"


@pytest.mark.parametrize(
    ("action", "text", "intent"),
    [
        (ActionNoneOfThese(), "/none_of_these", "none_of_these"),
        (ActionNoneOfThese(), "nessuna di queste", "none_of_these"),
        (ActionAnswerFromKb(), "3", "give_rating"),  # the numbered "none" line
        (ActionAnswerRejected(), "no", "deny"),
    ],
)
def test_none_of_these_goes_on_as_an_abstention(action, text, intent):
    tracker = make_tracker(text, language="it", slots=OFFERED, intent=intent)
    said, slots = run(action, tracker)
    assert [m["response"] for m in said] == ["utter_kb_abstain"]
    assert slots[SLOT_HANDOFF_OFFERED] is True
    assert slots[SLOT_ABSTAIN_STREAK] == 1.0
    assert slots[clarify.SLOT_SUGGESTIONS] is None


def test_none_of_these_the_second_time_in_a_row_hands_over(unsure):
    tracker = make_tracker(
        "/none_of_these",
        language="it",
        slots={**OFFERED, SLOT_ABSTAIN_STREAK: 1.0},
        intent="none_of_these",
    )
    said, slots = run(ActionNoneOfThese(), tracker)
    assert slots["handoff_active"] is True
    assert len(list_tickets(open_db(unsure / "sportello.db"))) == 1
    assert any(m.get("response") == "utter_handoff_recorded" for m in said)


def test_a_new_question_after_the_offer_is_searched_as_a_question():
    _, slots = run(
        ActionAnswerFromKb(),
        make_tracker("what are the shop's opening hours on saturday", language="en", slots=OFFERED),
    )
    ids = [pair[0] for pair in json.loads(slots[clarify.SLOT_SUGGESTIONS])]
    assert ids[0] == "opening-hours"


def test_with_no_offer_open_none_of_these_is_searched_as_words():
    said, _ = run(
        ActionNoneOfThese(),
        make_tracker("nessuna di queste", language="it", intent="none_of_these"),
    )
    assert said[0]["response"] in ("utter_kb_clarify_numbered", "utter_kb_abstain")


def test_a_garbled_offer_slot_is_ignored():
    slots = {clarify.SLOT_SUGGESTIONS: "{not json"}
    said, _ = run(ActionAnswerFromKb(), make_tracker("1", language="it", slots=slots))
    assert said and said[0].get("text") != SHIPPING_IT


def picked_after_offer(question: str, sender: str) -> Tracker:
    """The customer asked ``question``, got the offer, and clicks the first article."""
    offer = json.loads(OFFERED[clarify.SLOT_SUGGESTIONS])
    history = [
        {"event": "user", "text": question, "timestamp": 90.0},
        {"event": "slot", "name": clarify.SLOT_SUGGESTIONS, "value": json.dumps(offer)},
    ]
    tracker = make_tracker(
        '/choose_article{"article": "shipping-cost"}',
        language="it",
        sender=sender,
        slots=OFFERED,
        history=history,
    )
    return with_entity(tracker, "article", "shipping-cost")


def rated(sender: str, helpful: bool) -> Tracker:
    """The same customer's 👍/👎 on the article the pick gave."""
    history = [{"event": "slot", "name": SLOT_ARTICLE_ID, "value": "shipping-cost"}]
    tracker = make_tracker(
        "/answer_helpful" if helpful else "/reject_answer",
        language="it",
        sender=sender,
        slots={SLOT_ARTICLE_ID: "shipping-cost"},
        history=history,
    )
    return with_entity(tracker, "article", "shipping-cost")


def proposals_of(sender: str, status: str = phrasings.PROPOSED) -> list[phrasings.Proposal]:
    db = open_db(get_settings().db_path)
    return [p for p in phrasings.list_proposals(db, status) if sender in p.refs]


def test_a_pick_proposes_the_customers_wording_and_a_thumbs_up_confirms_it():
    sender = "conv-pick-up"
    wording = "quanto mi costa farmi mandare la roba?"
    said, _ = run(ActionChooseArticle(), picked_after_offer(wording, sender))
    assert said[0]["text"] == SHIPPING_IT
    [proposal] = proposals_of(sender)
    assert (proposal.article_id, proposal.lang, proposal.text) == ("shipping-cost", "it", wording)
    assert proposal.source == phrasings.SOURCE_PICK
    run(ActionAnswerHelpful(), rated(sender, helpful=True))
    assert proposals_of(sender)[0].source == phrasings.SOURCE_HELPFUL


def test_a_thumbs_down_after_the_pick_takes_the_proposal_back():
    sender = "conv-pick-down"
    wording = "mandare il pacco quanto viene?"
    run(ActionChooseArticle(), picked_after_offer(wording, sender))
    assert len(proposals_of(sender)) == 1
    run(ActionAnswerRejected(), rated(sender, helpful=False))
    assert proposals_of(sender) == []
    db = open_db(get_settings().db_path)
    withdrawn = phrasings.list_proposals(db, phrasings.WITHDRAWN)
    assert [(p.text, p.votes) for p in withdrawn if p.text == wording] == [(wording, 0)]


def test_a_thumbs_up_on_a_direct_answer_proposes_the_question_that_got_it():
    sender = "conv-direct-up"
    wording = "ma la consegna quanto mi costa?"
    history = [
        {"event": "user", "text": wording, "timestamp": 90.0},
        {"event": "slot", "name": SLOT_ARTICLE_ID, "value": "shipping-cost"},
    ]
    tracker = make_tracker(
        '/answer_helpful{"article": "shipping-cost"}',
        language="it",
        sender=sender,
        slots={SLOT_ARTICLE_ID: "shipping-cost"},
        history=history,
    )
    run(ActionAnswerHelpful(), with_entity(tracker, "article", "shipping-cost"))
    [proposal] = proposals_of(sender)
    assert (proposal.text, proposal.source) == (wording, phrasings.SOURCE_HELPFUL)
