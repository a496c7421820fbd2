"""Keyword retrieval with Italian and English stemming."""

from __future__ import annotations

from knowledge.lexical import LexicalIndex, query_terms, stem_text


def test_italian_inflections_share_a_stem():
    assert stem_text("spedizioni", "it") == stem_text("spedizione", "it")
    assert stem_text("shipping", "en") == stem_text("shipped", "en")


def test_stopwords_and_accents_do_not_count():
    assert stem_text("Perché il caffè?", "it") == stem_text("perche caffe", "it")
    assert query_terms("the of and il della") == []


def test_bm25_ranks_the_phrasing_sharing_rare_words_first():
    index = LexicalIndex()
    index.add(
        [
            (1, "Quanto costa la spedizione?", "it"),
            (2, "Accettate pagamenti con Satispay?", "it"),
            (3, "What are your opening hours?", "en"),
        ]
    )
    hits = index.search("pago con satispay")
    assert hits[0].vid == 2
    assert hits[0].score > 0
    assert index.search("spedizioni")[0].vid == 1


def test_removed_phrasings_are_not_found():
    index = LexicalIndex()
    index.add([(1, "Accettate Satispay?", "it"), (2, "Accettate PayPal?", "it")])
    index.remove([1])
    assert [hit.vid for hit in index.search("satispay")] == []
    assert len(index) == 1


def test_fts_syntax_in_a_query_is_treated_as_words():
    index = LexicalIndex()
    index.add([(1, "Accettate Satispay?", "it")])
    assert index.search('satispay" OR NEAR(x y) * ^ -- AND')[0].vid == 1
    assert index.search("😀 ?!") == []
