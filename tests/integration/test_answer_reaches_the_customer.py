"""Issue 19's "Done when", as one path on the real stack: the operator's answer always
reaches the customer.

A web customer escalates out of hours (the desk is closed: tests/integration/conftest.py,
closed_desk), leaves an address and closes the tab; the operator answers in the console;
the mail arrives at the SMTP server (aiosmtpd on loopback) with the answer and a working
"continue the conversation" link; the customer replies by mail (dovecot on loopback) and
the reply is on the ticket; the chat reopened through the link, in a browser that never
saw it, shows the answer; a breach sends the supervisors one alert.
"""

from __future__ import annotations

import os
import re
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from desk import tickets
from sportello.settings import Settings
from tests.browser import chromium
from tests.databases import open_db
from tests.integration.conftest import ALERT_SUPERVISORS, closed_desk
from tests.integration.test_mail import eventually, mails_to, reply_to
from tests.integration.test_webchat_resume import (
    GREETING,
    HANDED_OVER,
    answer_in_console,
    open_chat,
    send,
    session_of,
)
from tests.mail_servers import REQUIRE_IMAP_ENV, ImapServer, SmtpServer

pytestmark = [pytest.mark.integration, pytest.mark.browser]

CLOSED = "Il servizio clienti in questo momento è chiuso"
LEAVE_ADDRESS = "lasciami qui il tuo indirizzo e-mail"


def test_the_operators_answer_reaches_the_web_customer_who_left(
    stack: Settings,
    mail_server: SmtpServer,
    imap_server: ImapServer | None,
    artifacts_dir: Path,
) -> None:
    if imap_server is None:
        message = "Debian's dovecot-imapd is needed (scripts/setup.sh --browser installs it)"
        if os.environ.get(REQUIRE_IMAP_ENV) == "1":
            pytest.fail(message)
        pytest.skip(message)
    db = open_db(stack.db_path)
    tag = uuid.uuid4().hex[:8]
    address = f"giulia.{tag}@example.com"
    answer = f"Buongiorno Giulia, sono Luca: la macchina {tag} è in riparazione, torna venerdì."
    with chromium() as browser:
        # Saturday night, say: the customer asks for a person and leaves an address.
        context = browser.new_context()
        page, widget = open_chat(context, f"http://127.0.0.1:{stack.web_port}/?lang=it")
        widget.locator(".rw-response", has_text=GREETING).wait_for(timeout=30_000)
        with closed_desk(stack):
            send(widget, "voglio parlare con una persona")
            widget.locator(".rw-response", has_text=HANDED_OVER).wait_for(timeout=30_000)
            widget.locator(".rw-response", has_text=CLOSED).wait_for(timeout=30_000)
            assert widget.locator(".rw-response", has_text=LEAVE_ADDRESS).count() == 1
        session = session_of(page)
        ticket = eventually(lambda: tickets.get_open_ticket(db, session), "ticket")
        send(widget, f"scrivetemi pure a {address}")
        widget.locator(".rw-response", has_text=f"all'indirizzo {address}").wait_for(timeout=30_000)
        assert tickets.get_ticket(db, ticket.id).customer_email == address
        page.close()  # and goes to bed
        context.close()

        # Monday: the operator answers in the console.
        answer_in_console(stack, ticket.id, answer)

        # The mail arrives with the answer and the link back to the conversation.
        [mail] = eventually(lambda: mails_to(mail_server, address), "answer mail")
        plain = mail.message.get_body(("plain",)).get_content()
        assert answer in plain and answer in mail.message.get_body(("html",)).get_content()
        [link] = re.findall(re.escape(stack.public_chat_url or "") + r"/\S+", plain)
        assert "#resume=" in link
        assert f'href="{link}"' in mail.message.get_body(("html",)).get_content()

        # The customer replies by mail: the reply is on the ticket.
        reply = "Grazie! Posso passare a ritirarla io sabato mattina?"
        imap_server.append(reply_to(mail, f"Giulia <{address}>", reply, f"<g-{tag}@example.com>"))

        def on_ticket() -> list[str] | None:
            found = [m.text for m in tickets.ticket_messages(db, ticket.id) if m.author == "e-mail"]
            return found or None

        assert eventually(on_ticket, "mailed reply on the ticket") == [reply]

        # The link, opened in a browser that never saw the chat (the phone's mail app),
        # reopens the conversation with the answer in it and the ticket's state.
        context = browser.new_context()
        page = context.new_page()
        page.goto(link, wait_until="load")
        widget = page.locator("#webchat .rw-widget-embedded")
        widget.locator(".rw-response", has_text=answer).wait_for(timeout=30_000)
        assert page.locator("#chat-state").inner_text() == (
            f"Un operatore ha risposto alla tua richiesta n. {ticket.id}."
        )
        assert "#resume=" not in page.url  # the token leaves the address bar at once
        eventually(lambda: session_of(page) == session, "the same conversation")
        page.screenshot(path=str(artifacts_dir / "webchat-resumed-from-mail.png"), full_page=True)
        page.wait_for_timeout(2000)
        assert widget.locator(".rw-response", has_text=GREETING).count() == 0  # no new greeting
        # What the customer writes there reaches the same ticket.
        send(widget, "vi ho risposto anche per e-mail")
        eventually(
            lambda: (
                "vi ho risposto anche per e-mail"
                in [m.text for m in tickets.ticket_messages(db, ticket.id)]
            ),
            "chat message on the ticket",
        )
        context.close()

    # A ticket left unanswered past its deadline: the supervisors get one alert.
    long_ago = datetime.now(timezone.utc) - timedelta(days=3)
    late, _ = tickets.open_ticket(db, f"late-{tag}", lang="it", priority="urgent", now=long_ago)

    def breach_alerts() -> list[str]:
        return [
            text
            for m in mails_to(mail_server, ALERT_SUPERVISORS)
            if f"#{late.id}: scadenza superata"
            in (text := m.message.get_body(("plain",)).get_content())
        ]

    eventually(breach_alerts, "breach alert", timeout=150)
    time.sleep(15)  # more monitor passes: still one
    assert len(breach_alerts()) == 1
