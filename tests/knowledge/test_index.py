"""The FAISS vector index: which texts it holds, incremental sync, safe files."""

from __future__ import annotations

import json

import numpy as np

from knowledge.encoders import default_encoders
from knowledge.index import (
    ANSWER,
    MANIFEST,
    QUESTION,
    VectorIndex,
    answer_sentences,
    wanted_phrasings,
)
from knowledge.index import (
    ARTICLE as WHOLE,
)
from knowledge.store import Article

ARTICLE = Article(
    id="resi",
    lang="it",
    question="Come faccio un reso?",
    answer="Hai 14 giorni per il reso. Il rimborso arriva entro 5 giorni lavorativi. Ok.",
    alt_questions=["voglio restituire un prodotto"],
)


def test_questions_answer_sentences_and_the_whole_article_are_indexed():
    kinds = {(kind, text) for _, _, kind, text in wanted_phrasings([ARTICLE])}
    assert kinds == {
        (QUESTION, "Come faccio un reso?"),
        (QUESTION, "voglio restituire un prodotto"),
        (ANSWER, "Hai 14 giorni per il reso."),
        (ANSWER, "Il rimborso arriva entro 5 giorni lavorativi."),
        (WHOLE, f"Come faccio un reso? {ARTICLE.answer}"),
    }


def test_an_article_without_an_answer_is_not_indexed_whole_again():
    bare = Article(id="x", lang="it", question="Come faccio un reso?", answer=" ")
    assert [kind for _, _, kind, _ in wanted_phrasings([bare])] == [QUESTION]


def test_answer_sentences_skip_fragments_without_words():
    assert answer_sentences("Sì. -- 5,90 €. Costa poco davvero!") == ["Costa poco davvero!"]


def test_sync_embeds_only_what_changed(tmp_path):
    index = VectorIndex(default_encoders(), tmp_path)
    added, removed = index.sync([ARTICLE])
    assert (len(added), len(removed)) == (5, 0)
    changed = Article(**{**ARTICLE.__dict__, "alt_questions": ["posso rimandarvi un pacco?"]})
    added, removed = index.sync([changed])
    assert [p.text for p in added] == ["posso rimandarvi un pacco?"]
    assert [p.text for p in removed] == ["voglio restituire un prodotto"]
    assert all(i.ntotal == 5 for i in index.faiss.values())


def test_saved_files_load_back_and_a_mismatch_is_refused(tmp_path):
    index = VectorIndex(default_encoders(), tmp_path)
    index.sync([ARTICLE])
    index.save()
    again = VectorIndex(default_encoders(), tmp_path)
    assert again.load()
    assert {p.key for p in again.phrasings.values()} == {p.key for p in index.phrasings.values()}
    manifest = json.loads((tmp_path / MANIFEST).read_text())
    manifest["phrasings"] = manifest["phrasings"][:-1]
    (tmp_path / MANIFEST).write_text(json.dumps(manifest))
    stale = VectorIndex(default_encoders(), tmp_path)
    assert not stale.load()
    assert len(stale) == 0


def test_answers_and_articles_are_stored_as_passages_and_questions_as_questions(tmp_path):
    index = VectorIndex(default_encoders(), tmp_path)
    index.sync([ARTICLE])
    e5 = index.encoders["e5"]
    ids, vectors = index.vectors("e5")
    stored = dict(zip(ids.tolist(), vectors, strict=True))
    for phrasing in index.phrasings.values():
        embed = e5.encode if phrasing.kind == QUESTION else e5.encode_passages
        assert np.allclose(stored[phrasing.vid], embed([phrasing.text])[0], atol=1e-5)
