"""The ticket tables' names and the values stored in them: reasons, statuses, roles,
audit-log kinds, SLA targets. The tables themselves are created by :mod:`desk.migrations`."""

from __future__ import annotations

TABLE = "tickets"
MESSAGES = "ticket_messages"
EVENTS = "ticket_events"
# Every conversation a ticket has lived in: a customer recognised on another channel
# continues the same ticket there (see move_ticket).
CONVERSATIONS = "ticket_conversations"

# Why a ticket was opened; kept as plain strings so reports can group by them.
REASON_ASKED_FOR_HUMAN = "asked_for_human"
REASON_KB_ABSTAINED = "kb_abstained"
REASON_ANSWER_REJECTED = "answer_rejected"
REASON_PERSONAL_CASE = "personal_case"
REASON_BOT_ERROR = "bot_error"
# The customer replied by e-mail to a ticket already closed: a follow-up ticket.
REASON_EMAIL_REPLY = "email_reply"
REASONS = (
    REASON_ASKED_FOR_HUMAN,
    REASON_KB_ABSTAINED,
    REASON_ANSWER_REJECTED,
    REASON_PERSONAL_CASE,
    REASON_BOT_ERROR,
    REASON_EMAIL_REPLY,
)

STATUS_OPEN = "open"
STATUS_CLAIMED = "claimed"
STATUS_CLOSED = "closed"
STATUSES = (STATUS_OPEN, STATUS_CLAIMED, STATUS_CLOSED)
ACTIVE_STATUSES = (STATUS_OPEN, STATUS_CLAIMED)

DEFAULT_PRIORITY = "normal"

ROLE_CUSTOMER = "customer"
ROLE_BOT = "bot"
ROLE_OPERATOR = "operator"
ROLES = (ROLE_CUSTOMER, ROLE_BOT, ROLE_OPERATOR)

EVENT_CREATED = "created"
EVENT_CLAIMED = "claimed"
EVENT_TAKEN_OVER = "taken_over"
EVENT_ANSWERED = "answered"
EVENT_AT_RISK = "at_risk"
EVENT_BREACHED = "breached"
EVENT_ESCALATED = "escalated"
EVENT_CLOSED = "closed"
EVENT_EMAIL = "email"
EVENT_MOVED = "moved"
# E-mail with the customer (desk/mailbox.py): a mail that could not be sent, a reply
# added, a reply not added (auto-reply, bounce, wrong sender), a follow-up ticket.
EVENT_EMAIL_FAILED = "email_failed"
EVENT_EMAIL_REPLY = "email_reply"
EVENT_EMAIL_IGNORED = "email_ignored"
EVENT_FOLLOW_UP = "follow_up"

# The two SLA clocks a ticket runs, named in at_risk/breached events' ``detail``.
TARGET_FIRST_RESPONSE = "first_response"
TARGET_RESOLUTION = "resolution"

# An active (open or claimed) ticket, as SQL: the reads, the writes and the SLA checks share it.
ACTIVE_SQL = "status IN ('open', 'claimed')"
