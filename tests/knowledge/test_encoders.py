"""The sentence encoders: one customer question is encoded fast and exactly as in a batch run."""

from __future__ import annotations

import numpy as np
import pytest

from knowledge.encoders import BATCH_SIZE, _normalise, default_encoders

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
    assert calls == []
    minilm.encode(["Quanto costa la spedizione?", "Avete buoni regalo?"])
    assert calls == [2]  # batches (indexing) still go through encode()
