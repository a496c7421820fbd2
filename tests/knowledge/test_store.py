"""The article store: round trip, validation, upserts and the change counter."""

from __future__ import annotations

import pytest

from knowledge.store import (
    Article,
    ArticleError,
    get_article,
    kb_version,
    list_articles,
    set_status,
    upsert_article,
    upsert_articles,
)
from tests.databases import open_db


@pytest.fixture
def db(data_dir):
    return open_db()


def _article(**overrides) -> Article:
    fields = {
        "id": "spedizione",
        "lang": "it",
        "question": "Quanto costa la spedizione?",
        "answer": "5,90 €",
        "alt_questions": ["spese di consegna"],
        "tags": ["spedizione", "costi"],
        "source": "test",
    }
    return Article(**{**fields, **overrides})


def test_an_article_round_trips_with_its_lists(db):
    upsert_article(db, _article())
    stored = get_article(db, "spedizione", "it")
    assert stored.question == "Quanto costa la spedizione?"
    assert stored.alt_questions == ["spese di consegna"]
    assert stored.tags == ["spedizione", "costi"]
    assert stored.status == "published"
    assert stored.created_at and stored.created_at == stored.updated_at


def test_the_two_language_versions_share_an_id(db):
    upsert_articles(
        db, [_article(), _article(lang="en", question="Shipping cost?", answer="€5.90")]
    )
    assert get_article(db, "spedizione", "en").answer == "€5.90"
    assert get_article(db, "spedizione", "it").answer == "5,90 €"
    assert [(a.id, a.lang) for a in list_articles(db)] == [
        ("spedizione", "en"),
        ("spedizione", "it"),
    ]


def test_upsert_updates_the_text_and_updated_at_but_keeps_created_at(db):
    first = upsert_article(db, _article())
    second = upsert_article(db, _article(answer="Gratis sopra i 49 €"))
    stored = get_article(db, "spedizione", "it")
    assert stored.answer == "Gratis sopra i 49 €"
    assert stored.created_at == first.created_at
    assert stored.updated_at == second.updated_at > first.updated_at
    assert len(list_articles(db)) == 1


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"question": "   "}, "question is empty"),
        ({"answer": ""}, "answer is empty"),
        ({"lang": "fr"}, "unknown language"),
        ({"id": ""}, "id is empty"),
        ({"status": "archived"}, "unknown status"),
        ({"alt_questions": "not a list"}, "alt_questions must be a list"),
    ],
)
def test_invalid_articles_are_refused_with_a_clear_message(db, overrides, message):
    with pytest.raises(ArticleError, match=message):
        upsert_article(db, _article(**overrides))


def test_a_bad_article_in_a_batch_writes_nothing(db):
    good = _article()
    bad = _article(id="other", lang="xx")
    with pytest.raises(ArticleError):
        upsert_articles(db, [good, bad])
    assert list_articles(db, status=None) == []


def test_html_is_stored_as_text_unchanged(db):
    html = '<script>alert("x")</script><b>grassetto</b>'
    upsert_article(db, _article(answer=html))
    assert get_article(db, "spedizione", "it").answer == html


def test_retiring_hides_an_article_from_the_published_list(db):
    upsert_articles(db, [_article(), _article(lang="en", question="Shipping?", answer="€5.90")])
    assert set_status(db, "spedizione", "it", "retired") == 1
    assert [(a.id, a.lang) for a in list_articles(db)] == [("spedizione", "en")]
    assert get_article(db, "spedizione", "it").status == "retired"


def test_every_write_moves_the_change_counter(db):
    before = kb_version(db)
    upsert_article(db, _article())
    after_insert = kb_version(db)
    set_status(db, "spedizione", None, "draft")
    assert before < after_insert < kb_version(db)


def test_phrasings_lists_question_and_alternatives_without_duplicates():
    article = _article(
        alt_questions=[
            "spese di consegna",
            "Quanto costa la spedizione?",
            " ",
            "quanto  costa la spedizione",  # other spaces, case, no question mark
            "Spese di consegna?",
        ]
    )
    assert article.phrasings() == ["Quanto costa la spedizione?", "spese di consegna"]
