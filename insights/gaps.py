"""Knowledge gaps: what customers asked that the knowledge base could not answer,
grouped by meaning, so someone can write the missing articles in order of demand.

**Which questions.** Customer turns of the period's conversations where the bot
abstained (``decision = 'abstained'``), or escalated to a person for a reason that is
a missing answer (the knowledge base abstained again). Escalations the bot makes by
design are not gaps: a request for a person, a rejected answer, a personal case
(damaged parcel, double charge) and the rating and yes/no replies
(:data:`NOT_GAP_INTENTS`).

**How they are grouped.** Each question is embedded with the multilingual Universal
Sentence Encoder (:class:`knowledge.encoders.USEEncoder`: Italian and English in one
space, so "Accettate i buoni pasto?" and "Can I pay with meal vouchers?" meet; ~1 ms a
question). A FAISS inner-product index finds, for every question, the others at
cosine similarity ≥ :data:`SIMILARITY` (``range_search``). Then greedy community
detection (as ``sentence_transformers.util.community_detection``): the question with
the most neighbours founds a cluster with all its unassigned neighbours, and so on
until every question belongs to one. Why not k-means (``faiss.Kmeans``): the number
of gaps is unknown and changes each week, k-means needs it up front, and it forces
every one-off question into some cluster; a similarity threshold keeps rare
questions as clusters of one and never chains two topics through a middle question
(every member is close to its founder, not merely to some member).

The threshold was measured on paraphrases with this encoder: the same question
reworded or translated scores 0.52–0.83, different shop questions mostly 0.16–0.45;
0.55 keeps them apart (tests/insights/test_gaps.py). The encoder is not perfect:
topics sharing a setting can reach 0.61 (tasting courses and renting a machine for an
event, both "in the shop") and merge, and a far-fetched paraphrase may stay alone —
the threshold errs towards small clean clusters.

**Trend.** The previous period of the same length is clustered together with this
one, so each cluster has a size now and a size before.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import faiss
import numpy as np

from customerlog import schema
from insights.data import Turn
from knowledge.encoders import Encoder, default_encoders
from sportello.pii import scrub

SIMILARITY = 0.55
# Representative questions shown per cluster.
EXAMPLES = 3
# Longer messages are cut before embedding (a question fits in far less).
MAX_CHARS = 300

NOT_GAP_INTENTS = frozenset(
    {
        "ask_human",
        "reject_answer",
        "personal_case",
        "affirm",
        "deny",
        "greet",
        "goodbye",
        "thanks",
        "answer_helpful",
        "give_rating",
        "skip_rating",
    }
)


@dataclass(frozen=True)
class GapQuestion:
    """One unanswered customer question."""

    text: str
    lang: str | None
    at: datetime
    conversation_id: str
    current: bool


@dataclass(frozen=True)
class GapCluster:
    """Questions with one meaning: how many now and before, and how to ask it.

    ``representative`` is the question nearest the cluster's centre in ``lang``, the
    language most of this period's questions were asked in (the one to write the
    article in first); ``examples`` are the questions nearest the centre, any language.
    """

    size: int
    previous: int
    conversations: int
    lang: str
    representative: str
    examples: tuple[str, ...]

    @property
    def trend(self) -> int:
        """Questions this period minus the previous period."""
        return self.size - self.previous


def is_gap(turn: Turn) -> bool:
    """Whether a customer turn is a question the knowledge base could not answer."""
    if turn.kind != schema.KIND_CUSTOMER or not turn.text.strip():
        return False
    if turn.decision == schema.DECISION_ABSTAINED:
        return True
    return turn.decision == schema.DECISION_ESCALATED and turn.intent not in NOT_GAP_INTENTS


def gap_questions(turns: list[Turn], current: bool) -> list[GapQuestion]:
    """The unanswered questions, scrubbed of personal data (``sportello.pii``): gaps are
    read by marketing, who must not see a customer's e-mail, phone or card number."""
    return [
        GapQuestion(
            scrub(" ".join(t.text.split())[:MAX_CHARS]), t.lang, t.at, t.conversation_id, current
        )
        for t in turns
        if is_gap(t)
    ]


def communities(vectors: np.ndarray, threshold: float = SIMILARITY) -> list[list[int]]:
    """Greedy community detection over a FAISS range search: lists of row indices,
    biggest first; every row in exactly one list. ``vectors`` are unit length."""
    count = len(vectors)
    if count == 0:
        return []
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    index = faiss.IndexFlatIP(vectors.shape[1])
    index.add(vectors)
    limits, _, found = index.range_search(vectors, threshold)
    neighbours = [found[limits[i] : limits[i + 1]] for i in range(count)]
    order = sorted(range(count), key=lambda i: (-len(neighbours[i]), i))
    assigned = np.zeros(count, dtype=bool)
    groups: list[list[int]] = []
    for founder in order:
        if assigned[founder]:
            continue
        others = [int(j) for j in neighbours[founder] if j != founder and not assigned[j]]
        members = [founder, *sorted(others)]
        assigned[members] = True
        groups.append(members)
    return sorted(groups, key=lambda g: (-len(g), g[0]))


def gap_encoder() -> Encoder:
    """The process-wide multilingual encoder (loaded on first use)."""
    return next(e for e in default_encoders() if e.name == "usem")


def knowledge_gaps(
    current: Sequence[Turn],
    previous: Sequence[Turn] = (),
    *,
    encoder: Encoder | None = None,
    threshold: float = SIMILARITY,
    limit: int | None = None,
) -> list[GapCluster]:
    """This period's gap clusters, biggest first (then fastest growing); clusters
    found only in the previous period are left out."""
    questions = gap_questions(list(current), True) + gap_questions(list(previous), False)
    if not any(q.current for q in questions):
        return []
    texts = sorted({q.text for q in questions})
    encoded = (encoder or gap_encoder()).encode(texts)
    row_of = {text: i for i, text in enumerate(texts)}
    vectors = encoded[[row_of[q.text] for q in questions]]
    clusters = []
    for members in communities(vectors, threshold):
        now = [questions[i] for i in members if questions[i].current]
        if not now:
            continue
        centre = vectors[members].mean(axis=0)
        closeness = vectors[members] @ centre
        ranked = [questions[members[i]] for i in np.argsort(-closeness, kind="stable")]
        lang = Counter(q.lang or "" for q in now).most_common(1)[0][0]
        representative = next((q.text for q in ranked if (q.lang or "") == lang), ranked[0].text)
        examples: list[str] = []
        for question in ranked:
            if question.text.casefold() not in {e.casefold() for e in examples}:
                examples.append(question.text)
            if len(examples) == EXAMPLES:
                break
        clusters.append(
            GapCluster(
                size=len(now),
                previous=len(members) - len(now),
                conversations=len({q.conversation_id for q in now}),
                lang=lang or "it",
                representative=representative,
                examples=tuple(examples),
            )
        )
    clusters.sort(key=lambda c: (-c.size, -c.trend, c.representative))
    return clusters[:limit] if limit is not None else clusters
