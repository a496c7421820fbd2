"""Customers' wordings proposed as phrasings of existing articles, reviewed in bulk."""

from __future__ import annotations

from pathlib import Path

import pytest

from knowledge import phrasings
from knowledge.store import Article, get_article, kb_version, upsert_articles
from tests.databases import open_db
from tests.knowledge.conftest import build_kb

WORDING = "quanto pago per farmi mandare il pacco a casa?"


@pytest.fixture
def db(tmp_path: Path):
    db = open_db(tmp_path / "sportello.db")
    upsert_articles(
        db,
        [
            Article(
                id="shipping-cost",
                lang="it",
                question="Quanto costa la spedizione?",
                answer="La spedizione costa 5,90 € ed è gratuita sopra i 49 €.",
            ),
            Article(
                id="old",
                lang="it",
                question="Fate sconti a Natale?",
                answer="No.",
                status="retired",
            ),
        ],
    )
    return db


def test_a_picked_wording_is_proposed_once_and_counts_each_customer(db) -> None:
    first = phrasings.propose(db, "shipping-cost", "it", WORDING, phrasings.SOURCE_PICK, "c1")
    assert first is not None and first.votes == 1 and first.status == phrasings.PROPOSED
    again = phrasings.propose(db, "shipping-cost", "it", WORDING, phrasings.SOURCE_PICK, "c1")
    assert again is not None and again.votes == 1  # the same conversation counts once
    other = phrasings.propose(
        db, "shipping-cost", "it", "  Quanto pago per farmi mandare il pacco a casa  ", "pick", "c2"
    )
    assert other is not None and other.id == first.id and other.votes == 2
    assert [p.text for p in phrasings.list_proposals(db)] == [WORDING]


@pytest.mark.parametrize(
    "text",
    [
        "",
        "2",
        "la seconda",
        '/choose_article{"article": "shipping-cost"}',
        "Quanto costa la spedizione?",  # already the article's question
        "sono mario.rossi@example.com, quanto costa spedire?",  # one person's case
        "x" * 400,
    ],
)
def test_wordings_that_teach_nothing_are_not_proposed(db, text: str) -> None:
    assert phrasings.propose(db, "shipping-cost", "it", text, "pick", "c1") is None
    assert phrasings.list_proposals(db) == []


def test_only_published_article_versions_get_proposals(db) -> None:
    assert phrasings.propose(db, "old", "it", "ci sono offerte a natale?", "pick", "c1") is None
    assert (
        phrasings.propose(db, "shipping-cost", "en", "how much to ship it?", "pick", "c1") is None
    )
    assert phrasings.propose(db, "missing", "it", WORDING, "pick", "c1") is None


def test_a_thumbs_down_withdraws_and_a_thumbs_up_strengthens(db) -> None:
    phrasings.propose(db, "shipping-cost", "it", WORDING, phrasings.SOURCE_PICK, "c1")
    assert phrasings.confirm(db, "shipping-cost", "c1") == 1
    assert phrasings.list_proposals(db)[0].source == phrasings.SOURCE_HELPFUL
    assert phrasings.withdraw(db, "shipping-cost", "someone-else") == 0
    assert phrasings.withdraw(db, "shipping-cost", "c1") == 1
    assert phrasings.list_proposals(db) == []
    assert phrasings.list_proposals(db, phrasings.WITHDRAWN)[0].votes == 0
    # A later customer may propose it again.
    again = phrasings.propose(db, "shipping-cost", "it", WORDING, "pick", "c3")
    assert again is not None and again.status == phrasings.PROPOSED and again.votes == 1


def test_an_operator_answer_is_the_strongest_source(db) -> None:
    phrasings.propose(db, "shipping-cost", "it", WORDING, phrasings.SOURCE_PICK, "c1")
    phrasings.propose(db, "shipping-cost", "it", WORDING, phrasings.SOURCE_OPERATOR, "ticket:7")
    phrasings.confirm(db, "shipping-cost", "c1")
    proposal = phrasings.list_proposals(db)[0]
    assert proposal.source == phrasings.SOURCE_OPERATOR and proposal.votes == 2
    with pytest.raises(ValueError):
        phrasings.propose(db, "shipping-cost", "it", WORDING, "rumour", "c9")


def test_approving_adds_the_phrasing_and_bumps_the_searchers_marker(db) -> None:
    proposal = phrasings.propose(db, "shipping-cost", "it", WORDING, "pick", "c1")
    before = kb_version(db)
    assert phrasings.approve(db, [proposal.id, 9999], "sara") == 1
    article = get_article(db, "shipping-cost", "it")
    assert article.alt_questions == [WORDING] and article.updated_by == "sara"
    assert kb_version(db) > before
    assert phrasings.list_proposals(db) == []
    decided = phrasings.list_proposals(db, phrasings.APPROVED)[0]
    assert decided.decided_by == "sara" and decided.decided_at
    assert phrasings.approve(db, [proposal.id], "sara") == 0  # not twice
    assert get_article(db, "shipping-cost", "it").alt_questions == [WORDING]


def test_a_rejected_wording_is_never_proposed_again(db) -> None:
    proposal = phrasings.propose(db, "shipping-cost", "it", WORDING, "pick", "c1")
    assert phrasings.reject(db, [proposal.id], "sara") == 1
    assert phrasings.propose(db, "shipping-cost", "it", WORDING, "operator", "t:1") is None
    assert get_article(db, "shipping-cost", "it").alt_questions == []


def test_an_approved_phrasing_answers_the_next_customer_who_asks_that_way(tmp_path) -> None:
    searcher = build_kb(tmp_path)
    wording = "il corriere quanto si fa pagare?"
    before = searcher.search(wording, "it")
    db = open_db(tmp_path / "sportello.db")
    proposal = phrasings.propose(db, "shipping-cost", "it", wording, "pick", "c1")
    phrasings.approve(db, [proposal.id], "sara")
    after = searcher.search(wording, "it")
    assert after.results[0].id == "shipping-cost" and not after.abstain
    assert after.results[0].score > (before.results[0].score if before.results else 0.0)
