"""Getting operators' answers, and the bot's "I'm back", into the customer's conversation.

An answer is first committed to the outbox (``ticket_messages`` with ``delivered = 0``,
see :func:`desk.tickets.answer_ticket`); delivery happens afterwards and is retried by
:func:`deliver_pending` (the monitor loop calls it), so a crash or an unreachable Rasa
loses nothing. What "delivered" means depends on the customer's channel:

**Push channels** (``socketio``, the web chat; ``callback``): the desk calls Rasa's
token-protected HTTP API, ``POST /conversations/{id}/trigger_intent?output_channel=latest``
with the external intent ``EXTERNAL_operator_message``. The rule for it runs
``action_deliver_operator_message``, which reads the conversation's undelivered answers
*from the outbox* and utters them; Rasa pushes them to the customer's socket.io room.
The intent carries no text: a customer typing ``/EXTERNAL_operator_message`` can only
make pending answers appear, never put words in the bot's mouth. An answer counts as
delivered once Rasa accepted the trigger (HTTP 200); the action marks it too. A
socket.io customer who is not connected at that moment gets no push later (Rasa
keeps no per-customer mailbox); it stays in the conversation's history in Rasa's
tracker store and on the ticket, and the chat page shows it when the customer comes
back (webchat/conversation.py). On close, ``EXTERNAL_ticket_closed`` runs
``action_handoff_closed``: the bot says it is back (in the customer's language) and
clears the ``handoff_active`` slot; the ticket's ``resume_delivered`` flag is set.

**Pull channels** (``rest`` and anything else): Rasa's REST channel can only answer
the customer's own request, and a triggered message has nowhere to go (with
``output_channel=latest`` it would be collected into the API's response and lost). So
nothing is sent at answer time: the answer waits in the outbox, and on the customer's
next request ``action_record_for_operator`` (the rule that keeps the bot silent while
a person owns the conversation) replies with the pending answers and marks them
delivered. After a close, that next request gets the pending answers, the bot's "I'm
back" and, for a question, the knowledge base's answer. A REST front end that wants
answers sooner must poll (send a message); Rasa's ``callback`` channel is the push
alternative for server-to-server integrations.

Rasa resumes conversations through the ``handoff_active`` slot, not
``ConversationPaused``: a paused conversation runs no triggered intents (see
RASA-NOTES), which would make push delivery impossible.
"""

from __future__ import annotations

import logging

import httpx
import sqlite_utils

from desk import tickets
from sportello.keys import rasa_token
from sportello.settings import Settings

logger = logging.getLogger(__name__)

# Channels whose Rasa output channel reaches the customer without a customer request.
PUSH_CHANNELS = frozenset({"socketio", "callback"})

INTENT_OPERATOR_MESSAGE = "EXTERNAL_operator_message"
INTENT_TICKET_CLOSED = "EXTERNAL_ticket_closed"

TIMEOUT_S = 10.0


def is_push_channel(channel: str | None) -> bool:
    return channel in PUSH_CHANNELS


def trigger_intent(settings: Settings, conversation_id: str, intent: str) -> bool:
    """Run ``intent`` in the conversation, output to its latest channel; True on success.

    Failures (Rasa down, a timeout, a non-200 answer) are logged, not raised: the
    outbox keeps the work for the next :func:`deliver_pending`.
    """
    url = f"{settings.rasa_url}/conversations/{conversation_id}/trigger_intent"
    try:
        reply = httpx.post(
            url,
            params={"output_channel": "latest", "token": rasa_token(settings)},
            json={"name": intent},
            timeout=TIMEOUT_S,
        )
    except httpx.HTTPError as exc:
        logger.warning("could not reach Rasa for %s in %s: %s", intent, conversation_id, exc)
        return False
    if reply.status_code != 200:
        logger.warning(
            "Rasa refused %s in %s: HTTP %s %s",
            intent,
            conversation_id,
            reply.status_code,
            reply.text[:300],
        )
        return False
    return True


def deliver_ticket_updates(db: sqlite_utils.Database, settings: Settings, ticket_id: int) -> bool:
    """Push the ticket's pending answers, then (if closed) the resume; True if nothing is left.

    For pull channels nothing is pushed (see the module docstring) and False is
    returned while answers wait for the customer's next request.
    """
    ticket = tickets.get_ticket(db, ticket_id)
    pending = tickets.pending_answers(db, ticket_id)
    if not is_push_channel(ticket.channel):
        return not pending and (ticket.active or ticket.resume_delivered)
    if pending:
        if not trigger_intent(settings, ticket.conversation_id, INTENT_OPERATOR_MESSAGE):
            return False
        tickets.mark_delivered(db, [message.id for message in pending])
    if ticket.status == tickets.STATUS_CLOSED and not ticket.resume_delivered:
        if not trigger_intent(settings, ticket.conversation_id, INTENT_TICKET_CLOSED):
            return False
        tickets.mark_resume_delivered(db, ticket_id)
    return True


def deliver_pending(db: sqlite_utils.Database, settings: Settings) -> int:
    """Retry everything the outbox still holds for push channels; returns tickets done.

    Safe to call often and from several processes: delivering twice only repeats a
    trigger whose action finds nothing left to say.
    """
    ticket_ids = {message.ticket_id for message in tickets.pending_answers(db)}
    ticket_ids |= {ticket.id for ticket in tickets.closed_awaiting_resume(db)}
    done = 0
    for ticket_id in sorted(ticket_ids):
        ticket = tickets.get_ticket(db, ticket_id)
        if is_push_channel(ticket.channel) and deliver_ticket_updates(db, settings, ticket_id):
            done += 1
    return done
