"""Size and rate limits on the real stack (issue 20, part 4).

Clients other than this machine are simulated the way they arrive in production: through
a reverse proxy on this machine that appends their address to ``X-Forwarded-For``.
"""

from __future__ import annotations

import time
import uuid

import httpx
import pytest

from sportello.keys import rasa_token
from sportello.settings import Settings
from tests.integration.rest import say

pytestmark = pytest.mark.integration

MEGABYTE = 1024 * 1024


def client_address() -> str:
    """A documentation address (RFC 5737) no other test uses."""
    return f"198.51.100.{uuid.uuid4().int % 250 + 1}"


def rest(stack: Settings, sender: str, message: str, client: str) -> httpx.Response:
    return httpx.post(
        f"{stack.rasa_url}/webhooks/rest/webhook",
        json={"sender": sender, "message": message},
        headers={"X-Forwarded-For": client},
        timeout=60,
    )


def test_a_megabyte_body_is_refused_by_every_channel(stack: Settings) -> None:
    body = b'{"sender": "big", "message": "' + b"x" * MEGABYTE + b'"}'
    headers = {"Content-Type": "application/json"}
    for url in [
        f"{stack.rasa_url}/webhooks/rest/webhook",
        f"{stack.rasa_url}/webhooks/callback/webhook",
        f"{stack.web_url}/",
        f"{stack.console_url}/login",
    ]:
        reply = httpx.post(url, content=body, headers=headers, timeout=30)
        assert reply.status_code == 413, (url, reply.status_code)
    assert say(stack, f"after-big-{uuid.uuid4().hex[:8]}", "ciao")  # Rasa still answers


def test_a_huge_message_is_cut_before_nlu_and_the_tracker(stack: Settings) -> None:
    """60,000 characters fit the body cap; Rasa parses and stores only the first
    SPORTELLO_MAX_MESSAGE_CHARS of them."""
    sender = f"huge-{uuid.uuid4().hex[:8]}"
    started = time.monotonic()
    assert say(stack, sender, "spedizione " + "a" * 60_000) is not None
    elapsed = time.monotonic() - started
    tracker = httpx.get(
        f"{stack.rasa_url}/conversations/{sender}/tracker",
        params={"token": rasa_token(stack)},
        timeout=30,
    ).json()
    [user] = [e for e in tracker["events"] if e["event"] == "user"]
    assert len(user["text"]) == stack.max_message_chars
    assert len(user["parse_data"]["text"]) == stack.max_message_chars
    assert elapsed < 10


def test_new_conversations_are_limited_per_client(stack: Settings) -> None:
    client = client_address()
    allowed = stack.new_conversations_per_hour
    senders = [f"burst-{uuid.uuid4().hex[:8]}" for _ in range(allowed + 1)]
    replies = [rest(stack, sender, "ciao", client) for sender in senders]
    assert [r.status_code for r in replies] == [200] * allowed + [429]
    assert "Troppe nuove conversazioni" in replies[-1].text
    assert "Too many new conversations" in replies[-1].text
    assert rest(stack, senders[0], "grazie", client).status_code == 200  # started: continues
    assert rest(stack, senders[-1], "ciao", client_address()).status_code == 200  # another client


def test_ratings_are_limited_per_client(stack: Settings) -> None:
    client = client_address()
    sender = f"rater-{uuid.uuid4().hex[:8]}"
    rating = '/give_rating{"rating": "5"}'
    codes = [
        rest(stack, sender, rating, client).status_code for _ in range(stack.ratings_per_hour + 1)
    ]
    assert codes == [200] * stack.ratings_per_hour + [429]
