"""The quality benchmark's data sets: fitted on fit splits, reported on test splits, never mixed."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from bench import quality
from knowledge.calibration import UNFITTED


def _texts(queries: list[quality.Query]) -> set[str]:
    return {q.text for q in queries}


def test_banking77_reports_on_all_of_train_and_fits_on_a_split_of_it(eval_dir: Path) -> None:
    train = [
        json.loads(line) for line in (eval_dir / "banking77" / "train.jsonl").open(encoding="utf-8")
    ]
    test = {
        json.loads(line)["text"]
        for line in (eval_dir / "banking77" / "test.jsonl").open(encoding="utf-8")
    }
    report = quality.load_banking(quick=False)
    fit = quality.load_banking_fit(quick=False)

    def phrasings(dataset: quality.Dataset) -> list[str]:
        return [p for a in dataset.articles for p in (a.question, *a.alt_questions)]

    # As the task is published: the whole train split is the knowledge base.
    assert sorted(phrasings(report)) == sorted(row["text"] for row in train)
    assert report.fit == {} and _texts(report.report["test"]) <= test
    # The fit split's questions are train rows its own knowledge base does not hold:
    # the last 20% of each intent's, at most 1,000 of them.
    by_label = Counter(row["label"] for row in train)
    held_out = sum(n - int(n * 0.8) for n in by_label.values())
    fit_queries = _texts(fit.fit["train_heldout"])
    assert len(fit_queries) == min(held_out, 1000) > 0 and fit.report == {}
    assert not fit_queries & set(phrasings(fit))
    assert not fit_queries & test
    assert {a.id for a in fit.articles} == {a.id for a in report.articles}


def test_fit_splits_are_never_test_splits(eval_dir: Path) -> None:
    datasets = [d for d in (load(False) for load in quality.LOADERS) if d is not None]
    assert any(d.fit for d in datasets) and any(d.report for d in datasets)
    for dataset in datasets:
        assert not any("test" in split for split in dataset.fit), dataset.name


def test_stackfaq_fits_on_one_half_of_each_threads_paraphrases_and_reports_the_other(
    eval_dir: Path,
) -> None:
    rows = [
        json.loads(line)
        for line in (eval_dir / "stackfaq" / "queries.jsonl").open(encoding="utf-8")
    ]
    dataset = quality.load_stackfaq(quick=False)
    fit, report = dataset.fit["fit_half"], dataset.report["other_half"]
    # Every paraphrase is in exactly one half, and every thread has questions in both.
    assert sorted(q.text for q in fit + report) == sorted(row["text"] for row in rows)
    assert not _texts(fit) & _texts(report)
    assert {g for q in fit for g in q.gold} == {g for q in report for g in q.gold}
    assert {g for q in fit for g in q.gold} <= {a.id for a in dataset.articles}
    # The knowledge base is the threads' own questions, not the paraphrases.
    assert not _texts(fit + report) & {a.question for a in dataset.articles}


def test_plain_articles_keep_one_question_and_the_answer_only() -> None:
    rows = [
        {
            "id": "a",
            "lang": "it",
            "question": "Q?",
            "answer": "A.",
            "alt_questions": ["other phrasing"],
            "tags": ["t"],
        }
    ]
    (article,) = quality.plain_articles(rows)
    assert article.phrasings() == ["Q?"] and article.answer == "A." and article.tags == []


def test_the_transit_faq_is_plain_and_its_questions_split_val_and_test() -> None:
    dataset = quality.load_transit(quick=False)
    assert dataset is not None
    ids = {a.id for a in dataset.articles}
    assert len(ids) >= 60 and {a.lang for a in dataset.articles} == {"it", "en"}
    assert all(a.alt_questions == [] for a in dataset.articles)
    assert set(dataset.fit) == {"val"} and set(dataset.report) == {"test"}
    for queries in (*dataset.fit.values(), *dataset.report.values()):
        assert all(q.gold <= ids for q in queries)
        assert any(not q.gold for q in queries)  # unanswerable questions on both sides
    questions = {a.question.casefold() for a in dataset.articles}
    assert not any(q.text.casefold() in questions for q in dataset.report["test"])


def test_the_demo_plain_set_reuses_the_demo_questions_on_one_question_per_article() -> None:
    dataset = quality.load_demo_plain(quick=False)
    assert dataset is not None
    assert all(a.alt_questions == [] for a in dataset.articles)
    assert len(dataset.fit["val"]) == len(dataset.report["test"]) == 174


def test_the_hand_over_shapes_keep_k_phrasings_of_the_demo_and_only_its_val_questions() -> None:
    demo = quality.load_demo(quick=False)
    assert demo is not None
    shapes = quality.demo_shapes(demo)
    assert list(shapes) == list(quality.plain_model.HAND_OVER_PHRASINGS)
    for kept, shape in shapes.items():
        assert shape.report == {} and shape.fit["val"] == demo.fit["val"]
        for article, whole in zip(shape.articles, demo.articles, strict=True):
            assert (article.id, article.question) == (whole.id, whole.question)
            assert article.alt_questions == whole.alt_questions[:kept]
    assert not quality.plain_shaped(shapes[None].articles)
    assert quality.plain_shaped(shapes[0].articles)
    assert demo.articles[0].alt_questions  # the shapes copied, never trimmed the demo


def _evidence(seed: int, n_in: int, n_out: int) -> list:
    """Right articles score 0.55-0.95, unanswerable questions' best 0.05-0.45."""
    import random

    from knowledge.fitting import Evidence
    from knowledge.search import Candidate

    rng = random.Random(seed)
    out = []
    for answerable in [True] * n_in + [False] * n_out:
        top = rng.uniform(0.55, 0.95) if answerable else rng.uniform(0.05, 0.45)
        gold = frozenset({"right"}) if answerable else frozenset()
        first = "right" if answerable else "x"
        candidates = [Candidate(first, {"s": top}), Candidate("b", {"s": top / 3})]
        out.append(Evidence(quality.Query("q", "it", gold), candidates))
    return out


