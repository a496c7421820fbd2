"""A knowledge base's weak spots, found on the day it is imported (``sportello kb check``).

A company's FAQ has one question per article. Two things decide whether customers who
ask in their own words get the right article, and both can be read off the articles
themselves, before any customer asks:

* **Confusable articles.** Two articles whose questions the multilingual encoder
  (USE-m) reads as nearly the same, or whose question, searched by the bot without
  it, leads first to the other article: a customer's paraphrase can land on either.
* **Articles their own answer does not find.** The bot reaches an article through its
  question and through its answer text (query-to-passage retrieval). Searched in a
  copy of the knowledge base where every article has only its answer, an article
  whose question does not find it among the first three talks in its answer in other
  words than its question: a customer who does not use the question's exact words
  reaches some other article.

The copy is indexed in a throw-away folder with the searcher's own models and
calibration, so the check sees what the bot would do. For each weak spot the report
says what would help: customers' wordings already proposed for the article
(knowledge.phrasings), and the words its answer uses that its question does not, to
write a phrasing with.

The cut-off for "the same question" (cosine 0.80) was set by reading the nearest
pairs of the shipped demo and of bench/data/transit_faq. On the transit FAQ with its
customer questions, the pairs flagged are 1.7% of all pairs and account for 12.5% of
the search's wrong first articles; the "not found" list did not predict wrong answers
there, so it is a hint for the author, not a verdict.
"""

from __future__ import annotations

import re
import tempfile
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import sqlite_utils

from knowledge import phrasings, store
from knowledge.index import answer_sentences
from knowledge.lexical import STOPWORDS
from knowledge.migrations import migrations as knowledge_migrations
from knowledge.search import Searcher
from knowledge.store import Article
from sportello import migrations
from sportello.db import open_db

# Two questions the bot reads as this alike (cosine of USE-m vectors) are confusable.
SAME_QUESTION_COSINE = 0.80
SAME_QUESTION_ENCODER = "usem"
# An article its question finds, from its answer alone, within this rank is "found".
FOUND_WITHIN = 3
RANKS = 10
MAX_LEAD_CHARS = 300
HINT_WORDS = 6
_WORD = re.compile(r"[^\W\d_]{4,}", re.UNICODE)


@dataclass(frozen=True)
class Confusion:
    """Article ``article_id`` may be mistaken for ``other_id`` (same language)."""

    article_id: str
    other_id: str
    lang: str
    question: str
    other_question: str
    similarity: float  # cosine of the two questions
    why: str  # "same_question" or "answer_closer"

    def to_json(self) -> dict:
        return {
            "article": self.article_id,
            "other": self.other_id,
            "lang": self.lang,
            "question": self.question,
            "other_question": self.other_question,
            "similarity": round(self.similarity, 3),
            "why": self.why,
        }


@dataclass(frozen=True)
class Unfound:
    """Article its question does not find (within ``FOUND_WITHIN``) from its answer alone."""

    article_id: str
    lang: str
    question: str
    rank: int  # of the article for its question in the answer-only copy (0: not found)
    closest_id: str  # the article that came first there

    def to_json(self) -> dict:
        return {
            "article": self.article_id,
            "lang": self.lang,
            "question": self.question,
            "rank": self.rank,
            "closest": self.closest_id,
        }


@dataclass
class Report:
    """What ``kb check`` found; ``help`` maps ``(article, lang)`` to phrasing hints."""

    articles: int = 0
    confusions: list[Confusion] = field(default_factory=list)
    unfound: list[Unfound] = field(default_factory=list)
    proposed: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    words: dict[tuple[str, str], list[str]] = field(default_factory=dict)

    @property
    def weak(self) -> list[tuple[str, str]]:
        """The article versions named anywhere in the report, in order of appearance."""
        seen: dict[tuple[str, str], None] = {}
        for c in self.confusions:
            seen[(c.article_id, c.lang)] = None
            seen[(c.other_id, c.lang)] = None
        for u in self.unfound:
            seen[(u.article_id, u.lang)] = None
        return list(seen)

    def to_json(self) -> dict:
        return {
            "articles": self.articles,
            "confusions": [c.to_json() for c in self.confusions],
            "unfound": [u.to_json() for u in self.unfound],
            "help": [
                {
                    "article": aid,
                    "lang": lang,
                    "proposed_phrasings": self.proposed.get((aid, lang), []),
                    "answer_words": self.words.get((aid, lang), []),
                }
                for aid, lang in self.weak
            ],
        }


def _words(text: str) -> list[str]:
    return [w.casefold() for w in _WORD.findall(text) if w.casefold() not in STOPWORDS]


def answer_words(question: str, answer: str, other: str = "") -> list[str]:
    """Words of ``answer`` absent from ``question`` (and from ``other``, an article it
    is confused with), most frequent first: the vocabulary a phrasing could use."""
    known = set(_words(question)) | set(_words(other))
    counts: dict[str, int] = defaultdict(int)
    for word in _words(answer):
        if word not in known:
            counts[word] += 1
    return sorted(counts, key=lambda w: (-counts[w], w))[:HINT_WORDS]


def answer_only(article: Article) -> Article:
    """The article as the bot would know it without its question: the answer's first
    sentence stands in for the question (an article needs one)."""
    lead = (answer_sentences(article.answer) or [article.answer])[0][:MAX_LEAD_CHARS]
    return Article(id=article.id, lang=article.lang, question=lead, answer=article.answer)


