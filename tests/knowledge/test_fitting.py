"""Fitting cut-offs to one company's knowledge base from its own labelled questions."""

from __future__ import annotations

import json
import random
from dataclasses import replace

import pytest

from knowledge.calibration import Calibration
from knowledge.fitting import (
    MAX_WRONG,
    MIN_ANSWERABLE,
    Evidence,
    Query,
    TooFewQuestions,
    fit_calibration,
    fit_cut_offs,
    measure,
    offered_ids,
    read_labelled_questions,
    with_cut_offs,
)
from knowledge.search import Candidate

# One feature, ``s``: the ranker follows it, the confidence is sigmoid(12 s - 9), so the
# shipped cut-off of 0.9 answers only above s = 0.93: far too cautious for these
# questions, whose right article scores 0.55-0.95 and whose wrong ones stay below 0.5.
CALIBRATION = Calibration(
    rank_weights={"s": 1.0},
    rank_bias=0.0,
    conf_weights={"s": 12.0},
    conf_bias=-9.0,
    threshold=0.9,
    clarify_threshold=0.85,
)


def _evidence(rng: random.Random, answerable: bool) -> Evidence:
    gold = frozenset({"right"}) if answerable else frozenset()
    top = rng.uniform(0.55, 0.95) if answerable else rng.uniform(0.05, 0.45)
    if answerable and rng.random() < 0.1:  # a few questions the search gets wrong
        candidates = [Candidate("other", {"s": rng.uniform(0.1, 0.45)}), Candidate("right", {})]
    else:
        candidates = [
            Candidate("right" if answerable else "a", {"s": top}),
            Candidate("b", {"s": top / 3}),
            Candidate("c", {"s": top / 4}),
        ]
    return Evidence(Query("question", "it", gold), candidates)


def _evidences(n_in: int, n_out: int, seed: int = 7) -> list[Evidence]:
    rng = random.Random(seed)
    return [_evidence(rng, True) for _ in range(n_in)] + [
        _evidence(rng, False) for _ in range(n_out)
    ]


def test_fitted_cut_offs_answer_more_right_on_questions_not_fitted_on() -> None:
    cut_offs = fit_cut_offs(_evidences(120, 60), CALIBRATION)
    assert cut_offs.threshold < CALIBRATION.threshold
    assert cut_offs.fitted["answered_right"] > cut_offs.shipped["answered_right"] + 0.3
    assert cut_offs.fitted["answered_wrong"] <= MAX_WRONG + 0.02
    assert cut_offs.fitted["no_article_out"] >= 0.8
    assert (cut_offs.answerable, cut_offs.unanswerable) == (120, 60)


def test_fitted_cut_offs_hold_on_fresh_questions_of_the_same_kind() -> None:
    cut_offs = fit_cut_offs(_evidences(120, 60), CALIBRATION)
    fresh = _evidences(400, 200, seed=99)
    rates = measure(
        fresh, with_cut_offs(CALIBRATION, cut_offs.threshold, cut_offs.clarify_threshold)
    )
    assert rates["answered_right"] >= 0.75
    assert rates["answered_wrong"] <= 0.06
    assert rates["no_article_out"] >= 0.8


def test_too_few_questions_is_refused_with_how_many_are_needed() -> None:
    with pytest.raises(TooFewQuestions, match=f"at least {MIN_ANSWERABLE}"):
        fit_cut_offs(_evidences(MIN_ANSWERABLE - 1, 40), CALIBRATION)
    with pytest.raises(TooFewQuestions, match="senza"):
        fit_cut_offs(_evidences(100, 3), CALIBRATION)


