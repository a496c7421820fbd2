"""Customers' replies by e-mail come back to their ticket, read from a real dovecot IMAP
server on loopback; machines, strangers and huge attachments do not get in."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from email import message_from_string, policy
from email.message import EmailMessage
from pathlib import Path

import pytest
import sqlite_utils
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from customerlog import ratings, schema
from desk import mail_inbound, mail_reply, mail_text, mailbox, tickets
from desk.monitor import read_replies
from desk.sla import SlaPolicy
from sportello.settings import Settings
from tests.databases import open_db
from tests.mail_servers import ImapServer, closed_port, dovecot, require_dovecot, smtp_server

NOW = datetime(2026, 12, 7, 9, 30, tzinfo=timezone.utc)  # a Monday, desk open
settings_profile = hypothesis_settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
POLICY = SlaPolicy()
FROM = "Caffè Aurora <assistenza@aurora.example>"
CUSTOMER = "mario@example.com"


@pytest.fixture
def db(tmp_path: Path) -> sqlite_utils.Database:
    return open_db(tmp_path / "sportello.db")


@pytest.fixture
def settings(tmp_path: Path) -> Iterator[Settings]:
    with smtp_server() as server:
        yield Settings(
            data_dir=tmp_path, smtp_url=server.url(), mail_from=FROM, secret_key="k" * 40
        )


def mailed_ticket(
    db: sqlite_utils.Database, settings: Settings, *, close: bool = False, conv: str = "conv-1"
) -> tuple[tickets.Ticket, mailbox.OutboxMail]:
    """A ticket whose customer left an address and got an answer by mail (and, with
    ``close``, the CSAT question too); returns it and the last mail sent."""
    ticket, _ = tickets.open_ticket(db, conv, lang="it", channel="socketio", policy=POLICY, now=NOW)
    tickets.set_customer_email(db, ticket.id, CUSTOMER, NOW)
    tickets.answer_ticket(db, ticket.id, "luca", "Il pacco arriva domani.", now=NOW)
    if close:
        tickets.close_ticket(db, ticket.id, "luca", now=NOW)
    mailbox.queue_new(db, settings, NOW)
    mailbox.send_pending(db, settings, NOW)
    mails = mailbox.ticket_mails(db, ticket.id)
    assert all(mail.status == mailbox.STATUS_SENT for mail in mails)
    return tickets.get_ticket(db, ticket.id), mails[-1]


def reply(
    to: mailbox.OutboxMail | None,
    text: str | None = "Grazie, ma il pacco non è arrivato.",
    *,
    sender: str = f"Mario Rossi <{CUSTOMER}>",
    subject: str = "Re: risposta alla tua richiesta",
    html: str | None = None,
    headers: dict[str, str] | None = None,
    message_id: str = "<reply-1@example.com>",
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = FROM
    message["Subject"] = subject
    message["Message-ID"] = message_id
    if to is not None:
        message["In-Reply-To"] = to.message_id
        message["References"] = to.message_id
    for name, value in (headers or {}).items():
        message[name] = value
    if text is not None:
        message.set_content(text)
        if html is not None:
            message.add_alternative(html, subtype="html")
    elif html is not None:
        message.set_content(html, subtype="html")
    return message


def handle(
    db: sqlite_utils.Database, settings: Settings, message: EmailMessage
) -> mail_inbound.Handled:
    raw = message.as_bytes()
    return mail_inbound.handle(db, settings, raw, len(raw), NOW + timedelta(minutes=5))


def customer_texts(db: sqlite_utils.Database, ticket_id: int) -> list[str]:
    return [m.text for m in tickets.ticket_messages(db, ticket_id) if m.role == "customer"]


QUOTED = """Grazie, ma il pacco non è arrivato.
Potete controllare?

Mario
--
Mario Rossi
Via Roma 1, Milano

