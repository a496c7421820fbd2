"""Logging in and out over HTTP, sessions, CSRF tokens, and the login throttle itself."""

from __future__ import annotations

import inspect
import time

import pytest
import sqlite_utils
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from desk import tickets, users
from desk.console.app import create_app
from desk.console.auth import FORGET_SECONDS, FREE_FAILURES_PER_ADDRESS, LoginThrottle
from desk.console.session import COOKIE_NAME
from desk.console.text import UI_TEXT
from sportello.settings import Settings
from tests.desk.console.conftest import (
    PASSWORD,
    console_routes,
    csrf_token,
    logged_in,
    login,
    page_token,
)

HOME = "192.0.2.10"
ATTACKER = "203.0.113.66"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_free_failures_then_a_wait_that_doubles() -> None:
    clock = FakeClock()
    throttle = LoginThrottle(free_failures=3, first_wait_seconds=2, clock=clock)
    for _ in range(2):
        throttle.failed(ATTACKER, "Anna")
    assert throttle.retry_after(ATTACKER, "anna") == 0
    throttle.failed(ATTACKER, "anna ")
    assert throttle.retry_after(ATTACKER, "ANNA") == 2
    clock.now += 2
    assert throttle.retry_after(ATTACKER, "anna") == 0
    throttle.failed(ATTACKER, "anna")
    assert throttle.retry_after(ATTACKER, "anna") == 4
    clock.now += 4
    throttle.failed(ATTACKER, "anna")
    assert throttle.retry_after(ATTACKER, "anna") == 8


def test_the_wait_is_capped() -> None:
    clock = FakeClock()
    throttle = LoginThrottle(
        free_failures=1, first_wait_seconds=2, max_wait_seconds=60, clock=clock
    )
    for _ in range(20):
        throttle.failed(ATTACKER, "anna")
        clock.now += throttle.retry_after(ATTACKER, "anna")
    throttle.failed(ATTACKER, "anna")
    assert throttle.retry_after(ATTACKER, "anna") == 60


def test_a_guesser_does_not_lock_the_operator_out() -> None:
    """The old throttle locked Anna out for 15 minutes, from anywhere, after five
    failures by anyone; now only the guessing address waits."""
    throttle = LoginThrottle(free_failures=3, clock=FakeClock())
    for _ in range(10):
        throttle.failed(ATTACKER, "anna")
    assert throttle.retry_after(ATTACKER, "anna") > 0
    assert throttle.retry_after(HOME, "anna") == 0
    assert throttle.retry_after(ATTACKER, "bruno") == 0


def test_one_address_trying_many_usernames_waits_too() -> None:
    throttle = LoginThrottle(free_failures=3, clock=FakeClock())
    for number in range(FREE_FAILURES_PER_ADDRESS):
        throttle.failed(ATTACKER, f"user{number}")
    assert throttle.retry_after(ATTACKER, "somebody-new") > 0
    assert throttle.retry_after(HOME, "somebody-new") == 0


def test_success_clears_and_old_failures_are_forgotten() -> None:
    clock = FakeClock()
    throttle = LoginThrottle(free_failures=2, clock=clock)
    throttle.failed(HOME, "anna")
    throttle.succeeded(HOME, "anna")
    throttle.failed(HOME, "anna")
    assert throttle.retry_after(HOME, "anna") == 0
    clock.now += FORGET_SECONDS
    throttle.failed(HOME, "anna")
    assert throttle.retry_after(HOME, "anna") == 0  # the earlier failure was forgotten


# --- sessions, login and logout -----------------------------------------------------------


def test_forged_session_cookie_is_ignored(client: TestClient, people: dict) -> None:
    logged_in(client, "anna")
    cookie = client.cookies[COOKIE_NAME]
    payload, signature = cookie.split(".")
    client.cookies.clear()
    client.cookies.set(COOKIE_NAME, payload + "." + signature[::-1])
    assert client.get("/queue").status_code == 303


def test_login_sets_a_protected_cookie_and_logout_ends_the_session(
    client: TestClient, people: dict
) -> None:
    response = login(client, "anna")
    assert response.status_code == 303
    assert response.headers["location"] == "/"
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie
    assert client.get("/").headers["location"] == "/queue"
    assert client.get("/queue").status_code == 200

    token = page_token(client, "/queue")
    logout = client.post("/logout", data={"csrf_token": token})
    assert logout.status_code == 303 and logout.headers["location"] == "/login"
    assert client.get("/queue").status_code == 303
    assert UI_TEXT["it"]["logged_out"] in client.get("/login").text


def test_login_returns_to_the_page_asked_for_but_never_off_site(
    client: TestClient, people: dict
) -> None:
    assert client.get("/tickets/7").headers["location"] == "/login?next=/tickets/7"
    page = client.get("/login?next=/tickets/7")
    response = client.post(
        "/login",
        data={
            "username": "anna",
            "password": PASSWORD,
            "next": "/tickets/7",
            "csrf_token": csrf_token(page.text),
        },
    )
    assert response.headers["location"] == "/tickets/7"
    other = TestClient(client.app, follow_redirects=False)
    page = other.get("/login")
    response = other.post(
        "/login",
        data={
            "username": "anna",
            "password": PASSWORD,
            "next": "//evil.example/x",
            "csrf_token": csrf_token(page.text),
        },
    )
    assert response.headers["location"] == "/"


