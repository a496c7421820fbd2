"""The sentence encoders: one customer question is encoded fast and exactly as in a batch run."""

from __future__ import annotations

import numpy as np
import pytest

from knowledge.encoders import (
    BATCH_SIZE,
    E5_MAX_CHARS,
    FEW_TEXTS,
    _normalise,
    default_encoders,
)

QUESTIONS = [
    "Quanto costa la spedizione?",
    "how much is shipping to Belgium?",
    "ciao",
    "👍",
    "spedizione " * 300,  # longer than the 128 word pieces kept
]


@pytest.fixture(scope="module")
def minilm():
    encoder = next(e for e in default_encoders() if e.name == "minilm")
    encoder.encode(["load the model"])
    return encoder


@pytest.mark.parametrize("question", QUESTIONS)
def test_one_question_gets_exactly_the_vector_sentence_transformers_gives(minilm, question):
    # What the encoder returned when every text went through SentenceTransformer.encode.
    expected = _normalise(
        minilm._model.encode(
            [question],
            batch_size=BATCH_SIZE,
            normalize_embeddings=True,
            show_progress_bar=False,
            convert_to_numpy=True,
        )
    )
    vector = minilm.encode([question])
    assert vector.shape == (1, minilm.dim) and vector.dtype == np.float32
    assert np.array_equal(vector, expected)


def test_one_question_skips_sentence_transformers_per_call_overhead(minilm, monkeypatch):
    calls: list[int] = []
    original = minilm._model.encode

    def counting_encode(texts, **kwargs):
        calls.append(len(texts))
        return original(texts, **kwargs)

    monkeypatch.setattr(minilm._model, "encode", counting_encode)
    minilm.encode(["Quanto costa la spedizione?"])
    minilm.encode(["Quanto costa la spedizione?", "Avete buoni regalo?"])  # combined searches
    assert calls == []
    minilm.encode(QUESTIONS * 2)
    assert calls == [2 * len(QUESTIONS)]  # more than a few (indexing) still go through encode()


@pytest.mark.parametrize("size", [2, 3, FEW_TEXTS])
def test_a_few_questions_get_exactly_the_vectors_sentence_transformers_gives(minilm, size):
    texts = (QUESTIONS * 2)[:size]
    expected = _normalise(
        minilm._model.encode(
            texts,
            batch_size=BATCH_SIZE,
            normalize_embeddings=True,
            show_progress_bar=False,
            convert_to_numpy=True,
        )
    )
    assert np.array_equal(minilm.encode(texts), expected)


def test_e5_ships_with_its_weights_and_puts_a_paraphrase_before_another_topic():
    e5 = next(e for e in default_encoders() if e.name == "e5")
    many = [f"domanda numero {i}" for i in range(BATCH_SIZE + 3)]
    vectors = e5.encode(["quanto costa la spedizione?", "prezzo del corriere", *many])
    assert vectors.shape == (BATCH_SIZE + 5, e5.dim) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    other = e5.encode(["come resetto la password?"])[0]
    assert vectors[0] @ vectors[1] > vectors[0] @ other
    assert e5.encode([]).shape == (0, e5.dim)


def test_e5_reads_a_long_text_only_as_far_as_minilm_does():
    e5 = next(e for e in default_encoders() if e.name == "e5")
    head = "quanto costa la spedizione in Sardegna? " * 20
    long, cut = e5.encode([head + "x" * 20_000, head[:E5_MAX_CHARS]])
    assert np.allclose(long, cut, atol=1e-6)


def test_only_e5_embeds_an_answer_sentence_as_a_passage():
    """e5 was trained with ``passage: `` for what is searched for; the others have one form."""
    sentence = "La spedizione in Sardegna costa 5,90 euro e arriva in tre giorni."
    for encoder in default_encoders():
        passage, query = encoder.encode_passages([sentence])[0], encoder.encode([sentence])[0]
        assert np.isclose(np.linalg.norm(passage), 1.0, atol=1e-5)
        assert encoder.encode_passages([]).shape == (0, encoder.dim)
        if encoder.name == "e5":
            assert passage @ query < 0.99
            asked = encoder.encode(["quanto costa spedire in Sardegna?"])[0]
            assert asked @ passage > asked @ encoder.encode_passages(["Il reso è gratuito."])[0]
        else:
            assert np.allclose(passage, query, atol=1e-6), encoder.name
