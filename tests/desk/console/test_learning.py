"""The console's part in learning customers' words: suggested articles on a ticket,
proposed phrasings reviewed in bulk, and the knowledge base's weak spots.

The ticket page's suggestions and the weak-spot report use the real searcher (models
loaded in the background, as the served console does).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
import sqlite_utils
from fastapi import FastAPI
from fastapi.testclient import TestClient

from desk import tickets
from desk.console.app import create_app
from knowledge import phrasings, store
from sportello.settings import Settings
from tests.desk.console.conftest import logged_in, page_token

SHIPPING = store.Article(
    id="spedizione-costi",
    lang="it",
    question="Quanto costa la spedizione?",
    answer="La spedizione costa 5,90 € ed è gratuita sopra i 49 €.",
)
HOURS = store.Article(
    id="orari",
    lang="it",
    question="Quali sono gli orari del negozio?",
    answer="Siamo aperti dal lunedì al sabato, dalle 9 alle 19.",
)
WORDING = "quanto si paga per farsi mandare il pacco a casa?"


def eventually(read: Callable[[], str], until: Callable[[str], bool], seconds: float = 90) -> str:
    """Read a page until it shows what the background work produces."""
    deadline = time.monotonic() + seconds
    while True:
        page = read()
        if until(page) or time.monotonic() > deadline:
            return page
        time.sleep(0.5)


@pytest.fixture
def kb_app(settings: Settings, db: sqlite_utils.Database) -> FastAPI:
    store.upsert_articles(db, [SHIPPING, HOURS])
    return create_app(settings, failure_delay=0, load_kb=True)


def test_an_operator_sends_a_suggested_article_and_the_wording_is_proposed(
    kb_app: FastAPI, db: sqlite_utils.Database, people: dict
) -> None:
    ticket, _ = tickets.open_ticket(
        db,
        "conv-learn",
        lang="it",
        channel="rest",
        customer_id="cust-learn",
        transcript=[{"role": "customer", "text": WORDING, "timestamp": 1.0}],
        reason=tickets.REASON_KB_ABSTAINED,
    )
    with TestClient(kb_app, follow_redirects=False) as client:
        logged_in(client, "anna")
        page = eventually(
            lambda: client.get(f"/tickets/{ticket.id}").text,
            lambda html: 'id="suggested-articles"' in html,
        )
        assert 'data-article="spedizione-costi"' in page
        assert page.index('data-article="spedizione-costi"') < page.index('data-article="orari"')
        token = page_token(client, f"/tickets/{ticket.id}")
        edited = SHIPPING.answer + " Buona giornata!"
        sent = client.post(
            f"/tickets/{ticket.id}/answer",
            data={"csrf_token": token, "text": edited, "article_id": "spedizione-costi"},
        )
    assert sent.status_code == 303
    said = [m.text for m in tickets.ticket_messages(db, ticket.id) if m.role == "operator"]
    assert said == [edited]  # the operator's edited text reached the customer
    [proposal] = phrasings.list_proposals(db)
    assert (proposal.article_id, proposal.text) == ("spedizione-costi", WORDING)
    assert proposal.source == phrasings.SOURCE_OPERATOR
    assert proposal.refs == (f"ticket:{ticket.id}",)


def test_a_plain_answer_proposes_nothing(
    client: TestClient, db: sqlite_utils.Database, people: dict, ticket: tickets.Ticket
) -> None:
    store.upsert_articles(db, [SHIPPING])
    logged_in(client, "anna")
    assert 'id="suggested-articles"' not in client.get(f"/tickets/{ticket.id}").text
    token = page_token(client, f"/tickets/{ticket.id}")
    client.post(f"/tickets/{ticket.id}/answer", data={"csrf_token": token, "text": "Ciao!"})
    assert phrasings.list_proposals(db) == []


def _propose(db: sqlite_utils.Database) -> list[phrasings.Proposal]:
    store.upsert_articles(db, [SHIPPING, HOURS])
    phrasings.propose(db, "spedizione-costi", "it", WORDING, "pick", "c1")
    phrasings.propose(db, "spedizione-costi", "it", WORDING, "pick", "c2")
    phrasings.propose(db, "orari", "it", "a che ora chiudete stasera?", "operator", "ticket:3")
    phrasings.propose(db, "orari", "it", "fino a quando siete aperti?", "pick", "c4")
    return phrasings.list_proposals(db)


def test_supervisors_approve_and_reject_proposals_in_bulk(
    client: TestClient, db: sqlite_utils.Database, people: dict
) -> None:
    proposals = _propose(db)
    logged_in(client, "sara")
    page = client.get("/articles").text
    assert page.index(WORDING) < page.index("a che ora chiudete")  # most customers first
    assert 'id="approve-phrasings"' in page
    by_text = {p.text: p.id for p in proposals}
    token = page_token(client, "/articles")
    approve = [by_text[WORDING], by_text["a che ora chiudete stasera?"]]
    done = client.post(
        "/articles/phrasings",
        data={"csrf_token": token, "decision": "approve", "proposal": [str(i) for i in approve]},
    )
    assert done.status_code == 303
    assert store.get_article(db, "spedizione-costi", "it").alt_questions == [WORDING]
    assert store.get_article(db, "orari", "it").alt_questions == ["a che ora chiudete stasera?"]
    client.post(
        "/articles/phrasings",
        data={
            "csrf_token": token,
            "decision": "reject",
            "proposal": [str(by_text["fino a quando siete aperti?"])],
        },
    )
    assert phrasings.list_proposals(db) == []
    assert len(phrasings.list_proposals(db, phrasings.REJECTED)) == 1
    assert "Nessuna formulazione in attesa." in client.get("/articles").text


def test_operators_see_proposals_but_cannot_approve_them(
    client: TestClient, db: sqlite_utils.Database, people: dict
) -> None:
    proposals = _propose(db)
    logged_in(client, "anna")
    page = client.get("/articles").text
    assert WORDING in page and 'id="approve-phrasings"' not in page
    token = page_token(client, "/articles")
    refused = client.post(
        "/articles/phrasings",
        data={"csrf_token": token, "decision": "approve", "proposal": [str(proposals[0].id)]},
    )
    assert refused.status_code == 403
    assert store.get_article(db, "spedizione-costi", "it").alt_questions == []


def test_approving_nothing_says_so(
    client: TestClient, db: sqlite_utils.Database, people: dict
) -> None:
    _propose(db)
    logged_in(client, "sara")
    token = page_token(client, "/articles")
    client.post("/articles/phrasings", data={"csrf_token": token, "decision": "approve"})
    assert "Nessuna formulazione selezionata." in client.get("/articles").text
    assert len(phrasings.list_proposals(db)) == 3


def test_the_weak_spots_page_lists_confusable_articles(
    client: TestClient, db: sqlite_utils.Database, people: dict
) -> None:
    monthly = store.Article(
        id="rimborso-mensile",
        lang="it",
        question="Posso avere il rimborso dell'abbonamento mensile?",
        answer="Il mensile è rimborsabile prima del primo giorno di validità.",
    )
    annual = store.Article(
        id="rimborso-annuale",
        lang="it",
        question="Posso avere il rimborso dell'abbonamento annuale?",
        answer="Rimborsiamo i mesi interi non ancora iniziati, meno 10 € di diritti.",
    )
    store.upsert_articles(db, [SHIPPING, HOURS, monthly, annual])
    logged_in(client, "anna")
    assert 'href="/articles/check"' in client.get("/articles").text
    page = eventually(
        lambda: client.get("/articles/check").text,
        lambda html: 'id="check-loading"' not in html,
    )
    assert 'data-pair="rimborso-annuale rimborso-mensile"' in page
    assert "domande simili al" in page
