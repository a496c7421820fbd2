"""Knowledge-base articles in SQLite: the single source of truth.

Everything else the knowledge base keeps (FAISS vectors, the stemmed lexical index) is
derived from the ``articles`` table and can be deleted and rebuilt. An article is keyed
by ``(id, lang)``: the Italian and English versions of one answer share the same ``id``.

Every write bumps a counter in ``kb_state`` through SQLite triggers, so a running
searcher notices added, changed and retired articles with one cheap query, whichever
process (command line, operator console) made the change.

Every insert and update also writes a snapshot to ``article_history`` (a trigger, so no
writer can forget it): an article's versions can always be read back, with who changed
it (``updated_by``).

Text is stored as given. HTML in a question or answer is kept as text and never
interpreted here: escaping is the job of whatever displays it.

The tables and triggers are created and changed by numbered migrations
(:mod:`knowledge.migrations`), applied once at start-up.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field

import sqlite_utils

from sportello.clock import MICROSECONDS, format_time, utc_now
from sportello.languages import LANGUAGES

LANGS = LANGUAGES
# draft: proposed (by an operator), not searchable until a supervisor publishes it;
# rejected: a draft turned down, kept for the record; retired: withdrawn from search.
STATUSES = ("published", "draft", "retired", "rejected")
ARTICLES = "articles"
STATE = "kb_state"
HISTORY = "article_history"


class ArticleError(ValueError):
    """An article that cannot be stored (empty question or answer, unknown language...)."""


@dataclass
class Article:
    """One language version of a knowledge-base answer."""

    id: str
    lang: str
    question: str
    answer: str
    alt_questions: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    source: str = ""
    status: str = "published"
    created_at: str = ""
    updated_at: str = ""
    updated_by: str = ""

    def phrasings(self) -> list[str]:
        """The question and its alternative phrasings, in order, each once: wordings that
        differ only in spaces, case or closing punctuation are one phrasing
        (``phrasing_key``, as for approved customer wordings and the exact-match rule)."""
        seen: dict[str, str] = {}
        for text in [self.question, *self.alt_questions]:
            clean = text.strip()
            if clean:
                seen.setdefault(phrasing_key(clean), clean)
        return list(seen.values())


def phrasing_key(text: str) -> str:
    """What two wordings share when they are the same phrasing: spaces, case and the
    closing punctuation aside ("Quanto costa la spedizione?" = "quanto costa la spedizione")."""
    return " ".join(text.split()).casefold().rstrip("?!. ")


def _now() -> str:
    """Now, stored to the microsecond: two edits of an article within one second still
    show which came last."""
    return format_time(utc_now(), MICROSECONDS)


def validate_article(article: Article) -> Article:
    """A cleaned copy of ``article``, or :class:`ArticleError` saying what is wrong."""
    article_id = str(article.id or "").strip()
    if not article_id:
        raise ArticleError("id is empty / id vuoto")
    lang = str(article.lang or "").strip().lower()
    if lang not in LANGS:
        raise ArticleError(
            f"unknown language {article.lang!r} (use one of {', '.join(LANGS)}) / "
            f"lingua sconosciuta {article.lang!r}"
        )
    question = str(article.question or "").strip()
    if not question:
        raise ArticleError("question is empty / domanda vuota")
    answer = str(article.answer or "").strip()
    if not answer:
        raise ArticleError("answer is empty / risposta vuota")
    status = str(article.status or "published").strip().lower()
    if status not in STATUSES:
        raise ArticleError(f"unknown status {article.status!r} (use one of {', '.join(STATUSES)})")
    for name in ("alt_questions", "tags"):
        value = getattr(article, name)
        if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
            raise ArticleError(f"{name} must be a list of strings / {name} deve essere una lista")
    return Article(
        id=article_id,
        lang=lang,
        question=question,
        answer=answer,
        alt_questions=[v.strip() for v in article.alt_questions if v.strip()],
        tags=[v.strip() for v in article.tags if v.strip()],
        source=str(article.source or "").strip(),
        status=status,
        created_at=article.created_at,
        updated_at=article.updated_at,
        updated_by=str(article.updated_by or "").strip(),
    )


def kb_version(db: sqlite_utils.Database) -> int:
    """A number that changes whenever any article is written: the searcher's change marker."""
    row = db.execute(f"SELECT version FROM {STATE} WHERE key = 'articles'").fetchone()
    return int(row[0]) if row else 0


