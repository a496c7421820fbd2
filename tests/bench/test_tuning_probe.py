"""The fine-tuning probe: pairs never cross articles, and training moves MiniLM's space."""

from __future__ import annotations

import random

import numpy as np
import pytest

from bench.tuning_probe import (
    article_texts,
    auc,
    fine_tune,
    phrasing_pairs,
    rank_measures,
    render,
)
from knowledge.encoders import MiniLMEncoder
from knowledge.index import answer_sentences
from knowledge.store import Article

ARTICLES = {
    "shipping": ["how much is shipping", "delivery cost", "do you charge for delivery"],
    "returns": ["how do I return an item", "can I send it back", "return policy"],
    "hours": ["when are you open", "opening hours", "are you open on sunday"],
    "single": ["only one phrasing"],
}


def test_pairs_are_two_phrasings_of_distinct_articles() -> None:
    anchors, partners = phrasing_pairs(ARTICLES, batch=10, rng=random.Random(0))
    assert len(anchors) == len(partners) == 3  # the one-phrasing article cannot pair
    owners = [{a for a, texts in ARTICLES.items() if t in texts} for t in (*anchors, *partners)]
    for anchor, partner, owner_a, owner_p in zip(
        anchors, partners, owners[:3], owners[3:], strict=True
    ):
        assert anchor != partner and owner_a == owner_p
    assert len({frozenset(o) for o in owners[:3]}) == 3


def test_auc_counts_ties_half() -> None:
    assert auc(np.array([0.9, 0.8]), np.array([0.1])) == 1.0
    assert auc(np.array([0.5]), np.array([0.5])) == 0.5


def test_roc_auc_score_gives_the_pairwise_auc_of_the_old_count() -> None:
    rng = np.random.default_rng(0)
    positive = np.round(rng.normal(0.6, 0.2, size=300), 2)  # rounded: many ties
    negative = np.round(rng.normal(0.4, 0.2, size=200), 2)
    pairwise = (positive[:, None] > negative[None, :]).mean() + 0.5 * (
        positive[:, None] == negative[None, :]
    ).mean()
    assert auc(positive, negative) == pytest.approx(pairwise, abs=1e-12)


def test_fine_tuning_pulls_an_articles_phrasings_together() -> None:
    encoder = MiniLMEncoder()
    encoder.encode(["warm up"])
    model = encoder._model
    texts = [t for a, ts in ARTICLES.items() if a != "single" for t in ts]

    def within_minus_across() -> float:
        v = model.encode(texts, normalize_embeddings=True, convert_to_numpy=True)
        sim = v @ v.T
        same = np.kron(np.eye(3), np.ones((3, 3))).astype(bool)
        np.fill_diagonal(sim, np.nan)
        return float(np.nanmean(sim[same]) - np.nanmean(sim[~same]))

    before = within_minus_across()
    fine_tune(model, ARTICLES, steps=8, batch=3, lr=1e-4, log=lambda _: None)
    assert within_minus_across() > before + 0.05


def test_the_section_shows_both_measures_side_by_side() -> None:
    body = render(
        "clinc150",
        {"top1": 0.883, "auc": 0.966},
        {"top1": 0.959, "auc": 0.989},
        150,
        262.0,
        ".venv/bin/python -m bench.tuning_probe --data clinc150 --steps 150",
    )
    assert "| MiniLM alone: top-1 (article of the nearest text) | 88.3% | 95.9% |" in body
    assert (
        "| MiniLM alone: in-scope vs out-of-scope AUC of the best cosine | 0.966 | 0.989 |" in body
    )
    assert "Command: `.venv/bin/python -m bench.tuning_probe --data clinc150" in body
    assert "validation split(s) (fit data, never test)" in body
    assert "fused" not in body
    # Banking77 has no out-of-scope questions: no AUC row.
    assert "AUC" not in render("banking77", {"top1": 0.9}, {"top1": 0.92}, 10, 1.0, "c")


def test_the_qa4faq_section_says_test_queries_are_only_asked_and_shows_the_fused_search() -> None:
    measures = {"top1": 0.324, "mrr": 0.434, "fused_top1": 0.455, "fused_mrr": 0.584}
    before = {**measures, "fused_c_at_1": 0.467}
    after = {**measures, "fused_c_at_1": 0.487}
    body = render("qa4faq", before, after, 150, 500.0, "cmd")
    assert "| shipped fused search: c@1 at the shipped cut-off | 0.467 | 0.487 |" in body
    assert "| shipped fused search: top-1 | 45.5% | 45.5% |" in body
    assert "| MiniLM alone: MRR | 0.434 | 0.434 |" in body
    assert "Trained on the FAQ articles alone" in body and "only asked" in body
    assert "AUC" not in body


def test_article_texts_are_what_the_index_holds() -> None:
    article = Article(
        id="meter",
        lang="it",
        question="Chi paga la lettura del contatore?",
        answer="La lettura è gratuita. Il tecnico passa ogni sei mesi, su appuntamento. Ok.",
        alt_questions=["contatore lettura", "chi paga la lettura del contatore?"],
    )
    assert article_texts([article]) == {
        "meter": [
            "Chi paga la lettura del contatore?",
            "contatore lettura",
            *answer_sentences(article.answer),
        ]
    }
    assert answer_sentences(article.answer)  # the answer does add texts


def test_articles_rank_by_their_best_text() -> None:
    owners = ["a", "a", "b", "c"]
    scores = np.array(
        [
            [0.1, 0.9, 0.8, 0.0],  # a's second text wins: right at rank 1
            [0.7, 0.1, 0.2, 0.8],  # c, then a: the gold b is third
            [0.0, 0.0, 0.0, 0.0],  # all tied: the stable order (a, b, c) puts b second
        ]
    )
    gold = [frozenset({"a"}), frozenset({"b"}), frozenset({"b", "x"})]
    got = rank_measures(scores, owners, gold)
    assert got["top1"] == 1 / 3
    assert got["mrr"] == (1 + 1 / 3 + 1 / 2) / 3
