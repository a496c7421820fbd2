"""Approximate search for big knowledge bases: IVF-PQ candidates, re-ranked exactly.

Below :data:`APPROX_FROM` phrasings an exact scan of the flat index is fast (a few
milliseconds at 100k) and nothing here is used. Above it an exact scan of every vector
per question grows with the knowledge base (about 90 ms at a million on this CPU), so
each encoder also gets an inverted-file index whose vectors are product-quantised to 4
bits per sub-vector (FAISS "fast scan": dim/16 bytes a vector, scanned with SIMD), each
coded as its residual from its list's centre (:func:`build` says why). It
only proposes candidates: :data:`RERANK` times as many as asked for, from a quarter of
its lists, and their scores are recomputed from the flat index's own vectors, so the
scores that the calibration and the thresholds see are the same inner products as below
the threshold; only a phrasing that the candidate step missed can be missing (recall is
measured by ``bench.scale``: 0.98 at a million on its synthetic vectors, p95 2.4 ms;
``bench.encoders`` measures it on real vectors of our FAQs).

From the same size the flat index keeps its vectors in half precision (fp16: half the
memory, 1.5 GB → 0.77 GB at a million × 384; scores change by about 1e-4, far below
any threshold's resolution), so that both encoders' indexes of a million phrasings fit
in about 2 GB.

The flat index stays the source of the vectors (ids, removal, re-ranking, the article
classifier's training data), so the approximate index is derived from it and is rebuilt
from it whenever the two disagree (a crash between two file writes). The parameters
were chosen on ``bench.scale``'s synthetic vectors (never on evaluation data); see
BENCHMARKS.md.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator

import faiss
import numpy as np

# From this many phrasings (per encoder) the approximate index is built; below half of it
# it is dropped again (so a knowledge base hovering around the threshold is not rebuilt
# on every change).
APPROX_FROM = 200_000
# Share of the lists probed per question, and candidates fetched per wanted result: at a
# million, 1/8 of the lists gave recall@10 0.95 (p95 1.4 ms), 1/4 0.99 (2.4 ms); fetching
# 2 or 4 times k made no difference to recall, the lists probed did.
PROBED_SHARE = 4
RERANK = 4
TRAIN_SAMPLE = 160_000  # k-means and the quantiser learn from at most this many vectors
_ADD_CHUNK = 50_000


def wanted(ntotal: int, present: bool) -> bool:
    """Whether an index of ``ntotal`` phrasings should have an approximate index."""
    return ntotal >= (APPROX_FROM // 2 if present else APPROX_FROM)


def lists_for(ntotal: int) -> int:
    """Inverted lists: about 4 √N (4,000 at a million), as FAISS's guidelines suggest."""
    return max(64, int(4 * math.sqrt(ntotal)))


