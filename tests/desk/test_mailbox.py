"""The mail outbox: every operator answer and the CSAT question reach a customer who left
an address, once, through a real SMTP server on loopback, whatever the server does."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import sqlite_utils

from customerlog import ratings, schema
from desk import mail_text, mailbox, tickets
from desk.monitor import run_once
from desk.sla import SlaPolicy
from sportello import chatlinks
from sportello.settings import Settings
from tests.databases import open_db
from tests.mail_servers import closed_port, smtp_server

NOW = datetime(2026, 12, 7, 9, 30, tzinfo=timezone.utc)  # a Monday, desk open
POLICY = SlaPolicy()
FROM = "Caffè Aurora <assistenza@aurora.example>"


@pytest.fixture
def db(tmp_path: Path) -> sqlite_utils.Database:
    return open_db(tmp_path / "sportello.db")


def settings_for(tmp_path: Path, url: str | None) -> Settings:
    return Settings(data_dir=tmp_path, smtp_url=url, mail_from=FROM, secret_key="k" * 40)


def ticket_with_email(
    db: sqlite_utils.Database, email: str = "mario@example.com", lang: str = "it"
) -> tickets.Ticket:
    ticket, _ = tickets.open_ticket(
        db, f"conv-{email}", lang=lang, channel="socketio", policy=POLICY, now=NOW
    )
    tickets.set_customer_email(db, ticket.id, email, NOW)
    return tickets.get_ticket(db, ticket.id)


def answer(db: sqlite_utils.Database, ticket_id: int, text: str, minutes: int = 1) -> int:
    message = tickets.answer_ticket(
        db, ticket_id, "luca", text, now=NOW + timedelta(minutes=minutes)
    )
    return message.id


def test_an_answer_is_mailed_once_in_the_customers_language(
    db: sqlite_utils.Database, tmp_path: Path
) -> None:
    ticket = ticket_with_email(db, lang="en")
    answer(db, ticket.id, "Your order left yesterday <b>& arrives tomorrow</b>.")
    with smtp_server() as server:
        settings = settings_for(tmp_path, server.url())
        later = NOW + timedelta(minutes=2)
        assert mailbox.queue_new(db, settings, later) == 1
        assert mailbox.queue_new(db, settings, later) == 0  # queued once
        assert mailbox.send_pending(db, settings, later).sent == 1
        assert mailbox.send_pending(db, settings, later).sent == 0  # sent once
        run_once(db, POLICY, settings, later + timedelta(minutes=5))  # the monitor too
        [mail] = server.wait_for(1)
    message = mail.message
    assert mail.recipients == ["mario@example.com"]
    assert message["Subject"].startswith(f"Caffè Aurora: an answer to your request no. {ticket.id}")
    assert message["Content-Language"] == "en"
    plain = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert "Your order left yesterday <b>& arrives tomorrow</b>." in plain
    assert "Your order left yesterday &lt;b&gt;&amp; arrives tomorrow&lt;/b&gt;." in html
    assert "Caffè Aurora" in plain and "reply to this e-mail" in plain
    [row] = mailbox.ticket_mails(db, ticket.id)
    assert row.status == mailbox.STATUS_SENT and row.message_id == message["Message-ID"]


def test_later_answers_thread_under_the_first(db: sqlite_utils.Database, tmp_path: Path) -> None:
    ticket = ticket_with_email(db)
    answer(db, ticket.id, "Prima risposta.", 1)
    answer(db, ticket.id, "Seconda risposta.", 2)
    with smtp_server() as server:
        settings = settings_for(tmp_path, server.url())
        mailbox.queue_new(db, settings, NOW + timedelta(minutes=3))
        mailbox.send_pending(db, settings, NOW + timedelta(minutes=3))
        first, second = (mail.message for mail in server.wait_for(2))
    assert "Prima risposta." in first.get_body(("plain",)).get_content()
    assert first["In-Reply-To"] is None
    assert second["In-Reply-To"] == first["Message-ID"]
    assert second["References"] == first["Message-ID"]
    assert "Ciao" in first.get_body(("plain",)).get_content()


def test_a_server_that_is_down_loses_nothing_and_sends_once_when_back(
    db: sqlite_utils.Database, tmp_path: Path
) -> None:
    ticket = ticket_with_email(db)
    answer(db, ticket.id, "Il rimborso è partito.")
    down = settings_for(tmp_path, f"smtp://127.0.0.1:{closed_port()}")
    moment = NOW + timedelta(minutes=2)
    mailbox.queue_new(db, down, moment)
    for _ in range(3):
        result = mailbox.send_pending(db, down, moment)
        moment += timedelta(seconds=10)
    [row] = mailbox.ticket_mails(db, ticket.id)
    assert row.status == mailbox.STATUS_PENDING and row.attempts == 1  # waits, no storm
    assert "connection refused" in (row.last_error or "")
    assert result.sent == 0
    with smtp_server() as server:
        up = replace(down, smtp_url=server.url())
        assert mailbox.send_pending(db, up, moment).sent == 0  # its pause is not over
        moment += timedelta(minutes=2)
        assert mailbox.send_pending(db, up, moment).sent == 1
        assert mailbox.send_pending(db, up, moment + timedelta(hours=1)).sent == 0
        assert len(server.wait_for(1)) == 1
    [row] = mailbox.ticket_mails(db, ticket.id)
    assert row.status == mailbox.STATUS_SENT and row.attempts == 2


def test_a_refused_recipient_fails_and_the_operator_sees_why(
    db: sqlite_utils.Database, tmp_path: Path
) -> None:
    ticket = ticket_with_email(db, "nobody@example.com")
    answer(db, ticket.id, "Risposta.")
    with smtp_server() as server:
        server.handler.refuse["nobody@example.com"] = "550 5.1.1 No such user"
        settings = settings_for(tmp_path, server.url())
        mailbox.queue_new(db, settings, NOW + timedelta(minutes=2))
        assert mailbox.send_pending(db, settings, NOW + timedelta(minutes=2)).failed == 1
        assert mailbox.send_pending(db, settings, NOW + timedelta(days=1)).failed == 0
    [row] = mailbox.ticket_mails(db, ticket.id)
    assert row.status == mailbox.STATUS_FAILED and "550 5.1.1 No such user" in row.last_error
    events = [e for e in tickets.ticket_events(db, ticket.id) if e.kind == "email_failed"]
    assert len(events) == 1 and "550" in (events[0].detail or "")


def test_a_malformed_address_is_never_sent_and_says_so(
    db: sqlite_utils.Database, tmp_path: Path
) -> None:
    ticket = ticket_with_email(db, "mario@@example")
    answer(db, ticket.id, "Risposta.")
    with smtp_server() as server:
        settings = settings_for(tmp_path, server.url())
        mailbox.queue_new(db, settings, NOW + timedelta(minutes=2))
        mailbox.send_pending(db, settings, NOW + timedelta(minutes=2))
    assert server.received == []
    [row] = mailbox.ticket_mails(db, ticket.id)
    assert row.status == mailbox.STATUS_FAILED and "malformed" in row.last_error
    assert any(e.kind == "email_failed" for e in tickets.ticket_events(db, ticket.id))


def test_after_the_close_the_csat_question_is_mailed_once(
    db: sqlite_utils.Database, tmp_path: Path
) -> None:
    ticket = ticket_with_email(db)
    answer(db, ticket.id, "Fatto.")
    tickets.close_ticket(db, ticket.id, "luca", now=NOW + timedelta(minutes=3))
    with smtp_server() as server:
        settings = settings_for(tmp_path, server.url())
        for minutes in (4, 5):
            mailbox.queue_new(db, settings, NOW + timedelta(minutes=minutes))
            mailbox.send_pending(db, settings, NOW + timedelta(minutes=minutes))
        answer_mail, csat = (mail.message for mail in server.wait_for(2))
    assert len(server.received) == 2
    assert "com'è andata" in csat["Subject"]
    assert csat["Auto-Submitted"] == "auto-generated"
    assert csat["In-Reply-To"] == answer_mail["Message-ID"]
    body = csat.get_body(("plain",)).get_content()
    assert "da 1 (per niente) a 5 (moltissimo)" in body
    # The chat may still ask it (the customer may come back there); one answer counts.
    assert (
        ratings.request_status(db, schema.RATING_CSAT, schema.TARGET_TICKET, str(ticket.id)) is None
    )


def test_no_csat_mail_when_the_customer_already_rated_in_the_chat(
    db: sqlite_utils.Database, tmp_path: Path
) -> None:
    ticket = ticket_with_email(db)
    tickets.close_ticket(db, ticket.id, "luca", now=NOW + timedelta(minutes=3))
    rater = ratings.Rater(ticket.conversation_id, ticket.conversation_id, "socketio", "it")
    ratings.ask(db, rater, schema.RATING_CSAT, schema.TARGET_TICKET, str(ticket.id), NOW)
    ratings.record(db, rater, schema.RATING_CSAT, 5, schema.TARGET_TICKET, str(ticket.id), NOW)
    with smtp_server() as server:
        settings = settings_for(tmp_path, server.url())
        mailbox.queue_new(db, settings, NOW + timedelta(minutes=4))
        mailbox.send_pending(db, settings, NOW + timedelta(minutes=4))
    assert server.received == []
    [row] = mailbox.ticket_mails(db, ticket.id)
    assert row.status == mailbox.STATUS_CANCELLED


def test_nothing_is_queued_while_mail_is_not_configured(
    db: sqlite_utils.Database, tmp_path: Path
) -> None:
    ticket = ticket_with_email(db)
    answer(db, ticket.id, "Risposta.")
    off = Settings(data_dir=tmp_path)
    assert not off.mail_enabled
    assert mailbox.queue_new(db, off, NOW + timedelta(minutes=2)) == 0
    assert mailbox.send_pending(db, off, NOW + timedelta(minutes=2)).sent == 0
    assert mailbox.ticket_mails(db, ticket.id) == []


def test_a_ticket_without_an_address_gets_no_mail(
    db: sqlite_utils.Database, tmp_path: Path
) -> None:
    ticket, _ = tickets.open_ticket(db, "conv-nomail", lang="it", policy=POLICY, now=NOW)
    answer(db, ticket.id, "Risposta.")
    with smtp_server() as server:
        settings = settings_for(tmp_path, server.url())
        assert mailbox.queue_new(db, settings, NOW + timedelta(minutes=2)) == 0


def test_a_sender_that_died_mid_send_is_retried_with_the_same_message_id(
    db: sqlite_utils.Database, tmp_path: Path
) -> None:
    ticket = ticket_with_email(db)
    answer(db, ticket.id, "Risposta.")
    with smtp_server() as server:
        settings = settings_for(tmp_path, server.url())
        mailbox.queue_new(db, settings, NOW + timedelta(minutes=2))
        claimed = mailbox._claim(db, NOW + timedelta(minutes=2))  # then the process died
        assert claimed is not None
        assert mailbox.send_pending(db, settings, NOW + timedelta(minutes=3)).sent == 0
        assert mailbox.send_pending(db, settings, NOW + timedelta(minutes=8)).sent == 1
        [mail] = server.wait_for(1)
    assert mail.message["Message-ID"] == claimed.message_id


def test_subject_references_are_signed(tmp_path: Path) -> None:
    key = b"k" * 40
    ref = mail_text.reference(42, key)
    assert mail_text.ticket_from_subject(f"Re: risposta [#{ref}]", key) == 42
    assert mail_text.ticket_from_subject("Re: risposta [#42-00000000]", key) is None
    assert mail_text.ticket_from_subject(f"Re: [#{ref}]", b"other" * 8) is None


def test_the_retention_period_deletes_the_mails_of_old_closed_tickets(
    db: sqlite_utils.Database, tmp_path: Path
) -> None:
    old = ticket_with_email(db, "old@example.com")
    recent = ticket_with_email(db, "recent@example.com")
    settings = settings_for(tmp_path, "smtp://127.0.0.1:25")
    for ticket in (old, recent):
        answer(db, ticket.id, "Risposta.")
    mailbox.queue_new(db, settings, NOW + timedelta(minutes=2))
    tickets.close_ticket(db, old.id, "luca", now=NOW + timedelta(minutes=3))
    assert mailbox.purge(db, 30, NOW + timedelta(days=29)) == 0
    assert mailbox.purge(db, 30, NOW + timedelta(days=31)) == 1
    assert mailbox.ticket_mails(db, old.id) == []
    assert len(mailbox.ticket_mails(db, recent.id)) == 1


def web_ticket_with_email(db: sqlite_utils.Database, settings: Settings, lang: str) -> int:
    """A web-chat ticket (a signed session id, as the socket.io channel issues) with an
    address and one answer."""
    session = chatlinks.new_session_id(chatlinks.session_key(settings))
    ticket, _ = tickets.open_ticket(
        db, session, lang=lang, channel="socketio", policy=POLICY, now=NOW
    )
    tickets.set_customer_email(db, ticket.id, "mario@example.com", NOW)
    answer(db, ticket.id, "Il pacco arriva domani.")
    return ticket.id


def sent_answer(db: sqlite_utils.Database, settings: Settings) -> Any:
    with smtp_server() as server:
        settings = replace(settings, smtp_url=server.url())
        mailbox.queue_new(db, settings, NOW + timedelta(minutes=2))
        mailbox.send_pending(db, settings, NOW + timedelta(minutes=2))
        [mail] = server.wait_for(1)
    return mail.message


@pytest.mark.parametrize(
    ("lang", "label"),
    [
        ("it", "Continua la conversazione in chat (il link vale 7 giorni):"),
        ("en", "Continue the conversation in the chat (the link works for 7 days):"),
    ],
)
def test_a_web_customers_answer_mail_links_back_to_the_conversation(
    db: sqlite_utils.Database, tmp_path: Path, lang: str, label: str
) -> None:
    settings = replace(settings_for(tmp_path, None), public_chat_url="https://chat.example.it")
    ticket_id = web_ticket_with_email(db, settings, lang)
    message = sent_answer(db, settings)
    plain = message.get_body(("plain",)).get_content().replace("\r\n", "\n")
    html = message.get_body(("html",)).get_content()
    [url] = re.findall(r"https://chat\.example\.it/\S+", plain)
    assert f"{label}\n{url}" in plain
    assert url.startswith(f"https://chat.example.it/?lang={lang}#resume=")
    assert f'<a href="{url}">' in html
    # The link comes after the answer and before the signature.
    assert plain.index("Il pacco arriva domani.") < plain.index(url) < plain.index("Caffè Aurora ·")
    token = url.split("#resume=")[1]
    key = chatlinks.session_key(settings)
    sent_at = NOW + timedelta(minutes=2)
    assert chatlinks.read_resume_token(token, key, sent_at + timedelta(days=6)) == ticket_id
    with pytest.raises(chatlinks.ExpiredToken):
        chatlinks.read_resume_token(token, key, sent_at + timedelta(days=7))


def test_no_link_without_a_public_chat_address_or_for_other_channels(
    db: sqlite_utils.Database, tmp_path: Path
) -> None:
    settings = settings_for(tmp_path, None)
    web_ticket_with_email(db, settings, "it")
    plain = sent_answer(db, settings).get_body(("plain",)).get_content()
    assert "Continua la conversazione" not in plain and "#resume=" not in plain

    public = replace(settings, public_chat_url="https://chat.example.it")
    rest = ticket_with_email(db, "rest@example.com")  # conversation "conv-…": not the web chat
    answer(db, rest.id, "Risposta via REST.")
    with smtp_server() as server:
        sending = replace(public, smtp_url=server.url())
        mailbox.queue_new(db, sending, NOW + timedelta(minutes=3))
        mailbox.send_pending(db, sending, NOW + timedelta(minutes=3))
        mails = server.wait_for(1)
    [mail] = [m for m in mails if m.recipients == ["rest@example.com"]]
    assert "#resume=" not in mail.message.get_body(("plain",)).get_content()


def test_mail_test_says_whether_answer_mails_carry_the_link(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, None)
    assert "set SPORTELLO_PUBLIC_CHAT_URL" in mailbox.resume_links_status(settings)
    public = replace(settings, public_chat_url="https://chat.example.it")
    assert "https://chat.example.it/ (valid 7 days)" in mailbox.resume_links_status(public)
    off = replace(public, webchat_keep_days=0)
    assert "SPORTELLO_WEBCHAT_KEEP_DAYS is 0" in mailbox.resume_links_status(off)
