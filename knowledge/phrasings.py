"""Customers' own words for existing articles: proposed phrasings, reviewed in bulk.

A company's FAQ has one question per article, in the company's vocabulary; customers
say "impronta" where the FAQ says "biometrico". Every time a customer reaches an
article another way, their wording is evidence of how customers ask for it:

* they picked it among the articles the bot offered ("Forse cercavi…") and did not
  reject it (a later 👎 on it in the same conversation withdraws the proposal; a 👍
  confirms it);
* the bot answered their question with it and they rated it 👍;
* an operator answered their ticket with it (the ticket page's "send this article").

The wording is scrubbed of personal data *before it is stored* (it may become shared
knowledge), normalised, and kept once per article and language with the number of
customers who used it. A supervisor approves or rejects proposals in bulk; an approved
phrasing is added to the article's ``alt_questions`` through :mod:`knowledge.store`,
so the running searcher answers with it within a second, without a restart or a
retrain. A rejected wording is remembered and never proposed again.

This module owns the ``phrasing_proposals`` table.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

import sqlite_utils

from knowledge import store
from knowledge.lexical import tokens
from sportello.clock import format_time, utc_now
from sportello.pii import scrub

TABLE = "phrasing_proposals"
PROPOSED, APPROVED, REJECTED, WITHDRAWN = "proposed", "approved", "rejected", "withdrawn"
# How the customer reached the article; a stronger source replaces a weaker one.
SOURCE_PICK = "pick"  # picked among the offered articles, not rejected
SOURCE_HELPFUL = "helpful"  # rated 👍 (picked or answered directly)
SOURCE_OPERATOR = "operator"  # an operator answered the ticket with the article
_STRENGTH = {SOURCE_PICK: 1, SOURCE_HELPFUL: 2, SOURCE_OPERATOR: 3}
MIN_CHARS, MAX_CHARS = 8, 300
MIN_WORDS = 2  # words that are not stop words ("la seconda" has one)
_LETTERS = re.compile(r"[^\W\d_]", re.UNICODE)
_SPACES = re.compile(r"\s+")
# A placeholder left by the scrubber ("[EMAIL]", "[NOME]"): such a wording is about one
# customer's case, not a way of asking that others share.
_PLACEHOLDER = re.compile(r"\[[A-Z_]+\]")


@dataclass(frozen=True)
class Proposal:
    """A customer's wording proposed as a phrasing of one article version."""

    id: int
    article_id: str
    lang: str
    text: str
    source: str
    status: str
    votes: int
    refs: tuple[str, ...]
    first_at: str
    last_at: str
    decided_by: str = ""
    decided_at: str = ""


def clean_wording(text: object) -> str:
    """The customer's message as a phrasing, or "" when it cannot be one.

    Scrubbed of personal data; a button payload, a bare number or a word or two
    ("2", "la seconda", "sì"), and a message that was about one person's case (the
    scrubber removed something from it) teach nothing about how customers ask.
    """
    raw = _SPACES.sub(" ", str(text or "")).strip()
    if raw.startswith("/") or not MIN_CHARS <= len(raw) <= MAX_CHARS:
        return ""
    clean = scrub(raw)
    if clean != raw or _PLACEHOLDER.search(clean):
        return ""
    content = [word for word in tokens(clean) if not word.isdigit()]
    if len(content) < MIN_WORDS or len(_LETTERS.findall(clean)) < MIN_CHARS // 2:
        return ""
    return clean


def _from_row(row: dict) -> Proposal:
    return Proposal(
        id=row["id"],
        article_id=row["article_id"],
        lang=row["lang"],
        text=row["text"],
        source=row["source"] or SOURCE_PICK,
        status=row["status"],
        votes=int(row["votes"] or 0),
        refs=tuple(json.loads(row["refs"] or "[]")),
        first_at=row["first_at"] or "",
        last_at=row["last_at"] or "",
        decided_by=row["decided_by"] or "",
        decided_at=row["decided_at"] or "",
    )


def _row(db: sqlite_utils.Database, article_id: str, lang: str, norm: str) -> dict | None:
    rows = list(
        db[TABLE].rows_where("article_id = ? AND lang = ? AND norm = ?", [article_id, lang, norm])
    )
    return rows[0] if rows else None


