"""The rating actions: 👍/👎 against the right article, CSAT once, NPS when due, skipping."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions import handoff
from actions.actions import ActionRecordRating
from actions.ratings import (
    ActionAnswerHelpful,
    ActionOfferCsat,
    ActionSkipRating,
    Pending,
    answer_buttons,
)
from actions.wording import parse_rating
from customerlog import ratings, schema
from sportello.clock import parse_time, utc_now
from sportello.settings import get_settings
from tests.databases import open_db
from tests.servers import free_port

SESSION = {"event": "session_started", "timestamp": 50.0}
ANSWERED = [
    SESSION,
    {"event": "user", "text": "come faccio un reso?", "timestamp": 60.0},
    {"event": "slot", "name": "kb_article_id", "value": "returns", "timestamp": 61.0},
]


@pytest.fixture
def db_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("SPORTELLO_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("SPORTELLO_RASA_PORT", str(free_port()))
    get_settings.cache_clear()
    open_db(tmp_path).close()  # migrated, as the action server's start-up does
    yield tmp_path / "sportello.db"
    get_settings.cache_clear()


def tracker(
    text: str,
    intent: str,
    *,
    history: list[dict[str, Any]] = ANSWERED,
    entities: list[dict[str, Any]] | None = None,
    slots: dict[str, Any] | None = None,
    sender: str = "conv-1",
) -> Tracker:
    latest = {
        "text": text,
        "intent": {"name": intent, "confidence": 1.0},
        "entities": entities or [],
        "metadata": {},
    }
    return Tracker.from_dict(
        {
            "sender_id": sender,
            "slots": {"language": "it", "kb_article_id": "returns", **(slots or {})},
            "latest_message": latest,
            "events": [
                *history,
                {
                    "event": "user",
                    "timestamp": 99.0,
                    "input_channel": "rest",
                    "parse_data": latest,
                    "text": text,
                },
            ],
            "paused": False,
            "followup_action": None,
            "active_loop": {},
            "latest_action_name": "action_listen",
        }
    )


def run(action: Any, tracker: Tracker) -> tuple[list[str], dict[str, Any]]:
    dispatcher = CollectingDispatcher()
    events = asyncio.run(action.run(dispatcher, tracker, {}))
    said = [m.get("response") or m.get("text") for m in dispatcher.messages]
    return said, {e["name"]: e["value"] for e in events if e["event"] == "slot"}


def test_answer_buttons_name_the_article_in_the_customers_language() -> None:
    it, en = answer_buttons("returns", "it"), answer_buttons("returns", "en")
    assert [b["payload"] for b in it] == [
        '/answer_helpful{"article": "returns"}',
        '/reject_answer{"article": "returns"}',
    ]
    assert "Utile" in it[0]["title"] and "Helpful" in en[0]["title"]


def test_a_thumbs_up_is_recorded_against_the_article_it_names(db_path: Path) -> None:
    history = [*ANSWERED, {"event": "slot", "name": "kb_article_id", "value": "shipping"}]
    button = [{"entity": "article", "value": "returns"}]
    said, _ = run(
        ActionAnswerHelpful(),
        tracker("/answer_helpful", "answer_helpful", history=history, entities=button),
    )
    assert said == ["utter_answer_helpful"]
    (vote,) = ratings.article_quality(open_db(db_path))
    assert (vote.article_id, vote.helpful, vote.not_helpful) == ("returns", 1, 0)


def test_a_button_for_an_article_never_given_here_is_ignored(db_path: Path) -> None:
    forged = [{"entity": "article", "value": "someone-elses-article"}]
    run(ActionAnswerHelpful(), tracker("/answer_helpful", "answer_helpful", entities=forged))
    assert ratings.article_quality(open_db(db_path)) == []


def test_csat_is_offered_once_per_resolved_session(db_path: Path) -> None:
    said, slots = run(ActionOfferCsat(), tracker("ciao", "goodbye"))
    assert said == ["utter_ask_csat"]
    pending = Pending.decode(slots["rating_pending"])
    assert pending == Pending("csat", "conversation", "conv-1", "50.0")
    assert run(ActionOfferCsat(), tracker("grazie", "thanks")) == ([], {}), "asked already"


def test_no_csat_without_an_answer_or_after_an_escalation(db_path: Path) -> None:
    assert run(ActionOfferCsat(), tracker("ciao", "goodbye", history=[SESSION])) == ([], {})
    escalated = [*ANSWERED, {"event": "slot", "name": "handoff_active", "value": True}]
    assert run(ActionOfferCsat(), tracker("ciao", "goodbye", history=escalated)) == ([], {})


def test_a_csat_answer_is_stored_and_nps_follows_when_due(db_path: Path) -> None:
    pending = Pending("csat", "conversation", "conv-1", "50.0").encode()
    said, slots = run(
        ActionRecordRating(), tracker("4", "give_rating", slots={"rating_pending": pending})
    )
    assert said == ["utter_rating_thanks", "utter_ask_nps"]
    assert Pending.decode(slots["rating_pending"]).kind == "nps"
    (csat,) = ratings.ratings_for(open_db(db_path), "conversation", "conv-1")
    assert (csat["kind"], csat["value"], csat["session"]) == ("csat", 4, "50.0")
    # The NPS answer, from a button.
    said, slots = run(
        ActionRecordRating(),
        tracker(
            "/give_rating",
            "give_rating",
            entities=[{"entity": "rating", "value": "9"}],
            slots={"rating_pending": slots["rating_pending"]},
        ),
    )
    assert said == ["utter_rating_thanks"] and slots == {"rating_pending": None}
    (nps,) = ratings.ratings_for(open_db(db_path), "customer", "conv-1")
    assert nps["value"] == 9


def test_ratings_are_stamped_by_the_actions_clock(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The clock that words deadlines also dates ratings: one timeline per conversation."""
    moment = datetime(2026, 12, 1, 10, 30, tzinfo=timezone.utc)
    monkeypatch.setattr(handoff, "clock", lambda: moment)
    _, slots = run(ActionOfferCsat(), tracker("ciao", "goodbye"))
    run(ActionRecordRating(), tracker("4", "give_rating", slots=slots))
    run(
        ActionAnswerHelpful(),
        tracker(
            "/answer_helpful",
            "answer_helpful",
            entities=[{"entity": "article", "value": "returns"}],
        ),
    )
    db = open_db(db_path)
    stamps = [row["at"] for row in db[schema.RATINGS].rows]
    assert len(stamps) == 2 and all(parse_time(s) == moment for s in stamps)
    asked = [row for row in db[schema.REQUESTS].rows if row["kind"] == "csat"]
    assert [parse_time(row["answered_at"]) for row in asked] == [moment]


