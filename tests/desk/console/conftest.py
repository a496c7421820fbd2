"""A console app over an empty data directory, users, tickets, and a logged-in browser stand-in.

The console delivers operator answers through its settings, and those come from the
environment: it points them at the same temporary directory and at a Rasa port where
nothing listens: answers stay in the outbox, nothing reaches a real Rasa.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import httpx
import pytest
import sqlite_utils
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from desk import tickets, users
from desk.console.app import create_app
from sportello.settings import Settings, get_settings
from tests.databases import open_db
from tests.servers import free_port

PASSWORD = "operator-passphrase-1"
CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')
TRANSCRIPT = [
    {"role": "customer", "text": "Il pacco è arrivato rotto", "timestamp": 1.0},
    {"role": "bot", "text": "Mi dispiace! Ti passo a un operatore.", "timestamp": 2.0},
]


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    monkeypatch.setenv("SPORTELLO_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("SPORTELLO_RASA_PORT", str(free_port()))
    monkeypatch.delenv("SPORTELLO_SECRET_KEY", raising=False)
    monkeypatch.delenv("SPORTELLO_SLA_FILE", raising=False)
    get_settings.cache_clear()
    yield get_settings()
    get_settings.cache_clear()


@pytest.fixture
def db(settings: Settings) -> Iterator[sqlite_utils.Database]:
    database = open_db(settings.db_path)
    yield database
    database.close()


@pytest.fixture
def app(settings: Settings) -> FastAPI:
    return create_app(settings, failure_delay=0)


@pytest.fixture
def client(app: FastAPI) -> TestClient:
    return TestClient(app, follow_redirects=False)


@pytest.fixture
def other_client(app: FastAPI) -> TestClient:
    """A second browser: another operator's session."""
    return TestClient(app, follow_redirects=False)


@pytest.fixture
def people(db: sqlite_utils.Database) -> dict[str, users.User]:
    return {
        "anna": users.create_user(db, "anna", PASSWORD, "operator"),
        "bruno": users.create_user(db, "bruno", PASSWORD, "operator"),
        "sara": users.create_user(db, "sara", PASSWORD, "supervisor"),
        "mara": users.create_user(db, "mara", PASSWORD, "marketing"),
    }


@pytest.fixture
def ticket(db: sqlite_utils.Database) -> tickets.Ticket:
    created, _ = tickets.open_ticket(
        db,
        "conv-1",
        lang="it",
        channel="socketio",
        customer_id="cust-1",
        transcript=TRANSCRIPT,
        reason=tickets.REASON_ASKED_FOR_HUMAN,
        now=datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc),
    )
    return created


def csrf_token(html: str) -> str:
    match = CSRF_FIELD.search(html)
    assert match, "the page must carry a CSRF token"
    return match.group(1)


def login(
    client: TestClient, username: str, password: str = PASSWORD, **headers: str
) -> httpx.Response:
    """Log in through the form like a browser; returns the POST response."""
    page = client.get("/login", headers=headers)
    assert page.status_code == 200
    return client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": csrf_token(page.text)},
        headers=headers,
    )


def logged_in(client: TestClient, username: str) -> TestClient:
    response = login(client, username)
    assert response.status_code == 303, response.text
    return client


def page_token(client: TestClient, path: str = "/") -> str:
    """The session's CSRF token, read from any page with a form ("/" leads each role to
    its own home page)."""
    response = client.get(path, follow_redirects=True)
    assert response.status_code == 200, response.text
    return csrf_token(response.text)


def concrete_path(route: APIRoute) -> str:
    return route.path.replace("{ticket_id}", "1")


def console_routes(app: FastAPI) -> list[tuple[str, str]]:
    """Every (method, path) the app serves; ticket paths name ticket 1."""
    return [
        (method, concrete_path(route))
        for route in app.routes
        if isinstance(route, APIRoute)
        for method in sorted(route.methods)
    ]