def propose(
    db: sqlite_utils.Database,
    article_id: str,
    lang: str,
    text: object,
    source: str,
    ref: str,
    now: str | None = None,
) -> Proposal | None:
    """Record ``text`` as a proposed phrasing of the published article version.

    ``ref`` names where the evidence comes from (a conversation or a ticket): the same
    conversation never counts twice. None when nothing was proposed: the wording is
    unusable (:func:`clean_wording`), the article version is not published, the
    wording already is one of its phrasings, or a supervisor rejected it before.
    """
    if source not in _STRENGTH:
        raise ValueError(f"unknown source {source!r}")
    clean = clean_wording(text)
    article = store.get_article(db, article_id, lang)
    if not clean or article is None or article.status != "published":
        return None
    norm = store.phrasing_key(clean)
    if norm in {store.phrasing_key(p) for p in article.phrasings()}:
        return None
    stamp = now or format_time(utc_now())
    with db.atomic():
        row = _row(db, article_id, lang, norm)
        if row is None:
            db[TABLE].insert(
                {
                    "article_id": article_id,
                    "lang": lang,
                    "text": clean,
                    "norm": norm,
                    "source": source,
                    "status": PROPOSED,
                    "votes": 1,
                    "refs": json.dumps([ref]),
                    "first_at": stamp,
                    "last_at": stamp,
                    "decided_by": "",
                    "decided_at": "",
                }
            )
        elif row["status"] in (PROPOSED, WITHDRAWN):
            refs = json.loads(row["refs"] or "[]")
            stronger = _STRENGTH[source] > _STRENGTH.get(row["source"], 0)
            if ref in refs and not stronger and row["status"] == PROPOSED:
                return _from_row(row)
            if ref not in refs:
                refs.append(ref)
            db[TABLE].update(
                row["id"],
                {
                    "votes": len(refs),
                    "refs": json.dumps(refs),
                    "source": source if stronger else row["source"],
                    "status": PROPOSED,
                    "last_at": stamp,
                },
            )
        else:  # approved already, or rejected by a supervisor: not proposed again
            return None
        return _from_row(_row(db, article_id, lang, norm) or {})


def _with_ref(db: sqlite_utils.Database, article_id: str, ref: str) -> list[dict]:
    if TABLE not in db.table_names():
        return []
    rows = db[TABLE].rows_where("article_id = ? AND status = ?", [article_id, PROPOSED])
    return [row for row in rows if ref in json.loads(row["refs"] or "[]")]


def confirm(db: sqlite_utils.Database, article_id: str, ref: str) -> int:
    """The customer of ``ref`` rated the article 👍: their proposal becomes stronger
    evidence (source ``helpful``) unless an operator's already is. Returns how many."""
    changed = 0
    with db.atomic():
        for row in _with_ref(db, article_id, ref):
            if _STRENGTH[SOURCE_HELPFUL] > _STRENGTH.get(row["source"], 0):
                db[TABLE].update(row["id"], {"source": SOURCE_HELPFUL})
                changed += 1
    return changed


def withdraw(db: sqlite_utils.Database, article_id: str, ref: str) -> int:
    """The customer of ``ref`` rejected the article after all: take back their votes.

    A proposal left with no votes is withdrawn (not shown for review; a later customer
    may propose it again). Returns how many proposals changed.
    """
    changed = 0
    with db.atomic():
        for row in _with_ref(db, article_id, ref):
            refs = json.loads(row["refs"] or "[]")
            refs.remove(ref)
            status = PROPOSED if refs else WITHDRAWN
            db[TABLE].update(
                row["id"], {"refs": json.dumps(refs), "votes": len(refs), "status": status}
            )
            changed += 1
    return changed


def list_proposals(
    db: sqlite_utils.Database, status: str = PROPOSED, article_id: str | None = None
) -> list[Proposal]:
    """Proposals with ``status``, most customers first (then most recent)."""
    if TABLE not in db.table_names():
        return []
    where, params = "status = ?", [status]
    if article_id is not None:
        where, params = where + " AND article_id = ?", [*params, article_id]
    rows = db[TABLE].rows_where(where, params, order_by="votes DESC, last_at DESC, id")
    return [_from_row(row) for row in rows]


def approve(db: sqlite_utils.Database, ids: list[int], reviewer: str) -> int:
    """Add the proposals' wordings to their articles' phrasings, all in one transaction.

    Returns how many were approved (a proposal no longer pending, or whose article
    was retired meanwhile, is skipped). The store's change counter makes the running
    searcher index the new phrasings within a second.
    """
    if TABLE not in db.table_names() or not ids:
        return 0
    stamp, approved = format_time(utc_now()), 0
    with db.atomic():
        for proposal_id in ids:
            rows = list(db[TABLE].rows_where("id = ? AND status = ?", [proposal_id, PROPOSED]))
            if not rows:
                continue
            proposal = _from_row(rows[0])
            article = store.get_article(db, proposal.article_id, proposal.lang)
            if article is None or article.status != "published":
                continue
            if store.phrasing_key(proposal.text) not in {
                store.phrasing_key(p) for p in article.phrasings()
            }:
                article.alt_questions = [*article.alt_questions, proposal.text]
                article.updated_by = reviewer
                store.upsert_article(db, article)
            db[TABLE].update(
                proposal_id, {"status": APPROVED, "decided_by": reviewer, "decided_at": stamp}
            )
            approved += 1
    return approved


def reject(db: sqlite_utils.Database, ids: list[int], reviewer: str) -> int:
    """Turn proposals down; the wording is never proposed again for that article."""
    if TABLE not in db.table_names() or not ids:
        return 0
    stamp, rejected = format_time(utc_now()), 0
    with db.atomic():
        for proposal_id in ids:
            rows = list(db[TABLE].rows_where("id = ? AND status = ?", [proposal_id, PROPOSED]))
            if rows:
                db[TABLE].update(
                    proposal_id,
                    {"status": REJECTED, "decided_by": reviewer, "decided_at": stamp},
                )
                rejected += 1
    return rejected
