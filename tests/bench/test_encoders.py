"""bench.encoders: the e5 probe's variants leave an encoder out completely."""

from __future__ import annotations

import zlib

import numpy as np

from bench.encoders import (
    APPROX_VARIANTS,
    PASSAGES,
    QUERY_FORM,
    VARIANTS,
    QueryForm,
    _dropped,
    _zeroed,
    approx_recall,
    distinct_phrasings,
    render,
)
from knowledge.fitting import Evidence, Query
from knowledge.search import Candidate
from knowledge.store import Article


def test_a_left_out_encoder_has_every_score_zeroed_and_the_original_is_kept():
    evidence = Evidence(
        Query("quanto costa?", "it", frozenset({"a"})),
        [Candidate("a", {"mini_q": 0.7, "mini_a": 0.4, "usem_q": 0.6, "e5_q": 0.9})],
    )
    (zeroed,) = _zeroed([evidence], ("mini",))
    assert zeroed.candidates[0].features == {
        "mini_q": 0.0,
        "mini_a": 0.0,
        "usem_q": 0.6,
        "e5_q": 0.9,
    }
    assert evidence.candidates[0].features["mini_q"] == 0.7
    assert zeroed.query == evidence.query


def test_every_variant_ranks_with_features_it_does_not_zero():
    for form, zeroed, rank_names, conf_names in VARIANTS.values():
        assert form in (PASSAGES, QUERY_FORM)
        assert not [n for n in (*rank_names, *conf_names) if _dropped(n, zeroed)]


def test_passages_and_places_are_left_out_by_their_own_names():
    names = ["e5_p", "e5_p_rr", "e5_q_rr", "e5_q", "clf_p_small", "mini_p", "usem_a_rr"]
    assert [n for n in names if _dropped(n, ("_p",))] == ["e5_p", "e5_p_rr", "mini_p"]
    assert [n for n in names if _dropped(n, ("_rr",))] == ["e5_p_rr", "e5_q_rr", "usem_a_rr"]
    assert [n for n in names if _dropped(n, ("e5",))] == ["e5_p", "e5_p_rr", "e5_q_rr", "e5_q"]


def test_the_query_form_embeds_answer_sentences_as_questions():
    class Two:
        name, dim = "e5", 1

        def encode(self, texts):
            return np.zeros((len(texts), 1))

        def encode_passages(self, texts):
            return np.ones((len(texts), 1))

    assert QueryForm(Two()).encode_passages(["una frase della risposta"]).tolist() == [[0.0]]
    assert Two().encode_passages(["una frase della risposta"]).tolist() == [[1.0]]


def test_the_section_gives_times_as_ratios_to_minilm():
    figures = {"top1": 0.5, "auc_answer": 0.8, "auc_reach": 0.7, "best_right": 0.3}
    info = {"date": "d", "machine": "m", "seconds": 1.0, "command": "c", "held_out": ["x"]}
    text = render({"shipped": figures}, {"minilm": 10.0, "e5": 18.0}, info)
    assert "| e5 | 18.0 | ×1.80 |" in text
    assert "| shipped | 50.0% |" in text


class Hashed:
    """Texts to fixed random unit vectors near one direction (a cone, as e5's are)."""

    name, dim = "cone", 32

    def encode(self, texts):
        rows = []
        for text in texts:
            rng = np.random.default_rng(zlib.crc32(text.encode()))
            rows.append(np.ones(self.dim) + rng.standard_normal(self.dim) * 0.3)
        rows = np.array(rows, dtype=np.float32).reshape(len(texts), self.dim)
        return rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12)

    encode_passages = encode


def test_approximate_recall_is_measured_per_variant_and_encoder():
    articles = [
        Article(id=f"a{i}", lang="it", question=f"domanda {i}?", answer=f"Risposta numero {i} qui.")
        for i in range(400)
    ]
    queries = [f"domanda {i}?" for i in range(0, 400, 7)]
    recall = approx_recall([Hashed()], distinct_phrasings(articles), queries, k=16)
    assert list(recall) == list(APPROX_VARIANTS)
    assert all(0.0 <= by_name["cone"] <= 1.0 for by_name in recall.values())
    info = {
        "date": "d",
        "machine": "m",
        "seconds": 1.0,
        "command": "c",
        "held_out": ["x"],
        "approx_phrasings": 800,
        "approx_queries": 58,
    }
    text = render(
        {"shipped": {"auc_answer": 0.8, "auc_reach": 0.7, "best_right": 0.3}}, {}, info, recall
    )
    assert "| quantiser codes | cone |" in text
    assert f"| residuals (shipped) | {recall['residuals (shipped)']['cone']:.3f} |" in text
