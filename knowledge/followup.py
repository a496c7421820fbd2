"""Follow-up questions: a short message right after an answer is read in its context.

"quanto costa?" or "e per annullare?" right after the subscription article is about
the subscription. Searched alone, such a message matches whichever article talks most
about prices or cancelling (shipping, orders); searched after the article just given
(its question and answer), it leans towards the subscription's price or cancellation,
but also towards that article itself, which the customer has already read.

So a possible follow-up (short, opening like one: "e…", "and what about…", or
pointing back: "it", "quello", "ne") is searched twice in one batch, alone and after
the previous article, and each candidate article is ranked by the sum of its two
ranker scores: it must fit the message itself *and* the context. On the demo's
follow-up conversations (val split: choices made there) this put the right article
first for 14 of 20 second turns, against 7 for the message alone, 10 for the message
after the previous question alone, and 11 for the more confident of the two.

A message that the search alone would answer with confidence keeps that answer: it is
clear on its own ("posso pagare con PayPal?" after the shipping article). Otherwise
each candidate's confidence is the lower of its two and its reach the higher: a follow-up is
answered at once only when both readings agree, and otherwise the likeliest articles
are offered. With the higher confidence instead, a fifth of the second turns got a
wrong answer through the whole bot (bench.faq_bot); on the val splits the lower one
took the share of second turns that reach their article with at most one click from
55% to 70% (demo) and from 65% to 85% (transit).

Of the previous answer only its opening joins the context (``CONTEXT_ANSWER_CHARS``):
the encoders' time grows with the text, and the whole answer made a follow-up search
cost about four single searches (bench.speed: the action server's webhook 43 ms against
a 12 ms search, and the one-customer p95 turn near the 80 ms target). On the follow-up
val splits (demo and transit) the opening put the right article first as often as the
whole answer did, cut anywhere from 80 to 400 characters (the previous question alone
lost one transit conversation's reach); a follow-up turn took 99 -> 55 ms in the probe.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from knowledge.search import ANSWER_DECISION, Candidate, clean_query

if TYPE_CHECKING:
    from knowledge.search import Searcher, SearchResult

# Customers' follow-ups are 1-5 words; full questions on a new topic are mostly longer.
FOLLOW_UP_MAX_WORDS = 5
# Up to this many words, an opener ("e se l'ordine è già partito?") or a word that
# points back ("will that apply to the next one?") makes a message a follow-up too.
LEANING_MAX_WORDS = 9
_OPENERS = frozenset(
    {"e", "ed", "ma", "anche", "invece", "quindi", "allora", "and", "but", "also", "so", "what"}
)
# Not "lo", "la", "le", "ci": in Italian they are mostly articles ("la spedizione") or
# "there is" ("ci sono"), and would make most short questions follow-ups.
_POINTING_BACK = frozenset(
    "it that this one them those these there ne questo quello questa quella questi quelli".split()
)
_WORD = re.compile(r"[^\W_]+", re.UNICODE)


def is_follow_up(text: str) -> bool:
    """True when ``text`` may lean on the previous answer for its meaning."""
    words = _WORD.findall(text.casefold())
    if not words:
        return False
    if len(words) <= FOLLOW_UP_MAX_WORDS:
        return True
    if len(words) > LEANING_MAX_WORDS:
        return False
    return words[0] in _OPENERS or any(word in _POINTING_BACK for word in words)


# Characters of the previous answer read as context (module notes), cut between words.
CONTEXT_ANSWER_CHARS = 100


def in_context(previous_question: str, previous_answer: str, text: str) -> str:
    """The query that reads ``text`` after the article just given: its question, the
    opening of its answer, then the message."""
    opening = " ".join(previous_answer.split())
    if len(opening) > CONTEXT_ANSWER_CHARS:
        opening = opening[: CONTEXT_ANSWER_CHARS + 1].rsplit(" ", 1)[0]
    return " ".join(part.strip() for part in (previous_question, opening, text))


def search_in_context(
    searcher: Searcher, text: str, lang: str | None, previous_article_id: str | None
) -> SearchResult:
    """Search ``text``, in the context of the article answered just before when it may
    lean on it."""
    query = clean_query(text, searcher.max_message_chars)
    query_lang = searcher.query_language(query, lang)
    previous = (
        searcher.article(previous_article_id, query_lang)
        if previous_article_id and query and is_follow_up(query)
        else None
    )
    if previous is None:
        return searcher.search(text, lang)
    context = clean_query(
        in_context(previous.question, previous.answer, query), searcher.max_message_chars * 2
    )
    plain, contextual = searcher.rank_many([query, context], [query_lang, query_lang])
    alone = searcher.result(plain, query_lang)
    if alone.decision == ANSWER_DECISION:
        return alone  # a question clear on its own ("posso pagare con PayPal?") stands
    return searcher.result(combine(plain, contextual), query_lang)


def combine(plain: list[Candidate], contextual: list[Candidate]) -> list[Candidate]:
    """One ranking from the message's and the context's: the sum of the ranker's scores
    (an article one ranking lacks gets that ranking's lowest), the lower confidence and
    the higher reach."""
    if not plain or not contextual:
        return plain or contextual
    floors = (min(c.logit for c in plain), min(c.logit for c in contextual))
    by_id = ({c.article_id: c for c in plain}, {c.article_id: c for c in contextual})
    merged = []
    for article_id in dict.fromkeys([*by_id[0], *by_id[1]]):
        found = [ranking.get(article_id) for ranking in by_id]
        logit = sum(c.logit if c else floor for c, floor in zip(found, floors, strict=True))
        present = [c for c in found if c]
        best = max(present, key=lambda c: c.confidence)
        merged.append(
            Candidate(
                article_id,
                best.features,
                logit=logit,
                # Sure only when sure both ways (an article one ranking lacks: not sure);
                # otherwise the likeliest articles are offered to choose from.
                confidence=min(c.confidence if c else 0.0 for c in found),
                conf_features=best.conf_features,
                reach=max(c.reach for c in present),
            )
        )
    merged.sort(key=lambda c: c.logit, reverse=True)
    return merged
