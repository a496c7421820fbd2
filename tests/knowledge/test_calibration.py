"""Fitting the ranker/confidence models and choosing the cut-off."""

from __future__ import annotations

import numpy as np

from knowledge.calibration import (
    CALIBRATION_PATH,
    Calibration,
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
