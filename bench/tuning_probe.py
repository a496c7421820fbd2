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
"""

from __future__ import annotations

import argparse
import random
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime, timezone

import numpy as np

from bench.quality import BENCHMARKS, EVAL_DIR, _jsonl, banking_train_split
from bench.sections import machine, write_section
from knowledge.encoders import MiniLMEncoder

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
    """P(a random in-scope score beats a random out-of-scope one), ties counted half."""
    greater = (positive[:, None] > negative[None, :]).mean()
    equal = (positive[:, None] == negative[None, :]).mean()
    return float(greater + 0.5 * equal)


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


def load(name: str) -> tuple[list[dict], list[dict], list[dict]]:
    """(knowledge-base rows, in-scope questions, out-of-scope questions): fit splits only."""
    if name == "clinc150":
        d = EVAL_DIR / "clinc150"
        return _jsonl(d / "train.jsonl"), _jsonl(d / "val.jsonl"), _jsonl(d / "oos_val.jsonl")
    kb, held_out = banking_train_split()
    return kb, held_out, []


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.tuning_probe", description=__doc__)
    parser.add_argument("--data", choices=("clinc150", "banking77"), default="clinc150")
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--no-write", action="store_true", help="print the figures, leave BENCHMARKS.md"
    )
    args = parser.parse_args(argv)
    import torch

    encoder = MiniLMEncoder()
    encoder.encode(["warm up"])
    model = encoder._model
    torch.set_num_threads(args.threads)
    kb, questions, oos = load(args.data)
    before = measure(model, kb, questions, oos)
    print(f"{args.data} frozen MiniLM: {before}")
    by_article: dict[str, list[str]] = defaultdict(list)
    for row in kb:
        by_article[row["label"]].append(row["text"])
    started = time.perf_counter()
    fine_tune(model, by_article, args.steps)
    seconds = time.perf_counter() - started
    with torch.inference_mode():
        after = measure(model, kb, questions, oos)
    print(f"{args.data} tuned MiniLM ({args.steps} steps, {seconds:.0f} s): {after}")
    if not args.no_write:
        command = f".venv/bin/python -m bench.tuning_probe --data {args.data} --steps {args.steps}"
        body = render(args.data, before, after, args.steps, seconds, command)
        write_section(BENCHMARKS, f"tuning-probe-{args.data}", body)
    return 0


def render(
    data: str,
    before: dict[str, float],
    after: dict[str, float],
    steps: int,
    seconds: float,
    command: str,
) -> str:
    """The probe's section of BENCHMARKS.md: MiniLM alone, frozen and tuned."""
    date = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    rows = [
        ("nearest-phrasing top-1", "top1", "{:.1%}"),
        ("in-scope vs out-of-scope AUC of the best cosine", "auc", "{:.3f}"),
    ]
    lines = [
        f"## Fine-tuning probe: {data} (MiniLM alone; not a product feature)",
        "",
        f"Measured {date} on {machine()}; {steps} training steps took {seconds:.0f} s.",
        "",
        f"Command: `{command}`",
        "",
        "Knowledge base = train; questions = the validation split(s) (fit data, never test).",
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
