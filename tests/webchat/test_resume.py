"""``POST /conversation``: a returning web customer gets their ticket's state and the
operators' answers, for their own conversation only (webchat/conversation.py)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from customerlog import turns
from desk import tickets
from sportello import chatlinks
from sportello.settings import Settings
from tests.databases import open_db
from webchat.app import create_app
from webchat.conversation import conversation_view

NOW = datetime.now(timezone.utc)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path, public_chat_url="https://chat.example.it")


@pytest.fixture
def client(settings: Settings, tmp_path: Path) -> Iterator[TestClient]:
    """The chat page as it runs: started (its start-up migrates the database)."""
    bundle = tmp_path / "index.js"
    bundle.write_text("window.WebChat = {default: function () {}};\n", encoding="utf-8")
    with TestClient(create_app(settings, widget_path=bundle)) as started:
        yield started


def web_ticket(
    settings: Settings, answers: list[str], *, now: datetime = NOW, lang: str = "it"
) -> tuple[str, tickets.Ticket]:
    """A web-chat conversation escalated at ``now`` and answered (delivered) at once."""
    db = open_db(settings.db_path)
    session = chatlinks.new_session_id(chatlinks.session_key(settings))
    ticket, _ = tickets.open_ticket(db, session, lang=lang, channel="socketio", now=now)
    for text in answers:
        answer = tickets.answer_ticket(db, ticket.id, "luca", text, now=now)
        tickets.mark_delivered(db, [answer.id], now)
    return session, tickets.get_ticket(db, ticket.id)


def test_the_customer_gets_the_answers_given_while_away_and_the_state(
    client: TestClient, settings: Settings
) -> None:
    session, ticket = web_ticket(settings, ["Il pacco parte oggi.", "Arriva domani."])
    reply = client.post("/conversation", json={"session_id": session, "lang": "it"})
    assert reply.status_code == 200
    assert reply.headers["cache-control"] == "no-store"
    body = reply.json()
    assert body["session_id"] == session
    assert [a["text"] for a in body["answers"]] == ["Il pacco parte oggi.", "Arriva domani."]
    assert body["ticket"]["id"] == ticket.id and body["ticket"]["state"] == "answered"
    assert body["ticket"]["text"] == f"Un operatore ha risposto alla tua richiesta n. {ticket.id}."
    assert "luca" not in reply.text  # the operator's name stays in the console
    expires = datetime.fromisoformat(body["expires_at"])
    assert timedelta(days=6, hours=23) < expires - NOW <= timedelta(days=7)


def test_an_answer_not_delivered_yet_is_not_shown(client: TestClient, settings: Settings) -> None:
    session, ticket = web_ticket(settings, [])
    db = open_db(settings.db_path)
    tickets.answer_ticket(db, ticket.id, "luca", "Bozza in consegna")
    body = client.post("/conversation", json={"session_id": session, "lang": "en"}).json()
    assert body["answers"] == []
    assert body["ticket"]["text"] == f"Your request no. {ticket.id} is waiting for an operator."


def test_a_closed_ticket_says_so(client: TestClient, settings: Settings) -> None:
    session, ticket = web_ticket(settings, ["Fatto: rimborso emesso."])
    tickets.close_ticket(open_db(settings.db_path), ticket.id, "luca")
    body = client.post("/conversation", json={"session_id": session}).json()
    assert body["ticket"]["state"] == "closed"
    assert [a["text"] for a in body["answers"]] == ["Fatto: rimborso emesso."]


def test_a_conversation_without_a_ticket_has_nothing_to_show(
    client: TestClient, settings: Settings
) -> None:
    session = chatlinks.new_session_id(chatlinks.session_key(settings))
    body = client.post("/conversation", json={"session_id": session}).json()
    assert (body["ticket"], body["answers"]) == (None, [])


def bot_turn(settings: Settings, session: str, at: datetime) -> None:
    turns.record_turn(
        open_db(settings.db_path), conversation_id=session, at=at.isoformat(), kind="question"
    )


def test_a_chat_with_the_bot_keeps_the_conversation_alive(
    client: TestClient, settings: Settings
) -> None:
    """Kept N days after the last message, whether it went to the bot or the desk."""
    session, _ = web_ticket(settings, ["Risposta."], now=NOW - timedelta(days=9))
    bot_turn(settings, session, NOW - timedelta(days=2))
    reply = client.post("/conversation", json={"session_id": session})
    assert reply.status_code == 200 and reply.json()["ticket"]["state"] == "answered"
    quiet = chatlinks.new_session_id(chatlinks.session_key(settings))
    bot_turn(settings, quiet, NOW - timedelta(days=8))
    assert client.post("/conversation", json={"session_id": quiet}).status_code == 410


def test_another_customers_conversation_is_never_shown(
    client: TestClient, settings: Settings
) -> None:
    mine, _ = web_ticket(settings, ["Risposta per me."])
    theirs, _ = web_ticket(settings, ["Il tuo IBAN IT60X0542811101000000123456 è corretto."])
    reply = client.post("/conversation", json={"session_id": mine})
    assert "Risposta per me." in reply.text
    assert "IBAN" not in reply.text and theirs not in reply.text


@pytest.mark.parametrize(
    "forged",
    [
        "conv-42",  # another channel's conversation id
        "0" * 64,  # the right shape, no signature
        "rest-customer-" + "a" * 50,
    ],
)
def test_a_forged_session_id_gets_403(client: TestClient, settings: Settings, forged: str) -> None:
    db = open_db(settings.db_path)
    tickets.open_ticket(db, forged, lang="it", channel="socketio")
    reply = client.post("/conversation", json={"session_id": forged})
    assert reply.status_code == 403
    assert "answers" not in reply.json()


def test_a_session_id_signed_by_another_server_gets_403(
    client: TestClient, settings: Settings
) -> None:
    other = chatlinks.new_session_id(b"x" * 43)
    assert client.post("/conversation", json={"session_id": other}).status_code == 403


def test_a_conversation_silent_for_longer_than_the_keep_days_gets_410(
    client: TestClient, settings: Settings
) -> None:
    session, _ = web_ticket(settings, ["Vecchia risposta."], now=NOW - timedelta(days=8))
    reply = client.post("/conversation", json={"session_id": session})
    assert reply.status_code == 410
    assert "Vecchia risposta" not in reply.text


def test_the_mail_link_opens_its_conversation(client: TestClient, settings: Settings) -> None:
    session, ticket = web_ticket(settings, ["Ecco il tracciamento: AUR-1."])
    token = chatlinks.resume_token(
        ticket.id, NOW + timedelta(days=7), chatlinks.session_key(settings)
    )
    body = client.post("/conversation", json={"resume": token, "lang": "en"}).json()
    assert body["session_id"] == session
    assert [a["text"] for a in body["answers"]] == ["Ecco il tracciamento: AUR-1."]


def test_a_mail_link_keeps_an_old_conversation_for_the_keep_days_from_now(
    settings: Settings,
) -> None:
    """An answer mail read late still opens the chat; from then on the browser keeps it
    as long as the setting says."""
    _, ticket = web_ticket(settings, ["Risposta."], now=NOW - timedelta(days=6))
    key = chatlinks.session_key(settings)
    token = chatlinks.resume_token(ticket.id, NOW + timedelta(days=1), key)
    reply = conversation_view(open_db(settings.db_path), settings, {"resume": token}, NOW)
    assert reply.status == 200
    expires = datetime.fromisoformat(reply.body["expires_at"])
    assert expires >= NOW.replace(microsecond=0) + timedelta(days=7)


def test_forged_and_expired_links_get_403_and_410(client: TestClient, settings: Settings) -> None:
    _, ticket = web_ticket(settings, ["Segreto."])
    key = chatlinks.session_key(settings)
    expired = chatlinks.resume_token(ticket.id, NOW - timedelta(seconds=1), key)
    reply = client.post("/conversation", json={"resume": expired})
    assert reply.status_code == 410 and "Segreto" not in reply.text
    forged = chatlinks.resume_token(ticket.id, NOW + timedelta(days=7), b"y" * 43)
    reply = client.post("/conversation", json={"resume": forged})
    assert reply.status_code == 403 and "Segreto" not in reply.text
    guessed = f"{ticket.id}.{int((NOW + timedelta(days=1)).timestamp())}.{'a' * 32}"
    assert client.post("/conversation", json={"resume": guessed}).status_code == 403


def test_a_link_to_an_erased_or_non_web_ticket_gets_410(
    client: TestClient, settings: Settings
) -> None:
    db = open_db(settings.db_path)
    rest, _ = tickets.open_ticket(db, "rest-customer-7", lang="it", channel="rest")
    key = chatlinks.session_key(settings)
    for ticket_id in (rest.id, 999_999):
        token = chatlinks.resume_token(ticket_id, NOW + timedelta(days=7), key)
        assert client.post("/conversation", json={"resume": token}).status_code == 410


def test_with_resuming_off_nothing_is_returned(settings: Settings) -> None:
    off = replace(settings, webchat_keep_days=0)
    session, _ = web_ticket(off, ["Risposta."])
    reply = conversation_view(open_db(off.db_path), off, {"session_id": session}, NOW)
    assert reply.status == 410


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[1, 2]",
        b"{}",
        b'{"session_id": 42}',
        b'{"resume": null, "session_id": null}',
        b'{"resume": "1.2.x", "session_id": "y"}',
        b'{"session_id": ["a"]}',
        ('{"session_id": "%s"}' % ("a" * 500)).encode(),
    ],
)
def test_bad_input_gets_400(client: TestClient, body: bytes) -> None:
    reply = client.post("/conversation", content=body, headers={"Content-Type": "application/json"})
    assert reply.status_code == 400
    assert "Bad request" in reply.json()["error"]


@pytest.mark.parametrize("lang", [["en"], {"x": 1}, 7, "de", None])
def test_an_odd_language_falls_back_to_the_default(
    client: TestClient, settings: Settings, lang: object
) -> None:
    session, _ = web_ticket(settings, [])
    reply = client.post("/conversation", json={"session_id": session, "lang": lang})
    assert reply.status_code == 200
    assert reply.json()["ticket"]["text"].startswith("La tua richiesta n.")


def test_only_post(client: TestClient) -> None:
    assert client.get("/conversation").status_code == 405
