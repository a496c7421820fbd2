"""bench.plain_model: leaving each plain FAQ out judges the plain-FAQ model honestly."""

from __future__ import annotations

import random

import pytest

from bench.plain_model import (
    VARIANTS,
    hand_over,
    hand_over_table,
    leave_one_faq_out,
    separation,
    table,
)
from knowledge.calibration import (
    PLAIN_KB_MIN_INV_PPA,
    PLAIN_RANK_FEATURES,
    RANK_FEATURES,
    Calibration,
)
from knowledge.fitting import Evidence, Query
from knowledge.search import Candidate


def _set(seed: int, inv_ppa: float, telling: str) -> list[Evidence]:
    """Questions whose right article only ``telling`` picks out (a quarter unanswerable);
    plain FAQs' evidence carries e5's scores too, as bench.quality gathers it."""
    rng = random.Random(seed)
    names = PLAIN_RANK_FEATURES if inv_ppa >= PLAIN_KB_MIN_INV_PPA else RANK_FEATURES
    out = []
    for i in range(160):
        answerable = i % 4 != 0
        candidates = []
        for article_id in ("right", "b", "c"):
            features = {name: rng.random() for name in names}
            features.update(inv_ppa=inv_ppa, inv_k=1 / 3, clf_p_small=features["clf_p"])
            features["clf_on"] = 1.0 if inv_ppa < 0.25 else 0.0  # as search._combine says
            if answerable and article_id == "right":
                features[telling] = rng.uniform(0.7, 1.0)
            else:
                features[telling] = rng.uniform(0.0, 0.5)
            candidates.append(Candidate(article_id, features))
        rng.shuffle(candidates)
        out.append(
            Evidence(Query("q", "it", frozenset({"right"} if answerable else ())), candidates)
        )
    return out


def test_a_model_of_their_own_serves_held_out_plain_faqs_better():
    # Rich knowledge bases: USE-m tells the right article; plain FAQs: the keyword index.
    plain = {f"faq {n}": _set(n, 1.0, "lex_q") for n in (1, 2, 3)}
    fit_sets = [(1.0, _set(10, 0.05, "usem_q")), (1.0, _set(11, 0.05, "usem_q"))]
    fit_sets += [(1.0, evidences) for evidences in plain.values()]
    results = leave_one_faq_out(fit_sets, plain)
    assert list(results) == list(VARIANTS)
    shared = results["one model for every knowledge base, with agreement"]
    own = results["plain FAQs' own model with agreement"]
    assert own["top1"] > shared["top1"] + 0.1
    assert own["auc_answer"] > shared["auc_answer"]
    lines = table(results, list(plain))
    assert len([line for line in lines if line.startswith("| ")]) == 1 + len(VARIANTS)


def test_separation_is_perfect_when_the_confidence_is():
    evidences = _set(5, 1.0, "lex_q")
    model = Calibration({"lex_q": 20.0}, 0.0, {"lex_q": 40.0}, -24.0, threshold=0.5)
    figures = separation(evidences, model)
    assert figures["auc_answer"] == pytest.approx(1.0)
    assert figures["best_right"] == pytest.approx(1.0)


def test_the_hand_over_judges_both_models_on_each_shape_and_marks_the_one_used():
    # Rich knowledge bases: USE-m tells the right article; plain FAQs: the keyword index.
    rest = [(1.0, _set(20, 0.05, "usem_q")), (1.0, _set(21, 0.05, "usem_q"))]
    rest += [(1.0, _set(n, 1.0, "lex_q")) for n in (22, 23)]
    shapes = {0: _set(30, 0.5, "lex_q"), None: _set(31, 0.05, "usem_q")}
    rows = hand_over(rest, shapes)
    assert [(row["kept"], row["shipped"]) for row in rows] == [(0, "plain"), (None, "shared")]
    plain_shape, rich_shape = rows
    assert plain_shape["plain"]["top1"] > plain_shape["shared"]["top1"] + 0.1
    assert rich_shape["shared"]["top1"] > rich_shape["plain"]["top1"] + 0.1
    lines = [line for line in hand_over_table(rows) if line.startswith("| ")]
    assert len(lines) == 1 + 2 * len(rows)
    assert lines[1].startswith("| 0 | 2.0 | **plain** (used) |")
    assert lines[4].startswith("| all | 20.0 | **shared** (used) |")
