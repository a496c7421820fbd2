"""The operator's answer reaches a customer who left an address by e-mail, and the
customer's reply by e-mail reaches the ticket, on the real stack.

Rasa, the action server, the console and the monitor run as ``sportello run`` starts
them (tests/integration/conftest.py), with the company's SMTP server (aiosmtpd) and
mailbox (dovecot) on loopback. The customer talks over REST and leaves an address; the
operator answers through the console's forms; the monitor mails the answer; the
customer's reply is appended to the mailbox and the monitor puts it on the ticket;
strangers and machines writing to the same thread change nothing and get nothing back.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from email.message import EmailMessage
from typing import TypeVar

import pytest

from customerlog import schema
from desk import tickets
from desk.users import create_user
from sportello.settings import Settings
from tests.databases import open_db
from tests.integration.conftest import ALERT_OPERATORS, ALERT_SUPERVISORS
from tests.integration.rest import say, texts
from tests.integration.test_console_to_customer import csrf_of, logged_in
from tests.mail_servers import REQUIRE_IMAP_ENV, ImapServer, Received, SmtpServer

pytestmark = pytest.mark.integration

T = TypeVar("T")
# The monitor passes every 10 s; a mail or a reply needs at most two passes.
WAIT_S = 60.0


def eventually(check: Callable[[], T | None], what: str, timeout: float = WAIT_S) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"no {what} after {timeout:.0f} s"
        time.sleep(0.5)


def mails_to(server: SmtpServer, address: str) -> list[Received]:
    return [mail for mail in server.received if address in mail.recipients]


def reply_to(mail: Received, sender: str, text: str, message_id: str, **headers: str) -> bytes:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = "assistenza@aurora.example"
    message["Subject"] = "Re: " + str(mail.message["Subject"])
    message["Message-ID"] = message_id
    message["In-Reply-To"] = str(mail.message["Message-ID"])
    message["References"] = str(mail.message["Message-ID"])
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    quoted = "\n".join(
        "> " + line for line in mail.message.get_body(("plain",)).get_content().splitlines()
    )
    message.set_content(f"{text}\n\nIl giorno lun ha scritto:\n{quoted}\n")
    return message.as_bytes()


def test_answer_by_mail_and_reply_by_mail_on_the_real_stack(
    stack: Settings, mail_server: SmtpServer, imap_server: ImapServer | None
) -> None:
    if imap_server is None:
        message = "Debian's dovecot-imapd is needed (scripts/setup.sh --browser installs it)"
        if os.environ.get(REQUIRE_IMAP_ENV) == "1":
            pytest.fail(message)
        pytest.skip(message)
    db = open_db(stack.db_path)
    tag = uuid.uuid4().hex[:8]
    customer, address = f"mail-{tag}", f"mario.{tag}@example.com"
    username = f"op{tag[:6]}"
    create_user(db, username, "integration-password-1", "operator")

    say(stack, customer, "voglio parlare con una persona")
    ticket = tickets.get_open_ticket(db, customer)
    assert ticket is not None
    told = texts(say(stack, customer, f"potete scrivermi a {address}"))
    assert f"ti risponderemo anche all'indirizzo {address}" in told

    console = logged_in(stack, username, "integration-password-1")
    token = csrf_of(console.get(f"/tickets/{ticket.id}"))
    answer = "Buongiorno, sono Luca: il suo ordine è partito ieri e arriva domani."
    sent = console.post(f"/tickets/{ticket.id}/answer", data={"csrf_token": token, "text": answer})
    assert sent.status_code == 303

    [mail] = eventually(lambda: mails_to(mail_server, address), "answer mail")
    message = mail.message
    assert f"richiesta n. {ticket.id}" in message["Subject"]
    assert "Caffè Aurora" in message["From"] and message["Message-ID"]
    assert answer in message.get_body(("plain",)).get_content()
    assert answer in message.get_body(("html",)).get_content()
    # The chat gets it too (REST: with the customer's next message).
    assert answer in texts(say(stack, customer, "grazie"))

    # A stranger forging the thread, and a vacation responder: nothing added, nothing sent.
    imap_server.append(
        reply_to(mail, "mallory@evil.example", "Spedite a Via Falsa 1", f"<f-{tag}@evil.example>")
    )
    imap_server.append(
        reply_to(
            mail,
            address,
            "Sono in ferie.",
            f"<ooo-{tag}@example.com>",
            Auto_Submitted="auto-replied",
        )
    )
    reply = "Grazie, ma il pacco non è ancora arrivato. Potete controllare?"
    imap_server.append(reply_to(mail, f"Mario <{address}>", reply, f"<r-{tag}@example.com>"))

    def on_ticket() -> list[str] | None:
        found = [m.text for m in tickets.ticket_messages(db, ticket.id) if m.author == "e-mail"]
        return found or None

    assert eventually(on_ticket, "reply on the ticket") == [reply]
    assert imap_server.unseen() == 0
    page = console.get(f"/tickets/{ticket.id}").text
    assert reply in page and "per e-mail" in page
    assert "da un altro indirizzo: non aggiunta" in page and "risposta automatica" in page
    assert "Via Falsa" not in page and "Sono in ferie" not in page
    current = tickets.get_ticket(db, ticket.id)
    assert current.first_response_due == ticket.first_response_due
    assert current.resolution_due == ticket.resolution_due

    # Closing sends the satisfaction question; a reply with a number is the CSAT.
    closed = console.post(f"/tickets/{ticket.id}/close", data={"csrf_token": token})
    assert closed.status_code == 303
    csat = eventually(lambda: mails_to(mail_server, address)[1:], "CSAT mail")[0]
    assert "com'è andata" in csat.message["Subject"]
    assert csat.message["In-Reply-To"] == f"<r-{tag}@example.com>"
    imap_server.append(reply_to(csat, address, "4", f"<c-{tag}@example.com>"))

    def rated() -> list[int] | None:
        rows = db.execute(
            f"SELECT value FROM {schema.RATINGS} WHERE kind = ? AND target_id = ?",
            [schema.RATING_CSAT, str(ticket.id)],
        ).fetchall()
        return [row[0] for row in rows] or None

    assert eventually(rated, "CSAT from the mail") == [4]
    time.sleep(12)  # one more monitor pass: still two mails, no reply to the machines
    assert len(mails_to(mail_server, address)) == 2
    assert not [m for m in mail_server.received if "evil.example" in " ".join(m.recipients)]


def test_a_mistyped_or_refused_address_is_told_and_the_chat_still_gets_the_answer(
    stack: Settings, mail_server: SmtpServer
) -> None:
    db = open_db(stack.db_path)
    tag = uuid.uuid4().hex[:8]
    customer, ghost = f"mail-bad-{tag}", f"ghost.{tag}@example.com"
    username = f"op{tag[:6]}"
    create_user(db, username, "integration-password-1", "operator")
    mail_server.handler.refuse[ghost] = "550 5.1.1 No such user here"

    say(stack, customer, "voglio parlare con una persona")
    ticket = tickets.get_open_ticket(db, customer)
    assert ticket is not None
    assert "non mi sembra corretto" in texts(say(stack, customer, f"mario.{tag}@@example.it"))
    assert tickets.get_ticket(db, ticket.id).customer_email is None
    assert ghost in texts(say(stack, customer, f"allora scrivete a {ghost}"))

    console = logged_in(stack, username, "integration-password-1")
    token = csrf_of(console.get(f"/tickets/{ticket.id}"))
    answer = "Ecco il numero di tracciamento: AUR-778899."
    console.post(f"/tickets/{ticket.id}/answer", data={"csrf_token": token, "text": answer})

    def refused_on_page() -> str | None:
        page = console.get(f"/tickets/{ticket.id}").text
        return page if "550 5.1.1 No such user here" in page else None

    page = eventually(refused_on_page, "refusal on the ticket page")
    assert "non inviata" in page
    assert answer in texts(say(stack, customer, "ci siete?"))  # the chat still has it
    time.sleep(12)  # another monitor pass: a refused address is not tried again
    assert mails_to(mail_server, ghost) == []
    events = [e for e in tickets.ticket_events(db, ticket.id) if e.kind == "email_failed"]
    assert len(events) == 1


def test_a_breach_sends_one_alert_to_the_supervisors(
    stack: Settings, mail_server: SmtpServer
) -> None:
    db = open_db(stack.db_path)
    long_ago = datetime.now(timezone.utc) - timedelta(days=3)
    ticket, _ = tickets.open_ticket(
        db, f"alert-{uuid.uuid4().hex[:8]}", lang="it", priority="urgent", now=long_ago
    )

    def alerts_for(address: str) -> list[str]:
        return [
            m.message.get_body(("plain",)).get_content()
            for m in mail_server.received
            if address in m.recipients
            and f"#{ticket.id}:" in m.message.get_body(("plain",)).get_content()
        ]

    [breach] = eventually(lambda: alerts_for(ALERT_SUPERVISORS), "breach alert", timeout=150)
    assert f"#{ticket.id}: scadenza superata (prima risposta)" in breach
    assert f"#{ticket.id}: deadline breached (first response)" in breach
    [opened] = eventually(lambda: alerts_for(ALERT_OPERATORS), "urgent-ticket alert")
    assert f"#{ticket.id}: nuova richiesta urgente" in opened
    time.sleep(25)  # more monitor passes: still one mail each
    assert len(alerts_for(ALERT_SUPERVISORS)) == 1 and len(alerts_for(ALERT_OPERATORS)) == 1