def test_own_cut_offs_are_fitted_on_val_and_reported_on_test_per_faq() -> None:
    from knowledge.calibration import Calibration

    shipped = Calibration(
        rank_weights={"s": 1.0},
        rank_bias=0.0,
        conf_weights={"s": 12.0},
        conf_bias=-9.0,
        threshold=0.95,
        clarify_threshold=0.9,
    )
    evidence = {
        quality.TRANSIT_NAME: {"val": _evidence(1, 80, 40), "test": _evidence(2, 80, 40)},
        quality.IMMUNI_NAME: {"test": _evidence(3, 80, 40)},  # no val: not fitted
        "CLINC150": {"val": _evidence(4, 80, 40), "test": _evidence(5, 80, 40)},  # not a FAQ
    }
    own = quality.own_cut_offs(evidence, shipped)
    assert list(own) == [quality.TRANSIT_NAME]
    row = own[quality.TRANSIT_NAME]
    assert row["own"]["answered_right"] > row["shipped"]["answered_right"]
    assert row["own"]["n"] == 120  # measured on the test questions
    table = "\n".join(quality._own_cut_offs_table(own))
    assert "`sportello kb calibrate`" in table
    assert f"| {quality.TRANSIT_NAME} | {row['cut_offs'][0]:.3f} /" in table


def test_only_plain_shaped_knowledge_bases_are_searched_with_e5(tmp_path):
    rich = quality.Article(  # 9 phrasings: past the plain bound of 8
        id="a", lang="it", question="Q?", answer="A.", alt_questions=[f"{c}?" for c in "BCDEFGHI"]
    )
    plain = [
        quality.Article(id=i, lang=lang, question="Q?", answer="A.")
        for i in "ab"
        for lang in ("it", "en")
    ]
    assert quality.plain_shaped(plain) and not quality.plain_shaped([rich])
    used: list[list[str]] = []

    class Indexed(Exception):
        pass

    def searcher(encoders, **_):
        used.append([e.name for e in encoders])
        raise Indexed  # what it was given is all this test needs

    class Encoder:
        def __init__(self, name):
            self.name, self.dim = name, 4

    encoders = [Encoder("e5"), Encoder("minilm"), Encoder("usem")]
    for articles in ([rich], plain):
        with pytest.MonkeyPatch.context() as mp, pytest.raises(Indexed):
            mp.setattr(quality, "Searcher", searcher)
            quality.gather(quality.Dataset("x", articles), tmp_path, encoders)
    assert used == [["minilm", "usem"], ["e5", "minilm", "usem"]]


def test_the_headline_says_the_rankings_ceiling_over_the_sets_held_to_the_targets() -> None:
    rates = {"n_in": 10, "answered_right": 0.5, "answered_wrong": 0.05, "reached": 0.6}
    fused = {
        (quality.DEMO_PLAIN_NAME, "test"): {**rates, "top1": 0.7, "top3": 0.9},
        (quality.TRANSIT_NAME, "test"): {**rates, "top1": 0.6, "top3": 0.8},
        ("QA4FAQ-it", "test"): {**rates, "top1": 0.1, "top3": 0.2},  # not held to them
    }
    table = "\n".join(quality._faq_table(fused, UNFITTED))
    assert f"| {quality.TRANSIT_NAME} | test | 10 | 50.0% | 5.0% | 60.0% | 60.0% | 80.0% |" in table
    assert "first for **65.0%**" in table
    assert "first 3 for **85.0%**" in table
    assert f"mean over {quality.DEMO_PLAIN_NAME}, {quality.TRANSIT_NAME}:" in table
