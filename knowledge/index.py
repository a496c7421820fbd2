"""The FAISS vector index: every phrasing of every published article, one index per encoder.

Derived from SQLite and safe to delete. Each phrasing gets a stable integer id: an
article's question and each alternative question (kind ``q``), and each sentence of its
answer (kind ``a``: customers often ask about a detail that only the answer mentions,
"I live on Elba", "do you ship to Belgium"; embedded as passages, which only e5
tells apart: index.embed), and the whole article, question and answer as one passage
(kind ``p``: what e5 was trained to match questions against), per language version; the FAISS
indexes are ``IndexIDMap2`` over exact inner-product search, so a changed article
costs removing its old phrasings (``remove_ids``) and embedding only the new ones
(``add_with_ids``) instead of a rebuild. A very big knowledge base (from
``knowledge.ann.APPROX_FROM`` phrasings) also gets an approximate index per encoder
that proposes candidates for the exact scores, and keeps its vectors in fp16
(``knowledge.ann``); it follows the same removals and additions.

Files under ``settings.index_dir``: ``<encoder>.faiss``, ``manifest.json`` (which
id is which phrasing) and, for a big knowledge base, ``<encoder>.ivfpq.faiss``. Each is
written to a temporary file and renamed into place, so a reader never sees half a file;
a manifest that disagrees with the FAISS files (a crash between two renames, another
process writing) is detected on load and the index is rebuilt from SQLite (the
approximate index, from the flat one).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np

from knowledge import ann
from knowledge.encoders import Encoder
from knowledge.store import Article

MANIFEST = "manifest.json"
APPROX_SUFFIX = ".ivfpq.faiss"  # knowledge.ann's index beside <encoder>.faiss
FORMAT_VERSION = 4  # 3: e5 embeds answer sentences as passages; 4: whole-article passages
QUESTION, ANSWER, ARTICLE = "q", "a", "p"
MAX_ANSWER_SENTENCES = 8
_SENTENCE_END = re.compile(r"(?<=[.!?;:])\s+|\n+")
_WORDS = re.compile(r"[^\W\d_]{2,}", re.UNICODE)


@dataclass(frozen=True)
class Phrasing:
    """One indexed text and the article version it belongs to."""

    vid: int
    article_id: str
    lang: str
    kind: str
    text: str

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.article_id, self.lang, self.kind, self.text)


def answer_sentences(answer: str) -> list[str]:
    """The answer's sentences worth embedding (at most a few, each with real words)."""
    sentences: dict[str, None] = {}
    for part in _SENTENCE_END.split(answer):
        clean = " ".join(part.split())
        if len(_WORDS.findall(clean)) >= 3:
            sentences[clean] = None
    return list(sentences)[:MAX_ANSWER_SENTENCES]


def article_passage(article: Article) -> str:
    """The article as one passage: its question, then its answer (the encoders keep the
    first few hundred characters, e5 500: encoders.E5_MAX_CHARS)."""
    return " ".join(f"{article.question} {article.answer}".split())


def wanted_phrasings(articles: Iterable[Article]) -> set[tuple[str, str, str, str]]:
    """The (id, lang, kind, text) keys that the given articles should have in the index."""
    wanted = set()
    for a in articles:
        wanted.update((a.id, a.lang, QUESTION, text) for text in a.phrasings())
        wanted.update((a.id, a.lang, ANSWER, text) for text in answer_sentences(a.answer))
        if a.answer.strip():  # without an answer the passage is the question again
            wanted.add((a.id, a.lang, ARTICLE, article_passage(a)))
    return wanted


