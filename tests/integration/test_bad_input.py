"""Bad input to the real REST channel: a polite reply or a clear 4xx, never a crash.

After every hostile message the same conversation (and another customer's) must still
work, so each test ends by asking a real question.
"""

from __future__ import annotations

import uuid

import httpx
import pytest

from knowledge.store import get_article
from sportello.keys import rasa_token
from sportello.settings import Settings
from tests.databases import open_db
from tests.integration.rest import say, texts

pytestmark = pytest.mark.integration

HOSTILE_MESSAGES = {
    "empty": "",
    "blank": "   \n\t ",
    "huge": "spedizione " * 2000,  # 22,000 characters
    "emoji only": "😀🙏☕️🔥",
    "html and script": "<script>alert('x')</script><b>ciao</b><img src=x onerror=alert(1)>",
    "sql": "'; DROP TABLE articles; -- quanto costa la spedizione?",
    "control characters": "ciao\x00\x01\x02\x1b[31m\u202e\ufeff",
    "lone surrogate escape": "\\ud800 spedizione",
}


def still_answers(settings: Settings, sender: str) -> None:
    expected = get_article(open_db(settings.db_path), "spedizione-costi", "it")
    assert expected is not None
    assert expected.answer in texts(say(settings, sender, "quanto costa la spedizione?"))


@pytest.mark.parametrize("kind", sorted(HOSTILE_MESSAGES))
def test_hostile_message_gets_a_polite_reply(stack: Settings, kind: str) -> None:
    sender = f"hostile-{uuid.uuid4().hex[:8]}"
    messages = say(stack, sender, HOSTILE_MESSAGES[kind])
    reply = texts(messages)
    assert "Traceback" not in reply
    assert "<script>" not in reply
    if kind not in {"empty", "blank"}:
        assert reply.strip(), f"no reply to {kind!r}: {messages}"
    still_answers(stack, sender)


@pytest.mark.parametrize(
    "body",
    [b"{not json", b"", b"\xff\xfe\x00binary", b'{"sender": 5, "message": {"a": 1}}', b"[]"],
)
def test_malformed_rest_payload_gets_a_4xx(stack: Settings, body: bytes) -> None:
    reply = httpx.post(
        f"{stack.rasa_url}/webhooks/rest/webhook",
        content=body,
        headers={"Content-Type": "application/json"},
        timeout=30,
    )
    assert 400 <= reply.status_code < 500, (reply.status_code, reply.text[:300])
    assert "Traceback" not in reply.text
    still_answers(stack, f"after-malformed-{uuid.uuid4().hex[:8]}")


def test_rasa_http_api_refuses_requests_without_the_token(stack: Settings) -> None:
    assert httpx.get(f"{stack.rasa_url}/status", timeout=10).status_code == 401
    assert (
        httpx.get(
            f"{stack.rasa_url}/status", params={"token": rasa_token(stack)}, timeout=10
        ).status_code
        == 200
    )
