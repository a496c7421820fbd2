"""Knowledge-base vector search at 10k, 100k and 1M vectors: latency, memory, recall.

Encoding a million texts with the two sentence encoders would take this CPU many hours,
so the vectors are **synthetic**: unit vectors drawn around random centres (clusters,
like the phrasings of one article), and queries drawn near stored vectors (like a
customer's paraphrase). Random data without such structure is the worst case for the
approximate indexes; real embeddings cluster more. The encoder's own cost per query is
measured separately on the running stack (bench.speed's profile).

Builds use every core (a one-off); searches use one thread, as the action server does.
Each configuration runs in a child process (``python -m bench.scale --one N DIM KIND Q``)
so that its resident memory is its own: the figure reported is the process's resident
set after building the index minus the same just before (libraries, queries and the
exact answers already in memory), i.e. what the index costs. Searches run one query
at a time on one thread, with ``k`` = 64 as the product fetches
(``knowledge.search.PHRASINGS_PER_RETRIEVER``).

Index kinds:

- ``flat``: exact inner product in an ``IndexIDMap2`` — what ``knowledge.index`` uses;
- ``ivf``: inverted lists over ``sqrt(N)`` k-means centres, full vectors, ``nprobe`` 64
  (not at 1M, where it needs as much memory as ``flat`` and the run time is better
  spent on the quantised variant; the quick mode measures it at 10k only);
- ``ivf-sq8``: the same with vectors quantised to 8 bits per dimension (4x less memory);
- ``hnsw``: a graph (M = 32, efSearch 64); its build is slow on one core (about 1,000
  vectors/s: 100k took 108 s), so the quick mode measures it at 10k and the full mode
  at 10k and at 100k × 384 only. At 1M it would hold the full vectors plus the graph,
  so it cannot save memory over ``flat`` anyway.
- ``product``: what ``knowledge.index`` does from ``knowledge.ann.APPROX_FROM`` phrasings
  on (through the same functions): the flat index in fp16 plus an IVF-PQ fast-scan index
  whose candidates are re-scored from it. Measured where the product uses it (1M; the
  quick mode stops below the threshold, where the product is the ``flat`` row).
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import json
import math
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

K = 64
RECALL_AT = 10
CHUNK = 50_000
NPROBE = 64
SEED = 20261123
KINDS = ("flat", "ivf", "ivf-sq8", "hnsw", "product")


@dataclass(frozen=True)
class Config:
    n: int
    dim: int
    kind: str
    queries: int


def _rss_mb() -> float:
    """Resident set size of this process now (VmRSS), in MiB, after freed memory is returned.

    glibc keeps freed blocks for reuse; trimming first makes the figure the live data.
    """
    with contextlib.suppress(OSError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    with open("/proc/self/status", encoding="ascii") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return math.nan


def _unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def _centres(n: int, dim: int, rng: np.random.Generator) -> np.ndarray:
    return _unit(rng.standard_normal((max(16, n // 20), dim)))


def synthetic_chunks(n: int, dim: int, seed: int = SEED):
    """Clustered unit vectors in chunks (so the data never sits in memory twice).

    About 20 vectors per centre, each at cosine about 0.55 from it: the phrasings of
    one topic. The same ``seed`` gives the same vectors, so a second pass can rebuild
    what a first pass saw without keeping it.
    """
    rng = np.random.default_rng(seed)
    centres = _centres(n, dim, rng)
    for start in range(0, n, CHUNK):
        size = min(CHUNK, n - start)
        picks = rng.integers(0, len(centres), size)
        noise = rng.standard_normal((size, dim)).astype(np.float32) * (0.9 / math.sqrt(dim))
        yield start, _unit(centres[picks] + noise)


def _queries(n: int, dim: int, count: int) -> np.ndarray:
    """Customer-like queries: near a topic's centre, as far from it as its phrasings are."""
    centres = _centres(n, dim, np.random.default_rng(SEED))
    rng = np.random.default_rng(SEED + 1)
    picks = rng.integers(0, len(centres), count)
    noise = rng.standard_normal((count, dim)).astype(np.float32) * (0.9 / math.sqrt(dim))
    return _unit(centres[picks] + noise)


def exact_top(queries: np.ndarray, n: int, dim: int) -> np.ndarray:
    """Ids of every query's exact top ``RECALL_AT`` vectors, computed chunk by chunk."""
    best_scores = np.full((len(queries), RECALL_AT), -np.inf, dtype=np.float32)
    best_ids = np.zeros((len(queries), RECALL_AT), dtype=np.int64)
    for start, chunk in synthetic_chunks(n, dim):
        scores = queries @ chunk.T
        top = np.argpartition(-scores, RECALL_AT - 1, axis=1)[:, :RECALL_AT]
        merged_scores = np.hstack([best_scores, np.take_along_axis(scores, top, axis=1)])
        merged_ids = np.hstack([best_ids, top + start])
        order = np.argsort(-merged_scores, axis=1)[:, :RECALL_AT]
        best_scores = np.take_along_axis(merged_scores, order, axis=1)
        best_ids = np.take_along_axis(merged_ids, order, axis=1)
    return best_ids