def test_with_cut_offs_applies_to_every_knowledge_base_shape() -> None:
    shaped = Calibration(
        rank_weights={},
        rank_bias=0.0,
        conf_weights={},
        conf_bias=0.0,
        threshold=0.7,
        plain=Calibration({}, 0.0, {}, 0.0, threshold=0.4, clarify_threshold=0.2),
    )
    moved = with_cut_offs(shaped, 0.55, 0.3)
    assert moved.cut_offs(1.0) == (0.55, 0.3)
    assert moved.cut_offs(0.05) == (0.55, 0.3)
    assert shaped.cut_offs(1.0) == (0.4, 0.2)  # the original is untouched


def test_labelled_questions_from_an_italian_excel_csv(tmp_path) -> None:
    path = tmp_path / "domande.csv"
    path.write_text(
        "Domanda;Articolo;Lingua\r\n"
        "quanto si paga la consegna?;shipping-cost;it\r\n"
        "che tempo fa domani?;;\r\n",
        encoding="utf-8-sig",
    )
    queries = read_labelled_questions(path)
    assert queries == [
        Query("quanto si paga la consegna?", "it", frozenset({"shipping-cost"})),
        Query("che tempo fa domani?", None, frozenset()),
    ]


def test_labelled_questions_as_italian_excel_saves_them_windows_1252(tmp_path) -> None:
    path = tmp_path / "domande.csv"
    text = "Domanda;ID articolo;Lingua\r\nperché la consegna è in ritardo?;ritardi;Italiano\r\n"
    path.write_bytes(text.encode("cp1252"))
    assert read_labelled_questions(path) == [
        Query("perché la consegna è in ritardo?", "it", frozenset({"ritardi"}))
    ]


