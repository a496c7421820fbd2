"""Handoff tickets: what the bot could not solve, with its SLA, transcript and audit log.

The bot opens a ticket when a conversation escalates (the customer asks for a person,
the knowledge base abstains twice, answers are rejected, a personal case). A
conversation has at most one active (open or claimed) ticket: asking again returns the
ticket already there, so operators never see duplicates. The check and the insert run
in one write transaction, and a partial unique index makes SQLite refuse a second
active ticket whatever code writes it.

Everything lives in SQLite, nothing only in memory, so a restart loses nothing:

- ``tickets``: one row per ticket, with the SLA deadlines computed at creation by
  :mod:`desk.sla` (stored in UTC, ISO 8601) and the flags the monitor sets;
- ``ticket_messages``: the transcript (``customer``/``bot`` turns copied from the
  conversation, customer messages recorded while an operator owns the conversation)
  and the operators' answers, which double as the outbox: an answer is stored with
  ``delivered = 0`` first and marked delivered once it reached the customer
  (see :mod:`desk.delivery`);
- ``ticket_events``: the audit log (created, claimed, answered, at_risk, breached,
  escalated, closed, email).

The operator console uses only the functions this package exports, never its own SQL.
The tables are created and changed by numbered migrations (:mod:`desk.migrations`),
applied once at start-up, never checked on a read.

The package is split by what each part holds: :mod:`~desk.tickets.schema` (table names
and stored values), :mod:`~desk.tickets.models` (what the functions return and raise),
:mod:`~desk.tickets.queries` (reads), :mod:`~desk.tickets.commands` (writes) and
:mod:`~desk.tickets.sla_checks` (the monitor's SLA pass). Import from ``desk.tickets``.
"""

from __future__ import annotations

from desk.tickets.commands import (
    answer_ticket,
    claim_ticket,
    close_ticket,
    configured_policy,
    follow_up_ticket,
    log_event,
    mark_delivered,
    mark_resume_delivered,
    move_ticket,
    open_ticket,
    record_customer_message,
    set_customer_email,
    take_over_ticket,
)
from desk.tickets.models import (
    Event,
    Message,
    Ticket,
    TicketClaimedError,
    TicketClosedError,
    TicketError,
)
from desk.tickets.queries import (
    active_ticket_of,
    closed_awaiting_resume,
    conversation_pending_answers,
    events_after,
    get_message,
    get_open_ticket,
    get_ticket,
    last_customer_messages,
    last_event_id,
    latest_ticket,
    list_queue,
    list_tickets,
    mail_candidates,
    pending_answers,
    ticket_conversations,
    ticket_events,
    ticket_messages,
)
from desk.tickets.schema import (
    ACTIVE_STATUSES,
    CONVERSATIONS,
    DEFAULT_PRIORITY,
    EVENT_ANSWERED,
    EVENT_AT_RISK,
    EVENT_BREACHED,
    EVENT_CLAIMED,
    EVENT_CLOSED,
    EVENT_CREATED,
    EVENT_EMAIL,
    EVENT_EMAIL_FAILED,
    EVENT_EMAIL_IGNORED,
    EVENT_EMAIL_REPLY,
    EVENT_ESCALATED,
    EVENT_FOLLOW_UP,
    EVENT_MOVED,
    EVENT_TAKEN_OVER,
    EVENTS,
    MESSAGES,
    REASON_ANSWER_REJECTED,
    REASON_ASKED_FOR_HUMAN,
    REASON_BOT_ERROR,
    REASON_EMAIL_REPLY,
    REASON_KB_ABSTAINED,
    REASON_PERSONAL_CASE,
    REASONS,
    ROLE_BOT,
    ROLE_CUSTOMER,
    ROLE_OPERATOR,
    ROLES,
    STATUS_CLAIMED,
    STATUS_CLOSED,
    STATUS_OPEN,
    STATUSES,
    TABLE,
    TARGET_FIRST_RESPONSE,
    TARGET_RESOLUTION,
)
from desk.tickets.sla_checks import (
    check_sla,
)

__all__ = [
    "ACTIVE_STATUSES",
    "CONVERSATIONS",
    "DEFAULT_PRIORITY",
    "EVENTS",
    "EVENT_ANSWERED",
    "EVENT_AT_RISK",
    "EVENT_BREACHED",
    "EVENT_CLAIMED",
    "EVENT_CLOSED",
    "EVENT_CREATED",
    "EVENT_EMAIL",
    "EVENT_EMAIL_FAILED",
    "EVENT_EMAIL_IGNORED",
    "EVENT_EMAIL_REPLY",
    "EVENT_ESCALATED",
    "EVENT_FOLLOW_UP",
    "EVENT_MOVED",
    "EVENT_TAKEN_OVER",
    "MESSAGES",
    "REASONS",
    "REASON_ANSWER_REJECTED",
    "REASON_ASKED_FOR_HUMAN",
    "REASON_BOT_ERROR",
    "REASON_EMAIL_REPLY",
    "REASON_KB_ABSTAINED",
    "REASON_PERSONAL_CASE",
    "ROLES",
    "ROLE_BOT",
    "ROLE_CUSTOMER",
    "ROLE_OPERATOR",
    "STATUSES",
    "STATUS_CLAIMED",
    "STATUS_CLOSED",
    "STATUS_OPEN",
    "TABLE",
    "TARGET_FIRST_RESPONSE",
    "TARGET_RESOLUTION",
    "Event",
    "Message",
    "Ticket",
    "TicketClaimedError",
    "TicketClosedError",
    "TicketError",
    "active_ticket_of",
    "answer_ticket",
    "check_sla",
    "claim_ticket",
    "close_ticket",
    "closed_awaiting_resume",
    "configured_policy",
    "conversation_pending_answers",
    "events_after",
    "follow_up_ticket",
    "get_message",
    "get_open_ticket",
    "get_ticket",
    "last_customer_messages",
    "last_event_id",
    "latest_ticket",
    "list_queue",
    "list_tickets",
    "log_event",
    "mail_candidates",
    "mark_delivered",
    "mark_resume_delivered",
    "move_ticket",
    "open_ticket",
    "pending_answers",
    "record_customer_message",
    "set_customer_email",
    "take_over_ticket",
    "ticket_conversations",
    "ticket_events",
    "ticket_messages",
]