def _question_similarity(
    searcher: Searcher, articles: dict[tuple[str, str], Article]
) -> dict[tuple[str, str, str], float]:
    """Cosine of every two questions of the same language, keyed (id, other id, lang)
    with id < other id."""
    encoder = next((e for e in searcher.encoders if e.name == SAME_QUESTION_ENCODER), None)
    encoder = encoder or searcher.encoders[0]
    similarity: dict[tuple[str, str, str], float] = {}
    for lang in sorted({lang for _, lang in articles}):
        ids = sorted(aid for aid, al in articles if al == lang)
        vectors = encoder.encode([articles[(aid, lang)].question for aid in ids])
        matrix = vectors @ vectors.T
        for i, j in zip(*np.triu_indices(len(ids), k=1), strict=True):
            similarity[(ids[i], ids[j], lang)] = float(matrix[i, j])
    return similarity


def _answer_only_ranks(
    searcher: Searcher, articles: dict[tuple[str, str], Article]
) -> dict[tuple[str, str], tuple[int | None, str | None]]:
    """For each article version: the rank of the article when its question is searched
    in a copy of the knowledge base where every article has only its answer, and the
    article that came first there. Built in a throw-away folder; nothing is kept."""
    keys = sorted(articles)
    with tempfile.TemporaryDirectory(prefix="sportello-kb-check-") as tmp:
        db = open_db(Path(tmp) / "check.db")
        migrations.apply(db, [knowledge_migrations])
        try:
            store.upsert_articles(db, [answer_only(articles[key]) for key in keys])
            masked = Searcher(
                db_path=Path(tmp) / "check.db",
                index_dir=Path(tmp) / "index",
                encoders=searcher.encoders,
                calibration=searcher.calibration,
            )
            results = masked.search_many(
                [articles[key].question for key in keys], [lang for _, lang in keys], k=RANKS
            )
        finally:
            db.close()
    ranks: dict[tuple[str, str], tuple[int | None, str | None]] = {}
    for key, result in zip(keys, results, strict=True):
        ids = list(dict.fromkeys(hit.id for hit in result.results))
        rank = ids.index(key[0]) + 1 if key[0] in ids else None
        ranks[key] = (rank, ids[0] if ids else None)
    return ranks


def check(db: sqlite_utils.Database, searcher: Searcher) -> Report:
    """The report for the published articles in ``db``, using ``searcher``'s models."""
    articles = {(a.id, a.lang): a for a in store.list_articles(db, status="published")}
    report = Report(articles=len(articles))
    if not articles:
        return report
    similarity = _question_similarity(searcher, articles)
    pairs = {
        pair: "same_question" for pair, cos in similarity.items() if cos >= SAME_QUESTION_COSINE
    }
    for (aid, lang), (rank, first) in _answer_only_ranks(searcher, articles).items():
        if rank is None or rank > FOUND_WITHIN:
            report.unfound.append(
                Unfound(aid, lang, articles[(aid, lang)].question, rank or 0, first or "")
            )
        if first and first != aid and (first, lang) in articles:
            low, high = sorted((aid, first))
            pairs.setdefault((low, high, lang), "answer_closer")
    for (a, b, lang), why in sorted(pairs.items(), key=lambda item: -similarity[item[0]]):
        report.confusions.append(
            Confusion(
                a,
                b,
                lang,
                articles[(a, lang)].question,
                articles[(b, lang)].question,
                similarity[(a, b, lang)],
                why,
            )
        )
    report.unfound.sort(key=lambda u: (u.rank == 0, -u.rank, u.article_id))
    others: dict[tuple[str, str], str] = {}
    for c in report.confusions:
        others[(c.article_id, c.lang)] = articles[(c.other_id, c.lang)].answer
        others[(c.other_id, c.lang)] = articles[(c.article_id, c.lang)].answer
    for aid, lang in report.weak:
        article = articles[(aid, lang)]
        report.proposed[(aid, lang)] = [
            p.text for p in phrasings.list_proposals(db, article_id=aid) if p.lang == lang
        ][:HINT_WORDS]
        report.words[(aid, lang)] = answer_words(
            " ".join(article.phrasings()), article.answer, others.get((aid, lang), "")
        )
    return report


def render_text(report: Report) -> str:
    """The report for a terminal, in Italian and English."""
    lines = [
        f"checked {report.articles} article versions / versioni controllate: {report.articles}"
    ]
    lines.append("")
    lines.append(
        f"articles the bot may confuse / articoli che il bot può confondere: "
        f"{len(report.confusions)}"
    )
    for c in report.confusions:
        why = (
            f"questions {c.similarity:.0%} alike / domande simili al {c.similarity:.0%}"
            if c.why == "same_question"
            else "its answer leads to the other / la sua risposta porta all'altro"
        )
        lines.append(f"  [{c.lang}] {c.article_id} <> {c.other_id}  ({why})")
        lines.append(f"       {c.question}")
        lines.append(f"       {c.other_question}")
    lines.append("")
    lines.append(
        "articles their own answer does not find / articoli che la propria risposta non "
        f"trova: {len(report.unfound)}"
    )
    for u in report.unfound:
        place = f"rank {u.rank} / posizione {u.rank}" if u.rank else "not found / non trovato"
        lines.append(f"  [{u.lang}] {u.article_id}  ({place}; first / primo: {u.closest_id})")
        lines.append(f"       {u.question}")
    if report.weak:
        lines.append("")
        lines.append(
            "what would help: phrasings in customers' words / cosa aiuterebbe: "
            "formulazioni con le parole dei clienti"
        )
    for aid, lang in report.weak:
        proposed = report.proposed.get((aid, lang)) or []
        words = report.words.get((aid, lang)) or []
        lines.append(f"  [{lang}] {aid}")
        if proposed:
            lines.append(
                f"       proposed by customers / proposte dai clienti: {' | '.join(proposed)}"
            )
        if words:
            lines.append(f"       words of its answer / parole della risposta: {', '.join(words)}")
    return "\n".join(lines)
