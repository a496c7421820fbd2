"""Why plain FAQs get a model of their own: each plain FAQ left out in turn (fit data only).

The shipped calibration (knowledge.fitting.fit_calibration) gives knowledge bases with
one question per article their own ranker, confidence and reach model, and its
confidence sees how many retrievers put a candidate first (``agree``) and, for plain
FAQs, the plain ranker's own logit and margin. These choices were made here, on the
val splits of our plain FAQs only: each FAQ is held out, the models are fitted on
everything else, and the held-out FAQ's val questions judge them. A company's FAQ is
never one we fitted on, so this is the honest comparison; test splits are not used.

Besides the rates at the fitted cut-offs, two figures do not depend on where the
cut-offs fall: the ROC AUC of the confidence (right answer against wrong or
unanswerable) and of the reach model (right article among the choices), and the most
questions the confidence could answer right with at most 5% answered wrong and 20% of
the unanswerable answered, cut-off chosen on the held-out set itself: how well the
model *can* separate, not what the shipped cut-off does.

A plain FAQ does not stay plain: every approved customer wording is one more phrasing,
and past ``PLAIN_KB_MIN_INV_PPA`` (8 phrasings per article, both languages together)
the knowledge base gets the shared model. Where that hand-over belongs is measured by
``hand_over``: the demo with 0, 1, 2... of its written phrasings per article, its val
questions judged by both models, each fitted without any of the demo's data.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from sklearn.metrics import roc_auc_score

from bench.sections import pct
from knowledge.calibration import (
    CLF_CONF_FEATURES,
    CONF_FEATURES,
    PLAIN_CONF_FEATURES,
    PLAIN_KB_MIN_INV_PPA,
    PLAIN_RANK_FEATURES,
    RANK_FEATURES,
    RANKER_FEATURES,
    Calibration,
)
from knowledge.fitting import Evidence, fit_calibration, measure, offered_ids, rank_evidence

AGREEMENT = ("agree", "agree_q")
# name -> (plain FAQs get their own model, the confidence sees agreement, the plain
# model's confidence and reach see its ranker's logit and margin)
VARIANTS = {
    "one model for every knowledge base, no agreement": (False, False, False),
    "one model for every knowledge base, with agreement": (False, True, False),
    "plain FAQs' own model, no agreement": (True, False, False),
    "plain FAQs' own model with agreement": (True, True, False),
    "plain FAQs' own model with agreement and its ranker's margin (shipped)": (True, True, True),
}
MAX_WRONG_FOR_BEST = 0.05
MAX_OUT_ANSWERED_FOR_BEST = 0.20


def _fit(
    rest: list[tuple[float, list[Evidence]]], own_model: bool, agreement: bool, ranker: bool
) -> Calibration:
    """One variant fitted on ``rest``; with its own model only the plain FAQs' sees
    agreement and its ranker's scores."""
    if not own_model:
        extra = AGREEMENT if agreement else ()
        return fit_calibration(
            rest,
            RANK_FEATURES,
            (*CONF_FEATURES, *extra),
            (*CLF_CONF_FEATURES, *extra),
            own_plain_model=False,
        )
    left_out = (() if agreement else AGREEMENT) + (() if ranker else RANKER_FEATURES)
    return fit_calibration(
        rest,
        RANK_FEATURES,
        CONF_FEATURES,
        CLF_CONF_FEATURES,
        plain_conf_names=tuple(n for n in PLAIN_CONF_FEATURES if n not in left_out),
        plain_rank_names=PLAIN_RANK_FEATURES,
    )


def separation(evidences: list[Evidence], calibration: Calibration) -> dict[str, float]:
    """Cut-off-free figures of one held-out set (module notes)."""
    conf, right, answerable, reach, offered = [], [], [], [], []
    for e in evidences:
        ranked = rank_evidence(e, calibration)
        if not ranked:
            continue
        conf.append(ranked[0].confidence)
        right.append(ranked[0].article_id in e.query.gold)
        answerable.append(bool(e.query.gold))
        reach.append(ranked[0].reach)
        offered.append(bool(set(offered_ids(ranked)) & e.query.gold))
    conf_a, right_a, inscope = np.array(conf), np.array(right), np.array(answerable)
    n_in, n_out = max(int(inscope.sum()), 1), max(int((~inscope).sum()), 1)
    best = 0.0
    for cut in np.unique(conf_a):
        answered = conf_a >= cut
        wrong = (answered & inscope & ~right_a).sum() / n_in
        out_answered = (answered & ~inscope).sum() / n_out
        if wrong <= MAX_WRONG_FOR_BEST and out_answered <= MAX_OUT_ANSWERED_FOR_BEST:
            best = max(best, float((answered & right_a).sum() / n_in))
    return {
        "auc_answer": float(roc_auc_score(right, conf)) if 0 < sum(right) < len(right) else 0.5,
        "auc_reach": (
            float(roc_auc_score(offered, reach)) if 0 < sum(offered) < len(offered) else 0.5
        ),
        "best_right": best,
    }


