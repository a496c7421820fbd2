"""``kb check``: the articles the bot may confuse, found with the real models."""

from __future__ import annotations

from pathlib import Path

import pytest

from knowledge import check, phrasings
from knowledge.store import Article
from tests.databases import open_db
from tests.knowledge.conftest import build_kb


def plain(article_id: str, question: str, answer: str, lang: str = "it") -> Article:
    return Article(id=article_id, lang=lang, question=question, answer=answer)


# Two pairs a customer's wording can confuse, among articles that have nothing in common.
CONFUSABLE = {
    ("rimborso-annuale", "rimborso-mensile"),
    ("annual-refund", "monthly-refund"),
}
ARTICLES = [
    plain(
        "rimborso-mensile",
        "Posso avere il rimborso dell'abbonamento mensile?",
        "L'abbonamento mensile è rimborsabile solo prima del primo giorno di validità, "
        "presentando la tessera in biglietteria.",
    ),
    plain(
        "rimborso-annuale",
        "Posso avere il rimborso dell'abbonamento annuale?",
        "Per l'abbonamento annuale rimborsiamo i mesi interi non ancora iniziati, meno "
        "10 € di diritti di segreteria.",
    ),
    plain(
        "monthly-refund",
        "Can I get a refund on my monthly pass?",
        "A monthly pass is refunded only before its first day of validity, at a ticket office.",
        "en",
    ),
    plain(
        "annual-refund",
        "Can I get a refund on my annual pass?",
        "For an annual pass we refund the whole months not yet begun, less a €10 fee.",
        "en",
    ),
    plain(
        "bici",
        "Posso portare la bicicletta sul tram?",
        "Le biciclette pieghevoli sono ammesse sempre; le altre solo dopo le 20.",
    ),
    plain(
        "oggetti-smarriti",
        "Ho perso un oggetto sull'autobus: dove lo ritrovo?",
        "Gli oggetti ritrovati sono custoditi 30 giorni all'ufficio di via Roma 3.",
    ),
    plain(
        "cani",
        "I cani possono salire sui mezzi?",
        "I cani piccoli viaggiano gratis nel trasportino; quelli grandi con museruola.",
    ),
    plain(
        "night-buses",
        "Are there night buses?",
        "Lines N1 to N4 run every 30 minutes from midnight to 5 am.",
        "en",
    ),
]


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> check.Report:
    data_dir: Path = tmp_path_factory.mktemp("kb-check")
    searcher = build_kb(data_dir, ARTICLES)
    db = open_db(data_dir / "sportello.db")
    phrasings.propose(
        db, "rimborso-mensile", "it", "mi ridate i soldi del mensile?", "pick", "conv-1"
    )
    return check.check(db, searcher)


def test_the_known_confusable_pairs_are_reported_and_no_others_as_the_same_question(
    report: check.Report,
) -> None:
    same = {(c.article_id, c.other_id) for c in report.confusions if c.why == "same_question"}
    assert same == CONFUSABLE
    for confusion in report.confusions:
        if confusion.why == "same_question":
            assert confusion.similarity >= check.SAME_QUESTION_COSINE


def test_every_pair_reported_is_within_one_language(report: check.Report) -> None:
    assert report.articles == len(ARTICLES)
    for confusion in report.confusions:
        langs = {a.lang for a in ARTICLES if a.id in (confusion.article_id, confusion.other_id)}
        assert langs == {confusion.lang}


def test_the_report_says_what_would_help(report: check.Report) -> None:
    assert report.proposed[("rimborso-mensile", "it")] == ["mi ridate i soldi del mensile?"]
    words = report.words[("rimborso-annuale", "it")]
    annual, monthly = ARTICLES[1], ARTICLES[0]
    assert 0 < len(words) <= check.HINT_WORDS
    for word in words:  # in its answer, in neither its question nor the other answer
        assert word in annual.answer.lower()
        assert word not in annual.question.lower() and word not in monthly.answer.lower()
    as_json = report.to_json()
    assert {h["article"] for h in as_json["help"]} >= {a for pair in CONFUSABLE for a in pair}
    text = check.render_text(report)
    assert "rimborso-annuale <> rimborso-mensile" in text
    assert "mi ridate i soldi del mensile?" in text


def test_an_empty_knowledge_base_has_nothing_to_report(tmp_path: Path) -> None:
    searcher = build_kb(tmp_path, [])
    empty = check.check(open_db(tmp_path / "sportello.db"), searcher)
    assert empty.articles == 0 and empty.weak == []


def test_answer_words_are_the_answers_own_vocabulary() -> None:
    words = check.answer_words(
        "Quanto costa la spedizione?",
        "La consegna con corriere costa 5,90 €; la consegna è gratuita sopra i 49 €.",
    )
    assert words[0] == "consegna" and "costa" not in words and "spedizione" not in words
