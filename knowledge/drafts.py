"""Operators' answers becoming knowledge: drafts, review, publication, retirement.

An operator who answers a ticket can propose the answer for the knowledge base. The
draft article gets a general question (derived from the customer's words, editable)
and the operator's answer, and is scrubbed of personal data (:mod:`sportello.pii`)
*before it is stored*, so no reviewer and no later customer ever sees the original
e-mail address, phone number or name. A supervisor then edits, approves (the article
is published, in one or both languages) or rejects it. Publishing bumps the store's
change counter, so the running searcher answers with it within a second, without a
restart and without retraining Rasa.

Every change is kept in ``article_history`` by the store's triggers, with who made it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import sqlite_utils

from knowledge import store
from knowledge.store import Article, ArticleError
from sportello.pii import NAME, find_personal_data, scrub

SOURCE_TICKET = "ticket:{ticket_id}"
TAG_FROM_OPERATOR = "from-operator"
MAX_QUESTION_CHARS = 300
MAX_ANSWER_CHARS = 4000
_SLUG = re.compile(r"[^a-z0-9]+")
_NAME_FROM_EMAIL = re.compile(r"^([a-z]{2,})[._]([a-z]{2,})@", re.IGNORECASE)


@dataclass(frozen=True)
class Version:
    """One language version a supervisor publishes: question and answer (and phrasings)."""

    lang: str
    question: str
    answer: str
    alt_questions: Sequence[str] = ()


def names_from_email(email: str | None) -> list[str]:
    """ "mario.rossi@…" → ["Mario", "Rossi"]: a name the scrubber must also remove."""
    match = _NAME_FROM_EMAIL.match(email or "")
    return [part.capitalize() for part in match.groups()] if match else []


def customer_names(customer_messages: Iterable[str], email: str | None = None) -> list[str]:
    """The names a customer gave in the conversation ("mi chiamo Mario Rossi") or in
    their e-mail address: the operator's answer may use them without any cue."""
    names = names_from_email(email)
    for text in customer_messages:
        for finding in find_personal_data(str(text)):
            if finding.kind == NAME:
                names += finding.text.split()
    return list(dict.fromkeys(n for n in names if len(n) > 1))


def derive_question(customer_messages: Iterable[str]) -> str:
    """The customer's question, as a starting point for the article's general question.

    The last message that asks something (ends with "?"), else the longest recent one:
    requests for a person ("operatore!") are short and rarely the question itself.
    """
    texts = [" ".join(str(t).split()) for t in customer_messages if str(t).strip()]
    if not texts:
        return ""
    questions = [t for t in texts if t.endswith("?")]
    chosen = questions[-1] if questions else max(texts[-5:], key=len)
    return chosen[:MAX_QUESTION_CHARS]


def _slug(text: str) -> str:
    return _SLUG.sub("-", text.lower()).strip("-")[:40].strip("-") or "article"


def _free_id(db: sqlite_utils.Database, base: str) -> str:
    candidate, n = base, 1
    while any(store.get_article(db, candidate, lang) for lang in store.LANGS):
        n += 1
        candidate = f"{base}-{n}"
    return candidate


def propose(
    db: sqlite_utils.Database,
    *,
    question: str,
    answer: str,
    lang: str,
    author: str,
    tags: Iterable[str] = (),
    source: str = "",
    names: Iterable[str] = (),
) -> Article:
    """Store a scrubbed draft article; returns it (its ``id`` is new and unique)."""
    names = [n for n in names if n]
    clean_question = scrub(question.strip()[:MAX_QUESTION_CHARS], names)
    clean_answer = scrub(answer.strip()[:MAX_ANSWER_CHARS], names)
    article = Article(
        id=_free_id(db, f"op-{_slug(clean_question)}"),
        lang=lang,
        question=clean_question,
        answer=clean_answer,
        tags=sorted({TAG_FROM_OPERATOR, *(t.strip().lower() for t in tags if t.strip())}),
        source=source,
        status="draft",
        updated_by=author,
    )
    return store.upsert_article(db, article)


def list_drafts(db: sqlite_utils.Database) -> list[Article]:
    """Drafts waiting for review, oldest first."""
    return sorted(store.list_articles(db, status="draft"), key=lambda a: a.created_at)


def publish(
    db: sqlite_utils.Database,
    article_id: str,
    versions: Sequence[Version],
    *,
    reviewer: str,
    tags: Iterable[str] | None = None,
) -> list[Article]:
    """Publish an article in the given language versions (edited by the reviewer).

    The reviewer's text is scrubbed again (a pasted e-mail address must not slip in).
    Versions of the same article not named stay as they are.
    """
    if not versions:
        raise ArticleError("nothing to publish / niente da pubblicare")
    existing = {
        a.lang: a for a in (store.get_article(db, article_id, lang) for lang in store.LANGS) if a
    }
    if not existing:
        raise ArticleError(f"no article {article_id!r} / articolo inesistente")
    first = next(iter(existing.values()))
    chosen_tags = list(tags) if tags is not None else first.tags
    published = [
        Article(
            id=article_id,
            lang=version.lang,
            question=scrub(version.question.strip()[:MAX_QUESTION_CHARS]),
            answer=scrub(version.answer.strip()[:MAX_ANSWER_CHARS]),
            alt_questions=[scrub(q) for q in version.alt_questions if q.strip()],
            tags=chosen_tags,
            source=existing.get(version.lang, first).source,
            status="published",
            updated_by=reviewer,
        )
        for version in versions
    ]
    return store.upsert_articles(db, published)


def reject(db: sqlite_utils.Database, article_id: str, *, reviewer: str) -> int:
    """Turn a draft down (every language version still in draft); kept for the record."""
    changed = 0
    for lang in store.LANGS:
        article = store.get_article(db, article_id, lang)
        if article is not None and article.status == "draft":
            changed += store.set_status(db, article_id, lang, "rejected", by=reviewer)
    return changed


def retire(db: sqlite_utils.Database, article_id: str, *, reviewer: str) -> int:
    """Withdraw an article from search in every language (kept, with its history)."""
    return store.set_status(db, article_id, None, "retired", by=reviewer)
