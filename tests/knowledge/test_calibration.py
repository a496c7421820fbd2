"""Fitting the ranker/confidence models and choosing the cut-off."""

from __future__ import annotations

import json

import numpy as np
import pytest

from knowledge.calibration import (
    CALIBRATION_PATH,
    Calibration,
    articles_of,
    choose_operating_points,
    choose_threshold,
    fit_logistic,
    load_calibration,
    logit,
    save_calibration,
)


def test_logistic_regression_recovers_a_separating_direction():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 2))
    y = (x[:, 0] - 0.5 * x[:, 1] > 0).astype(float)
    weights, _ = fit_logistic(x, y, l2=1e-4)
    assert weights[0] > 0 > weights[1]
    predictions = (x @ weights > 0).astype(float)
    assert (predictions == y).mean() > 0.95


def _newton_logistic(x, y, sample_weight, l2, iterations=50):
    """The hand-written Newton fit scikit-learn replaced: the reference it must match."""
    w_s = sample_weight / sample_weight.mean()
    design = np.hstack([x, np.ones((len(x), 1))])
    beta = np.zeros(design.shape[1])
    penalty = np.full(design.shape[1], l2)
    penalty[-1] = 0.0
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-np.clip(design @ beta, -30, 30)))
        gradient = design.T @ (w_s * (p - y)) / len(y) + penalty * beta
        hessian = (design.T * (w_s * p * (1 - p))) @ design / len(y) + np.diag(penalty + 1e-9)
        step = np.linalg.solve(hessian, gradient)
        beta -= step
        if np.max(np.abs(step)) < 1e-8:
            break
    return beta[:-1], float(beta[-1])


@pytest.mark.parametrize(
    ("rows", "features", "l2"), [(300, 3, 1e-2), (2000, 6, 1e-2), (5000, 8, 1e-3), (400, 2, 1e-4)]
)
def test_scikit_learn_gives_the_coefficients_of_the_old_newton_fit(rows, features, l2):
    """Same objective (weighted mean log-loss + l2/2 |w|^2, bias free), same answer."""
    rng = np.random.default_rng(rows)
    x = rng.normal(size=(rows, features))
    y = (x @ rng.normal(size=features) + rng.normal(scale=0.8, size=rows) > 0.3).astype(float)
    weights = rng.uniform(0.1, 3.0, size=rows)
    expected_w, expected_b = _newton_logistic(x, y, weights, l2)
    fitted_w, fitted_b = fit_logistic(x, y, weights, l2=l2)
    np.testing.assert_allclose(fitted_w, expected_w, rtol=1e-6, atol=1e-8)
    assert fitted_b == pytest.approx(expected_b, rel=1e-6, abs=1e-8)


def test_threshold_meets_the_abstain_target_with_most_right_answers():
    conf_in = np.array([0.9, 0.8, 0.7, 0.4, 0.3])
    right_in = np.array([True, True, True, False, True])
    conf_out = np.array([0.1, 0.2, 0.35, 0.75])
    threshold, stats = choose_threshold(conf_in, right_in, conf_out, min_out_recall=0.75)
    assert 0.35 < threshold <= 0.7
    assert stats["abstained_out"] >= 0.75
    assert stats["answered_right"] == 0.6


def test_calibration_round_trips_through_json(tmp_path):
    calibration = Calibration({"usem": 2.0}, -1.0, {"logit": 1.5}, 0.2, 0.6, {"fitted": True})
    path = tmp_path / "calibration.json"
    save_calibration(calibration, path)
    assert load_calibration(path) == calibration


def test_the_shipped_calibration_is_fitted_and_says_how():
    calibration = load_calibration(CALIBRATION_PATH)
    assert calibration.provenance.get("fitted") is True
    assert "test" in calibration.provenance["rule"]
    assert 0.0 < calibration.threshold < 1.0


def test_the_classifier_confidence_model_serves_only_where_the_classifier_informs_it():
    calibration = Calibration(
        rank_weights={},
        rank_bias=0.0,
        conf_weights={"usem_q": 1.0},
        conf_bias=0.0,
        threshold=0.5,
        clf_conf_weights={"clf_p": 4.0},
        clf_conf_bias=-2.0,
    )
    features = {"usem_q": 0.0, "clf_p": 1.0}
    assert calibration.confidence(features) == 0.5  # plain model: sigmoid(0)
    assert calibration.confidence({**features, "clf_on": 1.0}) > 0.85  # sigmoid(2)
    without = Calibration({}, 0.0, {"usem_q": 1.0}, 0.0, 0.5)
    assert without.confidence({**features, "clf_on": 1.0}) == 0.5


