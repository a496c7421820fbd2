"""Sending one e-mail through the company's SMTP server, and naming what went wrong.

The server comes from ``SPORTELLO_SMTP_URL``:

- ``smtp://user:password@host:587``: STARTTLS is required (a server that does not offer
  it is refused rather than sent the password in clear);
- ``smtps://user:password@host:465``: TLS from the first byte;
- ``smtp://host:25`` without credentials: plain SMTP, meant for a relay on loopback
  (or the tests' server). Credentials over plain SMTP are refused.

Python's ``smtplib`` does the work; this module turns its many exceptions into two
kinds a caller can act on: :class:`MailTemporaryError` (try again later: the server is
down, slow, says 4xx, or refuses the login — an operator can fix that without losing
the mail) and :class:`MailPermanentError` (this mail will never go: the recipient is
refused with 5xx, the address is malformed). Each carries a one-line reason in English
and Italian for the log, the console and ``sportello mail test``.
"""

from __future__ import annotations

import smtplib
import socket
import ssl
from dataclasses import dataclass
from email.errors import HeaderParseError
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import parseaddr
from urllib.parse import unquote, urlsplit

DEFAULT_PORTS = {"smtp": 587, "smtps": 465}
TIMEOUT_S = 20.0


class MailError(Exception):
    """A mail that was not sent; ``str()`` is a one-line bilingual reason."""


class MailConfigError(MailError):
    """The SMTP URL or the sender address is unusable."""


class MailTemporaryError(MailError):
    """Worth trying again later (server down, timeout, 4xx, login refused)."""


class MailPermanentError(MailError):
    """This mail will never be accepted (recipient refused with 5xx, bad address)."""


@dataclass(frozen=True)
class SmtpServer:
    """An SMTP server as ``SPORTELLO_SMTP_URL`` names it."""

    host: str
    port: int
    implicit_tls: bool
    username: str | None = None
    password: str | None = None

    @property
    def starttls(self) -> bool:
        """Plain ``smtp://`` with credentials must upgrade to TLS before logging in."""
        return not self.implicit_tls and self.username is not None


def parse_smtp_url(url: str) -> SmtpServer:
    """``smtp://user:pass@host:587`` → :class:`SmtpServer`; :class:`MailConfigError` if bad."""
    parts = urlsplit(url.strip())
    if parts.scheme not in DEFAULT_PORTS:
        raise MailConfigError(
            f"SPORTELLO_SMTP_URL must start with smtp:// or smtps://, got {parts.scheme!r} / "
            "SPORTELLO_SMTP_URL deve iniziare con smtp:// o smtps://"
        )
    if not parts.hostname:
        raise MailConfigError("SPORTELLO_SMTP_URL names no host / non indica il server")
    try:
        port = parts.port or DEFAULT_PORTS[parts.scheme]
    except ValueError as exc:
        raise MailConfigError(f"SPORTELLO_SMTP_URL: bad port / porta non valida ({exc})") from exc
    return SmtpServer(
        host=parts.hostname,
        port=port,
        implicit_tls=parts.scheme == "smtps",
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
    )


def valid_address(text: str | None) -> str | None:
    """The bare address if ``text`` is one well-formed e-mail address, else None.

    Stricter than what a customer may type in the chat: one ``@``, a dotted domain, no
    spaces or control characters, at most 254 characters (RFC 5321's limit).
    """
    candidate = (text or "").strip()
    if not candidate or len(candidate) > 254 or any(ord(c) < 33 for c in candidate):
        return None
    _name, address = parseaddr(candidate)
    if address != candidate or address.count("@") != 1:
        return None
    try:
        parsed = Address(addr_spec=address)
    except (ValueError, IndexError, HeaderParseError):
        return None
    if "." not in parsed.domain or parsed.domain.startswith(".") or not parsed.username:
        return None
    return address


def send(url: str, message: EmailMessage, timeout: float = TIMEOUT_S) -> None:
    """Send ``message`` (its From/To headers say who to whom) or raise a :class:`MailError`."""
    server = parse_smtp_url(url)
    try:
        _send(server, message, timeout)
    except MailError:
        raise
    except smtplib.SMTPRecipientsRefused as exc:
        code, reason = next(iter(exc.recipients.values()))
        text = _reason(reason)
        kind = MailPermanentError if code >= 500 else MailTemporaryError
        raise kind(f"recipient refused / destinatario rifiutato: {code} {text}".strip()) from exc
    except smtplib.SMTPAuthenticationError as exc:
        raise MailTemporaryError(
            f"login refused / accesso rifiutato dal server SMTP: {exc.smtp_code} "
            f"{_reason(exc.smtp_error)}"
        ) from exc
    except smtplib.SMTPNotSupportedError as exc:
        raise MailTemporaryError(
            f"server does not support / il server non supporta: {exc}"
        ) from exc
    except smtplib.SMTPSenderRefused as exc:
        raise MailTemporaryError(
            f"sender refused / mittente rifiutato: {exc.smtp_code} {_reason(exc.smtp_error)}"
        ) from exc
    except smtplib.SMTPResponseException as exc:
        kind = MailPermanentError if exc.smtp_code >= 500 else MailTemporaryError
        raise kind(
            f"server said / il server ha risposto: {exc.smtp_code} {_reason(exc.smtp_error)}"
        ) from exc
    except ssl.SSLError as exc:
        raise MailTemporaryError(f"TLS failed / TLS non riuscito: {exc}") from exc
    except ConnectionRefusedError as exc:
        raise MailTemporaryError(
            f"connection refused by / connessione rifiutata da {server.host}:{server.port}"
        ) from exc
    except smtplib.SMTPServerDisconnected as exc:
        if "timed out" not in str(exc):
            raise MailTemporaryError(
                f"{server.host}:{server.port} closed the connection / ha chiuso la "
                f"connessione: {exc}"
            ) from exc
        raise MailTemporaryError(
            f"no answer within {timeout:.0f} s from / nessuna risposta in {timeout:.0f} s da "
            f"{server.host}:{server.port}"
        ) from exc
    except TimeoutError as exc:
        raise MailTemporaryError(
            f"no answer within {timeout:.0f} s from / nessuna risposta in {timeout:.0f} s da "
            f"{server.host}:{server.port}"
        ) from exc
    except socket.gaierror as exc:
        raise MailTemporaryError(
            f"unknown host / server sconosciuto {server.host}: {exc.strerror}"
        ) from exc
    except (smtplib.SMTPException, OSError) as exc:
        raise MailTemporaryError(
            f"could not talk to / impossibile parlare con {server.host}:{server.port}: {exc}"
        ) from exc


def _send(server: SmtpServer, message: EmailMessage, timeout: float) -> None:
    context = ssl.create_default_context()
    if server.implicit_tls:
        client: smtplib.SMTP = smtplib.SMTP_SSL(
            server.host, server.port, timeout=timeout, context=context
        )
    else:
        client = smtplib.SMTP(server.host, server.port, timeout=timeout)
    with client:
        client.ehlo()
        if server.starttls:
            if not client.has_extn("starttls"):
                raise MailTemporaryError(
                    f"{server.host}:{server.port} offers no STARTTLS; credentials are never "
                    "sent in clear / il server non offre STARTTLS: le credenziali non "
                    "viaggiano in chiaro (usa smtps:// o un server con STARTTLS)"
                )
            client.starttls(context=context)
            client.ehlo()
        if server.username is not None:
            client.login(server.username, server.password or "")
        client.send_message(message)


def _reason(raw: bytes | str) -> str:
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    return " ".join(text.split())[:300]