def _new_index(config: Config):
    import faiss

    d = config.dim
    if config.kind == "flat":
        return faiss.IndexIDMap2(faiss.IndexFlatIP(d))
    nlist = max(16, int(math.sqrt(config.n)))
    if config.kind == "ivf":
        index = faiss.IndexIVFFlat(faiss.IndexFlatIP(d), d, nlist, faiss.METRIC_INNER_PRODUCT)
    elif config.kind == "ivf-sq8":
        index = faiss.IndexIVFScalarQuantizer(
            faiss.IndexFlatIP(d), d, nlist, faiss.ScalarQuantizer.QT_8bit,
            faiss.METRIC_INNER_PRODUCT,
        )  # fmt: skip
    elif config.kind == "hnsw":
        index = faiss.IndexHNSWFlat(d, 32, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = 64
        index.hnsw.efSearch = 64
        return index
    else:
        raise ValueError(f"unknown index kind {config.kind!r}")
    index.nprobe = NPROBE
    return index


def measure(config: Config) -> dict:
    """Build one index over synthetic vectors and time single-query searches.

    The exact answers are computed in a first pass over the data, before the memory
    baseline is taken, so the figure is the index's own (plus one chunk in flight).
    """
    import faiss

    # Building uses every core (it is a one-off, and bounds this benchmark's run time);
    # searching uses one, as the action server does.
    faiss.omp_set_num_threads(os.cpu_count() or 1)
    queries = _queries(config.n, config.dim, config.queries)
    truth = exact_top(queries, config.n, config.dim)
    baseline = _rss_mb()
    if config.kind == "product":
        return _measure_product(config, queries, truth, baseline)
    index = _new_index(config)
    build_started = time.perf_counter()
    for start, chunk in synthetic_chunks(config.n, config.dim):
        if not index.is_trained:
            rng = np.random.default_rng(SEED + 2)
            index.train(chunk[rng.choice(len(chunk), min(len(chunk), 40 * index.nlist), False)])
        if config.kind == "hnsw":
            index.add(chunk)
        else:
            index.add_with_ids(chunk, np.arange(start, start + len(chunk), dtype=np.int64))
        del chunk
    build_s = time.perf_counter() - build_started
    index_mb = _rss_mb() - baseline
    return _timed_searches(config, index.search, queries, truth, build_s, index_mb)


def _measure_product(
    config: Config, queries: np.ndarray, truth: np.ndarray, baseline: float
) -> dict:
    """``knowledge.index`` above the threshold: fp16 flat vectors + knowledge.ann."""
    from knowledge import ann

    build_started = time.perf_counter()
    flat = ann.flat_index(config.dim, half_precision=True)
    for start, chunk in synthetic_chunks(config.n, config.dim):
        flat.add_with_ids(chunk, np.arange(start, start + len(chunk), dtype=np.int64))
        del chunk
    approx = ann.build(flat)
    build_s = time.perf_counter() - build_started
    index_mb = _rss_mb() - baseline

    def search(query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        return ann.search(approx, flat, query, k)

    return _timed_searches(config, search, queries, truth, build_s, index_mb)


def _timed_searches(
    config: Config,
    search: Callable[[np.ndarray, int], tuple[np.ndarray, np.ndarray]],
    queries: np.ndarray,
    truth: np.ndarray,
    build_s: float,
    index_mb: float,
) -> dict:
    """Single-query searches on one thread: latency percentiles and recall@10."""
    import faiss

    faiss.omp_set_num_threads(1)
    k = min(K, config.n)
    search(queries[:1], k)  # the first call allocates scratch space
    latencies = []
    hits = 0
    for i in range(len(queries)):
        started = time.perf_counter()
        _, found = search(queries[i : i + 1], k)
        latencies.append((time.perf_counter() - started) * 1000)
        hits += len(set(found[0, :RECALL_AT].tolist()) & set(truth[i].tolist()))
    return {
        "n": config.n,
        "dim": config.dim,
        "kind": config.kind,
        "queries": len(queries),
        "build_s": round(build_s, 2),
        "index_mb": round(index_mb, 1),
        "rss_mb": round(_rss_mb(), 1),
        "p50_ms": float(np.percentile(latencies, 50)),
        "p95_ms": float(np.percentile(latencies, 95)),
        "recall_at_10": hits / (RECALL_AT * len(queries)),
    }


def configs(quick: bool) -> list[Config]:
    """What the quick and the full benchmark measure (the quick one stops at 100k)."""
    sizes = (10_000, 100_000) if quick else (10_000, 100_000, 1_000_000)
    out = []
    for n in sizes:
        for dim in (384, 512):
            for kind in KINDS:
                if kind == "hnsw" and n > 10_000 and (quick or n > 100_000 or dim != 384):
                    continue
                if kind == "ivf" and (n >= 1_000_000 or (quick and n > 10_000)):
                    continue  # run time: the quantised variant tells more at scale
                if kind == "product" and n < 1_000_000:
                    continue  # below knowledge.ann.APPROX_FROM the product is "flat"
                # Exact search at 1M scans gigabytes per query: fewer queries suffice.
                queries = 50 if (kind == "flat" and n >= 1_000_000) else 200
                out.append(Config(n, dim, kind, queries))
    return out


def run_child(config: Config, timeout_s: float = 600) -> dict:
    """Measure one configuration in a fresh process; an ``error`` key if it failed."""
    argv = [sys.executable, "-m", "bench.scale", "--one"]
    argv += [str(config.n), str(config.dim), config.kind, str(config.queries)]
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        return {**config.__dict__, "error": f"timed out after {timeout_s:.0f} s"}
    if done.returncode != 0:
        return {**config.__dict__, "error": done.stderr.strip().splitlines()[-1:]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.scale", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--one", nargs=4, metavar=("N", "DIM", "KIND", "QUERIES"))
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    if args.one:
        n, dim, kind, queries = args.one
        print(json.dumps(measure(Config(int(n), int(dim), kind, int(queries)))))
        return 0
    for config in configs(args.quick):
        print(json.dumps(run_child(config)), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