def embed(encoder: Encoder, phrasings: list[Phrasing]) -> tuple[np.ndarray, np.ndarray]:
    """Ids and vectors of ``phrasings``: questions as questions, answer sentences and
    whole articles as passages (what a customer's question is searched against:
    Encoder.encode_passages)."""
    questions = [p for p in phrasings if p.kind == QUESTION]
    answers = [p for p in phrasings if p.kind != QUESTION]
    vectors = np.vstack(
        [
            encoder.encode([p.text for p in questions]),
            encoder.encode_passages([p.text for p in answers]),
        ]
    ).astype(np.float32, copy=False)
    ids = np.array([p.vid for p in [*questions, *answers]], dtype=np.int64)
    return ids, vectors


def _atomic_write_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        # mkstemp creates it 0600, which stays: the services that read the index run as
        # the same user, and its catalogue holds the knowledge base's texts.
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class VectorIndex:
    """Phrasing vectors for each encoder, with the id → phrasing catalogue."""

    def __init__(self, encoders: list[Encoder], index_dir: Path) -> None:
        self.encoders = {encoder.name: encoder for encoder in encoders}
        self.index_dir = Path(index_dir)
        self.phrasings: dict[int, Phrasing] = {}
        self._by_key: dict[tuple[str, str, str], int] = {}
        self._next_vid = 1
        self.faiss = {name: ann.flat_index(e.dim) for name, e in self.encoders.items()}
        # Encoders whose knowledge base is big enough for approximate search (knowledge.ann).
        self.approx: dict[str, faiss.Index] = {}
        self.unsaved = False  # built or converted in memory since the files were written

    def __len__(self) -> int:
        return len(self.phrasings)

    # ---- persistence -------------------------------------------------------------
    def load(self) -> bool:
        """Read the files if present and consistent; False (and empty) otherwise."""
        manifest_path = self.index_dir / MANIFEST
        try:
            manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
            if manifest.get("format") != FORMAT_VERSION:
                return False
            if manifest.get("encoders") != {n: e.dim for n, e in self.encoders.items()}:
                return False
            phrasings = {
                int(vid): Phrasing(int(vid), aid, lang, kind, text)
                for vid, aid, lang, kind, text in manifest["phrasings"]
            }
            indexes = {}
            for name in self.encoders:
                index = faiss.read_index(str(self.index_dir / f"{name}.faiss"))
                ids = set(faiss.vector_to_array(index.id_map).tolist())
                if ids != set(phrasings):
                    return False
                indexes[name] = index
        except (OSError, ValueError, KeyError, TypeError, RuntimeError):
            return False
        self.phrasings = phrasings
        self._by_key = {p.key: p.vid for p in phrasings.values()}
        self._next_vid = max(int(manifest.get("next_vid", 1)), max(phrasings, default=0) + 1)
        self.faiss = indexes
        self.approx = {}
        for name, index in indexes.items():
            with contextlib.suppress(OSError, RuntimeError):
                approx = faiss.read_index(str(self.index_dir / f"{name}{APPROX_SUFFIX}"))
                flat_ids = faiss.vector_to_array(index.id_map)
                if (
                    approx.d == index.d
                    and ann.current(approx)
                    and np.array_equal(np.sort(ann.stored_ids(approx)), np.sort(flat_ids))
                ):
                    self.approx[name] = approx  # else rebuilt from the flat index below
        self._follow_size()
        return True

    def save(self) -> None:
        """Write every FAISS file, then the manifest that names their contents."""
        for name, index in self.faiss.items():
            data = faiss.serialize_index(index).tobytes()
            _atomic_write_bytes(self.index_dir / f"{name}.faiss", data)
            approx_path = self.index_dir / f"{name}{APPROX_SUFFIX}"
            if name in self.approx:
                _atomic_write_bytes(approx_path, faiss.serialize_index(self.approx[name]).tobytes())
            else:
                approx_path.unlink(missing_ok=True)
        manifest = {
            "format": FORMAT_VERSION,
            "encoders": {n: e.dim for n, e in self.encoders.items()},
            "next_vid": self._next_vid,
            "phrasings": [
                [p.vid, p.article_id, p.lang, p.kind, p.text] for p in self.phrasings.values()
            ],
        }
        payload = json.dumps(manifest, ensure_ascii=False).encode("utf-8")
        _atomic_write_bytes(self.index_dir / MANIFEST, payload)
        self.unsaved = False

    # ---- updates -----------------------------------------------------------------
    def missing(self, articles: Iterable[Article]) -> int:
        """How many phrasings of ``articles`` ``sync`` would embed (a progress bar's total)."""
        return len(wanted_phrasings(articles) - set(self._by_key))

    def sync(
        self,
        articles: Iterable[Article],
        progress: Callable[[int], None] | None = None,
    ) -> tuple[list[Phrasing], list[Phrasing]]:
        """Make the index hold exactly the phrasings of ``articles``.

        Embeds only phrasings that are new. Returns ``(added, removed)`` so that the
        lexical index can follow. ``progress`` is called with the number of phrasings
        embedded after each batch (for a progress bar).
        """
        wanted = wanted_phrasings(articles)
        removed = [self.phrasings[vid] for key, vid in self._by_key.items() if key not in wanted]
        if removed:
            ids = np.array([p.vid for p in removed], dtype=np.int64)
            for index in [*self.faiss.values(), *self.approx.values()]:
                index.remove_ids(ids)
            for phrasing in removed:
                del self.phrasings[phrasing.vid]
                del self._by_key[phrasing.key]
        new_keys = sorted(wanted - set(self._by_key))
        added = []
        for key in new_keys:
            phrasing = Phrasing(self._next_vid, *key)
            self._next_vid += 1
            added.append(phrasing)
        batch = 256
        for start in range(0, len(added), batch):
            chunk = added[start : start + batch]
            for name, encoder in self.encoders.items():
                ids, vectors = embed(encoder, chunk)
                self.faiss[name].add_with_ids(vectors, ids)
                if name in self.approx:
                    self.approx[name].add_with_ids(vectors, ids)
            for phrasing in chunk:
                self.phrasings[phrasing.vid] = phrasing
                self._by_key[phrasing.key] = phrasing.vid
            if progress is not None:
                progress(len(chunk))
        self._follow_size()
        return added, removed

    def _follow_size(self) -> None:
        """Build the approximate index of an encoder whose phrasings outgrew exact search,
        or drop it when they shrank (a one-off: about a minute at a million phrasings)."""
        for name, index in list(self.faiss.items()):
            present = name in self.approx
            big = ann.wanted(index.ntotal, present)
            if big != ann.is_half_precision(index):
                index = self.faiss[name] = ann.recast(index, half_precision=big)
                self.unsaved = True
            if big and not present:
                self.approx[name] = ann.build(index)
                self.unsaved = True
            elif present and not big:
                del self.approx[name]
                self.unsaved = True

    def vectors(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """Every stored vector of encoder ``name`` and its phrasing id, in storage order.

        Read back from the flat index (no re-embedding): what the article classifier
        trains on.
        """
        index = self.faiss[name]
        if index.ntotal == 0:
            return np.zeros(0, dtype=np.int64), np.zeros((0, index.d), dtype=np.float32)
        ids = faiss.vector_to_array(index.id_map).astype(np.int64)
        flat = faiss.downcast_index(index.index)
        return ids, flat.reconstruct_n(0, index.ntotal)

    # ---- queries -----------------------------------------------------------------
    def search(self, name: str, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Inner-product scores and phrasing ids (-1 = none) of the ``k`` nearest phrasings."""
        index = self.faiss[name]
        k = max(1, min(k, index.ntotal))
        if index.ntotal == 0:
            shape = (len(queries), 1)
            return np.zeros(shape, dtype=np.float32), -np.ones(shape, dtype=np.int64)
        if name in self.approx:
            return ann.search(self.approx[name], index, queries, k)
        return index.search(np.ascontiguousarray(queries, dtype=np.float32), k)