def test_nps_is_not_asked_again_within_the_period(db_path: Path) -> None:
    ratings.ask(
        open_db(db_path), ratings.Rater("conv-1", "conv-1"), "nps", "customer", "conv-1", utc_now()
    )
    pending = Pending("csat", "conversation", "conv-1", "50.0").encode()
    said, slots = run(
        ActionRecordRating(), tracker("5", "give_rating", slots={"rating_pending": pending})
    )
    assert said == ["utter_rating_thanks"] and slots == {"rating_pending": None}
    # After a ticket: its CES, then no NPS (asked within the period).
    pending = Pending("csat", "ticket", "12").encode()
    said, slots = run(
        ActionRecordRating(), tracker("5", "give_rating", slots={"rating_pending": pending})
    )
    assert said == ["utter_rating_thanks", "utter_ask_ces"]
    said, slots = run(ActionRecordRating(), tracker("6", "give_rating", slots=slots))
    assert said == ["utter_rating_thanks"] and slots == {"rating_pending": None}


def test_after_a_tickets_csat_the_effort_score_then_nps(db_path: Path) -> None:
    """CES (1-7) follows a ticket's CSAT, once per ticket; NPS after it when due."""
    pending = Pending("csat", "ticket", "12").encode()
    said, slots = run(
        ActionRecordRating(), tracker("4", "give_rating", slots={"rating_pending": pending})
    )
    assert said == ["utter_rating_thanks", "utter_ask_ces"]
    assert Pending.decode(slots["rating_pending"]) == Pending("ces", "ticket", "12")
    said, _ = run(ActionRecordRating(), tracker("9", "give_rating", slots=slots))
    assert said == ["utter_rating_invalid"]  # 1-7 only
    said, slots = run(
        ActionRecordRating(),
        tracker("/give_rating", "give_rating", entities=[{"entity": "rating", "value": "7"}],
                slots=slots),
    )  # fmt: skip
    assert said == ["utter_rating_thanks", "utter_ask_nps"]
    db = open_db(db_path)
    given = {(r["kind"], r["value"]) for r in ratings.ratings_for(db, "ticket", "12")}
    assert given == {("csat", 4), ("ces", 7)}
    # The same ticket's CSAT again (a second close, a replay) does not ask CES twice.
    said, _ = run(
        ActionRecordRating(),
        tracker("5", "give_rating", slots={"rating_pending": pending}, sender="conv-2"),
    )
    assert "utter_ask_ces" not in said


