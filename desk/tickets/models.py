"""What the ticket functions return (tickets, messages, audit-log events) and raise."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from desk.tickets.schema import ACTIVE_STATUSES, DEFAULT_PRIORITY


class TicketError(Exception):
    """A ticket operation that cannot be done; the message says why."""


class TicketClosedError(TicketError):
    """The ticket is closed: nobody can answer or claim it any more."""


class TicketClaimedError(TicketError):
    """Another operator holds the ticket."""


@dataclass(frozen=True)
class Ticket:
    """One escalated conversation as the operators see it.

    Datetimes are ISO 8601 strings in UTC (``...+00:00``); :func:`sportello.clock.parse_time` turns
    them into aware datetimes. ``at_risk``/``breached`` are set by :func:`check_sla`.
    """

    id: int
    conversation_id: str
    customer_id: str | None
    channel: str | None
    lang: str
    reason: str
    status: str
    created_at: str
    transcript: list[dict[str, Any]] = field(default_factory=list)
    priority: str = DEFAULT_PRIORITY
    assigned_to: str | None = None
    first_response_due: str | None = None
    resolution_due: str | None = None
    first_response_at: str | None = None
    closed_at: str | None = None
    closed_by: str | None = None
    escalation_level: int = 0
    at_risk: bool = False
    breached: bool = False
    customer_email: str | None = None
    resume_delivered: bool = False

    @property
    def active(self) -> bool:
        """Open or claimed: an operator owns (or will own) the conversation."""
        return self.status in ACTIVE_STATUSES

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Ticket:
        return cls(
            id=row["id"],
            conversation_id=row["conversation_id"],
            customer_id=row["customer_id"],
            channel=row["channel"],
            lang=row["lang"],
            reason=row["reason"],
            status=row["status"],
            created_at=row["created_at"],
            transcript=json.loads(row["transcript"] or "[]"),
            priority=row.get("priority") or DEFAULT_PRIORITY,
            assigned_to=row.get("assigned_to"),
            first_response_due=row.get("first_response_due"),
            resolution_due=row.get("resolution_due"),
            first_response_at=row.get("first_response_at"),
            closed_at=row.get("closed_at"),
            closed_by=row.get("closed_by"),
            escalation_level=row.get("escalation_level") or 0,
            at_risk=bool(row.get("at_risk")),
            breached=bool(row.get("breached")),
            customer_email=row.get("customer_email"),
            resume_delivered=bool(row.get("resume_delivered")),
        )


@dataclass(frozen=True)
class Message:
    """One line of a ticket's transcript, or an operator's answer (the outbox).

    ``delivered`` matters for operator answers only: False until the answer reached
    the customer's conversation.
    """

    id: int
    ticket_id: int
    role: str
    text: str
    created_at: str
    author: str | None = None
    delivered: bool = True
    delivered_at: str | None = None

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Message:
        return cls(
            id=row["id"],
            ticket_id=row["ticket_id"],
            role=row["role"],
            text=row["text"],
            created_at=row["created_at"],
            author=row["author"],
            delivered=bool(row["delivered"]),
            delivered_at=row["delivered_at"],
        )


@dataclass(frozen=True)
class Event:
    """One entry of a ticket's audit log."""

    id: int
    ticket_id: int
    kind: str
    detail: str | None
    actor: str | None
    created_at: str

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Event:
        return cls(
            id=row["id"],
            ticket_id=row["ticket_id"],
            kind=row["kind"],
            detail=row["detail"],
            actor=row["actor"],
            created_at=row["created_at"],
        )