def probes_for(lists: int) -> int:
    """Lists searched per question."""
    return max(1, lists // PROBED_SHARE)


def flat_index(dim: int, half_precision: bool = False) -> faiss.IndexIDMap2:
    """An exact inner-product index with ids: float32 vectors, or fp16 for big ones."""
    if half_precision:
        storage = faiss.IndexScalarQuantizer(
            dim, faiss.ScalarQuantizer.QT_fp16, faiss.METRIC_INNER_PRODUCT
        )
    else:
        storage = faiss.IndexFlatIP(dim)
    return faiss.IndexIDMap2(storage)


def is_half_precision(flat: faiss.IndexIDMap2) -> bool:
    return isinstance(faiss.downcast_index(flat.index), faiss.IndexScalarQuantizer)


def recast(flat: faiss.IndexIDMap2, half_precision: bool) -> faiss.IndexIDMap2:
    """The same vectors and ids in a flat index of the other precision (chunk by chunk)."""
    out = flat_index(flat.d, half_precision)
    for vectors, ids in _chunks(flat):
        out.add_with_ids(vectors, ids)
    return out


def _chunks(flat: faiss.IndexIDMap2) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """The flat index's vectors (as float32) and ids, ``_ADD_CHUNK`` at a time."""
    storage = faiss.downcast_index(flat.index)
    ids = faiss.vector_to_array(flat.id_map).astype(np.int64)
    for start in range(0, flat.ntotal, _ADD_CHUNK):
        count = min(_ADD_CHUNK, flat.ntotal - start)
        yield storage.reconstruct_n(start, count), ids[start : start + count]


def build(
    flat: faiss.IndexIDMap2,
    progress: Callable[[int], None] | None = None,
    residuals: bool = True,
) -> faiss.Index:
    """An approximate index over every vector of ``flat``, with the same ids.

    Trained on an evenly spread sample, then filled chunk by chunk (the vectors are never
    copied whole). ``progress`` is called with the number of vectors added per chunk.
    ``residuals`` False codes the vectors themselves, as before 2026-12-07 (for
    bench.encoders' comparison only).
    """
    n, dim = flat.ntotal, flat.d
    index = faiss.index_factory(
        dim, f"IVF{lists_for(n)},PQ{dim // 8}x4fs", faiss.METRIC_INNER_PRODUCT
    )
    # The factory quantises the vectors themselves for inner product. e5's vectors all
    # lie in a narrow cone (any two at cosine 0.8-0.9), so 4 bits per sub-vector spent
    # on what they share left an exact match 68th among a question's candidates; coding
    # each vector's residual from its list's centre spends them on what tells phrasings
    # apart (for inner product the look-up tables stay one per query, plus q·centre).
    # On 28,567 real vectors of the evaluation FAQs (a probe, 64 results fetched),
    # recall@10 went from 0.72 to 0.94 for e5, 0.975 to 0.982 for USE-m, and stayed
    # 0.98 for MiniLM; on bench.scale's synthetic vectors, which are not in a cone, it
    # stayed 0.98 at a million, at the same speed and memory.
    faiss.extract_index_ivf(index).by_residual = residuals
    step = max(1, n // TRAIN_SAMPLE)
    sample = np.vstack([vectors[::step] for vectors, _ in _chunks(flat)])
    index.train(sample)
    del sample
    for vectors, ids in _chunks(flat):
        index.add_with_ids(vectors, ids)
        if progress is not None:
            progress(len(ids))
    ivf = faiss.extract_index_ivf(index)
    ivf.nprobe = probes_for(ivf.nlist)
    return index


def current(approx: faiss.Index) -> bool:
    """Whether a loaded approximate index was built as :func:`build` builds it now
    (an older one, coding vectors rather than residuals, is rebuilt)."""
    return bool(faiss.extract_index_ivf(approx).by_residual)


def stored_ids(approx: faiss.Index) -> np.ndarray:
    """Every id ``approx`` holds (to check it against the flat index on load)."""
    ivf = faiss.extract_index_ivf(approx)
    lists = ivf.invlists
    parts = [np.zeros(0, dtype=np.int64)]
    for number in range(ivf.nlist):
        size = lists.list_size(number)
        if size:
            parts.append(faiss.rev_swig_ptr(lists.get_ids(number), size).astype(np.int64))
    return np.concatenate(parts)


def search(
    approx: faiss.Index, flat: faiss.IndexIDMap2, queries: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` best phrasings per query: candidates from ``approx``, exact scores from
    ``flat``. Same shapes and conventions as FAISS's ``search`` (ids -1 when fewer)."""
    queries = np.ascontiguousarray(queries, dtype=np.float32)
    ivf = faiss.extract_index_ivf(approx)
    ivf.nprobe = probes_for(ivf.nlist)
    _, candidates = approx.search(queries, k * RERANK)
    scores = np.full((len(queries), k), -np.inf, dtype=np.float32)
    ids = -np.ones((len(queries), k), dtype=np.int64)
    for row, found in enumerate(candidates):
        found = found[found >= 0]
        if not len(found):
            continue
        exact = flat.reconstruct_batch(found) @ queries[row]
        best = np.argsort(-exact, kind="stable")[:k]
        scores[row, : len(best)] = exact[best]
        ids[row, : len(best)] = found[best]
    return scores, ids