def test_a_csat_already_given_by_mail_is_not_counted_twice(db_path: Path) -> None:
    db = open_db(db_path)
    by_mail = ratings.Rater("conv-1", "conv-1", "email", "it")
    ratings.ask(db, by_mail, "csat", "ticket", "12", utc_now())
    ratings.record(db, by_mail, "csat", 2, "ticket", "12", utc_now())
    pending = Pending("csat", "ticket", "12").encode()
    said, slots = run(
        ActionRecordRating(), tracker("5", "give_rating", slots={"rating_pending": pending})
    )
    assert said == ["utter_rating_thanks"] and slots == {"rating_pending": None}
    assert [r["value"] for r in ratings.ratings_for(db, "ticket", "12")] == [2]


def test_the_effort_score_can_be_skipped(db_path: Path) -> None:
    pending = Pending("csat", "ticket", "12").encode()
    _, slots = run(
        ActionRecordRating(), tracker("4", "give_rating", slots={"rating_pending": pending})
    )
    said, slots = run(ActionSkipRating(), tracker("salta", "skip_rating", slots=slots))
    assert said == ["utter_rating_skipped"] and slots == {"rating_pending": None}
    assert ratings.request_status(open_db(db_path), "ces", "ticket", "12") == "skipped"
    assert {r["kind"] for r in ratings.ratings_for(open_db(db_path), "ticket", "12")} == {"csat"}


def test_an_out_of_range_number_asks_again(db_path: Path) -> None:
    pending = Pending("csat", "ticket", "12").encode()
    said, slots = run(
        ActionRecordRating(), tracker("8", "give_rating", slots={"rating_pending": pending})
    )
    assert said == ["utter_rating_invalid"] and slots == {}
    assert ratings.ratings_for(open_db(db_path), "ticket", "12") == []


def test_skipping_marks_the_question_and_clears_it(db_path: Path) -> None:
    db = open_db(db_path)
    ratings.ask(
        db,
        ratings.Rater("conv-1", "conv-1"),
        "csat",
        "ticket",
        "12",
        utc_now(),
    )
    said, slots = run(
        ActionSkipRating(),
        tracker("salta", "skip_rating", slots={"rating_pending": "csat|ticket|12|"}),
    )
    assert said == ["utter_rating_skipped"] and slots == {"rating_pending": None}
    assert [r["status"] for r in db[schema.REQUESTS].rows] == ["skipped"]
    assert run(ActionSkipRating(), tracker("salta", "skip_rating"))[0] == ["utter_ok_anything_else"]


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("4", 4),
        ("direi 3", 3),
        ("9 su 10", 9),
        ("10/10", 10),
        ("cinque", 5),
        ("five stars", 5),
        ("12", 12),
        ("ciao", None),
        ("", None),
        ("quanto costa spedire 2 kg in Francia?", None),
    ],
)
def test_parse_rating(text: str, value: int | None) -> None:
    assert parse_rating(text) == value
