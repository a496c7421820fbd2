"""Fixtures for the knowledge-base tests: a small bilingual shop FAQ and real models.

The encoders are the real ones (no mocks): they are process-wide and load once, on the
first search of the session. Every test that writes gets its own data directory.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from knowledge.search import Searcher
from knowledge.store import Article, upsert_articles
from sportello.settings import get_settings
from tests.databases import open_db

FIXTURE_ARTICLES = [
    Article(
        id="shipping-cost",
        lang="it",
        question="Quanto costa la spedizione?",
        answer="La spedizione costa 5,90 € ed è gratuita sopra i 49 €.",
        alt_questions=["Quali sono le spese di spedizione?", "La consegna è gratuita?"],
        tags=["spedizione"],
    ),
    Article(
        id="shipping-cost",
        lang="en",
        question="How much does shipping cost?",
        answer="Shipping costs €5.90 and is free on orders of €49 or more.",
        alt_questions=["What are your delivery fees?", "Is delivery free?"],
    ),
    Article(
        id="opening-hours",
        lang="it",
        question="Quali sono gli orari di apertura del negozio?",
        answer="Il negozio è aperto dal lunedì al sabato, dalle 7:30 alle 19:30.",
        alt_questions=["A che ora aprite?", "Siete aperti la domenica?"],
    ),
    Article(
        id="returns",
        lang="it",
        question="Come posso restituire un prodotto?",
        answer="Hai 14 giorni per restituire un prodotto non aperto.",
        alt_questions=["Voglio fare un reso", "Posso avere un rimborso?"],
    ),
    Article(
        id="returns",
        lang="en",
        question="How can I return a product?",
        answer="You have 14 days to return an unopened product.",
        alt_questions=["I want to send something back", "Can I get a refund?"],
    ),
    Article(
        id="payment-methods",
        lang="it",
        question="Quali metodi di pagamento accettate?",
        answer="Accettiamo carte di credito, PayPal, Satispay e bonifico.",
        alt_questions=["Posso pagare con PayPal?", "Accettate Satispay?"],
    ),
    Article(
        id="payment-methods",
        lang="en",
        question="Which payment methods do you accept?",
        answer="We accept credit cards, PayPal, Satispay and bank transfer.",
        alt_questions=["Can I pay with PayPal?", "Do you take Satispay?"],
    ),
    Article(
        id="decaf",
        lang="it",
        question="Avete caffè decaffeinato?",
        answer="Sì, il nostro decaffeinato è lavorato ad acqua, senza solventi.",
        alt_questions=["Vendete il deca?", "C'è una miscela senza caffeina?"],
    ),
]


# More phrasings per article version, as a knowledge base written for the bot has them:
# with these the fixture has 11 per article (both languages), past the plain-FAQ bound
# of 8 (calibration.PLAIN_KB_MIN_INV_PPA), so the shared model serves it.
MORE_PHRASINGS = {
    ("shipping-cost", "it"): [
        "quanto si paga per la consegna?",
        "costi di spedizione",
        "la spedizione si paga?",
        "da quanto la spedizione è gratis?",
    ],
    ("shipping-cost", "en"): [
        "what does delivery cost?",
        "shipping fees",
        "do I pay for shipping?",
        "when is shipping free?",
    ],
    ("opening-hours", "it"): [
        "a che ora chiudete?",
        "orari del negozio",
        "quando siete aperti?",
        "il sabato siete aperti?",
    ],
    ("returns", "it"): [
        "come faccio un reso?",
        "posso restituire un pacco?",
        "entro quanti giorni si può rendere?",
        "rimborso di un prodotto",
    ],
    ("returns", "en"): [
        "how do I send a product back?",
        "can I return an item?",
        "how many days do I have to return?",
        "refund for a product",
    ],
    ("payment-methods", "it"): [
        "come posso pagare?",
        "accettate la carta di credito?",
        "si può pagare con bonifico?",
        "metodi di pagamento",
    ],
    ("payment-methods", "en"): [
        "how can I pay?",
        "do you accept credit cards?",
        "can I pay by bank transfer?",
        "payment options",
    ],
    ("decaf", "it"): [
        "avete il decaffeinato?",
        "caffè senza caffeina",
        "il deca com'è lavorato?",
        "vendete caffè deca?",
    ],
}


def rich_copies(articles: list[Article]) -> list[Article]:
    """The articles with ``MORE_PHRASINGS``: a knowledge base the shared model serves."""
    return [
        replace(a, alt_questions=[*a.alt_questions, *MORE_PHRASINGS.get((a.id, a.lang), [])])
        for a in articles
    ]


def plain_copies(articles: list[Article]) -> list[Article]:
    """The articles as a plain FAQ has them: question and answer, no other phrasings."""
    return [Article(id=a.id, lang=a.lang, question=a.question, answer=a.answer) for a in articles]


def build_kb(data_dir: Path, articles: list[Article] = FIXTURE_ARTICLES) -> Searcher:
    """A searcher over a fresh store in ``data_dir`` holding ``articles``."""
    db_path = data_dir / "sportello.db"
    upsert_articles(open_db(db_path), list(articles))
    return Searcher(db_path=db_path, index_dir=data_dir / "index")


@pytest.fixture
def data_dir(tmp_path, monkeypatch) -> Path:
    """An empty data directory that the settings (and so open_db) point at."""
    monkeypatch.setenv("SPORTELLO_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


@pytest.fixture(scope="session")
def shared_searcher(tmp_path_factory) -> Searcher:
    """One read-only knowledge base for the whole session (models load once)."""
    searcher = build_kb(tmp_path_factory.mktemp("kb"))
    searcher.warm_up()
    return searcher


@pytest.fixture
def fresh_searcher(tmp_path) -> Searcher:
    """A knowledge base of its own, for tests that add, change or retire articles."""
    return build_kb(tmp_path)
