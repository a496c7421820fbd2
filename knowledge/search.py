"""A customer's question in, ranked article versions with a calibrated confidence out.

The searcher keeps the derived indexes (FAISS vectors per encoder, stemmed FTS5) in
step with SQLite: before every search it reads one counter that SQLite triggers bump on
any article write, and when it moved it re-embeds only the phrasings that changed. A
running bot therefore answers from a new article, and stops answering from a retired
one, on the next message, without a restart.

Retrieval is per phrasing and aggregated per article ``id`` across languages, so an
English question can land on an article whose Italian phrasing matched; the answer is
then given in the customer's language when that version exists, else in the other.

Next to the three retrievers, a small classifier trained on the knowledge base's own
question phrasings (knowledge.classifier, over the vectors already in the index) gives
each article a probability; it is retrained whenever the indexes change, and its best
articles join the candidates. When it was trained on enough phrasings per article, its
probability also informs the answer/abstain confidence (feature ``clf_on``, see
knowledge.calibration).
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from knowledge.batching import Combiner
from knowledge.calibration import (
    AGREE_FEATURES,
    AGREE_Q_FEATURES,
    E5_FEATURES,
    POSITION_SOURCES,
    POSITION_SOURCES_ALWAYS,
    Calibration,
    articles_of,
    load_calibration,
)
from knowledge.classifier import ArticleClassifier
from knowledge.encoders import Encoder, default_encoders
from knowledge.index import ANSWER, ARTICLE, MANIFEST, QUESTION, VectorIndex
from knowledge.language import detect_language
from knowledge.lexical import LexicalHit, LexicalIndex
from knowledge.store import LANGS, Article, kb_version, list_articles, phrasing_key
from sportello.db import open_db
from sportello.settings import get_settings

# Phrasings fetched per retriever, and articles per retriever that become candidates.
PHRASINGS_PER_RETRIEVER = 64
CANDIDATES_PER_RETRIEVER = 10
_HAS_CONTENT = re.compile(r"[^\W_]", re.UNICODE)


@dataclass(frozen=True)
class Hit:
    """One article version; ``score`` is the calibrated probability (0..1) that it is right."""

    id: str
    lang: str
    question: str
    answer: str
    score: float

    def to_json(self) -> dict:
        return {
            "id": self.id,
            "score": round(self.score, 4),
            "question": self.question,
            "answer": self.answer,
            "lang": self.lang,
        }


@dataclass
class SearchResult:
    """What the bot needs: answer with ``results[0]`` unless ``abstain``.

    ``suggestions`` is set only when abstaining: the likeliest articles, worth offering
    the customer as choices ("Forse cercavi…") because the best one's confidence lies
    between the clarification cut-off and the answer cut-off.
    """

    abstain: bool
    lang: str
    results: list[Hit] = field(default_factory=list)
    suggestions: list[Hit] = field(default_factory=list)

    @property
    def decision(self) -> str:
        """``answer``, ``clarify`` (offer ``suggestions``) or ``abstain``."""
        if not self.abstain:
            return ANSWER_DECISION
        return CLARIFY_DECISION if self.suggestions else ABSTAIN_DECISION

    def to_json(self) -> dict:
        return {
            "abstain": self.abstain,
            "decision": self.decision,
            "results": [hit.to_json() for hit in self.results],
            "suggestions": [hit.id for hit in self.suggestions],
        }


ANSWER_DECISION = "answer"
CLARIFY_DECISION = "clarify"
ABSTAIN_DECISION = "abstain"
# Articles offered when the bot asks which one the customer meant.
MAX_SUGGESTIONS = 3
# A clarification cut-off no probability reaches: no "Forse cercavi…".
NO_CLARIFICATION = 1.1


@dataclass
class Candidate:
    """An article id with the evidence for it; ranked by ``logit``."""

    article_id: str
    features: dict[str, float]
    logit: float = 0.0
    confidence: float = 0.0
    conf_features: dict[str, float] = field(default_factory=dict)
    # P(the right article is among the first few), when this candidate is the best one:
    # what decides whether choices are worth offering (calibration.Calibration.reach).
    reach: float = 0.0


def clean_query(text: object, max_chars: int) -> str:
    """The text worth searching for: decoded, control characters removed, truncated.

    Returns "" when nothing searchable is left (empty, only emoji or punctuation), which
    the searcher answers with an abstention and no results.
    """
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    text = str(text or "")[: max_chars * 2]
    text = text.encode("utf-8", errors="ignore").decode("utf-8")  # lone surrogates
    text = "".join(" " if unicodedata.category(ch).startswith("C") else ch for ch in text)
    text = " ".join(text.split())[:max_chars].strip()
    return text if _HAS_CONTENT.search(text) else ""


class Searcher:
    """Owns the loaded models and indexes for one knowledge base; safe to share between threads."""

    def __init__(
        self,
        db_path: Path | None = None,
        index_dir: Path | None = None,
        encoders: list[Encoder] | None = None,
        calibration: Calibration | None = None,
        threshold: float | None = None,
        max_message_chars: int | None = None,
        clarify_threshold: float | None = None,
        default_lang: str | None = None,
    ) -> None:
        settings = get_settings()
        self.db_path = Path(db_path) if db_path is not None else settings.db_path
        self.index_dir = Path(index_dir) if index_dir is not None else settings.index_dir
        self.encoders = list(encoders) if encoders is not None else default_encoders()
        self.calibration = calibration or load_calibration()
        # Cut-offs given here or in the settings win; otherwise the calibration's for
        # this knowledge base's shape (see the threshold properties).
        if threshold is None:
            threshold = settings.kb_threshold
        if clarify_threshold is None:
            clarify_threshold = settings.kb_clarify_threshold
        self._threshold = None if threshold is None else float(threshold)
        self._clarify_threshold = None if clarify_threshold is None else float(clarify_threshold)
        self.max_message_chars = max_message_chars or settings.max_message_chars
        self.default_lang = default_lang or settings.default_lang
        self._lock = threading.RLock()
        self._local = threading.local()
        self._version: int | None = None
        self._loaded = False
        self._vectors = VectorIndex(self.encoders, self.index_dir)
        self._lexical = {QUESTION: LexicalIndex(), ANSWER: LexicalIndex()}
        self._articles: dict[tuple[str, str], Article] = {}
        self._languages_by_id: dict[str, set[str]] = defaultdict(set)
        self._question_ids: frozenset[str] = frozenset()
        # phrasing_key of every question phrasing -> the articles that have it (EXACT)
        self._exact: dict[str, set[str]] = {}
        self._inv_ppa = 1.0
        self._classifier = ArticleClassifier()
        self._classifier_generation = 0
        self._classifier_thread: threading.Thread | None = None
        self._helper_pool: ThreadPoolExecutor | None = None
        # Customers' questions that arrive while another search runs wait for the lock;
        # they are searched together instead, one batched encode for all (batching.py).
        self._combiner: Combiner[tuple[object, str | None, int], SearchResult] = Combiner(
            run_many=self._search_batch, group=lambda query: query[2]
        )

    @property
    def threshold(self) -> float:
        """The answer cut-off: set, or the calibration's for this knowledge base's shape."""
        if self._threshold is not None:
            return self._threshold
        return self.calibration.cut_offs(self._inv_ppa, len(self._languages_by_id))[0]

    @threshold.setter
    def threshold(self, value: float) -> None:
        self._threshold = float(value)

    @property
    def clarify_threshold(self) -> float:
        """The clarification cut-off (``NO_CLARIFICATION`` when none was fitted or set)."""
        if self._clarify_threshold is not None:
            return self._clarify_threshold
        clarify = self.calibration.cut_offs(self._inv_ppa, len(self._languages_by_id))[1]
        return NO_CLARIFICATION if clarify is None else clarify

    @clarify_threshold.setter
    def clarify_threshold(self, value: float) -> None:
        self._clarify_threshold = float(value)

    # ---- keeping the indexes in step with SQLite -------------------------------------
    def _db(self):
        db = getattr(self._local, "db", None)
        if db is None:
            db = open_db(self.db_path)
            self._local.db = db
        return db

    def warm_up(self) -> None:
        """Load the models and the index now rather than on the first customer question."""
        with self._lock:
            for encoder in self.encoders:
                encoder.encode(["warm up"])
            self.refresh()

    def refresh(self, progress: Callable[[int], None] | None = None) -> bool:
        """Bring the indexes up to date with SQLite if any article changed; True if they did."""
        with self._lock:
            db = self._db()
            version = kb_version(db)  # read before the articles: a later write re-triggers
            if version == self._version:
                return False
            articles = list_articles(db, status="published")
            if not self._loaded and not len(self._vectors):  # pending() may have loaded it
                self._vectors.load()
            added, removed = self._vectors.sync(articles, progress=progress)
            if not self._loaded:
                self._lexical = {QUESTION: LexicalIndex(), ANSWER: LexicalIndex()}
                added = list(self._vectors.phrasings.values())
                removed = []
                self._loaded = True
            for kind, lexical in self._lexical.items():
                lexical.remove(p.vid for p in removed if p.kind == kind)
                lexical.add((p.vid, p.text, p.lang) for p in added if p.kind == kind)
            if (
                added
                or removed
                or self._vectors.unsaved
                or not (self.index_dir / MANIFEST).exists()
            ):
                self._vectors.save()
            if added or removed or not self._classifier.trained:
                self._train_classifier()
            self._articles = {(a.id, a.lang): a for a in articles}
            questions = [p for p in self._vectors.phrasings.values() if p.kind == QUESTION]
            self._question_ids = frozenset(p.article_id for p in questions)
            self._exact = defaultdict(set)
            for p in questions:
                self._exact[phrasing_key(p.text)].add(p.article_id)
            # Articles per question phrasing (both languages): the knowledge base's shape
            # for the confidence models (see _combine).
            self._inv_ppa = len(self._question_ids) / max(len(questions), 1)
            self._languages_by_id = defaultdict(set)
            for article in articles:
                self._languages_by_id[article.id].add(article.lang)
            self._version = version
            return True

    def pending(self) -> int:
        """How many phrasings the next :meth:`refresh` embeds (a progress bar's total);
        the index files are read now if they were not yet."""
        with self._lock:
            if not self._loaded and not len(self._vectors):
                self._vectors.load()
            return self._vectors.missing(list_articles(self._db(), status="published"))

    def rebuild(self, progress: Callable[[int], None] | None = None) -> int:
        """Throw the derived indexes away and rebuild them from SQLite; returns phrasings."""
        with self._lock:
            for path in self.index_dir.glob("*"):
                if path.is_file() and (path.suffix == ".faiss" or path.name == MANIFEST):
                    path.unlink()
            self._vectors = VectorIndex(self.encoders, self.index_dir)
            self._loaded = False
            self._version = None
            self.refresh(progress=progress)
            return len(self._vectors)

    def _train_classifier(self) -> None:
        """Retrain the article classifier on the indexed question phrasings (vectors reused).

        The first training happens here; later ones run in a background thread, because
        fitting takes seconds on a large knowledge base and a newly approved article must
        be searchable at once: the retrievers find it immediately and the classifier
        catches up. The training data is copied under the searcher's lock; only the fit
        runs outside it, and only the newest training may replace the classifier.
        """
        data = self._classifier_data()
        self._classifier_generation += 1
        if data is None:
            self._classifier = ArticleClassifier()
            return
        if not self._classifier.trained:
            self._classifier = _fitted_classifier(*data)
            return
        generation = self._classifier_generation

        def fit_in_background() -> None:
            classifier = _fitted_classifier(*data)
            with self._lock:
                if generation == self._classifier_generation:
                    self._classifier = classifier

        self._classifier_thread = threading.Thread(
            target=fit_in_background, name="article-classifier", daemon=True
        )
        self._classifier_thread.start()

    def wait_for_classifier(self, timeout: float | None = None) -> None:
        """Block until a background retraining (if any) has finished; for tests and tools."""
        thread = self._classifier_thread
        if thread is not None:
            thread.join(timeout)

    def _classifier_data(self) -> tuple[np.ndarray, list[str]] | None:
        """Question-phrasing vectors of every encoder side by side, with their article ids."""
        questions = [p for p in self._vectors.phrasings.values() if p.kind == QUESTION]
        n_articles = len({p.article_id for p in questions})
        if not ArticleClassifier.worth_training(len(questions), n_articles):
            return None  # too small to say anything, or too big to retrain in seconds
        stored = [self._vectors.vectors(name) for name in self._classifier_encoders()]
        positions = [{vid: row for row, vid in enumerate(ids.tolist())} for ids, _ in stored]
        vids = [p.vid for p in questions if all(p.vid in pos for pos in positions)]
        if not vids:
            return None
        x = np.hstack(
            [
                vectors[[pos[vid] for vid in vids]]
                for (_, vectors), pos in zip(stored, positions, strict=True)
            ]
        )
        return x, [self._vectors.phrasings[vid].article_id for vid in vids]

    def _classifier_encoders(self) -> list[str]:
        """The encoders whose vectors the article classifier reads, in a fixed order.

        MiniLM's and USE-m's, as when its early stopping and the shipped calibration
        (``clf_p``) were fitted; e5 informs the plain FAQs' model directly instead."""
        names = [e.name for e in self.encoders]
        return [n for n in CLASSIFIER_ENCODERS if n in names] or names

    def phrasing_count(self) -> int:
        """How many phrasings are indexed (each question and alternative, per language)."""
        with self._lock:
            self.refresh()
            return len(self._vectors)

    # ---- searching ---------------------------------------------------------------------
    def search(self, text: object, lang: str | None = None, k: int = 5) -> SearchResult:
        """The best ``k`` articles for ``text``; ``lang`` None means detect it from the text.

        Searches asked for at the same time from several threads run as one batch.
        """
        return self._combiner.run((text, lang, k))

    def _search_batch(self, queries: list[tuple[object, str | None, int]]) -> list[SearchResult]:
        """:meth:`search_many` over ``(text, lang, k)`` queries that share one ``k``."""
        texts, langs, ks = zip(*queries, strict=True)
        return self.search_many(list(texts), list(langs), k=ks[0])

    def search_many(
        self, texts: list[object], langs: list[str | None] | None = None, k: int = 5
    ) -> list[SearchResult]:
        """Like :meth:`search` for many questions at once (one batched encode per model)."""
        langs = list(langs) if langs is not None else [None] * len(texts)
        with self._lock:
            self.refresh()
            queries = [clean_query(text, self.max_message_chars) for text in texts]
            query_langs = [
                self.query_language(q, lang) for q, lang in zip(queries, langs, strict=True)
            ]
            # The indexes were just refreshed under the same lock: no second version check.
            ranked = self._ranked(queries, query_langs)
            return [
                self._result(candidates, lang, k)
                for candidates, lang in zip(ranked, query_langs, strict=True)
            ]

    def query_language(self, query: str, lang: str | None) -> str:
        """The caller's language if it gave a supported one, else detected, else the default."""
        if lang in LANGS:
            return lang
        return detect_language(query) or self.default_lang

    def rank_many(self, queries: list[str], query_langs: list[str]) -> list[list[Candidate]]:
        """Candidates per (already cleaned) query, best first, with ranker and confidence."""
        with self._lock:
            self.refresh()
            return self._ranked(queries, query_langs)

    def _ranked(self, queries: list[str], query_langs: list[str]) -> list[list[Candidate]]:
        """:meth:`rank_many` for a caller that holds the lock and just refreshed."""
        model = self.calibration.for_shape(self._inv_ppa, len(self._languages_by_id))
        encoders = [
            e
            for e in self.encoders
            if e.name not in OPTIONAL_ENCODERS or model.reads(OPTIONAL_ENCODERS[e.name])
        ]
        features = self._candidate_features(queries, query_langs, encoders)
        return [rank_candidates(candidates, self.calibration) for candidates in features]

    def candidate_features(
        self, queries: list[str], query_langs: list[str]
    ) -> list[list[Candidate]]:
        """The retrievers' evidence for each candidate article of each query (unranked)."""
        with self._lock:
            self.refresh()
            return self._candidate_features(queries, query_langs)

    def _candidate_features(
        self, queries: list[str], query_langs: list[str], encoders: list[Encoder] | None = None
    ) -> list[list[Candidate]]:
        """:meth:`candidate_features` for a caller that holds the lock and just refreshed,
        with every encoder or only ``encoders`` (the others' features are 0)."""
        encoders = encoders or self.encoders
        out: list[list[Candidate]] = [[] for _ in queries]
        live = [i for i, q in enumerate(queries) if q]
        if not live or not len(self._vectors):
            return out
        texts = [queries[i] for i in live]
        langs = [query_langs[i] for i in live]
        # retriever name -> one {article id: best score} per query
        evidence: dict[str, list[dict[str, float]]] = defaultdict(list)
        # The first encoder (e5, the slowest: encoders.default_encoders) runs here while a
        # helper thread encodes with the others and queries the keyword index: on two
        # cores a search then takes about the slower side's time plus the fusion
        # (docs/profiling.md). The computations are
        # the same and the evidence is assembled in the same order, so are the results.
        first, *others = encoders
        pending = self._helper().submit(self._encode_and_match, others, texts)
        query_vectors = [first.encode(texts)]
        other_vectors, lexical_hits = pending.result()
        query_vectors += other_vectors
        for encoder, vectors in zip(encoders, query_vectors, strict=True):
            scores, ids = self._vectors.search(encoder.name, vectors, PHRASINGS_PER_RETRIEVER)
            # MiniLM only understands English well: compare it only with phrasings
            # in the customer's language, where its scores mean something.
            same_lang_only = encoder.name == "minilm"
            for row, lang in enumerate(langs):
                for kind in (QUESTION, ANSWER, ARTICLE):
                    evidence[f"{encoder.name}_{kind}"].append(
                        self._aggregate(
                            ids[row], scores[row], kind, lang if same_lang_only else None
                        )
                    )
        # A classifier trained before the last change does not know every article: a
        # newly approved one would be ranked below the articles it knows. Until the
        # background retraining replaces it, it is left out (ranking and confidence).
        classifier_current = (
            self._classifier.trained and self._classifier.label_set == self._question_ids
        )
        if classifier_current:
            by_name = {e.name: v for e, v in zip(encoders, query_vectors, strict=True)}
            probabilities = self._classifier.scores(
                np.hstack([by_name[n] for n in self._classifier_encoders()])
            )
            evidence["clf"] = [_top(p, CANDIDATES_PER_RETRIEVER) for p in probabilities]
        for kind, hits_per_text in lexical_hits.items():
            for hits in hits_per_text:
                evidence[f"lex_{kind}"].append(
                    self._aggregate([h.vid for h in hits], [h.score for h in hits], kind)
                )
        clf_on = classifier_current and self._classifier.informs_confidence
        for row, i in enumerate(live):
            by_retriever = {name: per_query[row] for name, per_query in evidence.items()}
            out[i] = _combine(
                by_retriever, self._languages_by_id, query_langs[i], clf_on, self._inv_ppa
            )
            owners = self._exact.get(phrasing_key(queries[i]), set())
            for candidate in out[i]:
                if owners == {candidate.article_id}:
                    candidate.features[EXACT] = 1.0
        return out

    def _helper(self) -> ThreadPoolExecutor:
        """The one thread that works beside a search (created on first use)."""
        if self._helper_pool is None:
            self._helper_pool = ThreadPoolExecutor(1, thread_name_prefix="search-helper")
        return self._helper_pool

    def _encode_and_match(
        self, encoders: list[Encoder], texts: list[str]
    ) -> tuple[list[np.ndarray], dict[str, list[list[LexicalHit]]]]:
        """The other encoders' vectors and the keyword hits of ``texts`` (helper thread).

        Runs while the searching thread, which holds the lock, waits for it: the indexes
        cannot change meanwhile.
        """
        vectors = [encoder.encode(texts) for encoder in encoders]
        hits = {
            kind: [lexical.search(text, PHRASINGS_PER_RETRIEVER) for text in texts]
            for kind, lexical in self._lexical.items()
        }
        return vectors, hits

    def _aggregate(self, ids, scores, kind: str, lang: str | None = None) -> dict[str, float]:
        """Best score per article id among phrasings of ``kind`` (and ``lang`` if given).

        Both language versions of an article count for the same id: that is what lets a
        question in one language find an article phrased in the other.
        """
        best: dict[str, float] = {}
        for vid, score in zip(ids, scores, strict=True):
            phrasing = self._vectors.phrasings.get(int(vid))
            if phrasing is None or phrasing.kind != kind:
                continue
            if lang is not None and phrasing.lang != lang:
                continue
            if float(score) > best.get(phrasing.article_id, -np.inf):
                best[phrasing.article_id] = float(score)
        return best

    def result(self, candidates: list[Candidate], lang: str, k: int = 5) -> SearchResult:
        """The decision (answer, clarify, abstain) for already ranked ``candidates``."""
        with self._lock:
            return self._result(candidates, lang, k)

    def _result(self, candidates: list[Candidate], lang: str, k: int) -> SearchResult:
        hits = self._hits(candidates[:k], lang)
        if not hits:
            return SearchResult(abstain=True, lang=lang, results=[])
        abstain = hits[0].score < self.threshold
        suggestions: list[Hit] = []
        if abstain and candidates[0].reach >= self.clarify_threshold:
            suggestions = [
                hit for hit in self._hits(candidates[:MAX_SUGGESTIONS], lang) if hit.question
            ]
            if len(suggestions) < 2:
                suggestions = []  # one choice is not a question worth asking
        return SearchResult(
            abstain=abstain, lang=hits[0].lang, results=hits, suggestions=suggestions
        )

    def _hits(self, candidates: list[Candidate], lang: str) -> list[Hit]:
        """The candidates' article versions in ``lang`` (else the other language)."""
        hits = []
        for candidate in candidates:
            version = self._version_for(candidate.article_id, lang)
            if version is not None:
                hits.append(
                    Hit(
                        version.id,
                        version.lang,
                        version.question,
                        version.answer,
                        candidate.confidence,
                    )
                )
        return hits

    def article(self, article_id: str, lang: str) -> Hit | None:
        """A published article by id in ``lang`` (else its other language), None if none.

        What the bot answers when a customer picks one of the offered articles; its
        score is 1 (the customer chose it).
        """
        with self._lock:
            self.refresh()
            version = self._version_for(str(article_id), lang)
        if version is None:
            return None
        return Hit(version.id, version.lang, version.question, version.answer, 1.0)

    def _version_for(self, article_id: str, lang: str) -> Article | None:
        """The customer's language version when it exists, else the other one."""
        for candidate_lang in (lang, *[x for x in LANGS if x != lang]):
            article = self._articles.get((article_id, candidate_lang))
            if article is not None:
                return article
        return None


# Features whose lead over the best other candidate the confidence model looks at.
GAP_FEATURES = ("usem_q", "mini_q", "lex_q")


def rank_candidates(candidates: list[Candidate], calibration: Calibration) -> list[Candidate]:
    """Order candidates by the ranker (in place) and give each its calibrated confidence.

    The model is the calibration's for the knowledge base's shape (Calibration.for_shape:
    a plain FAQ has its own). Besides a candidate's own scores, the confidence model
    sees, per retriever, how far the candidate leads the best *other* candidate
    (``<feature>_gap``): the runner-up of a clear winner gets a low probability, and so
    does a winner that barely stands out; and how many retrievers put it first.
    """
    if not candidates:
        return candidates
    features = candidates[0].features
    model = calibration.for_shape(features.get("inv_ppa", 0.0), articles_of(features))
    for candidate in candidates:
        candidate.logit = model.rank_logit(candidate.features)
    candidates.sort(key=lambda c: (c.features.get(EXACT, 0.0), c.logit), reverse=True)
    tops: dict[str, list[float]] = {}
    for name in GAP_FEATURES:
        values = sorted((c.features.get(name, 0.0) for c in candidates), reverse=True)
        tops[name] = values[:2]
    firsts = _first_by_retriever(candidates)
    for i, candidate in enumerate(candidates):
        conf_features = dict(candidate.features)
        for name, best in tops.items():
            own = candidate.features.get(name, 0.0)
            # The best value among the others: the second best if this one is the best.
            other = best[1] if own >= best[0] and len(best) > 1 else best[0]
            conf_features[f"{name}_gap"] = own - other if len(candidates) > 1 else own
        conf_features["logit"] = candidate.logit
        # A lone candidate leads nobody: no lead rather than an invented one (only the
        # plain model reads this, fitted on FAQs of 31 articles and more).
        conf_features["margin"] = (
            candidate.logit - (candidates[1] if i == 0 else candidates[0]).logit
            if len(candidates) > 1
            else 0.0
        )
        first_in = [name for name, index in firsts.items() if index == i]
        conf_features["agree"] = len(first_in) / len(AGREE_FEATURES)
        conf_features["agree_q"] = sum(n in AGREE_Q_FEATURES for n in first_in) / len(
            AGREE_Q_FEATURES
        )
        candidate.conf_features = conf_features
        candidate.confidence = model.confidence(conf_features)
        candidate.reach = model.reach(conf_features)
        if candidate.features.get(EXACT):
            candidate.confidence = candidate.reach = 1.0
    return candidates


def _first_by_retriever(candidates: list[Candidate]) -> dict[str, int]:
    """Per retriever (``AGREE_FEATURES``), the position of the candidate it scores best.

    A retriever that scores every candidate 0 (MiniLM on a question in a language the
    article lacks, the keyword index when no word matches) puts none first. Ties go to
    the better-ranked candidate.
    """
    firsts = {}
    for name in AGREE_FEATURES:
        values = [c.features.get(name, 0.0) for c in candidates]
        best = max(values)
        if best > 0:
            firsts[name] = values.index(best)
    return firsts


# A customer's message that is one of an article's question phrasings (phrasing_key:
# case, spaces and the closing "?" aside), and of no other article's, is answered with
# it whatever the models say: the company wrote that question, or a supervisor approved
# it as customers' wording for the article (knowledge.phrasings). The confidence models
# never saw such a match in a plain FAQ, where customers' words are never the FAQ's,
# and gave an approved wording asked again 0.57 against a cut-off of 0.62.
EXACT = "exact"
# The retrievers whose evidence _combine turns into the shipped features.
_SHIPPED_RETRIEVERS = frozenset(
    {
        *(f"{encoder}_{kind}" for encoder in ("usem", "minilm", "e5") for kind in "qap"),
        "lex_q",
        "lex_a",
        "clf",
    }
)
CLASSIFIER_ENCODERS = ("minilm", "usem")
# Encoders a search leaves out when the model for the knowledge base's shape gives their
# features no weight: e5 informs only the plain-FAQ model, and a knowledge base with many
# phrasings per article then searches as fast, and ranks the same, as without it.
OPTIONAL_ENCODERS = {"e5": E5_FEATURES}


# ``clf_p_small`` is the classifier's probability in full up to this many articles and
# shrinking as SMALL_KB_ARTICLES / articles above: next to clf_p it lets the confidence
# model weigh the probability differently in small knowledge bases, where a softmax is
# sure of one of few articles whatever the question (calibration.CLF_CONF_FEATURES).
SMALL_KB_ARTICLES = 10


def _combine(
    by_retriever: dict[str, dict[str, float]],
    languages_by_id: dict[str, set[str]],
    query_lang: str,
    clf_on: bool = False,
    inv_ppa: float = 1.0,
) -> list[Candidate]:
    """Merge the retrievers' per-article scores into candidate feature dicts.

    An article a dense retriever did not return gets that retriever's lowest returned
    score (it is at most that similar); one the keyword index did not return gets 0.
    ``clf_on`` says whether the article classifier informs the confidence; the size of
    the knowledge base goes with it, because a softmax's probability means less over
    fewer articles. ``inv_ppa`` (articles per question phrasing) tells the confidence
    models the knowledge base's shape: a plain FAQ (one question per article and
    language: 0.5 to 1) scores differently from one with a dozen phrasings per article.
    """
    ids: dict[str, None] = {}
    for scores in by_retriever.values():
        ordered = sorted(scores, key=scores.get, reverse=True)
        for article_id in ordered[:CANDIDATES_PER_RETRIEVER]:
            ids[article_id] = None
    floors = {name: (min(s.values()) if s else 0.0) for name, s in by_retriever.items()}

    def dense(name: str, article_id: str) -> float:
        return by_retriever.get(name, {}).get(article_id, floors.get(name, 0.0))

    def lexical(name: str, article_id: str) -> float:
        return by_retriever.get(name, {}).get(article_id, 0.0)

    lex_max = max(by_retriever.get("lex_q", {}).values(), default=0.0)
    extra = [name for name in by_retriever if name not in _SHIPPED_RETRIEVERS]
    n_articles = max(len(languages_by_id), 1)
    candidates = []
    for article_id in ids:
        lex_q = lexical("lex_q", article_id)
        # MiniLM compares only same-language phrasings; without any, it has no opinion.
        same_lang = query_lang in languages_by_id.get(article_id, ())
        features = {
            "usem_q": dense("usem_q", article_id),
            "usem_a": dense("usem_a", article_id),
            "mini_q": dense("minilm_q", article_id) if same_lang else 0.0,
            "mini_a": dense("minilm_a", article_id) if same_lang else 0.0,
            "e5_q": dense("e5_q", article_id),
            "e5_a": dense("e5_a", article_id),
            # The whole article as one passage (index.ARTICLE); only the plain model reads it.
            "usem_p": dense("usem_p", article_id),
            "mini_p": dense("minilm_p", article_id) if same_lang else 0.0,
            "e5_p": dense("e5_p", article_id),
            "lex_q": float(np.log1p(max(lex_q, 0.0))),
            "lex_a": float(np.log1p(max(lexical("lex_a", article_id), 0.0))),
            "lex_rel": lex_q / lex_max if lex_max > 0 else 0.0,
            "same_lang": 1.0 if same_lang else 0.0,
            # The article classifier's probability (0 when it is off or ranks it low).
            "clf_p": lexical("clf", article_id),
            "clf_on": 1.0 if clf_on else 0.0,
            "inv_k": 1.0 / n_articles,
            "inv_ppa": inv_ppa,
        }
        features["clf_p_small"] = features["clf_p"] * min(1.0, SMALL_KB_ARTICLES / n_articles)
        # An encoder beyond the shipped two (a probe such as bench.encoders) gives
        # features named after it; the shipped calibration gives them no weight.
        for name in extra:
            features[name] = dense(name, article_id)
        candidates.append(Candidate(article_id=article_id, features=features))
    _add_positions(candidates)
    return candidates


def _add_positions(candidates: list[Candidate]) -> None:
    """Give each candidate ``<score>_rr`` per POSITION_SOURCES: 1 / its place among the
    candidates by that score, ties sharing the better place, so the order the retrievers
    were read in changes nothing (calibration.POSITION_FEATURES says why)."""
    if not candidates:
        return
    for name in POSITION_SOURCES:
        values = np.array([c.features[name] for c in candidates])
        above = (values[None, :] > values[:, None]).sum(axis=1)
        always = name.startswith(POSITION_SOURCES_ALWAYS)
        for candidate, value, higher in zip(candidates, values, above, strict=True):
            opinion = always or value > 0
            candidate.features[f"{name}_rr"] = 1.0 / (1 + int(higher)) if opinion else 0.0


def _fitted_classifier(x: np.ndarray, labels: list[str]) -> ArticleClassifier:
    classifier = ArticleClassifier()
    classifier.fit(x, labels)
    return classifier


def _top(scores: dict[str, float], n: int) -> dict[str, float]:
    """The ``n`` highest-scoring entries of ``scores``."""
    return dict(sorted(scores.items(), key=lambda item: item[1], reverse=True)[:n])


_SEARCHERS: dict[tuple[Path, Path], Searcher] = {}
_SEARCHERS_LOCK = threading.Lock()


def get_searcher() -> Searcher:
    """The process-wide searcher for the configured database (created on first call).

    Keyed by database and index location, so tests that point ``SPORTELLO_DATA_DIR``
    elsewhere get a searcher of their own while the models stay loaded once.
    """
    settings = get_settings()
    key = (settings.db_path, settings.index_dir)
    with _SEARCHERS_LOCK:
        if key not in _SEARCHERS:
            _SEARCHERS[key] = Searcher()
        return _SEARCHERS[key]
