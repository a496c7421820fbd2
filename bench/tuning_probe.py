"""What fine-tuning MiniLM on a knowledge base's own phrasings would buy (a probe, not a feature).

Issue 6 suggests contrastive fine-tuning of the embedding model on the knowledge base's
own questions. Before building it into the product (a tuned model per knowledge base,
its own index, retraining on changes), this probe measures the gain on fit splits only:
the knowledge base is a data set's train split, the questions its validation split (and
for CLINC150 its out-of-scope validation split), never a test split.

Training is the in-batch-negatives loss of sentence-transformers' MultipleNegatives-
RankingLoss, written out in torch (no extra packages): each batch takes two phrasings of
each of ``batch`` different articles, and each phrasing must find its partner among the
batch's other phrasings. Articles in a batch are distinct, so no negative is a paraphrase.

Run ``.venv/bin/python -m bench.tuning_probe --data clinc150 --steps 150``. It prints
MiniLM-alone nearest-phrasing top-1 on the questions and, where there are out-of-scope
questions, the AUC of the best cosine between in-scope and out-of-scope questions,
before and after, and writes them to its own section of BENCHMARKS.md.

``--data qa4faq`` is the one case that reports on a test split, because QA4FAQ has no
other: the model trains on the FAQ articles alone (each one's question, keywords and
answer sentences, exactly the texts Sportello indexes for it) and the customer queries
are only asked, before and after. It measures MiniLM alone and the shipped fused search
with its shipped calibration (top-1, MRR, c@1), to see whether tuning closes issue 6's
QA4FAQ gap.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score

from bench.quality import (
    BENCHMARKS,
    EVAL_DIR,
    Dataset,
    _jsonl,
    banking_train_split,
    gather,
    load_qa4faq,
)
from bench.sections import machine, write_section
from knowledge.calibration import load_calibration
from knowledge.encoders import MiniLMEncoder, default_encoders
from knowledge.fitting import gold_rank
from knowledge.fitting import measure as measure_search
from knowledge.index import answer_sentences
from knowledge.store import Article
from sportello.clock import utc_now

SCALE = 20.0  # sentence-transformers' default for cosine similarities in this loss


def phrasing_pairs(by_article: dict[str, list[str]], batch: int, rng: random.Random):
    """Two different phrasings of each of ``batch`` distinct articles (with 2+ phrasings)."""
    eligible = [a for a, texts in by_article.items() if len(texts) >= 2]
    chosen = rng.sample(eligible, min(batch, len(eligible)))
    pairs = [rng.sample(by_article[a], 2) for a in chosen]
    return [a for a, _ in pairs], [p for _, p in pairs]


def fine_tune(
    model,
    by_article: dict[str, list[str]],
    steps: int,
    *,
    batch: int = 64,
    lr: float = 4e-5,
    seed: int = 1,
    log: Callable[[str], None] = print,
) -> float:
    """Train ``model`` (a SentenceTransformer) in place; returns the last loss."""
    import torch

    rng = random.Random(seed)
    model.train()
    optimiser = torch.optim.AdamW(model.parameters(), lr=lr)
    loss_value = float("nan")
    started = time.perf_counter()
    for step in range(steps):
        anchors, partners = phrasing_pairs(by_article, batch, rng)
        a = torch.nn.functional.normalize(model(model.preprocess(anchors))["sentence_embedding"])
        p = torch.nn.functional.normalize(model(model.preprocess(partners))["sentence_embedding"])
        similarity = a @ p.T * SCALE
        target = torch.arange(len(anchors))
        loss = (
            torch.nn.functional.cross_entropy(similarity, target)
            + torch.nn.functional.cross_entropy(similarity.T, target)
        ) / 2
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        loss_value = float(loss.item())
        if step % 25 == 0 or step == steps - 1:
            elapsed = time.perf_counter() - started
            log(f"step {step + 1}/{steps}: loss {loss_value:.3f}, {elapsed:.0f} s")
    model.eval()
    return loss_value


def auc(positive: np.ndarray, negative: np.ndarray) -> float:
    """P(a random in-scope score beats a random out-of-scope one), ties counted half:
    the ROC AUC of telling them apart (scikit-learn's ``roc_auc_score``)."""
    labels = np.concatenate([np.ones(len(positive)), np.zeros(len(negative))])
    return float(roc_auc_score(labels, np.concatenate([positive, negative])))


def measure(model, kb: list[dict], questions: list[dict], oos: list[dict]) -> dict[str, float]:
    def encode(rows: list[dict]) -> np.ndarray:
        texts = [r["text"] for r in rows]
        return model.encode(texts, batch_size=64, normalize_embeddings=True, convert_to_numpy=True)

    kb_vectors = encode(kb)
    labels = np.array([r["label"] for r in kb])
    in_scores = encode(questions) @ kb_vectors.T
    top1 = float(np.mean(labels[in_scores.argmax(1)] == np.array([r["label"] for r in questions])))
    out = {"top1": top1}
    if oos:
        out["auc"] = auc(in_scores.max(1), (encode(oos) @ kb_vectors.T).max(1))
    return out


def article_texts(articles: list[Article]) -> dict[str, list[str]]:
    """Each article's texts as the index holds them: its phrasings and answer sentences."""
    return {a.id: [*a.phrasings(), *answer_sentences(a.answer)] for a in articles}


def rank_measures(scores: np.ndarray, owners: list[str], gold: list[frozenset[str]]) -> dict:
    """Top-1 and MRR of articles ranked by their best text's score (one row per query)."""
    ids = sorted(set(owners))
    column = {a: i for i, a in enumerate(ids)}
    best = np.full((scores.shape[0], len(ids)), -np.inf)
    for j, owner in enumerate(owners):
        best[:, column[owner]] = np.maximum(best[:, column[owner]], scores[:, j])
    order = np.argsort(-best, axis=1, kind="stable")
    top1 = reciprocal = 0.0
    for row, wanted in zip(order, gold, strict=True):
        rank = gold_rank([ids[c] for c in row], wanted)
        top1 += rank == 1
        reciprocal += 1.0 / rank if rank else 0.0
    return {"top1": top1 / len(gold), "mrr": reciprocal / len(gold)}


def measure_qa4faq(encoders: list, dataset: Dataset) -> dict[str, float]:
    """MiniLM alone and the shipped fused search on QA4FAQ's test queries (asked only)."""
    queries = dataset.report["test"]
    by_article = article_texts(dataset.articles)
    minilm = next(e for e in encoders if e.name == MiniLMEncoder.name)
    owners = [a for a, texts in by_article.items() for _ in texts]
    texts = [t for ts in by_article.values() for t in ts]
    scores = minilm.encode([q.text for q in queries]) @ minilm.encode(texts).T
    alone = rank_measures(scores, owners, [q.gold for q in queries])
    with tempfile.TemporaryDirectory() as tmp:
        evidence, _ = gather(dataset, Path(tmp), encoders)
    fused = measure_search(evidence["test"], load_calibration())
    return {
        "top1": alone["top1"],
        "mrr": alone["mrr"],
        "fused_top1": fused["top1"],
        "fused_mrr": fused["mrr"],
        "fused_c_at_1": fused["c_at_1"],
    }


def load(name: str) -> tuple[list[dict], list[dict], list[dict]]:
    """(knowledge-base rows, in-scope questions, out-of-scope questions): fit splits only."""
    if name == "clinc150":
        d = EVAL_DIR / "clinc150"
        return _jsonl(d / "train.jsonl"), _jsonl(d / "val.jsonl"), _jsonl(d / "oos_val.jsonl")
    kb, held_out = banking_train_split()
    return kb, held_out, []


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.tuning_probe", description=__doc__)
    parser.add_argument("--data", choices=("clinc150", "banking77", "qa4faq"), default="clinc150")
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--batch", type=int, default=64, help="articles per training batch")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--no-write", action="store_true", help="print the figures, leave BENCHMARKS.md"
    )
    args = parser.parse_args(argv)
    import torch

    if args.data == "qa4faq":
        encoders = default_encoders()
        for encoder in encoders:
            encoder.encode(["warm up"])  # loads the model (and sets one thread)
        model = next(e for e in encoders if e.name == MiniLMEncoder.name)._model
        dataset = load_qa4faq(quick=False)
        by_article = article_texts(dataset.articles)

        def measure_now() -> dict[str, float]:
            return measure_qa4faq(encoders, dataset)
    else:
        encoder = MiniLMEncoder()
        encoder.encode(["warm up"])
        model = encoder._model
        kb, questions, oos = load(args.data)
        by_article = defaultdict(list)
        for row in kb:
            by_article[row["label"]].append(row["text"])

        def measure_now() -> dict[str, float]:
            return measure(model, kb, questions, oos)

    torch.set_num_threads(args.threads)
    before = measure_now()
    print(f"{args.data} frozen MiniLM: {before}")
    started = time.perf_counter()
    fine_tune(model, by_article, args.steps, batch=args.batch)
    seconds = time.perf_counter() - started
    with torch.inference_mode():
        after = measure_now()
    print(f"{args.data} tuned MiniLM ({args.steps} steps, {seconds:.0f} s): {after}")
    if not args.no_write:
        command = (
            f".venv/bin/python -m bench.tuning_probe --data {args.data} --steps {args.steps}"
            f" --batch {args.batch}"
        )
        body = render(args.data, before, after, args.steps, seconds, command)
        write_section(BENCHMARKS, f"tuning-probe-{args.data}", body)
    return 0


