"""The console's gate and open pages: who reaches which route, languages, security headers."""

from __future__ import annotations

import re

import sqlite_utils
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from desk import tickets, users
from desk.console.app import PUBLIC_PATHS, ROUTERS
from desk.console.text import UI_TEXT
from tests.desk.console.conftest import (
    PASSWORD,
    console_routes,
    logged_in,
)

# --- access control -----------------------------------------------------------------------


def test_only_health_login_and_stylesheet_are_public(app: FastAPI) -> None:
    assert {path for _, path in console_routes(app)} >= PUBLIC_PATHS
    assert {"/healthz", "/login", "/static/console.css"} == PUBLIC_PATHS


def test_every_route_refuses_unauthenticated_requests(
    app: FastAPI,
    client: TestClient,
    people: dict[str, users.User],
    ticket: tickets.Ticket,
) -> None:
    checked = 0
    for method, path in console_routes(app):
        if path in PUBLIC_PATHS:
            continue
        response = client.request(method, path, data={"text": "hi", "csrf_token": "x"})
        if method == "GET" and not path.startswith("/api/"):
            assert response.status_code == 303, (method, path)
            assert response.headers["location"].startswith("/login"), (method, path)
        else:
            assert response.status_code == 401, (method, path)
            assert UI_TEXT["it"]["unauthorized"] in response.text or path.startswith("/api/")
        checked += 1
    assert checked >= 9
    assert client.get("/no/such/page").status_code == 303


def test_unauthenticated_requests_change_nothing(
    client: TestClient, db: sqlite_utils.Database, ticket: tickets.Ticket
) -> None:
    before = tickets.ticket_messages(db, ticket.id)
    for action in ("claim", "answer", "close"):
        response = client.post(f"/tickets/{ticket.id}/{action}", data={"text": "hi"})
        assert response.status_code == 401
    after = tickets.get_ticket(db, ticket.id)
    assert after.status == tickets.STATUS_OPEN and after.assigned_to is None
    assert tickets.ticket_messages(db, ticket.id) == before


def test_public_routes_answer_without_a_session(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/login").status_code == 200
    assert client.get("/static/console.css").headers["content-type"].startswith("text/css")


def test_every_routers_routes_are_in_the_app(app: FastAPI) -> None:
    """The routers' routes are the app's own (what the access-control tests walk)."""
    served = {
        (method, route.path)
        for route in app.routes
        if isinstance(route, APIRoute)
        for method in route.methods
    }
    for router in ROUTERS:
        for route in router.routes:
            assert isinstance(route, APIRoute)
            assert {(method, route.path) for method in route.methods} <= served
    assert ("POST", "/tickets/{ticket_id}/answer") in served
    assert ("GET", "/insights/charts/{name}.png") in served


# --- language and headers -----------------------------------------------------------------


def test_ui_language_follows_query_then_preference_then_browser(
    client: TestClient, db: sqlite_utils.Database, people: dict
) -> None:
    assert UI_TEXT["it"]["login_title"] in client.get("/login").text
    english = client.get("/login", headers={"Accept-Language": "en-US,en;q=0.9"})
    assert '<html lang="en">' in english.text
    assert UI_TEXT["en"]["login_button"] in english.text

    users.create_user(db, "emma", PASSWORD, "operator", lang="en")
    fresh = TestClient(client.app, follow_redirects=False)
    logged_in(fresh, "emma")
    assert UI_TEXT["en"]["queue_title"] in fresh.get("/queue").text
    assert UI_TEXT["it"]["queue_title"] in fresh.get("/queue?lang=it").text
    assert UI_TEXT["it"]["queue_title"] in fresh.get("/queue").text, "choice is remembered"


def test_security_headers(client: TestClient, people: dict) -> None:
    for path in ("/login", "/healthz"):
        headers = client.get(path).headers
        assert headers["x-frame-options"] == "DENY"
        assert headers["x-content-type-options"] == "nosniff"
        csp = headers["content-security-policy"]
        assert "script-src 'none'" in csp
        assert "unsafe-inline" not in csp
        assert "frame-ancestors 'none'" in csp
    logged_in(client, "anna")
    assert client.get("/queue").headers["cache-control"] == "no-store"


def test_pages_contain_no_scripts(client: TestClient, people: dict, ticket: tickets.Ticket) -> None:
    pages = [client.get("/login").text]
    logged_in(client, "anna")
    pages += [client.get(p).text for p in ("/queue", f"/tickets/{ticket.id}", "/insights")]
    for html in pages:
        assert "<script" not in html.lower()
        assert not re.search(r"<[^>]+\son\w+=", html), "no inline event handlers"