def test_a_calibration_with_both_confidence_models_round_trips(tmp_path):
    calibration = Calibration(
        {"usem_q": 2.0}, 0.0, {"usem_q": 1.5}, 0.2, 0.6, {"fitted": True}, {"clf_p": 3.0}, -1.0
    )
    path = tmp_path / "calibration.json"
    save_calibration(calibration, path)
    assert load_calibration(path) == calibration


def test_logit_inverts_the_confidence_scale():
    assert abs(logit(0.5)) < 1e-12
    assert abs(Calibration({}, 0.0, {}, logit(0.73), 0.5).confidence({}) - 0.73) < 1e-9


def test_operating_points_answer_the_sure_and_offer_the_middle():
    # answerable: sure and right, unsure but the right one is offered, unsure and lost
    confidence_in = np.array([0.9, 0.85, 0.5, 0.45, 0.4, 0.1])
    right_in = np.array([True, True, False, False, False, False])
    offered_in = np.array([True, True, True, True, False, False])
    confidence_out = np.array([0.05, 0.1, 0.2, 0.3, 0.02])
    high, low, stats = choose_operating_points(
        confidence_in, right_in, offered_in, confidence_out, 0.8, 0.0
    )
    assert 0.5 < high <= 0.85  # no wrong answer allowed: answer only the sure two
    assert 0.3 < low <= 0.45  # keeps the unanswerable without any article
    assert stats["answered_right"] == pytest.approx(2 / 6)
    assert stats["reached_with_one_click"] == pytest.approx(4 / 6)
    assert stats["answered_wrong"] == 0.0
    assert stats["no_article_out"] == 1.0


def test_operating_points_honour_the_wrong_answer_bar():
    confidence_in = np.array([0.9, 0.8, 0.7, 0.6])
    right_in = np.array([True, False, True, True])
    offered_in = np.array([True, False, True, True])  # the wrong one is lost either way
    lenient, _, _ = choose_operating_points(
        confidence_in, right_in, offered_in, np.array([0.1]), 0.5, 0.25
    )
    strict, _, stats = choose_operating_points(
        confidence_in, right_in, offered_in, np.array([0.1]), 0.5, 0.0
    )
    assert lenient <= 0.6 and strict > 0.8
    assert stats["answered_wrong"] == 0.0


def test_operating_points_answer_nothing_when_the_unanswerable_are_certain():
    # Even the highest cut-off would give the unanswerable question an article.
    high, low, stats = choose_operating_points(
        np.array([0.5]), np.array([True]), np.array([True]), np.array([1.0]), 0.99, 0.0
    )
    assert high == low == 1.0 and stats == {"feasible": 0.0}


def test_never_answering_is_always_possible_and_chosen_when_everything_is_wrong():
    high, low, stats = choose_operating_points(
        np.array([0.9, 0.8]), np.array([False, False]), np.array([False, False]),
        np.array([0.95]), 0.99, 0.0,
    )  # fmt: skip
    assert stats["answered_wrong"] == 0.0 and stats["no_article_out"] == 1.0
    assert high > 0.9 and low > 0.95


def test_the_clarification_cut_off_round_trips_through_json():
    calibration = Calibration(
        rank_weights={"usem_q": 1.0},
        rank_bias=0.0,
        conf_weights={"usem_q": 1.0},
        conf_bias=0.0,
        threshold=0.6,
        clarify_threshold=0.2,
    )
    assert Calibration.from_json(calibration.to_json()).clarify_threshold == 0.2
    data = calibration.to_json()
    del data["clarify_threshold"]
    assert Calibration.from_json(data).clarify_threshold is None


