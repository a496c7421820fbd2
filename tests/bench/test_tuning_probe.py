"""The fine-tuning probe: pairs never cross articles, and training moves MiniLM's space."""

from __future__ import annotations

import random

import numpy as np

from bench.tuning_probe import auc, fine_tune, phrasing_pairs, render
from knowledge.encoders import MiniLMEncoder

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
    assert "| nearest-phrasing top-1 | 88.3% | 95.9% |" in body
    assert "| in-scope vs out-of-scope AUC of the best cosine | 0.966 | 0.989 |" in body
    assert "Command: `.venv/bin/python -m bench.tuning_probe --data clinc150" in body
    # Banking77 has no out-of-scope questions: no AUC row.
    assert "AUC" not in render("banking77", {"top1": 0.9}, {"top1": 0.92}, 10, 1.0, "c")
