"""`sportello mail test|outbox`: a real SMTP server on loopback, and clear failures."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cli.main import main
from sportello.settings import get_settings
from tests.mail_servers import closed_port, smtp_server


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    monkeypatch.setenv("SPORTELLO_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("SPORTELLO_MAIL_FROM", "Caffè Aurora <assistenza@aurora.example>")
    get_settings.cache_clear()
    yield monkeypatch
    get_settings.cache_clear()


def test_mail_test_sends_a_test_mail(
    env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with smtp_server() as server:
        env.setenv("SPORTELLO_SMTP_URL", server.url())
        get_settings.cache_clear()
        assert main(["mail", "test", "anna@example.com", "--lang", "en"]) == 0
        [mail] = server.wait_for(1)
    assert mail.recipients == ["anna@example.com"]
    assert mail.message["Subject"] == "Caffè Aurora: Sportello test e-mail"
    out = capsys.readouterr().out
    assert "sent / inviata: anna@example.com <" in out
    # Whether answer mails can link back to the web chat, and what to set if not.
    assert "answer mails carry no link to continue the chat: set SPORTELLO_PUBLIC_CHAT_URL" in out


def test_mail_test_names_the_chat_address_answer_mails_link_to(
    env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    env.setenv("SPORTELLO_PUBLIC_CHAT_URL", "https://chat.example.it")
    with smtp_server() as server:
        env.setenv("SPORTELLO_SMTP_URL", server.url())
        get_settings.cache_clear()
        assert main(["mail", "test", "anna@example.com"]) == 0
        server.wait_for(1)
    assert (
        "answer mails link back to the chat at https://chat.example.it/" in capsys.readouterr().out
    )


@pytest.mark.parametrize(
    ("setup", "expected"),
    [
        ("unset", "e-mail non configurata: imposta SPORTELLO_SMTP_URL"),
        ("down", "connection refused by / connessione rifiutata da 127.0.0.1"),
        ("bad-url", "must start with smtp:// or smtps://"),
    ],
)
def test_mail_test_says_what_failed(
    env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], setup: str, expected: str
) -> None:
    if setup == "down":
        env.setenv("SPORTELLO_SMTP_URL", f"smtp://127.0.0.1:{closed_port()}")
    elif setup == "bad-url":
        env.setenv("SPORTELLO_SMTP_URL", "http://mail.example.com")
    get_settings.cache_clear()
    assert main(["mail", "test", "anna@example.com"]) == 1
    err = capsys.readouterr().err
    assert "test mail not sent / e-mail di prova non inviata" in err and expected in err
    assert "Traceback" not in err


def test_mail_test_refuses_a_malformed_or_refused_address(
    env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with smtp_server() as server:
        server.handler.refuse["ghost@example.com"] = "550 5.1.1 No such user"
        env.setenv("SPORTELLO_SMTP_URL", server.url())
        get_settings.cache_clear()
        assert main(["mail", "test", "not-an-address"]) == 1
        assert "indirizzo non valido" in capsys.readouterr().err
        assert main(["mail", "test", "ghost@example.com"]) == 1
        assert "recipient refused / destinatario rifiutato: 550" in capsys.readouterr().err
    assert server.received == []


def test_mail_outbox_lists_json(
    env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["mail", "outbox", "--json"]) == 0
    assert capsys.readouterr().out.strip() == "[]"
