"""The custom actions against a real knowledge base and a real ticket table.

Trackers are built from the JSON Rasa posts to the action server, the dispatcher is
rasa-sdk's own; nothing in the knowledge package is replaced. The first search loads
the embedding models, so the knowledge base is built once per module.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
import yaml
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions import handoff
from actions.actions import (
    ActionAnswerFromKb,
    ActionAnswerRejected,
    ActionDeclineHuman,
    ActionDeliverOperatorMessage,
    ActionHandoffClosed,
    ActionRecordForOperator,
    ActionRequestHuman,
    transcript_from_events,
)
from desk.tickets import (
    REASON_ANSWER_REJECTED,
    REASON_ASKED_FOR_HUMAN,
    REASON_BOT_ERROR,
    REASON_KB_ABSTAINED,
    REASON_PERSONAL_CASE,
    Ticket,
    answer_ticket,
    close_ticket,
    get_message,
    get_ticket,
    list_tickets,
    open_ticket,
    ticket_messages,
)
from identity import schema as identity_schema
from identity.contacts import identity_secret, signed_metadata
from knowledge.store import Article, upsert_articles
from sportello.clock import parse_time
from sportello.settings import PROJECT_ROOT, get_settings
from tests.databases import open_db

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
    for table in (
        "ticket_events",
        "ticket_messages",
        "ticket_conversations",
        "tickets",
        *reversed(identity_schema.TABLES),
    ):
        if table in db.table_names():
            db[table].delete_where()
    get_settings.cache_clear()


# Monday 23 November 2026, 10:00 in Rome: the desk is open (9-13, 14-18).
OPEN_HOURS = datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc)
# Saturday 28 November 2026, 10:00 in Rome: closed until Monday 9:00.
WEEKEND = datetime(2026, 11, 28, 9, 0, tzinfo=timezone.utc)


@pytest.fixture(autouse=True)
def desk_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """Escalations happen in business hours unless a test says otherwise."""
    monkeypatch.setattr(handoff, "clock", lambda: OPEN_HOURS)


def make_tracker(
    text: str,
    *,
    language: str | None = None,
    sender: str = "conv-1",
    slots: dict[str, Any] | None = None,
    history: list[dict[str, Any]] | None = None,
    metadata: dict[str, Any] | None = None,
    intent: str = "ask_question",
    channel: str = "rest",
) -> Tracker:
    """The tracker as Rasa sends it, with ``text`` as the latest customer message."""
    latest = {
        "event": "user",
        "text": text,
        "timestamp": 100.0,
        "input_channel": channel,
        "parse_data": {"intent": {"name": intent, "confidence": 0.9}, "entities": []},
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
        metadata=signed_metadata(identity_secret(), customer_id="cust-7"),
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
    assert slots["handoff_offered"] is False
    assert slots["handoff_reason"] is None
    assert slots["handoff_active"] is True
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
    assert slots == {"handoff_offered": False, "handoff_reason": None, "kb_abstain_streak": 0.0}
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


# ---- escalation: SLA, priorities, triggers ----------------------------------------------


def ticket_of(path: Path) -> Ticket:
    db = open_db(path / "sportello.db")
    [ticket] = list_tickets(db)
    return ticket


def test_the_customer_is_told_when_an_operator_will_answer(data_dir: Path) -> None:
    messages, _ = run(ActionRequestHuman(), make_tracker("human please", language="en"))
    # Monday 10:00 in Rome + 4 business hours (normal priority) = 15:00, lunch excluded.
    assert messages[0]["due"] == "by today at 3:00 pm"
    ticket = ticket_of(data_dir)
    assert ticket.priority == "normal"
    assert ticket.first_response_due == "2026-11-23T14:00:00+00:00"
    assert ticket.created_at == "2026-11-23T09:00:00+00:00"


def mail_configured(monkeypatch: pytest.MonkeyPatch, on: bool) -> None:
    """Switch e-mail to customers on (SMTP server and sender set) or off."""
    if on:
        monkeypatch.setenv("SPORTELLO_SMTP_URL", "smtp://127.0.0.1:2525")
        monkeypatch.setenv("SPORTELLO_MAIL_FROM", "assistenza@aurora.example")
    else:
        monkeypatch.delenv("SPORTELLO_SMTP_URL", raising=False)
        monkeypatch.delenv("SPORTELLO_MAIL_FROM", raising=False)
    get_settings.cache_clear()


@pytest.mark.parametrize(
    ("mail", "closed_response"),
    [(False, "utter_desk_closed"), (True, "utter_desk_closed_email")],
)
def test_outside_hours_the_customer_learns_when_the_desk_opens(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch, mail: bool, closed_response: str
) -> None:
    """The invitation to leave an e-mail address is made only when mail can be sent."""
    mail_configured(monkeypatch, mail)
    monkeypatch.setattr(handoff, "clock", lambda: WEEKEND)
    messages, _ = run(ActionRequestHuman(), make_tracker("un operatore", language="it"))
    assert [m["response"] for m in messages] == ["utter_handoff_recorded", closed_response]
    assert messages[0]["due"] == "entro lunedì 30 novembre alle 13:00"
    assert messages[1]["opening"] == "lunedì 30 novembre alle 9:00"


def test_the_closed_desk_promises_mail_only_in_the_mail_response() -> None:
    """What each response promises, in both languages (bot/domain.yml)."""
    responses = yaml.safe_load((PROJECT_ROOT / "bot" / "domain.yml").read_text())["responses"]

    def texts(name: str) -> str:
        return " ".join(variant["text"] for variant in responses[name])

    assert "e-mail" in texts("utter_desk_closed_email")
    assert "e-mail" not in texts("utter_desk_closed")
    assert "in questa chat" in texts("utter_desk_closed")
    assert "in this chat" in texts("utter_desk_closed")
    assert "we'll also answer you at" in texts("utter_email_recorded")
    assert "answer you at" not in texts("utter_email_noted")
    assert "non possiamo inviare e-mail" in texts("utter_email_noted")
    for name in ("utter_desk_closed", "utter_desk_closed_email", "utter_email_noted",
                 "utter_email_recorded", "utter_email_invalid"):  # fmt: skip
        assert len(responses[name]) == 2  # English (conditioned) and Italian


def test_a_personal_case_opens_a_high_priority_ticket(data_dir: Path) -> None:
    tracker = make_tracker("mi avete addebitato due volte", language="it", intent="personal_case")
    messages, slots = run(ActionRequestHuman(), tracker)
    assert [m["response"] for m in messages] == ["utter_handoff_recorded"]
    assert slots["handoff_active"] is True
    ticket = ticket_of(data_dir)
    assert (ticket.reason, ticket.priority) == (REASON_PERSONAL_CASE, "high")
    # High priority: 1 business hour.
    assert ticket.first_response_due == "2026-11-23T10:00:00+00:00"


def test_a_personal_case_the_nlu_missed_is_not_answered_from_articles(data_dir: Path) -> None:
    messages, slots = run(
        ActionAnswerFromKb(), make_tracker("my parcel arrived damaged", language="en")
    )
    assert [m["response"] for m in messages] == ["utter_handoff_recorded"]
    assert slots["handoff_active"] is True
    assert ticket_of(data_dir).priority == "high"


def test_the_second_abstention_in_a_row_hands_over(data_dir: Path) -> None:
    first, first_slots = run(
        ActionAnswerFromKb(), make_tracker("qual è la capitale della Mongolia?", language="it")
    )
    assert [m["response"] for m in first] == ["utter_kb_abstain"]
    assert first_slots["kb_abstain_streak"] == 1.0
    assert tickets(data_dir) == []

    second, slots = run(
        ActionAnswerFromKb(),
        make_tracker("chi ha scritto la Divina Commedia?", language="it", slots=first_slots),
    )
    assert [m["response"] for m in second] == ["utter_handoff_recorded"]
    assert slots["handoff_active"] is True
    assert slots["kb_abstain_streak"] == 0.0
    assert ticket_of(data_dir).reason == REASON_KB_ABSTAINED


def test_an_answer_resets_the_abstention_count(data_dir: Path) -> None:
    _, slots = run(
        ActionAnswerFromKb(),
        make_tracker(
            "quanto costa la spedizione?", language="it", slots={"kb_abstain_streak": 1.0}
        ),
    )
    assert slots["kb_abstain_streak"] == 0.0


def test_rejecting_answers_twice_hands_over(data_dir: Path) -> None:
    first, first_slots = run(
        ActionAnswerRejected(), make_tracker("non è quello che chiedevo", intent="reject_answer")
    )
    assert [m["response"] for m in first] == ["utter_answer_rejected"]
    assert first_slots["handoff_offered"] is True
    assert first_slots["kb_rejections"] == 1.0
    assert tickets(data_dir) == []

    second, slots = run(
        ActionAnswerRejected(),
        make_tracker(
            "that's not what I asked", intent="reject_answer", slots={"kb_rejections": 1.0}
        ),
    )
    assert [m["response"] for m in second] == ["utter_handoff_recorded"]
    assert slots["handoff_active"] is True
    assert ticket_of(data_dir).reason == REASON_ANSWER_REJECTED


# ---- while an operator owns the conversation ---------------------------------------------

HANDED_OFF = {"handoff_active": True}


def open_conversation_ticket(path: Path, sender: str = "conv-1", channel: str = "rest") -> Ticket:
    ticket, _ = open_ticket(open_db(path / "sportello.db"), sender, lang="it", channel=channel)
    return ticket


def test_customer_messages_are_recorded_and_get_no_reply(data_dir: Path) -> None:
    ticket = open_conversation_ticket(data_dir)
    for text, intent in [("ci siete?", "greet"), ("quanto costa la spedizione?", "ask_question")]:
        tracker = make_tracker(text, language="it", intent=intent, slots=HANDED_OFF)
        messages, slots = run(ActionRecordForOperator(), tracker)
        assert messages == []
        assert slots == {}
    recorded = ticket_messages(open_db(data_dir / "sportello.db"), ticket.id)[-2:]
    assert [m.text for m in recorded] == ["ci siete?", "quanto costa la spedizione?"]
    # Dated by the actions' clock, the one their deadlines are worded with.
    assert [parse_time(m.created_at) for m in recorded] == [OPEN_HOURS, OPEN_HOURS]


def test_a_rest_customer_gets_pending_answers_on_the_next_message(data_dir: Path) -> None:
    ticket = open_conversation_ticket(data_dir)
    db = open_db(data_dir / "sportello.db")
    answer = answer_ticket(db, ticket.id, "anna", "Le rimborsiamo la differenza.")
    tracker = make_tracker("allora?", language="it", intent="nlu_fallback", slots=HANDED_OFF)
    messages, _ = run(ActionRecordForOperator(), tracker)
    assert [m["text"] for m in messages] == ["Le rimborsiamo la differenza."]
    delivered = get_message(db, answer.id)
    assert delivered.delivered and parse_time(delivered.delivered_at) == OPEN_HOURS
    again, _ = run(ActionRecordForOperator(), tracker)
    assert again == []


@pytest.mark.parametrize(
    ("mail", "response"), [(True, "utter_email_recorded"), (False, "utter_email_noted")]
)
def test_an_email_address_is_kept_on_the_ticket(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch, mail: bool, response: str
) -> None:
    """ "We'll also answer you at …" only when mail is configured; the address is kept
    for the operator either way."""
    mail_configured(monkeypatch, mail)
    ticket = open_conversation_ticket(data_dir)
    tracker = make_tracker(
        "scrivetemi a mario.rossi@example.it",
        language="it",
        intent="nlu_fallback",
        slots=HANDED_OFF,
    )
    messages, _ = run(ActionRecordForOperator(), tracker)
    assert [m["response"] for m in messages] == [response]
    assert messages[0]["email"] == "mario.rossi@example.it"
    assert get_ticket(open_db(data_dir / "sportello.db"), ticket.id).customer_email == (
        "mario.rossi@example.it"
    )


@pytest.mark.parametrize(
    "address", ["m" * 250 + "@example.it", "mario@@example.it", "mario@gmail", "mario.rossi@"]
)
def test_a_malformed_address_is_not_kept_and_the_customer_is_asked_again(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch, address: str
) -> None:
    mail_configured(monkeypatch, True)
    ticket = open_conversation_ticket(data_dir)
    tracker = make_tracker(
        f"la mia mail: {address}.", language="it", intent="nlu_fallback", slots=HANDED_OFF
    )
    messages, _ = run(ActionRecordForOperator(), tracker)
    assert [m["response"] for m in messages] == ["utter_email_invalid"]
    assert messages[0]["email"] == address[:100]
    assert get_ticket(open_db(data_dir / "sportello.db"), ticket.id).customer_email is None


def test_asking_again_while_handed_off_repeats_the_deadline(data_dir: Path) -> None:
    open_conversation_ticket(data_dir)
    tracker = make_tracker("operatore!", language="it", intent="ask_human", slots=HANDED_OFF)
    messages, _ = run(ActionRecordForOperator(), tracker)
    assert [m["response"] for m in messages] == ["utter_handoff_already_open"]
    assert len(tickets(data_dir)) == 1


def test_after_a_close_the_next_question_gets_the_resume_and_an_answer(data_dir: Path) -> None:
    ticket = open_conversation_ticket(data_dir)
    db = open_db(data_dir / "sportello.db")
    close_ticket(db, ticket.id, "anna")
    tracker = make_tracker("quanto costa la spedizione?", language="it", slots=HANDED_OFF)
    messages, slots = run(ActionRecordForOperator(), tracker)
    assert messages[0]["response"] == "utter_handoff_closed"
    assert [m.get("text") for m in messages[1:]] == [SHIPPING_IT]
    assert slots["handoff_active"] is False
    assert get_ticket(db, ticket.id).resume_delivered


def test_a_pushed_answer_is_said_once(data_dir: Path) -> None:
    ticket = open_conversation_ticket(data_dir, channel="socketio")
    db = open_db(data_dir / "sportello.db")
    answer_ticket(db, ticket.id, "anna", "Ecco il rimborso.")
    tracker = make_tracker(
        "EXTERNAL: EXTERNAL_operator_message", intent="EXTERNAL_operator_message", slots=HANDED_OFF
    )
    messages, _ = run(ActionDeliverOperatorMessage(), tracker)
    assert [m["text"] for m in messages] == ["Ecco il rimborso."]
    again, _ = run(ActionDeliverOperatorMessage(), tracker)
    assert again == []


def test_the_bot_resumes_only_when_the_ticket_is_really_closed(data_dir: Path) -> None:
    ticket = open_conversation_ticket(data_dir, channel="socketio")
    db = open_db(data_dir / "sportello.db")
    external = make_tracker(
        "EXTERNAL: EXTERNAL_ticket_closed", intent="EXTERNAL_ticket_closed", slots=HANDED_OFF
    )
    assert run(ActionHandoffClosed(), external) == ([], {})  # still open
    close_ticket(db, ticket.id, "anna")
    messages, slots = run(ActionHandoffClosed(), external)
    # The bot is back, and asks the customer's CSAT about the closed ticket (once).
    assert [m["response"] for m in messages] == ["utter_handoff_closed", "utter_ask_csat"]
    assert slots == {"handoff_active": False, "rating_pending": f"csat|ticket|{ticket.id}|"}
    assert get_ticket(db, ticket.id).resume_delivered
    resumed = make_tracker(
        "EXTERNAL: EXTERNAL_ticket_closed",
        intent="EXTERNAL_ticket_closed",
        slots={"handoff_active": False},
    )
    assert run(ActionHandoffClosed(), resumed) == ([], {})  # a repeated trigger says nothing


def test_transcript_leaves_out_the_desks_triggered_intents() -> None:
    events = [
        {
            "event": "user",
            "text": "ciao",
            "timestamp": 1.0,
            "parse_data": {"intent": {"name": "greet"}},
        },
        {
            "event": "user",
            "text": "EXTERNAL: EXTERNAL_operator_message",
            "timestamp": 2.0,
            "parse_data": {"intent": {"name": "EXTERNAL_operator_message"}},
        },
    ]
    assert [e["text"] for e in transcript_from_events(events)] == ["ciao"]
