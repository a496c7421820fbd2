"""Reading a customer's reply: who sent it, what it answers, and the words they wrote.

Pure functions over Python's ``email`` package, no I/O, so every rule is tested on
real-shaped mails:

- **machines are not customers**: auto-replies (``Auto-Submitted`` other than ``no``,
  ``X-Autoreply``/``X-Autorespond``, ``Precedence: bulk/junk/list``, list mail) and
  bounces (``multipart/report``, a sender like ``MAILER-DAEMON``/``postmaster``, an
  empty return path) are recognised so that nothing is added to a ticket and nothing
  is ever sent back: no mail loop;
- **the words**: the text/plain part, else the HTML part turned into text; quoted
  history (``>`` lines, "Il giorno … ha scritto:", "On … wrote:", Outlook's
  "-----Original Message-----"/"Da: … Inviato:" blocks) and the signature (after
  ``-- ``, "Inviato da iPhone") are cut. When cutting would leave nothing, the whole
  text is kept: better too much for the operator than nothing;
- **size**: only the first :data:`MAX_FETCH_BYTES` of a mail are read (text comes first
  in every mail client's output); attachments are never kept, each is named in a note
  with its size; the text is cut at :data:`MAX_TEXT_CHARS` with a note.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from email.message import EmailMessage, Message
from email.utils import getaddresses, parseaddr
from html.parser import HTMLParser

MAX_FETCH_BYTES = 2_000_000
MAX_TEXT_CHARS = 8000

_MESSAGE_ID = re.compile(r"<[^<>\s]+>")
_BOUNCE_SENDERS = re.compile(r"^(mailer-daemon|postmaster|mail-daemon|bounce[s]?)@", re.I)
_QUOTE_HEADERS = re.compile(
    r"^\s*(?:"
    r"il giorno .{0,200}ha scritto:?|"
    r"on .{0,200}wrote:?|"
    r"-{2,}\s*(?:original message|messaggio originale|forwarded message|"
    r"messaggio inoltrato)\s*-{2,}|"
    r"_{10,}|"
    r"(?:from|da):\s.+"
    r")\s*$",
    re.I,
)
_SIGNATURE = re.compile(
    r"^(?:-- ?|—|inviato da (?:iphone|il mio|outlook|android).*|sent from (?:my|outlook).*"
    r"|get outlook for .*)$",
    re.I,
)


@dataclass(frozen=True)
class Reply:
    """A mail as the desk needs it."""

    message_key: str
    sender: str
    subject: str
    refers_to: list[str]
    text: str
    notes: list[str] = field(default_factory=list)
    machine: str | None = None  # "auto-reply" or "bounce": never added, never answered


def message_ids(value: str | None) -> list[str]:
    """The ``<…>`` ids in a Message-ID/In-Reply-To/References header, in order."""
    return _MESSAGE_ID.findall(str(value or ""))


def read(message: Message, size: int | None = None, *, digest: str = "") -> Reply:
    """The reply in ``message`` (parsed with ``email.policy.default``).

    ``size`` is the mail's full size as the server reported it (it may be larger than
    what was fetched); ``digest`` names a mail without a Message-ID.
    """
    own_ids = message_ids(message.get("Message-ID"))
    key = own_ids[0] if own_ids else f"sha256:{digest}"
    sender = parseaddr(str(message.get("From") or ""))[1].strip().lower()
    refers = message_ids(message.get("References")) + message_ids(message.get("In-Reply-To"))
    text, notes = _text_and_notes(message, size)
    return Reply(
        message_key=key,
        sender=sender,
        subject=" ".join(str(message.get("Subject") or "").split()),
        refers_to=list(dict.fromkeys(refers)),
        text=text,
        notes=notes,
        machine=machine_kind(message, sender),
    )


def machine_kind(message: Message, sender: str) -> str | None:
    """ "bounce", "auto-reply" or None for a mail a person wrote."""
    content_type = message.get_content_type()
    return_path = str(message.get("Return-Path") or "").strip()
    if (
        content_type == "multipart/report"
        or _BOUNCE_SENDERS.match(sender or "")
        or return_path == "<>"
    ):
        return "bounce"
    auto = str(message.get("Auto-Submitted") or "").strip().lower()
    precedence = str(message.get("Precedence") or "").strip().lower()
    if (
        (auto and auto != "no")
        or message.get("X-Autoreply")
        or message.get("X-Autorespond")
        or message.get("X-Auto-Response-Suppress", "").lower() in ("all", "oof")
        or precedence in ("bulk", "junk", "list", "auto_reply")
        or message.get("List-Id")
        or message.get("List-Unsubscribe")
    ):
        return "auto-reply"
    return None


def from_addresses(message: Message) -> list[str]:
    """Every address in From (a forged mail may name several)."""
    return [addr.lower() for _, addr in getaddresses([str(message.get("From") or "")]) if addr]


class _HtmlText(HTMLParser):
    """Text of an HTML mail: paragraphs and line breaks kept, quoted history dropped."""

    BLOCKS = frozenset({"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "table"})
    SKIP = frozenset({"script", "style", "head", "title"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skip = 0
        self.quote = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        classes = " ".join(value or "" for name, value in attrs if name == "class")
        if tag in self.SKIP:
            self.skip += 1
        elif tag == "blockquote" or "gmail_quote" in classes:
            self.quote += 1
        if tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIP and self.skip:
            self.skip -= 1
        elif tag == "blockquote" and self.quote:
            self.quote -= 1
        if tag == "p":  # a paragraph ends with a blank line, other blocks with a line break
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.skip and not self.quote:
            self.parts.append(data)


def html_to_text(markup: str) -> str:
    """Readable text of an HTML body (no tags, entities decoded, quotes dropped)."""
    parser = _HtmlText()
    parser.feed(markup)
    parser.close()
    lines = [" ".join(line.split()) for line in "".join(parser.parts).splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def strip_quoted(text: str) -> str:
    """The new words of a reply: quoted history and the signature cut off."""
    kept: list[str] = []
    for line in text.replace("\r\n", "\n").split("\n"):
        bare = line.strip()
        if _QUOTE_HEADERS.match(bare) or _SIGNATURE.match(line.rstrip()) or bare == "--":
            break
        if bare.startswith(">"):
            continue
        kept.append(line.rstrip())
    result = "\n".join(kept).strip()
    return re.sub(r"\n{3,}", "\n\n", result) or text.strip()


def _size_text(size: int) -> str:
    return f"{size / 1_000_000:.1f} MB" if size >= 100_000 else f"{max(size // 1000, 1)} kB"


def _text_and_notes(message: Message, size: int | None) -> tuple[str, list[str]]:
    plain: str | None = None
    markup: str | None = None
    attachments: list[str] = []
    cut = size is not None and size > MAX_FETCH_BYTES
    parts = message.walk() if message.is_multipart() else iter([message])
    for part in parts:
        if part.is_multipart():
            continue
        filename = part.get_filename()
        content_type = part.get_content_type()
        if (
            filename
            or part.get_content_disposition() == "attachment"
            or not content_type.startswith("text/")
        ):
            payload = part.get_payload(decode=False)
            # A cut mail's last attachment is cut too: its size would be a guess.
            length = "" if cut else f" (~{_size_text(len(str(payload)) * 3 // 4)})"
            attachments.append(f"{filename or content_type}{length}")
            continue
        try:
            body = part.get_content() if isinstance(part, EmailMessage) else part.get_payload()
        except (LookupError, ValueError, AssertionError):
            body = (part.get_payload(decode=True) or b"").decode("utf-8", "replace")
        if content_type == "text/plain" and plain is None:
            plain = str(body)
        elif content_type == "text/html" and markup is None:
            markup = str(body)
    if plain is not None and plain.strip():
        text = strip_quoted(plain)
    elif markup is not None:
        text = strip_quoted(html_to_text(markup))
    else:
        text = ""
    notes: list[str] = []
    if attachments:
        notes.append("allegati / attachments: " + ", ".join(attachments))
    if cut:
        notes.append(f"e-mail di / mail of {_size_text(size or 0)}")
    if len(text) > MAX_TEXT_CHARS:
        text = text[:MAX_TEXT_CHARS].rstrip() + " […]"
        notes.append(f"testo tagliato a / text cut at {MAX_TEXT_CHARS} caratteri/characters")
    return text, notes


def with_notes(reply: Reply) -> str:
    """The text as the operator reads it: the words, then what was not kept."""
    if not reply.notes:
        return reply.text
    note = "; ".join(reply.notes)
    return f"{reply.text}\n\n[non conservato / not kept: {note}]".strip()


_RATING = re.compile(r"^\s*([1-5])\s*(?:/\s*5|su 5|out of 5|stell[ae]|stars?)?\s*[.!]?\s*$", re.I)


def csat_value(text: str) -> int | None:
    """A reply to the CSAT mail that is only a rating ("4", "5/5", "4 stelle")."""
    first = text.strip().split("\n", 1)
    if len(first) > 1 and first[1].strip():
        return None
    match = _RATING.match(first[0])
    return int(match.group(1)) if match else None
