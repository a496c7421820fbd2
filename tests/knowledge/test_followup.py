"""Follow-ups: a short message right after an answer is searched in that answer's context."""

from __future__ import annotations

import pytest

from knowledge.followup import (
    CONTEXT_ANSWER_CHARS,
    combine,
    in_context,
    is_follow_up,
    search_in_context,
)
from knowledge.search import Candidate, Searcher
from knowledge.store import Article
from tests.knowledge.conftest import build_kb

SUBSCRIPTION = [
    Article(
        id="abbonamento",
        lang="it",
        question="Come funziona l'abbonamento al caffè?",
        answer="Ogni mese ricevi a casa 1 kg di caffè in grani scelto dai nostri torrefattori.",
    ),
    Article(
        id="abbonamento-prezzo",
        lang="it",
        question="Quanto costa l'abbonamento al caffè?",
        answer="L'abbonamento costa 24 € al mese, spedizione inclusa.",
    ),
    Article(
        id="abbonamento-disdetta",
        lang="it",
        question="Come si disdice l'abbonamento al caffè?",
        answer="Puoi disdire in qualsiasi momento dalla tua area personale, senza penali.",
    ),
    Article(
        id="spedizione-costi",
        lang="it",
        question="Quanto costano le spese di spedizione?",
        answer="La spedizione costa 5,90 € ed è gratuita sopra i 49 €.",
    ),
    Article(
        id="ordine-annullare",
        lang="it",
        question="Posso annullare un ordine?",
        answer="Puoi annullare un ordine finché non è stato spedito, dalla pagina dei tuoi ordini.",
    ),
    Article(
        id="orari",
        lang="it",
        question="Quali sono gli orari di apertura del negozio di Bologna?",
        answer="Il negozio di Bologna è aperto dal lunedì al sabato, dalle 8 alle 19.",
    ),
]


@pytest.fixture(scope="module")
def searcher(tmp_path_factory):
    return build_kb(tmp_path_factory.mktemp("followup"), SUBSCRIPTION)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("quanto costa?", True),
        ("e per disdirlo?", True),
        ("and to Germany?", True),
        ("will that apply to the next delivery?", True),
        ("quanto costa la spedizione per la Germania se ordino sei sacchetti?", False),
        ("e se l'ordine è già partito ieri?", True),
        ("vorrei sapere quali sono gli orari di apertura del negozio di Bologna", False),
        ("how long does delivery take to Germany for a big order?", False),
        ("", False),
        ("?!", False),
    ],
)
def test_short_or_leaning_messages_are_follow_ups(text, expected):
    assert is_follow_up(text) is expected


def test_the_context_is_the_previous_article_then_the_message():
    assert in_context(" Come funziona? ", "Ogni mese. ", "quanto costa?") == (
        "Come funziona? Ogni mese. quanto costa?"
    )


def test_only_the_opening_of_a_long_answer_joins_the_context_cut_between_words():
    answer = "Ogni mese riceverai a casa   due pacchi di caffè. " * 10
    context = in_context("Come funziona?", answer, "quanto costa?")
    opening = context.removeprefix("Come funziona? ").removesuffix(" quanto costa?")
    assert len(opening) <= CONTEXT_ANSWER_CHARS
    assert opening.startswith("Ogni mese riceverai a casa due pacchi di caffè. Ogni mese")
    assert " ".join(answer.split()).startswith(opening + " ")  # whole words only


def test_a_price_question_after_the_subscription_is_about_the_subscription(searcher):
    result = search_in_context(searcher, "quanto costa?", "it", "abbonamento")
    assert result.results[0].id == "abbonamento-prezzo"


def test_combining_needs_both_the_message_and_the_context():
    def ranked(*pairs):
        return [Candidate(a, {}, logit=logit, confidence=conf) for a, logit, conf in pairs]

    plain = ranked(("orders", 3.0, 0.6), ("subscription-cancel", 1.0, 0.1), ("misc", -2.0, 0.0))
    context = ranked(
        ("subscription", 4.0, 0.7), ("subscription-cancel", 3.5, 0.3), ("orders", 0.0, 0.0)
    )
    merged = combine(plain, context)
    # orders 3 + 0; subscription -2 (plain's lowest) + 4; misc -2 + 0 (context's lowest)
    assert [c.article_id for c in merged] == [
        "subscription-cancel", "orders", "subscription", "misc"
    ]  # fmt: skip
    assert merged[0].confidence == 0.1 and merged[0].logit == 4.5  # the lower of 0.1, 0.3
    assert merged[3].confidence == 0.0  # "misc": the context does not have it
    assert combine([], context) == context and combine(plain, []) == plain


def test_a_change_of_topic_keeps_its_own_answer(searcher):
    result = search_in_context(searcher, "orari del negozio di Bologna?", "it", "abbonamento")
    assert result.results[0].id == "orari"


def test_without_a_previous_article_or_when_it_is_gone_the_plain_search_runs(searcher):
    plain = searcher.search("quanto costa?", "it")
    for previous in (None, "", "retired-long-ago"):
        result = search_in_context(searcher, "quanto costa?", "it", previous)
        assert [h.id for h in result.results] == [h.id for h in plain.results]


def test_a_long_question_is_never_searched_in_context(searcher, monkeypatch):
    calls = []
    monkeypatch.setattr(searcher, "rank_many", lambda *a, **k: calls.append(a))
    text = "vorrei sapere quali sono gli orari di apertura del negozio di Bologna"
    assert search_in_context(searcher, text, "it", "abbonamento").results[0].id == "orari"
    assert calls == []


def test_a_question_the_search_alone_answers_keeps_its_answer(searcher, monkeypatch):
    import knowledge.followup as followup

    sure = Searcher(db_path=searcher.db_path, index_dir=searcher.index_dir, threshold=0.0)
    monkeypatch.setattr(followup, "combine", lambda *a: pytest.fail("context was used"))
    result = search_in_context(sure, "quanto costa la spedizione?", "it", "abbonamento")
    assert result.decision == "answer" and result.results[0].id == "spedizione-costi"


def test_an_unsure_follow_up_is_offered_with_its_context(searcher):
    unsure = Searcher(
        db_path=searcher.db_path, index_dir=searcher.index_dir, threshold=1.01,
        clarify_threshold=0.0,
    )  # fmt: skip
    result = search_in_context(unsure, "quanto costa?", "it", "abbonamento")
    assert result.decision == "clarify"
    assert result.suggestions[0].id == "abbonamento-prezzo"