def _to_row(article: Article) -> dict:
    return {
        "id": article.id,
        "lang": article.lang,
        "question": article.question,
        "alt_questions": json.dumps(article.alt_questions, ensure_ascii=False),
        "answer": article.answer,
        "tags": json.dumps(article.tags, ensure_ascii=False),
        "source": article.source,
        "status": article.status,
        "created_at": article.created_at,
        "updated_at": article.updated_at,
        "updated_by": article.updated_by,
    }


def _from_row(row: dict) -> Article:
    return Article(
        id=row["id"],
        lang=row["lang"],
        question=row["question"],
        answer=row["answer"],
        alt_questions=json.loads(row["alt_questions"] or "[]"),
        tags=json.loads(row["tags"] or "[]"),
        source=row["source"] or "",
        status=row["status"],
        created_at=row["created_at"] or "",
        updated_at=row["updated_at"] or "",
        updated_by=row.get("updated_by") or "",
    )


def _upsert_one(db: sqlite_utils.Database, article: Article, now: str) -> Article:
    clean = validate_article(article)
    existing = get_article(db, clean.id, clean.lang)
    clean.created_at = existing.created_at if existing else (clean.created_at or now)
    clean.updated_at = now
    db[ARTICLES].upsert(_to_row(clean), pk=("id", "lang"))
    return clean


def upsert_article(db: sqlite_utils.Database, article: Article) -> Article:
    """Insert or replace one article version; returns it with its timestamps.

    ``created_at`` survives updates; ``updated_at`` is set to now on every write.
    """
    return upsert_articles(db, [article])[0]


def upsert_articles(db: sqlite_utils.Database, articles: Iterable[Article]) -> list[Article]:
    """Write several articles in ONE transaction: all of them or, on any error, none."""
    now = _now()
    cleaned = [validate_article(article) for article in articles]
    with db.atomic():
        return [_upsert_one(db, article, now) for article in cleaned]


def get_article(db: sqlite_utils.Database, article_id: str, lang: str) -> Article | None:
    """The article version, whatever its status, or None."""
    rows = list(db[ARTICLES].rows_where("id = ? AND lang = ?", [article_id, lang]))
    return _from_row(rows[0]) if rows else None


def list_articles(db: sqlite_utils.Database, status: str | None = "published") -> list[Article]:
    """Articles with ``status`` (None: all), ordered by id then language."""
    if status is None:
        rows = db[ARTICLES].rows_where(order_by="id, lang")
    else:
        rows = db[ARTICLES].rows_where("status = ?", [status], order_by="id, lang")
    return [_from_row(row) for row in rows]


def set_status(
    db: sqlite_utils.Database,
    article_id: str,
    lang: str | None,
    status: str,
    by: str = "",
) -> int:
    """Change the status of one version (or every version when ``lang`` is None).

    Returns how many versions changed. Retiring keeps the row for the record; the
    searcher stops returning it within a second.
    """
    if status not in STATUSES:
        raise ArticleError(f"unknown status {status!r} (use one of {', '.join(STATUSES)})")
    where, params = "id = ?", [article_id]
    if lang is not None:
        where, params = "id = ? AND lang = ?", [article_id, lang]
    with db.atomic():
        cursor = db.execute(
            f"UPDATE {ARTICLES} SET status = ?, updated_at = ?, updated_by = ? WHERE {where}",
            [status, _now(), by, *params],
        )
    return cursor.rowcount


def count_articles(db: sqlite_utils.Database) -> dict[str, int]:
    """How many versions per status and per language, for `sportello kb stats`."""
    counts: dict[str, int] = {}
    for column in ("status", "lang"):
        sql = f"SELECT {column}, COUNT(*) FROM {ARTICLES} GROUP BY {column}"
        for value, n in db.execute(sql).fetchall():
            counts[f"{column}:{value}"] = n
    return counts


def article_history(db: sqlite_utils.Database, article_id: str, lang: str) -> list[dict]:
    """Every saved version of one article version, newest first."""
    return list(
        db.query(
            f"SELECT * FROM {HISTORY} WHERE id = ? AND lang = ? ORDER BY version DESC",
            [article_id, lang],
        )
    )
