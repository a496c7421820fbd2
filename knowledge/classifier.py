"""A per-knowledge-base classifier over frozen sentence embeddings: question -> article id.

Nearest-neighbour retrieval scores a question by its single most similar phrasing; with a
dozen or more phrasings per article, a linear classifier trained on all of them learns
which *directions* of the embedding space separate one article from the others (what
every phrasing of "returns" shares and no phrasing of "shipping" has). Casanueva et al.
(2020) showed frozen sentence encoders plus such a small classifier matching fine-tuned
BERT on Banking77.

Inputs are the L2-normalised embeddings the index already holds (one per encoder,
concatenated), so training embeds nothing. Labels are article ids: the Italian and the
English versions of an article are one label. The model is multinomial logistic
regression fitted by full-batch Adam in numpy; it is retrained from the index whenever
the knowledge base changes, which costs well under a second for a shop FAQ.

Why not scikit-learn's ``LogisticRegression`` (which ``calibration.fit_logistic`` uses):
this model is not the regularised optimum but ``EPOCHS`` Adam steps from zero, an early
stop whose length and ``L2`` were chosen on fit data (below), and the shipped
calibration was fitted on its probabilities. scikit-learn's solvers run to the optimum
and give other probabilities, so the same results would need the calibration and these
settings chosen anew; this fit stays hand-written until that is measured. Above
``MAX_ARTICLES`` articles or ``MAX_ROWS`` phrasings it is not trained (cost grows with
articles x phrasings) and contributes nothing; with fewer than two articles a softmax
says nothing either, so it is off as well.

Its probability ranks candidates and brings in candidates of its own. It also feeds the
answer/abstain confidence (``calibration.CLF_CONF_FEATURES``), but only when it was
trained on at least ``MIN_ARTICLES_FOR_CONFIDENCE`` articles with at least
``MIN_PHRASINGS_FOR_CONFIDENCE`` question phrasings each on average
(``informs_confidence``): over a handful of articles a softmax is sure of one of them
whatever the question, and with one phrasing per article (a plain FAQ list) its
probabilities are spread thin over hundreds of articles; either way it says little
about whether a question is answerable, and the confidence model then does without it.
"""

from __future__ import annotations

import numpy as np

# Bounds on retraining time, during which searches wait (1 core: the demo shop, 55
# articles and 1,100 phrasings, under a second; CLINC150, 150 articles and 15,000
# phrasings, 20-30 s). Larger knowledge bases are searched without the classifier.
MAX_ARTICLES = 500
MAX_ROWS = 20_000
EPOCHS = 160
LEARNING_RATE = 0.05
# Light weight decay: with unit-length inputs of ~900 dimensions, 1e-4 held the weights
# far from the data's optimum. Chosen on fit data only (classifier alone, argmax): on
# Banking77 (80% of train -> the other 20%) and CLINC150 (train -> val), 1e-4 and 120
# epochs gave 91.3% / 96.1%, 3e-6 and 160 epochs 92.6% / 96.8%, none at all 92.1% / 96.3%.
L2 = 3e-6
# Question phrasings per article (on average, both languages together) and articles
# from which the classifier's probability informs the answer/abstain confidence (see
# the module notes). Below 20 articles a softmax is sure of one of them for almost any
# question: on the demo shop cut to 3-30 articles it abstained on 63% of unanswerable
# questions with the classifier in the confidence and on 82% without it.
MIN_PHRASINGS_FOR_CONFIDENCE = 4.0
MIN_ARTICLES_FOR_CONFIDENCE = 20


class ArticleClassifier:
    """Softmax regression from concatenated phrasing embeddings to article ids."""

    def __init__(self) -> None:
        self.labels: list[str] = []
        # The same ids as a set, for the searcher's "does it know every article?" check.
        self.label_set: frozenset[str] = frozenset()
        self.weights: np.ndarray | None = None
        self.bias: np.ndarray | None = None
        self.phrasings_per_article = 0.0

    @property
    def trained(self) -> bool:
        return self.weights is not None

    @property
    def informs_confidence(self) -> bool:
        """Whether its probability may feed the answer/abstain confidence (module notes)."""
        return (
            self.trained
            and len(self.labels) >= MIN_ARTICLES_FOR_CONFIDENCE
            and self.phrasings_per_article >= MIN_PHRASINGS_FOR_CONFIDENCE
        )

    @staticmethod
    def worth_training(rows: int, articles: int) -> bool:
        """Whether a knowledge base of this size gets a classifier (see the module notes)."""
        return 2 <= articles <= MAX_ARTICLES and rows <= MAX_ROWS

    def fit(self, x: np.ndarray, labels: list[str]) -> bool:
        """Train on rows ``x`` labelled with article ids; False (and untrained) if out of bounds."""
        self.weights = self.bias = None
        self.phrasings_per_article = 0.0
        self.labels = sorted(set(labels))
        if not self.worth_training(len(labels), len(self.labels)):
            self.labels = []
            self.label_set = frozenset()
            return False
        self.label_set = frozenset(self.labels)
        index = {label: i for i, label in enumerate(self.labels)}
        y = np.array([index[label] for label in labels])
        x = np.asarray(x, dtype=np.float32)
        n, dim = x.shape
        k = len(self.labels)
        # Every article counts the same whatever its number of phrasings.
        counts = np.bincount(y, minlength=k).astype(np.float32)
        row_weight = (1.0 / counts[y]) * (n / k) / n
        onehot = np.zeros((n, k), dtype=np.float32)
        onehot[np.arange(n), y] = 1.0
        w = np.zeros((dim, k), dtype=np.float32)
        b = np.zeros(k, dtype=np.float32)
        m_w, v_w = np.zeros_like(w), np.zeros_like(w)
        m_b, v_b = np.zeros_like(b), np.zeros_like(b)
        beta1, beta2, eps = 0.9, 0.999, 1e-8
        for step in range(1, EPOCHS + 1):
            p = _softmax(x @ w + b)
            delta = (p - onehot) * row_weight[:, None]
            g_w = x.T @ delta + L2 * w
            g_b = delta.sum(axis=0)
            for param, grad, m, v in ((w, g_w, m_w, v_w), (b, g_b, m_b, v_b)):
                m *= beta1
                m += (1 - beta1) * grad
                v *= beta2
                v += (1 - beta2) * grad * grad
                m_hat = m / (1 - beta1**step)
                v_hat = v / (1 - beta2**step)
                param -= LEARNING_RATE * m_hat / (np.sqrt(v_hat) + eps)
        self.weights, self.bias = w, b
        self.phrasings_per_article = n / k
        return True

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """P(article | question) per row, columns in the order of ``labels``."""
        if self.weights is None:
            return np.zeros((len(x), 0), dtype=np.float32)
        return _softmax(np.asarray(x, dtype=np.float32) @ self.weights + self.bias)

    def scores(self, x: np.ndarray) -> list[dict[str, float]]:
        """``{article id: probability}`` per row (empty dicts when untrained)."""
        probabilities = self.predict_proba(x)
        return [dict(zip(self.labels, row.tolist(), strict=True)) for row in probabilities]


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)