def test_a_csv_without_a_question_column_is_refused_in_both_languages(tmp_path) -> None:
    path = tmp_path / "q.csv"
    path.write_text("colonna\nvalore\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"no question column.*nessuna colonna"):
        read_labelled_questions(path)


def test_labelled_questions_from_jsonl_and_bad_files(tmp_path) -> None:
    path = tmp_path / "q.jsonl"
    rows = [
        {"text": "can I pay by card?", "article_id": "payment"},
        {"text": "hi", "article_id": None},
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    assert [q.gold for q in read_labelled_questions(path)] == [frozenset({"payment"}), frozenset()]
    path.write_text(json.dumps({"article_id": "payment"}) + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match="row 1"):
        read_labelled_questions(path)
    with pytest.raises(ValueError, match=r"\.jsonl or \.csv"):
        read_labelled_questions(tmp_path / "q.xlsx")


def test_offered_ids_are_the_first_three_and_never_one_alone() -> None:
    ranked = [Candidate(x, {}) for x in "abcd"]
    assert offered_ids(ranked) == ["a", "b", "c"]
    assert offered_ids(ranked[:1]) == []


def _shaped_evidence(
    rng: random.Random, inv_ppa: float, telling: str, answerable: bool
) -> Evidence:
    """Three candidates whose feature ``telling`` picks the right one; the other is noise."""
    gold = frozenset({"right"}) if answerable else frozenset()
    candidates = []
    for article_id in ("right", "b", "c"):
        is_right = answerable and article_id == "right"
        features = {"a": rng.uniform(0, 1), "b": rng.uniform(0, 1), "inv_ppa": inv_ppa}
        features[telling] = rng.uniform(0.6, 1.0) if is_right else rng.uniform(0.0, 0.5)
        candidates.append(Candidate(article_id, features))
    rng.shuffle(candidates)
    return Evidence(Query("question", "it", gold), candidates)


def _shaped_set(seed: int, inv_ppa: float, telling: str) -> list[Evidence]:
    rng = random.Random(seed)
    return [_shaped_evidence(rng, inv_ppa, telling, i % 4 != 0) for i in range(200)]


def test_plain_faqs_get_a_model_fitted_on_plain_faqs_alone() -> None:
    # In the rich knowledge bases feature "a" tells the right article; in plain FAQs "b"
    # does. One shared model would have to split the difference.
    rich, plain = _shaped_set(1, 0.05, "a"), _shaped_set(2, 1.0, "b")
    calibration = fit_calibration([(1.0, rich), (1.0, plain)], ("a", "b"), ("a", "b"))
    assert calibration.plain is not None
    assert calibration.rank_weights["a"] > calibration.rank_weights["b"]
    assert calibration.plain.rank_weights["b"] > calibration.plain.rank_weights["a"]
    fresh_plain = _shaped_set(3, 1.0, "b")
    own = measure(fresh_plain, calibration)
    shared = measure(fresh_plain, replace(calibration, plain=None))
    assert own["top1"] > shared["top1"] + 0.1
    assert own["answered_right"] > shared["answered_right"]
    assert own["answered_wrong"] <= MAX_WRONG + 0.03
    # The rich knowledge bases keep the shared model.
    fresh_rich = _shaped_set(4, 0.05, "a")
    assert measure(fresh_rich, calibration) == measure(fresh_rich, replace(calibration, plain=None))


def test_small_plain_faqs_fit_only_the_plain_models_small_variant() -> None:
    # The small FAQs' telling feature is "a", the big ones' "b": the plain model must
    # not learn from the small ones, its small variant must.
    rich, plain = _shaped_set(1, 0.05, "a"), _shaped_set(2, 1.0, "b")
    small = _shaped_set(5, 1.0, "a")
    for evidence in small:
        for candidate in evidence.candidates:
            candidate.features["inv_k"] = 1 / 3
    calibration = fit_calibration(
        [(1.0, rich), (1.0, plain)], ("a", "b"), ("a", "b"), plain_only=[(3.0, small)]
    )
    alone = fit_calibration([(1.0, rich), (1.0, plain)], ("a", "b"), ("a", "b"))
    assert calibration.plain is not None and calibration.plain.small is not None
    assert calibration.plain.rank_weights == alone.plain.rank_weights
    small_model = calibration.plain.small
    assert small_model.rank_weights["a"] > calibration.plain.rank_weights["a"]
    assert calibration.for_shape(1.0, articles=3) is small_model
    assert alone.plain.small is None


def test_without_plain_fit_data_there_is_no_plain_model() -> None:
    calibration = fit_calibration([(1.0, _shaped_set(1, 0.05, "a"))], ("a", "b"), ("a", "b"))
    assert calibration.plain is None


def test_a_plain_models_cut_offs_come_from_faqs_of_a_companys_size(monkeypatch):
    """fitting.CUT_OFF_MIN_ARTICLES: few-article cuts inform the weights, not the cut-offs."""
    from knowledge import fitting
    from knowledge.calibration import PLAIN_CONF_FEATURES, PLAIN_RANK_FEATURES
    from knowledge.fitting import Evidence, Query

    def faq(articles: int, seed: int) -> list[Evidence]:
        rng = random.Random(seed)
        out = []
        for i in range(40):
            candidates = []
            for article_id in ("right", "b"):
                features = {n: rng.random() for n in (*PLAIN_RANK_FEATURES, *PLAIN_CONF_FEATURES)}
                features.update(inv_k=1 / articles, inv_ppa=1.0, margin=0.0, logit=0.0)
                features["usem_q"] = 0.9 if article_id == "right" and i % 4 else 0.1
                candidates.append(Candidate(article_id, features))
            gold = frozenset({"right"}) if i % 4 else frozenset()
            out.append(Evidence(Query("q", "it", gold), candidates))
        return out

    big, small = faq(80, 1), faq(3, 2)
    seen = []
    real = fitting._fit_operating_points

    def spy(sets, *args, **kwargs):
        seen.append([e for _, e in sets])
        return real(sets, *args, **kwargs)

    monkeypatch.setattr(fitting, "_fit_operating_points", spy)
    fitting.fit_plain_model([(1.0, big), (1.0, small)], PLAIN_RANK_FEATURES, PLAIN_CONF_FEATURES)
    assert seen == [[big]]
    assert fitting._articles(small) == 3 and fitting._articles(big) == 80
