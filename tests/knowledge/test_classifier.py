"""The per-knowledge-base article classifier: trained on the phrasings, kept in step."""

from __future__ import annotations

import numpy as np

from knowledge import classifier as classifier_module
from knowledge.classifier import ArticleClassifier
from knowledge.store import Article, upsert_article
from tests.knowledge.conftest import FIXTURE_ARTICLES, build_kb


def _clusters(seed: int = 0) -> tuple[np.ndarray, list[str], np.ndarray]:
    """Three well-separated blobs of unit vectors, labelled a/b/c, plus their centres."""
    rng = np.random.default_rng(seed)
    centres = np.eye(3, 16, dtype=np.float32)
    x, labels = [], []
    for i, label in enumerate("abc"):
        points = centres[i] + 0.2 * rng.standard_normal((12, 16)).astype(np.float32)
        x.append(points / np.linalg.norm(points, axis=1, keepdims=True))
        labels += [label] * 12
    return np.vstack(x), labels, centres


def test_it_learns_the_labels_of_the_phrasings():
    x, labels, centres = _clusters()
    model = ArticleClassifier()
    assert model.fit(x, labels)
    probabilities = model.predict_proba(centres)
    assert model.labels == ["a", "b", "c"]
    assert probabilities.argmax(axis=1).tolist() == [0, 1, 2]
    assert np.allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    assert probabilities.max(axis=1).min() > 0.6


def test_one_label_or_too_many_rows_leave_it_off():
    x, labels, _ = _clusters()
    model = ArticleClassifier()
    assert not model.fit(x[:12], labels[:12])
    assert not model.trained
    assert model.scores(x[:2]) == [{}, {}]
    original = classifier_module.MAX_ROWS
    try:
        classifier_module.MAX_ROWS = 10
        assert not model.fit(x, labels)
    finally:
        classifier_module.MAX_ROWS = original


def test_the_searcher_trains_it_on_both_languages_as_one_label(fresh_searcher):
    fresh_searcher.refresh()
    ids = sorted({a.id for a in FIXTURE_ARTICLES})
    assert fresh_searcher._classifier.labels == ids
    result = fresh_searcher.candidate_features(["Can I pay with PayPal?"], ["en"])[0]
    best = max(result, key=lambda c: c.features["clf_p"])
    assert best.article_id == "payment-methods"


def test_it_is_retrained_when_an_article_is_added(fresh_searcher, tmp_path):
    fresh_searcher.refresh()
    assert "gift-cards" not in fresh_searcher._classifier.labels
    upsert_article(
        fresh_searcher._db(),
        Article(
            id="gift-cards",
            lang="it",
            question="Vendete buoni regalo?",
            answer="Sì, vendiamo carte regalo da 25, 50 e 100 euro.",
            alt_questions=["Posso regalare una gift card?", "Avete carte regalo?"],
        ),
    )
    # The retrievers find the new article at once; the classifier retrains behind them.
    first = fresh_searcher.search("Avete buoni regalo?", lang="it")
    assert first.results and first.results[0].id == "gift-cards"
    fresh_searcher.wait_for_classifier(timeout=60)
    candidates = fresh_searcher.candidate_features(["Avete buoni regalo?"], ["it"])[0]
    assert "gift-cards" in fresh_searcher._classifier.labels
    best = max(candidates, key=lambda c: c.features["clf_p"])
    assert best.article_id == "gift-cards"


def test_a_knowledge_base_with_one_article_searches_without_it(tmp_path):
    searcher = build_kb(tmp_path, FIXTURE_ARTICLES[:2])
    result = searcher.search("How much does shipping cost?", lang="en")
    assert not searcher._classifier.trained
    assert result.results and result.results[0].id == "shipping-cost"
    assert all(c.features["clf_p"] == 0.0 for c in searcher.rank_many(["shipping"], ["en"])[0])


def test_its_confidence_in_a_tiny_knowledge_base_does_not_answer_off_topic(tmp_path):
    """Three articles: the softmax favours one of them for anything, so it must not decide
    on its own whether to answer (it only ranks)."""
    three = [a for a in FIXTURE_ARTICLES if a.id in {"shipping-cost", "returns", "opening-hours"}]
    searcher = build_kb(tmp_path, three)
    off_topic = ("qual è la capitale della Mongolia?", "chi ha scritto la Divina Commedia?")
    for question in off_topic:
        assert searcher.search(question).abstain, question
    assert not searcher.search("Quanto costa la spedizione?", lang="it").abstain


def _many_clusters(articles: int, per_article: int, seed: int = 0):
    """``articles`` separated blobs of ``per_article`` unit vectors each, labelled a0, a1, ..."""
    rng = np.random.default_rng(seed)
    x, labels = [], []
    for i in range(articles):
        centre = np.eye(articles, 32, k=i, dtype=np.float32)[0]
        points = centre + 0.2 * rng.standard_normal((per_article, 32)).astype(np.float32)
        x.append(points / np.linalg.norm(points, axis=1, keepdims=True))
        labels += [f"a{i}"] * per_article
    return np.vstack(x), labels


def test_it_informs_the_confidence_only_with_enough_articles_and_phrasings():
    model = ArticleClassifier()
    model.fit(*_many_clusters(20, 5))
    assert model.phrasings_per_article == 5
    assert model.informs_confidence
    model.fit(*_many_clusters(20, 1))  # a plain FAQ list: one phrasing per article
    assert model.trained
    assert not model.informs_confidence
    model.fit(*_many_clusters(3, 12))  # a tiny shop: a softmax over three articles
    assert model.trained
    assert not model.informs_confidence


def _topic_articles(n: int) -> list[Article]:
    topics = [
        "shipping",
        "returns",
        "payment",
        "opening hours",
        "decaf",
        "gift cards",
        "capsules",
        "grinders",
        "subscriptions",
        "invoices",
        "wholesale",
        "espresso machines",
        "repairs",
        "warranty",
        "allergens",
        "organic coffee",
        "delivery to islands",
        "order tracking",
        "discount codes",
        "newsletter",
        "privacy",
        "loyalty points",
    ][:n]
    return [
        Article(
            id=topic.replace(" ", "-"),
            lang="en",
            question=f"Tell me about {topic}",
            answer=f"Everything about {topic}.",
            alt_questions=[f"question on {topic}", f"{topic}?", f"I need help with {topic}"],
        )
        for topic in topics
    ]


def test_the_searcher_tells_the_confidence_whether_the_classifier_informs_it(tmp_path):
    small = build_kb(tmp_path / "small")  # the fixture shop: five articles
    candidates = small.candidate_features(["Can I pay with PayPal?"], ["en"])[0]
    assert small._classifier.trained
    assert all(c.features["clf_on"] == 0.0 for c in candidates)
    larger = build_kb(tmp_path / "larger", _topic_articles(20))
    candidates = larger.candidate_features(["how do I pay?"], ["en"])[0]
    assert all(c.features["clf_on"] == 1.0 for c in candidates)
    assert all(c.features["inv_k"] == 1.0 / 20 for c in candidates)
    best = max(candidates, key=lambda c: c.features["clf_p"])
    assert best.article_id == "payment"
    assert abs(best.features["clf_p_small"] - best.features["clf_p"] * 10 / 20) < 1e-12