SETUPS = {
    "default": "Knowledge base = train; questions = the validation split(s) (fit data, never"
    " test). MiniLM alone.",
    "qa4faq": "Trained on the FAQ articles alone (question, keywords, answer sentences:"
    " the texts Sportello indexes); the test queries are only asked, before and after"
    " (QA4FAQ has no other split). The fused search keeps its shipped calibration and"
    " cut-off, fitted on other data sets.",
}


def render(
    data: str,
    before: dict[str, float],
    after: dict[str, float],
    steps: int,
    seconds: float,
    command: str,
) -> str:
    """The probe's section of BENCHMARKS.md: frozen and tuned side by side."""
    date = utc_now().strftime("%Y-%m-%d %H:%M UTC")
    rows = [
        ("MiniLM alone: top-1 (article of the nearest text)", "top1", "{:.1%}"),
        ("MiniLM alone: MRR", "mrr", "{:.3f}"),
        ("MiniLM alone: in-scope vs out-of-scope AUC of the best cosine", "auc", "{:.3f}"),
        ("shipped fused search: top-1", "fused_top1", "{:.1%}"),
        ("shipped fused search: MRR", "fused_mrr", "{:.3f}"),
        ("shipped fused search: c@1 at the shipped cut-off", "fused_c_at_1", "{:.3f}"),
    ]
    setup = SETUPS.get(data, SETUPS["default"])
    lines = [
        f"## Fine-tuning probe: {data} (not a product feature)",
        "",
        f"Measured {date} on {machine()}; {steps} training steps took {seconds:.0f} s.",
        "",
        f"Command: `{command}`",
        "",
        setup,
        "",
        "| measure | frozen | tuned |",
        "|---|---|---|",
    ]
    for label, key, fmt in rows:
        if key in before:
            lines.append(f"| {label} | {fmt.format(before[key])} | {fmt.format(after[key])} |")
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
