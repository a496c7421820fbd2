"""Ratings: storing them, asking each question once, and article quality."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import sqlite_utils

from customerlog import ratings, schema
from identity import profiles

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=timezone.utc)
ALICE = ratings.Rater("conv-a", "alice", "rest", "it")
BOB = ratings.Rater("conv-b", "bob", "socketio", "en")


def test_a_rating_is_stored_against_its_target(db: sqlite_utils.Database) -> None:
    ratings.record(db, ALICE, schema.RATING_CSAT, 4, schema.TARGET_TICKET, "17", NOW)
    (row,) = ratings.ratings_for(db, schema.TARGET_TICKET, "17")
    assert (row["kind"], row["value"], row["customer_id"], row["lang"]) == (
        "csat",
        4,
        "alice",
        "it",
    )


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        ("csat", 0),
        ("csat", 6),
        ("nps", 11),
        ("nps", -1),
        ("helpful", 2),
        ("stars", 3),
        ("csat", True),
    ],
)
def test_out_of_range_ratings_are_refused(db: sqlite_utils.Database, kind: str, value: int) -> None:
    with pytest.raises(ratings.RatingError):
        ratings.record(db, ALICE, kind, value, schema.TARGET_TICKET, "1", NOW)
    assert db[schema.RATINGS].count == 0


def test_each_question_is_asked_once(db: sqlite_utils.Database) -> None:
    args = (schema.RATING_CSAT, schema.TARGET_CONVERSATION, "conv-a")
    assert ratings.ask(db, ALICE, *args, NOW, session="s1") is True
    assert ratings.ask(db, ALICE, *args, NOW, session="s1") is False
    assert ratings.ask(db, ALICE, *args, NOW, session="s2") is True, "a new session is new"


def test_answer_and_skip_update_the_question(db: sqlite_utils.Database) -> None:
    ratings.ask(db, ALICE, schema.RATING_CSAT, schema.TARGET_TICKET, "5", NOW)
    ratings.ask(db, BOB, schema.RATING_CSAT, schema.TARGET_TICKET, "6", NOW)
    ratings.record(db, ALICE, schema.RATING_CSAT, 5, schema.TARGET_TICKET, "5", NOW)
    ratings.skip(db, schema.RATING_CSAT, schema.TARGET_TICKET, "6")
    status = {r["target_id"]: r["status"] for r in db[schema.REQUESTS].rows}
    assert status == {"5": schema.REQUEST_ANSWERED, "6": schema.REQUEST_SKIPPED}


def test_nps_is_asked_at_most_once_per_period(db: sqlite_utils.Database) -> None:
    assert ratings.nps_due(db, "alice", 90, NOW)
    ratings.ask(db, ALICE, schema.RATING_NPS, schema.TARGET_CUSTOMER, "alice", NOW)
    assert not ratings.nps_due(db, "alice", 90, NOW + timedelta(days=89))
    assert ratings.nps_due(db, "alice", 90, NOW + timedelta(days=91))
    assert ratings.nps_due(db, "bob", 90, NOW), "other customers are not affected"


def test_nps_counts_the_person_on_every_channel(db: sqlite_utils.Database) -> None:
    ratings.ask(db, ALICE, schema.RATING_NPS, schema.TARGET_CUSTOMER, "alice", NOW)
    assert ratings.nps_due(db, "alice-on-telegram", 90, NOW)
    for channel_id in ("alice", "alice-on-telegram"):
        profiles.record(db, conversation_id=channel_id, channel_id=channel_id, channel="x")
    profiles.merge(db, "alice", "alice-on-telegram", actor="op")
    assert not ratings.nps_due(db, "alice-on-telegram", 90, NOW)


def test_a_second_vote_from_one_conversation_replaces_the_first(
    db: sqlite_utils.Database,
) -> None:
    for helpful in (True, True, False):
        ratings.record_helpful(db, ALICE, "shipping", helpful, NOW)
    ratings.record_helpful(db, BOB, "shipping", True, NOW)
    (quality,) = ratings.article_quality(db)
    assert (quality.helpful, quality.not_helpful) == (1, 1)


def test_wilson_score_is_cautious_with_few_votes() -> None:
    assert ratings.wilson_lower_bound(0, 0) == 0.0
    few = ratings.wilson_lower_bound(2, 2)
    many = ratings.wilson_lower_bound(40, 45)
    assert few < many < 40 / 45
    assert ratings.wilson_lower_bound(0, 10) == pytest.approx(0.0, abs=1e-9)


def test_review_list_holds_articles_customers_find_unhelpful(db: sqlite_utils.Database) -> None:
    def votes(article: str, good: int, bad: int) -> None:
        for i in range(good + bad):
            rater = ratings.Rater(f"{article}-{i}", f"cust-{i}")
            ratings.record_helpful(db, rater, article, i < good, NOW)

    votes("bad-article", 1, 4)
    votes("good-article", 9, 1)
    votes("too-few-votes", 0, 2)
    review = ratings.review_list(db)
    assert [q.article_id for q in review] == ["bad-article"]
    worst_first = [q.article_id for q in ratings.article_quality(db)]
    assert worst_first.index("bad-article") < worst_first.index("good-article")
