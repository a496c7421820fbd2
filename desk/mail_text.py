"""The words of the mails Sportello sends customers, in Italian and English.

Three mails: an operator's answer, the satisfaction question after a ticket is closed,
and the test mail of ``sportello mail test``. Each is multipart: plain text first (what
many helpdesk customers read, and what a reply quotes), then the same words as simple
HTML with no images, scripts or remote content. Every piece of text that comes from a
person (the answer, the company name) is escaped in the HTML.

The subject carries the ticket number and a short signed reference
(``[#123-1a2b3c4d]``): replies that lost their thread headers still find their ticket
(desk/mailbox.py), and nobody can guess another ticket's reference.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import re
from dataclasses import dataclass
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr

from sportello.languages import supported

KIND_ANSWER = "answer"
KIND_CSAT = "csat"
KIND_TEST = "test"

CSAT_SCALE = (1, 5)

_REFERENCE = re.compile(r"\[#(\d{1,12})-([0-9a-f]{8})\]")

TEXT: dict[str, dict[str, str]] = {
    "it": {
        "answer_subject": "{company}: risposta alla tua richiesta n. {ticket}",
        "answer_intro": (
            "Ciao,\nun operatore di {company} ha risposto alla tua richiesta n. {ticket}:"
        ),
        "answer_outro": (
            "Puoi rispondere a questa e-mail: la tua risposta arriverà all'operatore, "
            "come se scrivessi in chat."
        ),
        "resume_link": "Continua la conversazione in chat",
        "resume_note": "(il link vale {days} giorni)",
        "resume_note_one": "(il link vale un giorno)",
        "csat_subject": "{company}: com'è andata? (richiesta n. {ticket})",
        "csat_intro": "Ciao,\nla tua richiesta n. {ticket} è stata chiusa.",
        "csat_question": (
            "Quanto sei soddisfatto dell'assistenza ricevuta? Rispondi a questa e-mail "
            "con un numero da 1 (per niente) a 5 (moltissimo)."
        ),
        "csat_outro": (
            "Se la questione non è risolta, rispondi scrivendo cosa manca: un operatore "
            "la riprenderà in mano. Se preferisci non rispondere, va bene così."
        ),
        "test_subject": "{company}: e-mail di prova di Sportello",
        "test_intro": "Questa è un'e-mail di prova inviata da Sportello per {company}.",
        "test_outro": "Se la leggi, l'invio delle e-mail ai clienti funziona.",
        "signature": "{company} · Servizio clienti",
    },
    "en": {
        "answer_subject": "{company}: an answer to your request no. {ticket}",
        "answer_intro": "Hello,\nan operator of {company} has answered your request no. {ticket}:",
        "answer_outro": (
            "You can reply to this e-mail: your reply will reach the operator, just as if "
            "you wrote in the chat."
        ),
        "resume_link": "Continue the conversation in the chat",
        "resume_note": "(the link works for {days} days)",
        "resume_note_one": "(the link works for one day)",
        "csat_subject": "{company}: how did we do? (request no. {ticket})",
        "csat_intro": "Hello,\nyour request no. {ticket} has been closed.",
        "csat_question": (
            "How satisfied are you with the help you received? Reply to this e-mail with a "
            "number from 1 (not at all) to 5 (very)."
        ),
        "csat_outro": (
            "If the matter is not solved, reply saying what is missing: an operator will "
            "pick it up again. If you would rather not answer, that's fine."
        ),
        "test_subject": "{company}: Sportello test e-mail",
        "test_intro": "This is a test e-mail sent by Sportello for {company}.",
        "test_outro": "If you can read it, mail to customers works.",
        "signature": "{company} · Customer service",
    },
}


@dataclass(frozen=True)
class Thread:
    """The threading headers of one mail (RFC 5322): its id and what it answers."""

    message_id: str
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()


@dataclass(frozen=True)
class Link:
    """A link paragraph: ``label`` pointing at ``url``, with a ``note`` after it."""

    label: str
    url: str
    note: str = ""

    def plain(self) -> str:
        return f"{self.label} {self.note}:\n{self.url}".replace(" :", ":")

    def html(self) -> str:
        note = f" {html.escape(self.note)}" if self.note else ""
        return f'<p><a href="{html.escape(self.url)}">{html.escape(self.label)}</a>{note}</p>'


def resume_link(url: str, lang: str, days: int) -> Link:
    """The "continue the conversation" link of an answer mail (sportello/chatlinks.py)."""
    words = TEXT[_lang(lang)]
    note = words["resume_note_one"] if days == 1 else words["resume_note"].format(days=days)
    return Link(words["resume_link"], url, note)


def new_message_id(sender: str) -> str:
    """A fresh ``<…@domain>`` Message-ID in the sender's domain."""
    domain = parseaddr(sender)[1].rpartition("@")[2] or "sportello.invalid"
    return make_msgid(domain=domain)


def reference(ticket_id: int, key: bytes) -> str:
    """The signed ticket reference put in subjects: ``123-1a2b3c4d``."""
    digest = hmac.new(key, f"mail-ticket:{ticket_id}".encode(), hashlib.sha256).hexdigest()
    return f"{ticket_id}-{digest[:8]}"


