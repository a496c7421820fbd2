"""Operator answers becoming articles: scrubbed drafts, review, publication, history."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlite_utils

from knowledge import drafts, store
from knowledge.store import ArticleError
from sportello.pii import scrub
from tests.databases import open_db


@pytest.fixture
def db(tmp_path: Path) -> Iterator[sqlite_utils.Database]:
    database = open_db(tmp_path / "kb.db")
    yield database
    database.close()


def _draft(db: sqlite_utils.Database, **overrides: str) -> store.Article:
    values = {
        "question": "Posso cambiare l'indirizzo di consegna dopo l'ordine?",
        "answer": (
            "Gentile Mario Rossi, sì: scriva a mario.rossi@example.com o chiami il "
            "333 123 4567 entro 24 ore dall'ordine."
        ),
        "lang": "it",
        "author": "anna",
        "source": "ticket:7",
        "names": ["Mario", "Rossi"],
        **overrides,
    }
    return drafts.propose(db, **values)


def test_a_draft_is_scrubbed_before_it_is_stored(db: sqlite_utils.Database) -> None:
    draft = _draft(db)
    stored = store.get_article(db, draft.id, "it")
    assert stored is not None and stored.status == "draft"
    for secret in ("Mario", "Rossi", "mario.rossi@example.com", "333 123 4567"):
        assert secret not in stored.answer
    assert "[EMAIL]" in stored.answer and "[PHONE]" in stored.answer
    assert "entro 24 ore" in stored.answer, "the rest of the answer reads as written"
    assert stored.updated_by == "anna" and stored.source == "ticket:7"
    assert drafts.TAG_FROM_OPERATOR in stored.tags
    # The history holds only scrubbed text too.
    (version,) = store.article_history(db, draft.id, "it")
    assert "mario.rossi" not in version["answer"]


def test_drafts_are_not_searchable_until_published(db: sqlite_utils.Database) -> None:
    draft = _draft(db)
    assert draft.id not in {a.id for a in store.list_articles(db)}
    assert [d.id for d in drafts.list_drafts(db)] == [draft.id]
    drafts.publish(
        db,
        draft.id,
        [
            drafts.Version("it", "Posso cambiare l'indirizzo di consegna?", draft.answer),
            drafts.Version("en", "Can I change the delivery address?", "Yes, within 24 hours."),
        ],
        reviewer="sara",
    )
    published = {(a.id, a.lang) for a in store.list_articles(db)}
    assert {(draft.id, "it"), (draft.id, "en")} <= published
    assert drafts.list_drafts(db) == []
    history = store.article_history(db, draft.id, "it")
    assert [h["version"] for h in history] == [2, 1]
    assert [h["updated_by"] for h in history] == ["sara", "anna"]


def test_a_reviewer_cannot_paste_personal_data_back(db: sqlite_utils.Database) -> None:
    draft = _draft(db)
    drafts.publish(
        db,
        draft.id,
        [drafts.Version("it", draft.question, "Scrivi a luigi.verdi@example.org")],
        reviewer="sara",
    )
    assert "luigi.verdi" not in store.get_article(db, draft.id, "it").answer


def test_reject_and_retire(db: sqlite_utils.Database) -> None:
    rejected = _draft(db)
    assert drafts.reject(db, rejected.id, reviewer="sara") == 1
    assert store.get_article(db, rejected.id, "it").status == "rejected"
    kept = _draft(db, question="Fate fattura?", answer="Sì, su richiesta.")
    drafts.publish(db, kept.id, [drafts.Version("it", kept.question, kept.answer)], reviewer="sara")
    drafts.retire(db, kept.id, reviewer="sara")
    assert store.get_article(db, kept.id, "it").status == "retired"
    assert kept.id not in {a.id for a in store.list_articles(db)}


def test_ids_are_unique_and_empty_drafts_refused(db: sqlite_utils.Database) -> None:
    first, second = _draft(db), _draft(db)
    assert first.id != second.id
    with pytest.raises(ArticleError):
        _draft(db, answer="   ")
    with pytest.raises(ArticleError):
        drafts.publish(db, first.id, [], reviewer="sara")
    with pytest.raises(ArticleError):
        drafts.publish(db, "no-such-article", [drafts.Version("it", "q", "a")], reviewer="sara")


@pytest.mark.parametrize(
    ("messages", "expected"),
    [
        (["operatore!", "Posso pagare a rate?", "voglio una persona"], "Posso pagare a rate?"),
        (
            ["ciao", "il mio pacco non è ancora arrivato da una settimana"],
            "il mio pacco non è ancora arrivato da una settimana",
        ),
        ([], ""),
    ],
)
def test_the_question_is_derived_from_the_customer_words(
    messages: list[str], expected: str
) -> None:
    assert drafts.derive_question(messages) == expected


def test_names_from_email() -> None:
    assert drafts.names_from_email("mario.rossi@example.com") == ["Mario", "Rossi"]
    assert drafts.names_from_email("info@example.com") == []
    assert drafts.names_from_email(None) == []


def test_names_the_customer_gave_are_collected() -> None:
    said = ["ciao, mi chiamo Giulia Bianchi", "il pacco non arriva"]
    assert drafts.customer_names(said, "mario.rossi@example.com") == [
        "Mario",
        "Rossi",
        "Giulia",
        "Bianchi",
    ]
    # ...so the operator's answer loses them even without a greeting before them.
    answer = "Giulia, il corriere passa domani."
    assert "Giulia" not in scrub(answer, drafts.customer_names(said))