@pytest.mark.parametrize("username", ["anna", "nobody"])
def test_wrong_credentials_get_one_generic_message(
    client: TestClient, people: dict, username: str
) -> None:
    response = login(client, username, "not the password")
    assert response.status_code == 401
    assert UI_TEXT["it"]["login_failed"] in response.text
    assert client.get("/queue").status_code == 303


def test_repeated_failures_lock_the_username(client: TestClient, people: dict) -> None:
    for _ in range(5):
        assert login(client, "anna", "wrong password!").status_code == 401
    response = login(client, "anna")
    assert response.status_code == 429
    assert UI_TEXT["it"]["login_throttled"] in response.text
    assert client.get("/queue").status_code == 303
    # Another user is not affected.
    assert login(client, "bruno").status_code == 303


def test_a_guesser_elsewhere_does_not_lock_the_operator_out(app: FastAPI, people: dict) -> None:
    """Failures are counted per client address and user: the guesser waits (429 with
    Retry-After), Anna at her own desk logs in."""
    attacker = TestClient(app, follow_redirects=False, client=("203.0.113.66", 40000))
    for _ in range(5):
        assert login(attacker, "anna", "wrong password!").status_code == 401
    refused = login(attacker, "anna")
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) >= 1
    desk = TestClient(app, follow_redirects=False, client=("192.0.2.10", 40000))
    assert login(desk, "anna").status_code == 303


def test_the_pause_after_a_failure_holds_no_worker_thread(app: FastAPI) -> None:
    """The login handler is a coroutine: its pause after a failure is awaited on the
    event loop, so a burst of wrong passwords cannot fill the thread pool that every
    other console page runs in."""
    [route] = [
        r
        for r in app.routes
        if isinstance(r, APIRoute) and r.path == "/login" and "POST" in r.methods
    ]
    assert inspect.iscoroutinefunction(route.endpoint)


def test_failed_logins_are_slowed_down(settings: Settings, people: dict) -> None:
    client = TestClient(create_app(settings, failure_delay=1.0), follow_redirects=False)
    started = time.monotonic()
    assert login(client, "anna", "wrong password!").status_code == 401
    assert time.monotonic() - started >= 1.0
    started = time.monotonic()
    assert login(client, "anna").status_code == 303
    assert time.monotonic() - started < 1.0, "a correct password is not delayed"


def test_changing_the_password_ends_open_sessions(
    client: TestClient, db: sqlite_utils.Database, people: dict
) -> None:
    logged_in(client, "anna")
    assert client.get("/queue").status_code == 200
    users.set_password(db, "anna", "another long passphrase")
    assert client.get("/queue").status_code == 303


# --- CSRF ---------------------------------------------------------------------------------


def test_login_form_needs_its_csrf_token(client: TestClient, people: dict) -> None:
    client.get("/login")
    response = client.post("/login", data={"username": "anna", "password": PASSWORD})
    assert response.status_code == 403
    response = client.post(
        "/login", data={"username": "anna", "password": PASSWORD, "csrf_token": "guess"}
    )
    assert response.status_code == 403
    assert client.get("/queue").status_code == 303


@pytest.mark.parametrize("token", [None, "", "wrong-token"])
def test_every_post_route_needs_the_session_csrf_token(
    app: FastAPI,
    client: TestClient,
    db: sqlite_utils.Database,
    people: dict,
    ticket: tickets.Ticket,
    token: str | None,
) -> None:
    logged_in(client, "anna")
    posts = [path for method, path in console_routes(app) if method == "POST"]
    assert {"/login", "/logout", "/tickets/1/claim", "/tickets/1/answer"} <= set(posts)
    for path in posts:
        data = {"text": "hello", "username": "anna", "password": PASSWORD}
        if token is not None:
            data["csrf_token"] = token
        response = client.post(path, data=data)
        assert response.status_code == 403, path
        assert UI_TEXT["it"]["csrf_failed"] in response.text
    unchanged = tickets.get_ticket(db, ticket.id)
    assert unchanged.status == tickets.STATUS_OPEN
    assert [m.role for m in tickets.ticket_messages(db, ticket.id)] == ["customer", "bot"]
    assert client.get("/queue").status_code == 200, "still logged in"


def test_another_sessions_token_is_refused(
    client: TestClient, other_client: TestClient, people: dict, ticket: tickets.Ticket
) -> None:
    logged_in(client, "anna")
    logged_in(other_client, "bruno")
    bruno_token = page_token(other_client)
    response = client.post(f"/tickets/{ticket.id}/claim", data={"csrf_token": bruno_token})
    assert response.status_code == 403
