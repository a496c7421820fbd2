"""Reading the customer log and the desk for one period: the insights' only SQL.

Turns and ratings are read with one ``SELECT`` each (the customer log has no range
query of its own); tickets through :mod:`desk.tickets`. Times are stored as ISO text,
mostly in UTC but not always (a rating stores the offset it was given), so rows are
pre-selected by text with a day's margin on each side and then kept or dropped on
their parsed, timezone-aware time: the text comparison alone could miss or add rows
near midnight.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import sqlite_utils

from customerlog import schema
from desk import tickets
from identity import profiles
from insights.filters import Filters, is_simulated

# Text pre-selection margin: larger than any UTC offset.
_MARGIN = timedelta(days=1)


def parse_at(text: str | None) -> datetime | None:
    """A stored time as an aware datetime; naive text is UTC (how the log writes it)."""
    if not text:
        return None
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


@dataclass(frozen=True)
class Turn:
    """One row of ``log_turns`` (see :mod:`customerlog.schema`)."""

    id: int
    conversation_id: str
    customer_id: str
    channel: str | None
    lang: str | None
    at: datetime
    kind: str
    text: str
    intent: str | None
    decision: str | None
    article_id: str | None
    ticket_id: int | None


@dataclass(frozen=True)
class Rating:
    """One row of ``ratings``."""

    kind: str
    value: int
    target_type: str
    target_id: str
    conversation_id: str
    customer_id: str
    channel: str | None
    lang: str | None
    at: datetime


@dataclass(frozen=True)
class TicketRecord:
    """A ticket with what its audit log and messages add: when an operator first took
    it (``claimed`` or ``taken_over``) and how many answers operators wrote."""

    ticket: tickets.Ticket
    created: datetime
    first_taken: datetime | None
    operator_answers: int


@dataclass
class PeriodData:
    """Everything read for one period. ``turns`` are those in the period; ``later_turns``
    those up to ``follow_up`` after it (to see whether a customer came back)."""

    filters: Filters
    turns: list[Turn] = field(default_factory=list)
    later_turns: list[Turn] = field(default_factory=list)
    ratings: list[Rating] = field(default_factory=list)
    tickets: list[TicketRecord] = field(default_factory=list)
    # The period's tickets by conversation, whatever their channel and language (a
    # conversation is escalated when one of its tickets was created in the period).
    ticket_conversations: dict[str, list[TicketRecord]] = field(default_factory=dict)


def _between(filters: Filters, end: datetime) -> tuple[str, str]:
    low = (filters.start - _MARGIN).astimezone(timezone.utc).isoformat()
    high = (end + _MARGIN).astimezone(timezone.utc).isoformat()
    return low, high


def read_turns(db: sqlite_utils.Database, filters: Filters, end: datetime) -> list[Turn]:
    """Turns from the period's start up to ``end`` (exclusive), source filter applied,
    oldest first. Channel and language are applied per conversation by the figures."""
    low, high = _between(filters, end)
    rows = db.query(
        f"""SELECT id, conversation_id, customer_id, channel, lang, at, kind, text, intent,
                   decision, article_id, ticket_id
            FROM {schema.TURNS} WHERE at >= ? AND at < ? ORDER BY at, id""",
        [low, high],
    )
    people = profiles.profile_map(db)
    turns = []
    for row in rows:
        at = parse_at(row["at"])
        if at is None or not filters.start <= at < end:
            continue
        if not filters.keeps(row["conversation_id"]):
            continue
        turns.append(
            Turn(
                id=row["id"],
                conversation_id=row["conversation_id"],
                # The person, across channels (identity.profiles), not the channel id.
                customer_id=people.get(row["conversation_id"])
                or people.get(row["customer_id"])
                or row["customer_id"],
                channel=row["channel"],
                lang=row["lang"],
                at=at,
                kind=row["kind"],
                text=row["text"] or "",
                intent=row["intent"],
                decision=row["decision"],
                article_id=row["article_id"],
                ticket_id=row["ticket_id"],
            )
        )
    turns.sort(key=lambda t: (t.at, t.id))
    return turns


def read_ratings(db: sqlite_utils.Database, filters: Filters) -> list[Rating]:
    """Ratings given in the period, matching the channel, language and source filters
    (a rating's own ``channel`` and ``lang``)."""
    low, high = _between(filters, filters.end)
    rows = db.query(
        f"""SELECT kind, value, target_type, target_id, conversation_id, customer_id,
                   channel, lang, at
            FROM {schema.RATINGS} WHERE at >= ? AND at < ? ORDER BY at, id""",
        [low, high],
    )
    ratings = []
    for row in rows:
        at = parse_at(row["at"])
        if at is None or not filters.contains(at):
            continue
        if not filters.keeps(row["conversation_id"]):
            continue
        if not filters.matches(row["channel"], row["lang"]):
            continue
        ratings.append(Rating(**{**row, "at": at}))
    return ratings


def ticket_record(db: sqlite_utils.Database, ticket: tickets.Ticket) -> TicketRecord:
    """A ticket with its first take-over time and number of operator answers."""
    taken = [
        parse_at(event.created_at)
        for event in tickets.ticket_events(db, ticket.id)
        if event.kind in (tickets.EVENT_CLAIMED, tickets.EVENT_TAKEN_OVER)
    ]
    answers = sum(
        1 for m in tickets.ticket_messages(db, ticket.id) if m.role == tickets.ROLE_OPERATOR
    )
    created = parse_at(ticket.created_at)
    assert created is not None
    return TicketRecord(
        ticket=ticket,
        created=created,
        first_taken=min((t for t in taken if t is not None), default=None),
        operator_answers=answers,
    )


def read_period(
    db: sqlite_utils.Database, filters: Filters, follow_up: timedelta = timedelta(0)
) -> PeriodData:
    """Turns, ratings and tickets of the period (and turns ``follow_up`` beyond it)."""
    all_turns = read_turns(db, filters, filters.end + follow_up)
    in_period = [t for t in all_turns if t.at < filters.end]
    later = [t for t in all_turns if t.at >= filters.end]
    records: list[TicketRecord] = []
    by_conversation: dict[str, list[TicketRecord]] = {}
    for ticket in tickets.list_tickets(db):
        created = parse_at(ticket.created_at)
        if created is None or not filters.keeps(ticket.conversation_id):
            continue
        if not filters.contains(created):
            continue
        record = ticket_record(db, ticket)
        by_conversation.setdefault(ticket.conversation_id, []).append(record)
        if filters.matches(ticket.channel, ticket.lang):
            records.append(record)
    return PeriodData(
        filters=filters,
        turns=in_period,
        later_turns=later,
        ratings=read_ratings(db, filters),
        tickets=records,
        ticket_conversations=by_conversation,
    )


def channels_seen(db: sqlite_utils.Database) -> list[str]:
    """Every channel that appears in the log, for the filter's choices."""
    rows = db.execute(
        f"SELECT DISTINCT channel FROM {schema.TURNS} WHERE channel IS NOT NULL ORDER BY channel"
    ).fetchall()
    return [row[0] for row in rows]


def simulated_conversations(db: sqlite_utils.Database, filters: Filters | None = None) -> int:
    """How many simulated conversations the log holds (in the period, if given)."""
    if filters is None:
        row = db.execute(
            f"SELECT COUNT(DISTINCT conversation_id) FROM {schema.TURNS} "
            "WHERE conversation_id LIKE 'sim-%'"
        ).fetchone()
        return int(row[0])
    turns = read_turns(db, filters, filters.end)
    return len({t.conversation_id for t in turns if is_simulated(t.conversation_id)})
