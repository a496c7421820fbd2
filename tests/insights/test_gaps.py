"""Knowledge gaps: which questions count, and that paraphrases meet while topics stay apart.

Uses the real multilingual encoder (about a second to load, milliseconds per question).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from customerlog import schema
from insights.data import Turn
from insights.gaps import communities, gap_encoder, is_gap, knowledge_gaps

START = datetime(2026, 11, 2, 9, 0, tzinfo=timezone.utc)
TOPICS = {
    "vouchers": [
        ("it", "Accettate i buoni pasto?"),
        ("it", "Posso pagare con i ticket restaurant?"),
        ("en", "Can I pay with meal vouchers?"),
        ("it", "Si possono usare i buoni pasto elettronici?"),
    ],
    "app": [
        ("it", "Avete un'app per ordinare dal telefono?"),
        ("en", "Is there a mobile app?"),
        ("it", "Esiste un'applicazione per smartphone?"),
    ],
    "tasting": [
        ("it", "Fate corsi di degustazione del caffè?"),
        ("en", "Do you run coffee tasting classes?"),
        ("it", "Organizzate corsi di degustazione?"),
    ],
    "jobs": [("it", "Come posso candidarmi per lavorare da voi?")],
}


def question(n: int, lang: str, text: str, **changes) -> Turn:
    base = Turn(
        id=n,
        conversation_id=f"c{n}",
        customer_id=f"u{n}",
        channel="socketio",
        lang=lang,
        at=START + timedelta(minutes=n),
        kind=schema.KIND_CUSTOMER,
        text=text,
        intent="ask_question",
        decision=schema.DECISION_ABSTAINED,
        article_id=None,
        ticket_id=None,
    )
    return replace(base, **changes)


def all_questions() -> list[tuple[str, Turn]]:
    labelled, n = [], 0
    for topic, phrasings in TOPICS.items():
        for lang, text in phrasings:
            n += 1
            labelled.append((topic, question(n, lang, text)))
    return labelled


def test_paraphrases_cluster_together_and_topics_stay_apart() -> None:
    labelled = all_questions()
    vectors = gap_encoder().encode([t.text for _, t in labelled])
    groups = [{labelled[i][0] for i in members} for members in communities(vectors)]
    sizes = sorted(len(members) for members in communities(vectors))
    assert all(len(topics) == 1 for topics in groups), groups
    assert sorted(next(iter(g)) for g in groups) == sorted(TOPICS)
    assert sizes == [1, 3, 3, 4]


def test_clusters_have_size_trend_and_a_representative_question() -> None:
    labelled = all_questions()
    current = [t for topic, t in labelled if topic in ("vouchers", "app")]
    previous = [t for topic, t in labelled if topic in ("app", "tasting")]
    gaps = knowledge_gaps(current, previous)
    assert [(g.size, g.previous, g.trend) for g in gaps] == [(4, 0, 4), (3, 3, 0)]
    vouchers, app = gaps
    assert vouchers.lang == "it"
    assert vouchers.representative in [text for lang, text in TOPICS["vouchers"] if lang == "it"]
    assert vouchers.conversations == 4
    assert len(vouchers.examples) == 3
    assert app.representative in [text for lang, text in TOPICS["app"] if lang == "it"]
    # The tasting cluster exists only in the previous period: not this period's gap.
    assert all("degustazione" not in g.representative for g in gaps)


@pytest.mark.parametrize(
    ("changes", "counts"),
    [
        ({}, True),
        ({"decision": schema.DECISION_ESCALATED}, True),
        ({"decision": schema.DECISION_ESCALATED, "intent": "ask_human"}, False),
        ({"decision": schema.DECISION_ESCALATED, "intent": "personal_case"}, False),
        ({"decision": schema.DECISION_ANSWERED}, False),
        ({"kind": schema.KIND_OPERATOR}, False),
        ({"text": "  "}, False),
    ],
)
def test_which_turns_are_knowledge_gaps(changes: dict, counts: bool) -> None:
    turn = replace(question(1, "it", "Accettate i buoni pasto?"), **changes)
    assert is_gap(turn) is counts


def test_no_unanswered_question_gives_no_gaps() -> None:
    answered = question(1, "it", "Quanto costa?", decision=schema.DECISION_ANSWERED)
    assert knowledge_gaps([answered], [question(2, "it", "Avete un'app?")]) == []


def test_gap_texts_shown_to_marketing_are_scrubbed() -> None:
    """Marketing reads gaps: a customer's e-mail or phone in a question must not reach it."""

    class Flat:
        def encode(self, texts: list[str]):  # every question means the same thing
            import numpy as np

            return np.ones((len(texts), 4), dtype="float32") / 2

    turns = [
        question(1, "it", "Scrivetemi a mario.rossi@example.com per i buoni pasto"),
        question(2, "it", "Chiamatemi al 333 123 4567 per i buoni pasto"),
    ]
    [cluster] = knowledge_gaps(turns, encoder=Flat())
    shown = " ".join([cluster.representative, *cluster.examples])
    assert "mario.rossi@example.com" not in shown
    assert "333 123 4567" not in shown and "3331234567" not in shown
    assert "buoni pasto" in shown
