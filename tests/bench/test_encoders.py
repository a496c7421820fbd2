"""bench.encoders: the e5 probe's variants leave an encoder out completely."""

from __future__ import annotations

from bench.encoders import VARIANTS, _zeroed, render
from knowledge.fitting import Evidence, Query
from knowledge.search import Candidate


def test_a_left_out_encoder_has_every_score_zeroed_and_the_original_is_kept():
    evidence = Evidence(
        Query("quanto costa?", "it", frozenset({"a"})),
        [Candidate("a", {"mini_q": 0.7, "mini_a": 0.4, "usem_q": 0.6, "e5_q": 0.9})],
    )
    (zeroed,) = _zeroed([evidence], "mini")
    assert zeroed.candidates[0].features == {
        "mini_q": 0.0,
        "mini_a": 0.0,
        "usem_q": 0.6,
        "e5_q": 0.9,
    }
    assert evidence.candidates[0].features["mini_q"] == 0.7
    assert zeroed.query == evidence.query


def test_every_variant_ranks_with_features_it_does_not_zero():
    for zeroed, rank_names, conf_names in VARIANTS.values():
        assert not [n for n in (*rank_names, *conf_names) if n.startswith(zeroed)]


def test_the_section_gives_times_as_ratios_to_minilm():
    figures = {"top1": 0.5, "auc_answer": 0.8, "auc_reach": 0.7, "best_right": 0.3}
    info = {"date": "d", "machine": "m", "seconds": 1.0, "command": "c", "held_out": ["x"]}
    text = render({"shipped": figures}, {"minilm": 10.0, "e5": 18.0}, info)
    assert "| e5 | 18.0 | ×1.80 |" in text
    assert "| shipped | 50.0% |" in text
