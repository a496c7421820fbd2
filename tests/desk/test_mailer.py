"""Sending one mail through a real SMTP server on loopback, and naming each failure."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest

from desk import mail_text, mailer
from tests.mail_servers import closed_port, silent_server, smtp_server

NOW = datetime(2026, 12, 5, 10, tzinfo=timezone.utc)
SENDER = "Caffè Aurora <assistenza@aurora.example>"


def sample_mail() -> object:
    return mail_text.test_mail(
        sender=SENDER, recipient="mario@example.com", company="Caffè Aurora", lang="it", when=NOW
    )


def test_smtp_urls_are_read_with_their_security() -> None:
    plain = mailer.parse_smtp_url("smtp://relay.local:25")
    assert (plain.host, plain.port, plain.implicit_tls, plain.starttls) == (
        "relay.local", 25, False, False,
    )  # fmt: skip
    submission = mailer.parse_smtp_url("smtp://user%40x.it:p%3Ass@mail.x.it")
    assert submission.port == 587 and submission.starttls
    assert (submission.username, submission.password) == ("user@x.it", "p:ss")
    implicit = mailer.parse_smtp_url("smtps://u:p@mail.x.it")
    assert implicit.port == 465 and implicit.implicit_tls and not implicit.starttls
    for bad in ("http://mail.x.it", "smtp://", "smtp://host:notaport"):
        with pytest.raises(mailer.MailConfigError):
            mailer.parse_smtp_url(bad)


@pytest.mark.parametrize(
    "text",
    ["", "mario", "mario@", "@example.com", "mario@example", "a b@example.com",
     "mario@@example.com", "mario@example.com\r\nBcc: x@y.z", "x" * 250 + "@example.com",
     "Mario <mario@example.com>"],
)  # fmt: skip
def test_malformed_addresses_are_refused(text: str) -> None:
    assert mailer.valid_address(text) is None


def test_well_formed_addresses_pass() -> None:
    assert (
        mailer.valid_address(" mario.rossi+shop@example.co.uk ") == "mario.rossi+shop@example.co.uk"
    )


def test_a_mail_reaches_a_plain_loopback_server_as_text_and_html() -> None:
    with smtp_server() as server:
        mailer.send(server.url(), sample_mail())
        [mail] = server.wait_for(1)
    assert mail.recipients == ["mario@example.com"]
    message = mail.message
    assert message.get_content_type() == "multipart/alternative"
    plain = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert "e-mail di prova" in plain and "e-mail di prova" in html
    assert message["Message-ID"].startswith("<") and message["Message-ID"].endswith(
        "@aurora.example>"
    )


def test_starttls_with_login(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with smtp_server(users={"desk": "s3cret"}, tls="starttls", cert_dir=tmp_path) as server:
        monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "cert.pem"))
        mailer.send(server.url("smtp", "desk", "s3cret"), sample_mail())
        assert len(server.wait_for(1)) == 1
        with pytest.raises(mailer.MailTemporaryError, match="login refused / accesso rifiutato"):
            mailer.send(server.url("smtp", "desk", "wrong"), sample_mail())
    assert len(server.received) == 1


def test_an_untrusted_certificate_is_a_tls_failure(tmp_path: Path) -> None:
    with (
        smtp_server(users={"desk": "s3cret"}, tls="starttls", cert_dir=tmp_path) as server,
        pytest.raises(mailer.MailTemporaryError, match="TLS failed / TLS non riuscito"),
    ):
        mailer.send(server.url("smtp", "desk", "s3cret"), sample_mail())
    assert server.received == []


def test_implicit_tls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with smtp_server(users={"desk": "s3cret"}, tls="implicit", cert_dir=tmp_path) as server:
        monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "cert.pem"))
        mailer.send(server.url("smtps", "desk", "s3cret"), sample_mail())
        assert len(server.wait_for(1)) == 1


def test_credentials_are_never_sent_without_tls() -> None:
    with (
        smtp_server(users={"desk": "s3cret"}) as server,
        pytest.raises(mailer.MailTemporaryError, match="STARTTLS"),
    ):
        mailer.send(server.url("smtp", "desk", "s3cret"), sample_mail())


def test_a_server_that_is_down_is_a_temporary_failure() -> None:
    with pytest.raises(mailer.MailTemporaryError, match="connection refused"):
        mailer.send(f"smtp://127.0.0.1:{closed_port()}", sample_mail())


def test_a_server_that_never_answers_times_out() -> None:
    with silent_server() as port, pytest.raises(mailer.MailTemporaryError, match="no answer"):
        mailer.send(f"smtp://127.0.0.1:{port}", sample_mail(), timeout=0.5)


def test_a_refused_recipient_is_permanent_with_5xx_and_temporary_with_4xx() -> None:
    with smtp_server() as server:
        server.handler.refuse["mario@example.com"] = "550 5.1.1 No such user"
        with pytest.raises(mailer.MailPermanentError, match=r"550 5\.1\.1 No such user"):
            mailer.send(server.url(), sample_mail())
        server.handler.refuse["mario@example.com"] = "452 4.2.2 Mailbox full"
        with pytest.raises(mailer.MailTemporaryError, match="452"):
            mailer.send(server.url(), sample_mail())
    assert server.received == []
