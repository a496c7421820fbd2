"""Every console form and filter, fed by hypothesis: no server error, no unescaped text.

Customer and operator text reaches pages only through Jinja autoescaping; these tests
submit generated text full of markup characters to each form and query string and check
that the server never fails (status < 500) and that no submitted markup comes back raw.
"""

from __future__ import annotations

import re

import sqlite_utils
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given
from hypothesis import strategies as st

from desk import tickets
from identity import profiles
from knowledge import drafts
from tests.desk.console.conftest import logged_in, page_token
from tests.hardening import fuzz

MARKUP = st.sampled_from(
    ["<script>alert(1)</script>", "<img src=x onerror=alert(1)>", '"><svg onload=x>', "&amp;<b>"]
)
TEXT = st.one_of(
    MARKUP,
    st.text(max_size=200),
    st.builds(lambda a, m, b: a + m + b, st.text(max_size=40), MARKUP, st.text(max_size=40)),
)
FUZZ = fuzz(40, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _as(client: TestClient, username: str) -> None:
    """Log in once: hypothesis runs many examples with the same client."""
    if client.get("/").headers.get("location", "").startswith("/login"):
        logged_in(client, username)


# A complete tag: what unescaped output would let a browser run. A lone "<" or "<b" is
# in every page's own markup, so finding one proves nothing either way.
_TAG = re.compile(r"<[A-Za-z/!][^<>]*>")


def _no_raw_markup(html: str, *submitted: str) -> None:
    for text in submitted:
        if _TAG.search(text):
            assert text not in html, f"unescaped: {text!r}"


@FUZZ
@given(username=TEXT, password=TEXT)
def test_login_form(client: TestClient, people: dict, username: str, password: str) -> None:
    page = client.get("/login")
    token = page_token(client, "/login")
    reply = client.post(
        "/login", data={"username": username, "password": password, "csrf_token": token}
    )
    assert reply.status_code < 500 and page.status_code == 200
    _no_raw_markup(reply.text, username)


@FUZZ
@given(text=TEXT, question=TEXT, tags=TEXT, propose=st.sampled_from(["", "1", "yes"]))
def test_answer_form(
    client: TestClient,
    db: sqlite_utils.Database,
    people: dict,
    ticket: tickets.Ticket,
    text: str,
    question: str,
    tags: str,
    propose: str,
) -> None:
    _as(client, "anna")
    token = page_token(client, f"/tickets/{ticket.id}")
    reply = client.post(
        f"/tickets/{ticket.id}/answer",
        data={
            "csrf_token": token,
            "text": text,
            "propose": propose,
            "kb_question": question,
            "kb_tags": tags,
        },
    )
    assert reply.status_code < 500, reply.text[:300]
    for path in (f"/tickets/{ticket.id}", "/articles"):
        page = client.get(path)
        assert page.status_code == 200
        _no_raw_markup(page.text, text, question, tags)


@FUZZ
@given(lang=TEXT, question=TEXT, answer=TEXT, tags=TEXT)
def test_new_article_form(
    client: TestClient, people: dict, lang: str, question: str, answer: str, tags: str
) -> None:
    _as(client, "anna")
    token = page_token(client, "/articles/new")
    reply = client.post(
        "/articles/new",
        data={
            "csrf_token": token,
            "lang": lang,
            "question": question,
            "answer": answer,
            "tags": tags,
        },
    )
    assert reply.status_code < 500, reply.text[:300]
    _no_raw_markup(reply.text, question, answer, tags)
    _no_raw_markup(client.get("/articles").text, question, answer, tags)


@FUZZ
@given(
    fields=st.dictionaries(
        st.sampled_from(
            ["question_it", "answer_it", "alt_it", "question_en", "answer_en", "alt_en", "tags"]
        ),
        TEXT,
    )
)
def test_publish_form(
    client: TestClient, db: sqlite_utils.Database, people: dict, fields: dict[str, str]
) -> None:
    draft = drafts.propose(db, question="Domanda?", answer="Risposta.", lang="it", author="anna")
    _as(client, "sara")
    token = page_token(client, f"/articles/{draft.id}")
    reply = client.post(f"/articles/{draft.id}/publish", data={"csrf_token": token, **fields})
    assert reply.status_code < 500, reply.text[:300]
    page = client.get(f"/articles/{draft.id}")
    assert page.status_code == 200
    _no_raw_markup(page.text, *fields.values())


@FUZZ
@given(
    params=st.dictionaries(
        st.sampled_from(["since", "until", "channel", "language", "source", "lang", "question"]),
        TEXT,
    )
)
def test_query_strings(client: TestClient, people: dict, params: dict[str, str]) -> None:
    _as(client, "sara")
    for path in ("/insights", "/queue", "/articles/new", "/insights/summary.csv"):
        reply = client.get(path, params=params)
        assert reply.status_code < 500, (path, reply.text[:300])
        if reply.headers.get("content-type", "").startswith("text/html"):
            _no_raw_markup(reply.text, *params.values())


@FUZZ
@given(other=TEXT, back_to=TEXT)
def test_customer_merge_form(
    client: TestClient,
    db: sqlite_utils.Database,
    people: dict,
    ticket: tickets.Ticket,
    other: str,
    back_to: str,
) -> None:
    _as(client, "anna")
    mine = profiles.record(db, conversation_id="conv-1", channel_id="conv-1", channel="socketio")
    token = page_token(client, f"/customers/{mine}")
    reply = client.post(
        f"/customers/{mine}/merge", data={"csrf_token": token, "other": other, "back_to": back_to}
    )
    assert reply.status_code < 500
    if reply.status_code == 303:  # only the console's own pages: no open redirect
        assert reply.headers["location"].startswith(("/tickets/", "/customers/"))
        assert "//" not in reply.headers["location"]
    _no_raw_markup(reply.text, other, back_to)
    for link in profiles.merges_of(db, mine):  # leave one customer for the next example
        if link.undone_at is None:
            profiles.undo(db, link.id, actor="anna")
