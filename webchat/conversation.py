"""What a returning web-chat customer is shown: their ticket's state and the operators'
answers, for their own conversation only (``POST /conversation`` on the chat page).

Why: the socket.io channel pushes an operator's answer to the browser that is connected
at that moment; a customer who closed the tab (out of hours, say) finds nothing when
they come back, although the answer is in Rasa's tracker and on the ticket. The page
asks here, before the widget opens, and puts what is missing into the chat.

Two ways to ask, each proving the right to that one conversation:

- ``{"session_id": "…"}``: the web chat's own session id, which the browser kept
  (sportello/chatlinks.py signs every id the server issues). A forged id gets 403. A
  conversation that has seen nothing for ``SPORTELLO_WEBCHAT_KEEP_DAYS`` (no turn with
  the bot in the customer log, no message, answer or close on its ticket) gets 410, as
  the browser itself forgets it by then.
- ``{"resume": "…"}``: the token of the "continue the conversation" link of an answer
  mail; it names a ticket and expires (403 forged, 410 expired). The answer carries the
  conversation's session id, so the browser continues that conversation.

Nothing else is ever returned: the latest ticket *of that conversation*, its state and
the operators' answers already delivered to it (never the operator's name, never
another conversation's ticket). ``lang`` (``it``/``en``) chooses the words of the state.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlite_utils
from sqlite_utils.db import NotFoundError

from customerlog import turns
from desk import tickets
from sportello import chatlinks, clock
from sportello.settings import Settings

STATE_WAITING = "waiting"
STATE_ANSWERED = "answered"
STATE_CLOSED = "closed"

STATE_TEXT: dict[str, dict[str, str]] = {
    "it": {
        STATE_WAITING: "La tua richiesta n. {ticket} è in attesa di un operatore.",
        STATE_ANSWERED: "Un operatore ha risposto alla tua richiesta n. {ticket}.",
        STATE_CLOSED: "La tua richiesta n. {ticket} è chiusa.",
    },
    "en": {
        STATE_WAITING: "Your request no. {ticket} is waiting for an operator.",
        STATE_ANSWERED: "An operator has answered your request no. {ticket}.",
        STATE_CLOSED: "Your request no. {ticket} is closed.",
    },
}

BAD_REQUEST = (
    'Richiesta non valida: invia {"session_id": "…"} oppure {"resume": "…"}. / '
    'Bad request: send {"session_id": "…"} or {"resume": "…"}.'
)
FORGED = (
    "Questa conversazione non può essere aperta da qui. / "
    "This conversation cannot be opened from here."
)
EXPIRED = (
    "Questa conversazione non è più disponibile in questo browser: scrivici di nuovo. / "
    "This conversation is no longer available here: please write to us again."
)


@dataclass(frozen=True)
class Reply:
    """The HTTP status and JSON body the page gets."""

    status: int
    body: dict[str, Any]


def _error(status: int, message: str) -> Reply:
    return Reply(status, {"error": message})


def _last_activity(
    db: sqlite_utils.Database,
    session_id: str,
    ticket: tickets.Ticket | None,
    messages: list[tickets.Message],
) -> datetime | None:
    """When the conversation last saw anything: a turn with the bot (the customer log),
    the ticket's creation, a message or answer, a delivery, the close. None: nothing yet."""
    stamps = [turn["at"] for turn in turns.conversation_turns(db, session_id)]
    if ticket is not None:
        stamps += [ticket.created_at, ticket.closed_at]
    for message in messages:
        stamps += [message.created_at, message.delivered_at]
    moments = [clock.parse_time(stamp) for stamp in stamps if stamp]
    return max(moments) if moments else None  # type: ignore[type-var]


def _state(ticket: tickets.Ticket, answers: list[tickets.Message]) -> str:
    if not ticket.active:
        return STATE_CLOSED
    return STATE_ANSWERED if answers else STATE_WAITING


def conversation_view(
    db: sqlite_utils.Database, settings: Settings, body: object, now: datetime
) -> Reply:
    """The answer to one ``POST /conversation`` (see the module docstring)."""
    if not isinstance(body, dict):
        return _error(400, BAD_REQUEST)
    session_id, token, lang = body.get("session_id"), body.get("resume"), body.get("lang")
    lang = lang if isinstance(lang, str) and lang in STATE_TEXT else settings.default_lang
    if (session_id is None) == (token is None):
        return _error(400, BAD_REQUEST)
    if not isinstance(session_id or token, str) or len(session_id or token) > 200:
        return _error(400, BAD_REQUEST)
    key = chatlinks.session_key(settings)
    from_link = token is not None
    if from_link:
        try:
            ticket_id = chatlinks.read_resume_token(token, key, now)
        except chatlinks.ExpiredToken:
            return _error(410, EXPIRED)
        except chatlinks.ForgedToken:
            return _error(403, FORGED)
        try:
            session_id = tickets.get_ticket(db, ticket_id).conversation_id
        except NotFoundError:  # erased since the mail was sent
            return _error(410, EXPIRED)
    if not chatlinks.is_signed_session_id(session_id, key):
        # A link to a ticket of another channel (REST, Telegram…) cannot open the web chat.
        return _error(410 if from_link else 403, EXPIRED if from_link else FORGED)
    if settings.webchat_keep_days <= 0:
        return _error(410, EXPIRED)
    ticket = tickets.latest_ticket(db, session_id)
    messages = tickets.ticket_messages(db, ticket.id) if ticket is not None else []
    keep = timedelta(days=settings.webchat_keep_days)
    last = _last_activity(db, session_id, ticket, messages)
    expires = last + keep if last is not None else now + keep
    if from_link:
        expires = max(expires, now + keep)
    elif expires <= now:
        return _error(410, EXPIRED)
    if ticket is None:
        return Reply(
            200,
            {
                "session_id": session_id,
                "expires_at": clock.format_time(expires),
                "ticket": None,
                "answers": [],
            },
        )
    answers = [m for m in messages if m.role == tickets.ROLE_OPERATOR and m.delivered]
    state = _state(ticket, answers)
    return Reply(
        200,
        {
            "session_id": session_id,
            "expires_at": clock.format_time(expires),
            "ticket": {
                "id": ticket.id,
                "state": state,
                "text": STATE_TEXT[lang][state].format(ticket=ticket.id),
            },
            "answers": [
                {"id": m.id, "text": m.text, "at": m.delivered_at or m.created_at} for m in answers
            ],
        },
    )