def leave_one_faq_out(
    fit_sets: list[tuple[float, list[Evidence]]], held_out: dict[str, list[Evidence]]
) -> dict[str, dict[str, float]]:
    """Mean over the held-out plain FAQs of each variant's rates and separation.

    ``fit_sets`` are every fit set (the held-out ones among them, matched by identity);
    ``held_out`` names the plain FAQs' val evidence to leave out one at a time.
    """
    out: dict[str, dict[str, float]] = {}
    for variant, flags in VARIANTS.items():
        rows = []
        for evidences in held_out.values():
            rest = [(w, e) for w, e in fit_sets if e is not evidences]
            calibration = _fit(rest, *flags)
            rows.append({**measure(evidences, calibration), **separation(evidences, calibration)})
        keys = set.intersection(*(set(r) for r in rows))
        out[variant] = {k: float(np.mean([r[k] for r in rows])) for k in keys}
    return out


def table(results: dict[str, dict[str, float]], names: list[str]) -> list[str]:
    """The section's markdown lines."""
    if not results:
        return []

    lines = [
        "### Choosing the plain-FAQ model: each plain FAQ left out in turn (fit data only)",
        "",
        f"Held out one at a time: {', '.join(names)} (val splits); the models are fitted on"
        " every other fit set. Means over the held-out FAQs. AUCs and the best right"
        f" answers at ≤ {MAX_WRONG_FOR_BEST:.0%} wrong do not depend on the cut-offs"
        " (bench/plain_model.py).",
        "",
        "| model | top-1 | answered right | answered wrong | reached within one clarification"
        " | unanswerable given no article | AUC: right answer | AUC: right article offered"
        " | best right at ≤ 5% wrong |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for variant, m in results.items():
        lines.append(
            f"| {variant} | {pct(m.get('top1'))} | {pct(m.get('answered_right'))}"
            f" | {pct(m.get('answered_wrong'))} | {pct(m.get('reached'))}"
            f" | {pct(m.get('no_article_out'))} | {m['auc_answer']:.3f} | {m['auc_reach']:.3f}"
            f" | {pct(m['best_right'])} |"
        )
    return [*lines, ""]


# Alternative phrasings kept per demo article (per language version) for the hand-over
# table; None keeps every one (the demo as written, 12-14 per article).
HAND_OVER_PHRASINGS = (0, 1, 2, 3, 4, 6, 9, None)


def hand_over(
    rest: list[tuple[float, list[Evidence]]], shapes: dict[int | None, list[Evidence]]
) -> list[dict]:
    """Per shape of the demo (``HAND_OVER_PHRASINGS`` -> its val evidence, searched with
    every encoder), the plain model's and the shared model's figures.

    ``rest`` must hold none of the demo's data (neither the demo nor its plain or small
    cuts): the demo's val questions then judge two models that never saw them.
    """
    calibration = fit_calibration(
        rest,
        RANK_FEATURES,
        CONF_FEATURES,
        CLF_CONF_FEATURES,
        plain_conf_names=PLAIN_CONF_FEATURES,
        plain_rank_names=PLAIN_RANK_FEATURES,
    )
    if calibration.plain is None:
        return []
    models = {"plain": calibration.plain, "shared": replace(calibration, plain=None)}
    rows = []
    for kept, evidences in shapes.items():
        firsts = [e.candidates[0].features.get("inv_ppa", 0.0) for e in evidences if e.candidates]
        if not firsts:
            continue
        row: dict = {"kept": kept, "inv_ppa": firsts[0]}
        for name, model in models.items():
            row[name] = {**measure(evidences, model), **separation(evidences, model)}
        shipped = calibration.for_shape(firsts[0]) is calibration.plain
        row["shipped"] = "plain" if shipped else "shared"
        rows.append(row)
    return rows


def hand_over_table(rows: list[dict]) -> list[str]:
    """The hand-over's markdown lines."""
    if not rows:
        return []
    lines = [
        "### Where a plain FAQ becomes a rich one: plain model against shared model",
        "",
        "The demo knowledge base with only some of its written phrasings per article (per"
        " language version), its val questions; both models fitted on every fit set"
        " except the demo's own (the demo, its first-question cut and its small cuts), so"
        " neither has seen these questions. A knowledge base gets the plain model while"
        f" it has at most {round(1 / PLAIN_KB_MIN_INV_PPA)} phrasings per article, both"
        " languages together (`PLAIN_KB_MIN_INV_PPA`); approved customer wordings add"
        " phrasings, so a plain FAQ moves down this table as it learns.",
        "",
        "| alternative phrasings kept | phrasings per article | model | answered right"
        " | answered wrong | reached within one clarification | unanswerable given no article"
        " | AUC: right answer | best right at ≤ 5% wrong |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        kept = "all" if row["kept"] is None else str(row["kept"])
        for name in ("plain", "shared"):
            m = row[name]
            label = f"**{name}** (used)" if row["shipped"] == name else name
            lines.append(
                f"| {kept} | {1 / row['inv_ppa']:.1f} | {label} | {pct(m.get('answered_right'))}"
                f" | {pct(m.get('answered_wrong'))} | {pct(m.get('reached'))}"
                f" | {pct(m.get('no_article_out'))} | {m['auc_answer']:.3f}"
                f" | {pct(m['best_right'])} |"
            )
    return [*lines, ""]