Il giorno lun 7 dic 2026 alle 10:30 Caffè Aurora <assistenza@aurora.example> ha scritto:
> Ciao,
> un operatore di Caffè Aurora ha risposto alla tua richiesta n. 1:
> Il pacco arriva domani.
"""


def test_a_reply_is_added_to_its_ticket_without_the_quote_and_the_sla_stays(
    db: sqlite_utils.Database, settings: Settings
) -> None:
    ticket, sent = mailed_ticket(db, settings)
    handled = handle(db, settings, reply(sent, QUOTED))
    assert handled == mail_inbound.Handled(mail_inbound.OUTCOME_ADDED, ticket.id)
    [text] = customer_texts(db, ticket.id)
    assert text == "Grazie, ma il pacco non è arrivato.\nPotete controllare?\n\nMario"
    [message] = [m for m in tickets.ticket_messages(db, ticket.id) if m.role == "customer"]
    assert message.author == "e-mail"
    after = tickets.get_ticket(db, ticket.id)
    assert (after.first_response_due, after.resolution_due, after.first_response_at) == (
        ticket.first_response_due, ticket.resolution_due, ticket.first_response_at,
    )  # fmt: skip
    assert any(e.kind == tickets.EVENT_EMAIL_REPLY for e in tickets.ticket_events(db, ticket.id))
    # The same mail again (the mailbox showed it twice) is not added twice.
    assert handle(db, settings, reply(sent, QUOTED)).outcome == mail_inbound.OUTCOME_DUPLICATE
    assert len(customer_texts(db, ticket.id)) == 1


def test_the_next_mail_answers_the_customers_reply_in_the_thread(
    db: sqlite_utils.Database, settings: Settings
) -> None:
    ticket, sent = mailed_ticket(db, settings)
    handle(db, settings, reply(sent))
    tickets.answer_ticket(db, ticket.id, "luca", "Lo rispediamo oggi.", now=NOW)
    mailbox.queue_new(db, settings, NOW + timedelta(minutes=6))
    [_, second] = mailbox.ticket_mails(db, ticket.id)
    assert second.in_reply_to == "<reply-1@example.com>"
    assert (second.refs or "").split() == [sent.message_id, "<reply-1@example.com>"]


def test_an_html_only_reply_is_read_as_text(db: sqlite_utils.Database, settings: Settings) -> None:
    ticket, sent = mailed_ticket(db, settings)
    html = (
        "<html><head><style>p{color:red}</style></head><body><div>Il codice è "
        "<b>AB&amp;12</b>.</div><div>Grazie</div>"
        '<div class="gmail_quote"><blockquote>Il pacco arriva domani.</blockquote></div>'
        "<script>alert(1)</script></body></html>"
    )
    assert handle(db, settings, reply(sent, None, html=html)).outcome == "added"
    assert customer_texts(db, ticket.id) == ["Il codice è AB&12.\nGrazie"]


def test_a_forged_in_reply_to_from_another_address_never_reaches_the_ticket(
    db: sqlite_utils.Database, settings: Settings
) -> None:
    ticket, sent = mailed_ticket(db, settings)
    forged = reply(sent, "Cambiate l'indirizzo di consegna", sender="mallory@evil.example")
    handled = handle(db, settings, forged)
    assert handled.outcome == mail_inbound.OUTCOME_WRONG_SENDER
    assert customer_texts(db, ticket.id) == []
    [event] = [e for e in tickets.ticket_events(db, ticket.id) if e.kind == "email_ignored"]
    assert "mallory@evil.example" in (event.detail or "")
    assert "Cambiate" not in (event.detail or "")
    # Two From addresses, one of them the customer's, are not the customer either.
    both = reply(
        sent, "x", sender=f"{CUSTOMER}, mallory@evil.example", message_id="<two@evil.example>"
    )
    assert handle(db, settings, both).outcome == mail_inbound.OUTCOME_WRONG_SENDER


@pytest.mark.parametrize(
    "headers",
    [
        {"Auto-Submitted": "auto-replied"},
        {"X-Autoreply": "yes"},
        {"Precedence": "bulk"},
        {"Precedence": "junk"},
        {"List-Id": "<news.example.com>"},
    ],
)
def test_auto_replies_are_ignored_and_never_answered(
    db: sqlite_utils.Database, settings: Settings, headers: dict[str, str]
) -> None:
    ticket, sent = mailed_ticket(db, settings)
    vacation = reply(sent, "Sono in ferie fino al 10 dicembre.", headers=headers)
    assert handle(db, settings, vacation).outcome == mail_inbound.OUTCOME_AUTO
    assert customer_texts(db, ticket.id) == []
    mailbox.queue_new(db, settings, NOW + timedelta(minutes=6))
    assert len(mailbox.ticket_mails(db, ticket.id)) == 1  # nothing sent back: no loop


def test_a_bounce_is_ignored_and_logged_on_the_ticket(
    db: sqlite_utils.Database, settings: Settings
) -> None:
    ticket, sent = mailed_ticket(db, settings)
    raw = (
        "From: Mail Delivery System <MAILER-DAEMON@mx.example.com>\r\n"
        "To: assistenza@aurora.example\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        "Message-ID: <bounce-1@mx.example.com>\r\n"
        f"References: {sent.message_id}\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n\r\n'
        "--B\r\nContent-Type: text/plain\r\n\r\nThe mail could not be delivered.\r\n"
        "--B\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.example.com\r\n\r\n"
        "Final-Recipient: rfc822; mario@example.com\r\nAction: failed\r\n--B--\r\n"
    )
    bounce = message_from_string(raw, policy=policy.default)
    assert handle(db, settings, bounce).outcome == mail_inbound.OUTCOME_BOUNCE
    assert customer_texts(db, ticket.id) == []
    assert any(e.detail == "bounce" for e in tickets.ticket_events(db, ticket.id))


def test_a_reply_to_a_closed_ticket_opens_a_follow_up(
    db: sqlite_utils.Database, settings: Settings
) -> None:
    ticket, sent = mailed_ticket(db, settings, close=True)
    handled = handle(db, settings, reply(sent, "Il problema si è ripresentato."))
    assert handled.outcome == mail_inbound.OUTCOME_ADDED and handled.ticket_id != ticket.id
    follow_up = tickets.get_ticket(db, handled.ticket_id or 0)
    assert follow_up.active and follow_up.reason == tickets.REASON_EMAIL_REPLY
    assert follow_up.customer_email == CUSTOMER
    assert follow_up.conversation_id == ticket.conversation_id
    assert customer_texts(db, follow_up.id) == ["Il problema si è ripresentato."]
    assert tickets.get_ticket(db, ticket.id).status == tickets.STATUS_CLOSED
    assert [e.detail for e in tickets.ticket_events(db, ticket.id) if e.kind == "follow_up"] == [
        f"#{follow_up.id}"
    ]


def test_a_number_in_reply_to_the_csat_mail_is_the_tickets_csat_once(
    db: sqlite_utils.Database, settings: Settings
) -> None:
    ticket, csat_mail = mailed_ticket(db, settings, close=True)
    assert csat_mail.kind == mail_text.KIND_CSAT
    assert handle(db, settings, reply(csat_mail, "4\n\n> Quanto sei soddisfatto?")).outcome == (
        mail_inbound.OUTCOME_CSAT
    )
    again = reply(csat_mail, "5", message_id="<reply-2@example.com>")
    assert handle(db, settings, again).outcome == mail_inbound.OUTCOME_CSAT
    rows = list(db[schema.RATINGS].rows_where("kind = ?", [schema.RATING_CSAT]))
    assert [(r["value"], r["target_id"], r["channel"]) for r in rows] == [
        (4, str(ticket.id), "email")
    ]
    assert (
        ratings.request_status(db, schema.RATING_CSAT, schema.TARGET_TICKET, str(ticket.id))
        == schema.REQUEST_ANSWERED
    )
    assert tickets.get_ticket(db, ticket.id).status == tickets.STATUS_CLOSED


def test_a_reply_that_lost_its_headers_is_found_by_the_signed_subject(
    db: sqlite_utils.Database, settings: Settings
) -> None:
    ticket, _ = mailed_ticket(db, settings)
    ref = mail_text.reference(ticket.id, mailbox.mail_key(settings))
    found = reply(None, "Eccomi", subject=f"R: risposta alla tua richiesta [#{ref}]")
    assert handle(db, settings, found).ticket_id == ticket.id
    guessed = reply(
        None, "Eccomi", subject=f"Re: [#{ticket.id}-00000000]", message_id="<guess@example.com>"
    )
    assert handle(db, settings, guessed).outcome == mail_inbound.OUTCOME_UNMATCHED
    assert customer_texts(db, ticket.id) == ["Eccomi"]


def test_a_mail_about_nothing_we_sent_is_left_alone(
    db: sqlite_utils.Database, settings: Settings
) -> None:
    assert handle(db, settings, reply(None, "Vendete anche tè?")).outcome == "unmatched"
    [row] = mailbox.inbox(db)
    assert row.outcome == "unmatched" and row.ticket_id is None


def test_a_small_attachment_is_named_with_its_size(
    db: sqlite_utils.Database, settings: Settings
) -> None:
    ticket, sent = mailed_ticket(db, settings)
    with_file = reply(sent, "Ecco la ricevuta.")
    with_file.add_attachment(b"%PDF" * 5000, maintype="application", subtype="pdf",
                             filename="ricevuta.pdf")  # fmt: skip
    handle(db, settings, with_file)
    assert customer_texts(db, ticket.id) == [
        "Ecco la ricevuta.\n\n[non conservato / not kept: allegati / attachments: "
        "ricevuta.pdf (~20 kB)]"
    ]


def test_strip_quoted_keeps_everything_when_the_reply_is_all_quote() -> None:
    assert mail_reply.strip_quoted("> solo citazione\n> altro") == "> solo citazione\n> altro"
    outlook = "Va bene così.\n\n-----Original Message-----\nFrom: x\nSent: y\n\ntesto vecchio"
    assert mail_reply.strip_quoted(outlook) == "Va bene così."
    assert mail_reply.strip_quoted("Ok!\n\nInviato da iPhone") == "Ok!"
    english = "Thanks.\nOn Mon, 7 Dec 2026 at 10:30, Aurora <a@b.it> wrote:\n> old"
    assert mail_reply.strip_quoted(english) == "Thanks."


HEADER_NAMES = [
    "From", "To", "Subject", "Message-ID", "In-Reply-To", "References", "Content-Type",
    "Content-Transfer-Encoding", "Content-Disposition", "Auto-Submitted", "Return-Path",
    "Precedence", "MIME-Version",
]  # fmt: skip
HOSTILE = st.sampled_from(
    ["multipart/mixed; boundary=", 'text/html; charset="x-unknown"', "<a@b>", "=?utf-8?b?===?=",
     "base64", "message/rfc822", "mario@example.com, <>", "\x00", "a" * 500]
)  # fmt: skip
HEADERS = st.lists(st.tuples(st.sampled_from(HEADER_NAMES), HOSTILE | st.text(max_size=80)))
MAILS = st.builds(
    lambda headers, body: (
        "".join(f"{name}: {value}\r\n" for name, value in headers) + "\r\n" + body
    ).encode("utf-8", "surrogatepass"),
    HEADERS,
    st.text(max_size=500),
)


@settings_profile
@given(raw=st.binary(max_size=3000) | MAILS)
def test_any_bytes_get_an_outcome_never_a_crash(
    tmp_path_factory: pytest.TempPathFactory, raw: bytes
) -> None:
    path = tmp_path_factory.mktemp("fuzz")
    db = open_db(path / "sportello.db")
    plain = Settings(data_dir=path, secret_key="k" * 40)
    handled = mail_inbound.handle(db, plain, raw, len(raw), NOW)
    assert handled.outcome in {
        "added", "csat", "auto-reply", "bounce", "wrong-sender", "unmatched", "empty",
        "duplicate", "unreadable",
    }  # fmt: skip
    assert handled.outcome != "added"  # no ticket to add to


# ---- through a real IMAP server ------------------------------------------------------------


@pytest.fixture
def imap(tmp_path: Path) -> Iterator[ImapServer]:
    require_dovecot()
    with dovecot(tmp_path / "dovecot") as server:
        yield server


def test_replies_are_read_from_the_mailbox_once(
    db: sqlite_utils.Database, settings: Settings, imap: ImapServer
) -> None:
    ticket, sent = mailed_ticket(db, settings)
    other, other_sent = mailed_ticket(db, settings, conv="conv-2")
    imap.append(reply(sent, QUOTED).as_bytes())
    imap.append(reply(other_sent, "Io sono Mallory", sender="mallory@evil.example",
                      message_id="<m@evil.example>").as_bytes())  # fmt: skip
    imap.append(
        reply(sent, "Fuori sede", headers={"Auto-Submitted": "auto-replied"},
              message_id="<ooo@example.com>").as_bytes()
    )  # fmt: skip
    with_imap = Settings(**{**settings.__dict__, "imap_url": imap.url})
    assert read_replies(db, with_imap, NOW + timedelta(minutes=5)) == 3
    assert imap.unseen() == 0
    assert customer_texts(db, ticket.id) == [
        "Grazie, ma il pacco non è arrivato.\nPotete controllare?\n\nMario"
    ]
    assert customer_texts(db, other.id) == []
    outcomes = sorted(row.outcome for row in mailbox.inbox(db))
    assert outcomes == ["added", "auto-reply", "wrong-sender"]
    assert read_replies(db, with_imap, NOW + timedelta(minutes=6)) == 0


def test_a_20_mb_attachment_is_dropped_with_a_note_and_the_text_kept(
    db: sqlite_utils.Database, settings: Settings, imap: ImapServer
) -> None:
    ticket, sent = mailed_ticket(db, settings)
    big = reply(sent, "Vi allego la foto del pacco rotto.")
    big.add_attachment(b"\xff" * 20_000_000, maintype="image", subtype="jpeg", filename="pacco.jpg")
    imap.append(big.as_bytes())
    with_imap = Settings(**{**settings.__dict__, "imap_url": imap.url})
    assert read_replies(db, with_imap, NOW + timedelta(minutes=5)) == 1
    [text] = customer_texts(db, ticket.id)
    assert text.startswith("Vi allego la foto del pacco rotto.")
    assert text.endswith(
        "[non conservato / not kept: allegati / attachments: pacco.jpg; "
        "e-mail di / mail of 27.4 MB]"  # 20 MB in base64, as IMAP reports it
    )
    assert len(text) < 1000


def test_a_mailbox_that_is_down_or_refuses_the_login_is_reported(
    db: sqlite_utils.Database, settings: Settings, imap: ImapServer
) -> None:
    down = Settings(**{**settings.__dict__, "imap_url": f"imap://u:p@127.0.0.1:{closed_port()}"})
    with pytest.raises(mail_inbound.MailboxError, match="impossibile raggiungere"):
        mail_inbound.poll(db, down, NOW)
    wrong = imap.url.replace(imap.password, "wrong-password")
    refused = Settings(**{**settings.__dict__, "imap_url": wrong})
    with pytest.raises(mail_inbound.MailboxError, match="login refused / accesso IMAP rifiutato"):
        mail_inbound.poll(db, refused, NOW)
    assert read_replies(db, refused, NOW) == 0  # the monitor logs it and goes on