def test_the_reach_model_decides_the_clarification_band():
    # Same confidences, but the reach model tells the offered questions from the lost
    # ones better: the band keeps both unanswerable questions out and catches more.
    confidence_in = np.array([0.9, 0.3, 0.3, 0.3])
    right_in = np.array([True, False, False, False])
    offered_in = np.array([True, True, True, False])
    confidence_out = np.array([0.3, 0.3])
    reach_in = np.array([0.95, 0.8, 0.7, 0.1])
    reach_out = np.array([0.2, 0.1])
    high, low, stats = choose_operating_points(
        confidence_in, right_in, offered_in, confidence_out, 1.0, 0.0,
        reach_in=reach_in, reach_out=reach_out,
    )  # fmt: skip
    assert 0.3 < high <= 0.9 and 0.2 < low <= 0.7
    assert stats["reached_with_one_click"] == pytest.approx(3 / 4)
    assert stats["no_article_out"] == 1.0


def test_plain_faqs_have_a_model_of_their_own():
    plain = Calibration(
        rank_weights={"lex_q": 2.0},
        rank_bias=0.0,
        conf_weights={"agree": 3.0},
        conf_bias=-1.0,
        threshold=0.4,
        clarify_threshold=0.3,
        reach_weights={"agree_q": 1.0},
    )
    calibration = Calibration(
        rank_weights={"usem_q": 1.0},
        rank_bias=0.0,
        conf_weights={"usem_q": 1.0},
        conf_bias=0.0,
        threshold=0.6,
        clarify_threshold=0.7,
        plain=plain,
    )
    restored = Calibration.from_json(json.loads(json.dumps(calibration.to_json())))
    assert restored.cut_offs(0.5) == (0.4, 0.3)  # bilingual plain FAQ
    assert restored.cut_offs(0.08) == (0.6, 0.7)  # a dozen phrasings per article
    assert restored.for_shape(1.0) == plain
    assert restored.for_shape(0.08).rank_weights == {"usem_q": 1.0}
    assert restored.for_shape(1.0).confidence({"agree": 1.0}) == pytest.approx(_sig(2.0))
    restored.plain = None
    assert restored.cut_offs(1.0) == (0.6, 0.7)


def test_a_small_plain_faq_gets_the_plain_models_small_variant():
    small = Calibration({"lex_q": 1.0}, 0.0, {"agree": 1.0}, 0.0, 0.7, clarify_threshold=0.6)
    plain = Calibration({"lex_q": 2.0}, 0.0, {"agree": 3.0}, 0.0, 0.4, small=small)
    calibration = Calibration({"usem_q": 1.0}, 0.0, {"usem_q": 1.0}, 0.0, 0.6, plain=plain)
    restored = Calibration.from_json(json.loads(json.dumps(calibration.to_json())))
    assert restored.for_shape(1.0, articles=3) == small
    assert restored.cut_offs(1.0, 29) == (0.7, 0.6)
    assert restored.for_shape(1.0, articles=30) == restored.plain
    assert restored.for_shape(1.0) == restored.plain  # size unknown
    assert restored.for_shape(0.08, articles=3).rank_weights == {"usem_q": 1.0}  # rich: shared
    assert articles_of({"inv_k": 1 / 3}) == 3
    assert articles_of({}) == 0


def test_a_calibration_file_of_the_last_release_still_loads():
    # calibration.json before the plain model: plain FAQs had only cut-offs of their own.
    old = {
        "rank_weights": {"usem_q": 1.0},
        "rank_bias": 0.0,
        "conf_weights": {"usem_q": 1.0},
        "conf_bias": 0.0,
        "threshold": 0.6,
        "plain_cut_offs": {"threshold": 0.4, "clarify_threshold": 0.3},
    }
    restored = Calibration.from_json(old)
    assert restored.plain is None and restored.cut_offs(1.0) == (0.6, None)


def _sig(z: float) -> float:
    return 1.0 / (1.0 + np.exp(-z))


def test_a_model_reads_a_feature_through_its_weights_or_the_retrievers_agreement():
    model = Calibration({"usem_q": 1.0, "e5_q": 0.0}, 0.0, {"usem_q_gap": 2.0}, 0.0, 0.5)
    assert model.reads(("usem_q",)) and model.reads(("usem_q_gap", "x"))
    # A zero weight is no reading; agreement counts every retriever, e5 among them.
    assert not model.reads(("e5_q", "e5_a"))
    model.reach_weights = {"agree": 0.5}
    assert model.reads(("e5_q", "e5_a")) and not model.reads(("inv_k",))
