"""Signed web-chat session ids and the expiring links that reopen a conversation.

Two things, one key (``data_dir/session_secret``, created on first use and read by every
process: the Rasa server issues session ids, the chat page checks them, the monitor puts
links in answer mails):

- **Session ids** are the web chat's conversation ids: 32 random hex characters followed by
  32 of HMAC-SHA256 signature. The socket.io channel (bot/channels.py) issues them, and a
  browser may only continue a session id this server signed, so nobody can join or read
  another customer's conversation by naming it. The format is unchanged since the first
  release: ids issued then stay valid.
- **Resume tokens** go in the "continue the conversation" link of an answer mail:
  ``<ticket id>.<expiry, Unix seconds>.<signature>``. They name the ticket, not the
  conversation, so an expired link gives away nothing that still opens the chat; the
  signature (128 bits, over a different message than session ids sign) cannot be guessed
  or forged, and the expiry cannot be changed without breaking it.

Why a floor module: the Rasa side, the page server and the desk's mails all need the same
signing, and none of them may import the others.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import uuid
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlencode

from sportello.keys import load_key
from sportello.settings import Settings

SESSION_KEY_FILE = "session_secret"
SIGNATURE_CHARS = 32
_SESSION_ID = re.compile(r"[0-9a-f]{64}")
_RESUME_TOKEN = re.compile(r"([1-9][0-9]{0,11})\.([0-9]{1,12})\.([0-9a-f]{32})")
# Where the chat page finds a resume token: the URL's fragment, which browsers never send
# to a server, put in a Referer or keep in an access log.
RESUME_FRAGMENT = "resume"


class ResumeTokenError(ValueError):
    """A resume link that cannot open a conversation."""


class ForgedToken(ResumeTokenError):
    """Not a token this server signed (a guess, a typo, a changed ticket or expiry)."""


class ExpiredToken(ResumeTokenError):
    """A token this server signed whose time is over."""


@lru_cache(maxsize=4)
def _key_in(data_dir: Path) -> bytes:
    return load_key(None, data_dir, SESSION_KEY_FILE)


def session_key(settings: Settings) -> bytes:
    """The key signing session ids and resume tokens (kept in the data folder)."""
    return _key_in(Path(settings.data_dir))


def _sign(key: bytes, message: str) -> str:
    return hmac.new(key, message.encode("ascii"), hashlib.sha256).hexdigest()[:SIGNATURE_CHARS]


def new_session_id(key: bytes) -> str:
    """A random id followed by its signature (64 hex characters)."""
    raw = uuid.uuid4().hex
    return raw + _sign(key, raw)


def is_signed_session_id(value: object, key: bytes) -> bool:
    """Whether ``value`` is a session id signed with ``key``."""
    if not isinstance(value, str) or not _SESSION_ID.fullmatch(value):
        return False
    return hmac.compare_digest(value[32:], _sign(key, value[:32]))


def resume_token(ticket_id: int, expires: datetime, key: bytes) -> str:
    """The token of a link reopening ``ticket_id``'s conversation until ``expires``."""
    if expires.tzinfo is None:
        raise ValueError("expires must be timezone-aware")
    seconds = int(expires.timestamp())
    return f"{ticket_id}.{seconds}.{_sign(key, f'resume:{ticket_id}:{seconds}')}"


def read_resume_token(token: str, key: bytes, now: datetime) -> int:
    """The ticket a resume token names; raises :class:`ForgedToken` for anything this
    server did not sign and :class:`ExpiredToken` once its expiry has passed (the
    signature is checked first, so a forgery never learns whether a ticket exists)."""
    match = _RESUME_TOKEN.fullmatch(token) if isinstance(token, str) else None
    if match is None:
        raise ForgedToken("not a resume token")
    ticket, seconds, signature = match.groups()
    if not hmac.compare_digest(signature, _sign(key, f"resume:{ticket}:{seconds}")):
        raise ForgedToken("bad signature")
    if datetime.fromtimestamp(int(seconds), timezone.utc) <= now:
        raise ExpiredToken("the link has expired")
    return int(ticket)


def resume_expiry(settings: Settings, now: datetime) -> datetime:
    """When a link made now stops working: as long as the browser keeps the chat."""
    return now + timedelta(days=settings.webchat_keep_days)


def resume_url(settings: Settings, ticket_id: int, lang: str, now: datetime) -> str | None:
    """The "continue the conversation" link for a ticket's mail, or None when there can
    be none: no public chat address (``SPORTELLO_PUBLIC_CHAT_URL``) to point at, or
    resuming switched off (``SPORTELLO_WEBCHAT_KEEP_DAYS=0``)."""
    if not settings.public_chat_url or settings.webchat_keep_days <= 0:
        return None
    token = resume_token(ticket_id, resume_expiry(settings, now), session_key(settings))
    query = urlencode({"lang": lang})
    return f"{settings.public_chat_url}/?{query}#{RESUME_FRAGMENT}={token}"
