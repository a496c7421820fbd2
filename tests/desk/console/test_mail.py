"""The ticket page shows operators what e-mail did: mails sent, waiting or failed (and
why), replies added or refused, and which customer messages came by e-mail."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

import sqlite_utils
from fastapi.testclient import TestClient

from desk import mail_inbound, mailbox, tickets, users
from desk.console.app import create_app
from sportello.settings import Settings
from tests.desk.console.conftest import logged_in
from tests.mail_servers import closed_port, smtp_server

NOW = datetime(2026, 11, 23, 9, 5, tzinfo=timezone.utc)


def test_the_ticket_page_shows_the_mails_and_the_replies(
    settings: Settings,
    db: sqlite_utils.Database,
    ticket: tickets.Ticket,
    people: dict[str, users.User],
) -> None:
    tickets.set_customer_email(db, ticket.id, "mario@example.com", NOW)
    tickets.answer_ticket(db, ticket.id, "anna", "Rispediamo oggi.", now=NOW)
    tickets.answer_ticket(db, ticket.id, "anna", "Ecco il tracking.", now=NOW)
    with smtp_server() as server:
        mail_on = replace(settings, smtp_url=server.url(), mail_from="assistenza@aurora.example")
        mailbox.queue_new(db, mail_on, NOW)
        mailbox.send_pending(db, mail_on, NOW, limit=1)
        sent = mailbox.ticket_mails(db, ticket.id)[0]
    down = replace(mail_on, smtp_url=f"smtp://127.0.0.1:{closed_port()}")
    mailbox.send_pending(db, down, NOW)
    reply = (
        f"From: mario@example.com\r\nTo: assistenza@aurora.example\r\nSubject: Re\r\n"
        f"Message-ID: <r1@example.com>\r\nIn-Reply-To: {sent.message_id}\r\n\r\n"
        "Grazie <b>mille</b>!\r\n"
    ).encode()
    mail_inbound.handle(db, mail_on, reply, len(reply), NOW + timedelta(minutes=1))
    forged = reply.replace(b"mario@example.com", b"mallory@evil.example").replace(b"r1@", b"r2@")
    mail_inbound.handle(db, mail_on, forged, len(forged), NOW + timedelta(minutes=2))

    client = logged_in(
        TestClient(create_app(mail_on, failure_delay=0), follow_redirects=False), "anna"
    )
    page = client.get(f"/tickets/{ticket.id}").text
    assert "E-mail con il cliente" in page and "mario@example.com" in page
    assert "inviata" in page and "in attesa di invio" in page
    assert "connection refused by / connessione rifiutata da 127.0.0.1" in page
    assert "aggiunta alla richiesta" in page
    assert "da un altro indirizzo: non aggiunta" in page and "mallory@evil.example" in page
    assert "✉ per e-mail" in page
    assert "Grazie &lt;b&gt;mille&lt;/b&gt;!" in page  # the customer's words, escaped
    assert "non è configurato" not in page

    off = logged_in(
        TestClient(create_app(settings, failure_delay=0), follow_redirects=False), "anna"
    )
    assert "L&#39;invio di e-mail non è configurato" in off.get(f"/tickets/{ticket.id}").text


def test_no_mail_section_without_an_address(
    settings: Settings, ticket: tickets.Ticket, people: dict[str, users.User]
) -> None:
    client = logged_in(
        TestClient(create_app(settings, failure_delay=0), follow_redirects=False), "anna"
    )
    assert "E-mail con il cliente" not in client.get(f"/tickets/{ticket.id}").text


def test_each_queue_row_shows_the_customers_last_message(
    settings: Settings,
    db: sqlite_utils.Database,
    ticket: tickets.Ticket,
    people: dict[str, users.User],
) -> None:
    other, _ = tickets.open_ticket(db, "conv-2", lang="en", now=NOW)
    tickets.record_customer_message(db, ticket.id, "Ci siete? <script>x</script>", NOW)
    tickets.record_customer_message(
        db, ticket.id, "Vi scrivo anche per e-mail. " + "lungo " * 60, NOW, author="e-mail"
    )
    client = logged_in(
        TestClient(create_app(settings, failure_delay=0), follow_redirects=False), "anna"
    )
    page = client.get("/queue").text
    assert "Ultimo messaggio del cliente" in page
    row = page[page.index(f'data-ticket="{ticket.id}"') :]
    row = row[: row.index("</tr>")]
    assert "✉" in row and "Vi scrivo anche per e-mail." in row and "…" in row
    assert "Ci siete?" not in row  # only the last one
    assert "lungo " * 30 not in row  # cut
    other_row = page[page.index(f'data-ticket="{other.id}"') :]
    assert "Il pacco è arrivato rotto" not in other_row[: other_row.index("</tr>")]
    assert tickets.last_customer_messages(db, []) == {}