def ticket_from_subject(subject: str, key: bytes) -> int | None:
    """The ticket a subject's signed reference names, if the signature is right."""
    for match in _REFERENCE.finditer(subject or ""):
        ticket_id = int(match.group(1))
        if hmac.compare_digest(reference(ticket_id, key), f"{match.group(1)}-{match.group(2)}"):
            return ticket_id
    return None


def _lang(lang: str | None) -> str:
    return supported(lang)


def _build(
    *,
    sender: str,
    recipient: str,
    subject: str,
    paragraphs: list[str],
    quoted: str | None,
    thread: Thread,
    lang: str,
    when: datetime,
    link: Link | None = None,
) -> EmailMessage:
    """A multipart/alternative mail: the paragraphs (``quoted`` set off) as text and HTML,
    ``link`` before the last paragraph (the signature)."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = Address(addr_spec=recipient)
    message["Subject"] = subject
    message["Date"] = format_datetime(when)
    message["Message-ID"] = thread.message_id
    if thread.in_reply_to:
        message["In-Reply-To"] = thread.in_reply_to
    if thread.references:
        message["References"] = " ".join(thread.references)
    if quoted is None:
        # Sent by a machine, not a person: vacation responders must not answer it (RFC 3834).
        message["Auto-Submitted"] = "auto-generated"
    plain_parts = list(paragraphs)
    if quoted is not None:
        plain_parts.insert(1, quoted)
    if link is not None:
        plain_parts.insert(len(plain_parts) - 1, link.plain())
    message.set_content("\n\n".join(plain_parts) + "\n")

    def para(text: str) -> str:
        return "<p>" + html.escape(text).replace("\n", "<br>\n") + "</p>"

    body = [para(paragraphs[0])]
    if quoted is not None:
        body.append(
            '<blockquote style="border-left:3px solid #999;margin:1em 0;padding:0 1em">'
            + para(quoted)
            + "</blockquote>"
        )
    body += [para(text) for text in paragraphs[1:]]
    if link is not None:
        body.insert(len(body) - 1, link.html())
    message.add_alternative(
        f'<!DOCTYPE html>\n<html lang="{lang}"><head><meta charset="utf-8">'
        f"<title>{html.escape(subject)}</title></head>\n<body>\n"
        + "\n".join(body)
        + "\n</body></html>\n",
        subtype="html",
    )
    message["Content-Language"] = lang  # after the body: set_content clears Content-*
    return message


def _ticket_mail(
    kind: str,
    texts: tuple[str, ...],
    quoted: str | None,
    *,
    sender: str,
    recipient: str,
    company: str,
    ticket_id: int,
    ref: str,
    lang: str,
    thread: Thread,
    when: datetime,
    link: Link | None = None,
) -> EmailMessage:
    """A mail about one ticket: ``kind``'s subject with the signed reference, the
    paragraphs named by ``texts`` (``quoted`` after the first, ``link`` last), the
    signature."""
    words = TEXT[_lang(lang)]
    values = {"company": company, "ticket": ticket_id}
    return _build(
        sender=sender,
        recipient=recipient,
        subject=words[f"{kind}_subject"].format(**values) + f" [#{ref}]",
        paragraphs=[words[key].format(**values) for key in (*texts, "signature")],
        quoted=quoted,
        thread=thread,
        lang=_lang(lang),
        when=when,
        link=link,
    )


def answer_mail(
    *,
    sender: str,
    recipient: str,
    company: str,
    ticket_id: int,
    ref: str,
    lang: str,
    thread: Thread,
    when: datetime,
    answer: str,
    resume: Link | None = None,
) -> EmailMessage:
    """An operator's answer, quoted between the greeting and how to reply; ``resume``,
    the link reopening the web chat on this conversation, when there is one."""
    return _ticket_mail(
        "answer",
        ("answer_intro", "answer_outro"),
        answer,
        sender=sender,
        recipient=recipient,
        company=company,
        ticket_id=ticket_id,
        ref=ref,
        lang=lang,
        thread=thread,
        when=when,
        link=resume,
    )


def csat_mail(
    *,
    sender: str,
    recipient: str,
    company: str,
    ticket_id: int,
    ref: str,
    lang: str,
    thread: Thread,
    when: datetime,
) -> EmailMessage:
    """The satisfaction question after the ticket was closed: reply with 1 to 5."""
    return _ticket_mail(
        "csat",
        ("csat_intro", "csat_question", "csat_outro"),
        None,
        sender=sender,
        recipient=recipient,
        company=company,
        ticket_id=ticket_id,
        ref=ref,
        lang=lang,
        thread=thread,
        when=when,
    )


def test_mail(
    *, sender: str, recipient: str, company: str, lang: str, when: datetime
) -> EmailMessage:
    """What ``sportello mail test`` sends."""
    words = TEXT[_lang(lang)]
    values = {"company": company}
    return _build(
        sender=sender,
        recipient=recipient,
        subject=words["test_subject"].format(**values),
        paragraphs=[
            words["test_intro"].format(**values),
            words["test_outro"],
            words["signature"].format(**values),
        ],
        quoted=None,
        thread=Thread(new_message_id(sender)),
        lang=_lang(lang),
        when=when,
    )
