"""The console's knowledge-base pages: proposing, reviewing, publishing, retiring."""

from __future__ import annotations

import sqlite_utils
from fastapi.testclient import TestClient

from desk import tickets
from knowledge import drafts, store
from tests.desk.console.conftest import logged_in, page_token


def _answer_and_propose(client: TestClient, ticket: tickets.Ticket, **extra: str) -> str:
    token = page_token(client, f"/tickets/{ticket.id}")
    response = client.post(
        f"/tickets/{ticket.id}/answer",
        data={
            "csrf_token": token,
            "text": (
                "Ciao Mario, per un pacco rotto scrivi a resi@example.com "
                "con il numero d'ordine AUR-2025-004512."
            ),
            "propose": "1",
            "kb_question": "Cosa faccio se il pacco arriva rotto?",
            "kb_tags": "resi, danni",
            **extra,
        },
    )
    assert response.status_code == 303, response.text
    return response.headers["location"]


def test_an_answer_proposed_for_the_kb_becomes_a_scrubbed_draft(
    client: TestClient, db: sqlite_utils.Database, people: dict, ticket: tickets.Ticket
) -> None:
    logged_in(client, "anna")
    _answer_and_propose(client, ticket)
    (draft,) = drafts.list_drafts(db)
    assert draft.question == "Cosa faccio se il pacco arriva rotto?"
    assert "resi@example.com" not in draft.answer and "AUR-2025-004512" not in draft.answer
    assert "[EMAIL]" in draft.answer and "[ORDER]" in draft.answer
    assert draft.source == f"ticket:{ticket.id}" and draft.updated_by == "anna"
    assert {"resi", "danni", drafts.TAG_FROM_OPERATOR} <= set(draft.tags)
    # The customer still got the operator's words as written.
    answer = [m for m in tickets.ticket_messages(db, ticket.id) if m.role == "operator"][-1]
    assert "resi@example.com" in answer.text
    listing = client.get("/articles")
    assert listing.status_code == 200 and draft.id in listing.text


def test_the_ticket_page_offers_the_derived_question(
    client: TestClient, people: dict, ticket: tickets.Ticket
) -> None:
    logged_in(client, "anna")
    page = client.get(f"/tickets/{ticket.id}").text
    assert 'name="propose"' in page
    assert "Il pacco è arrivato rotto" in page  # the customer's words, as a starting point


def test_only_supervisors_publish_and_publication_is_immediate(
    client: TestClient,
    other_client: TestClient,
    db: sqlite_utils.Database,
    people: dict,
    ticket: tickets.Ticket,
) -> None:
    logged_in(client, "anna")
    _answer_and_propose(client, ticket)
    (draft,) = drafts.list_drafts(db)
    form = {
        "question_it": "Cosa faccio se il pacco arriva rotto?",
        "answer_it": draft.answer,
        "alt_it": "pacco danneggiato\nmerce rotta",
        "question_en": "What should I do if my parcel arrives damaged?",
        "answer_en": "Write to [EMAIL] with your order number.",
        "tags": "resi",
    }
    refused = client.post(
        f"/articles/{draft.id}/publish",
        data={"csrf_token": page_token(client, "/articles"), **form},
    )
    assert refused.status_code == 403
    assert store.get_article(db, draft.id, "it").status == "draft"

    logged_in(other_client, "sara")
    token = page_token(other_client, f"/articles/{draft.id}")
    done = other_client.post(f"/articles/{draft.id}/publish", data={"csrf_token": token, **form})
    assert done.status_code == 303
    italian, english = (store.get_article(db, draft.id, lang) for lang in ("it", "en"))
    assert italian.status == english.status == "published"
    assert italian.alt_questions == ["pacco danneggiato", "merce rotta"]
    assert english.question == "What should I do if my parcel arrives damaged?"
    page = other_client.get(f"/articles/{draft.id}").text
    assert "v2" in page and "sara" in page, "the history shows the new version and its author"

    retire = other_client.post(f"/articles/{draft.id}/retire", data={"csrf_token": token})
    assert retire.status_code == 303
    assert {a.status for a in (store.get_article(db, draft.id, lang) for lang in ("it", "en"))} == {
        "retired"
    }


def test_supervisors_reject_drafts(
    client: TestClient, db: sqlite_utils.Database, people: dict, ticket: tickets.Ticket
) -> None:
    logged_in(client, "sara")
    _answer_and_propose(client, ticket)
    (draft,) = drafts.list_drafts(db)
    token = page_token(client, f"/articles/{draft.id}")
    assert (
        client.post(f"/articles/{draft.id}/reject", data={"csrf_token": token}).status_code == 303
    )
    assert store.get_article(db, draft.id, "it").status == "rejected"
    assert drafts.list_drafts(db) == []


def test_anyone_working_tickets_writes_a_new_draft_from_a_gap(
    client: TestClient, db: sqlite_utils.Database, people: dict
) -> None:
    logged_in(client, "anna")
    page = client.get("/articles/new", params={"lang": "en", "question": "Do you sell gift cards?"})
    assert page.status_code == 200 and "Do you sell gift cards?" in page.text
    token = page_token(client, "/articles/new")
    created = client.post(
        "/articles/new",
        data={
            "csrf_token": token,
            "lang": "en",
            "question": "Do you sell gift cards?",
            "answer": "Yes, from 10 to 200 euros.",
            "tags": "gifts",
        },
    )
    assert created.status_code == 303
    (draft,) = drafts.list_drafts(db)
    assert (draft.lang, draft.status, draft.updated_by) == ("en", "draft", "anna")
    empty = client.post(
        "/articles/new", data={"csrf_token": token, "lang": "en", "question": "", "answer": ""}
    )
    assert empty.status_code == 422


def test_marketing_cannot_change_articles(
    client: TestClient, db: sqlite_utils.Database, people: dict
) -> None:
    draft = drafts.propose(db, question="Q?", answer="A.", lang="it", author="anna")
    logged_in(client, "mara")
    token = page_token(client, "/insights")
    assert client.get("/articles").status_code == 403
    assert client.get("/articles/new").status_code == 403
    for action in ("publish", "reject", "retire"):
        response = client.post(
            f"/articles/{draft.id}/{action}",
            data={"csrf_token": token, "question_it": "Q?", "answer_it": "A."},
        )
        assert response.status_code == 403, action
    assert store.get_article(db, draft.id, "it").status == "draft"


def test_article_text_is_escaped(
    client: TestClient, db: sqlite_utils.Database, people: dict
) -> None:
    draft = drafts.propose(
        db,
        question="<script>alert(1)</script>?",
        answer="<img src=x onerror=alert(1)>",
        lang="it",
        author="anna",
    )
    logged_in(client, "sara")
    for path in ("/articles", f"/articles/{draft.id}"):
        html = client.get(path).text
        assert "<script>alert(1)</script>" not in html and "<img src=x" not in html
        assert "&lt;script&gt;" in html
