"""Every insight figure, computed from one period's data (:mod:`insights.data`).

A figure is a plain function of :class:`Facts`, so the same definition serves the
total, each day or week, each channel and each language (:func:`breakdown`), the
console, the command line and the tests. Rates are fractions 0..1 (``None`` when the
denominator is zero: "no data" is not 0%); durations are ``timedelta``.

The definitions (also in docs/insights.md):

* **conversation** — a ``conversation_id`` with at least one customer turn in the
  period. Its day, channel and language are those of its first customer turn in the
  period; the channel and language filters select conversations by them.
* **customer** — the person behind a conversation: their profile
  (:mod:`identity.profiles`), which joins their channel ids (web chat, messaging apps)
  when they gave the same verified e-mail or phone, or an operator merged them.
  **Customers** = distinct customers of the period's conversations; **multichannel
  customers** = those whose conversations in the slice used two channels or more.
* **escalated** — a conversation with an ``escalated`` turn in the period or a ticket
  created in the period. **Contained** — not escalated: no person was involved.
  Containment rate = contained / conversations; escalation rate = escalated /
  conversations (the two add up to 1).
* **first-contact resolution (FCR)** — the share of conversations resolved in that one
  contact: either the bot answered (an ``answered`` turn), nothing was escalated and
  no answer of the conversation was rated not helpful; or it was escalated and a
  ticket of it was closed after exactly one operator answer. In both cases the same
  customer must not have started another conversation, on any channel, within
  :data:`REPEAT_CONTACT_WINDOW` of this one's start. Web-chat ids persist per browser,
  so a customer coming back to the same chat is not seen as a repeat contact.
* **CSAT** — ``csat`` ratings (1–5) given in the period: their mean, and the share of
  4 and 5 ("satisfied").
* **NPS** — ``nps`` ratings (0–10) given in the period: % promoters (9–10) minus %
  detractors (0–6), from −100 to 100.
* **CES** — ``ces`` ratings (1–7, "how easy was it to get your problem solved?", asked
  after a ticket's CSAT) given in the period: their mean, and the share of 5 to 7
  ("easy").
* **helpful per article** — ``helpful`` ratings given in the period per article:
  helpful, not helpful, and the cautious score of
  :class:`customerlog.ratings.ArticleQuality` (Wilson lower bound).
* **speed to answer** — tickets created in the period that have a first operator
  answer: mean of (first answer − creation), in wall time and in business time
  (:func:`desk.sla.business_time_between`: only the desk's open hours count).
* **handling time** — closed tickets created in the period: mean of (closing − the
  moment an operator first took the ticket: claimed, taken over, or answered it
  unclaimed), wall and business time. A ticket closed without being taken counts 0.
* **SLA compliance** — tickets created in the period whose two deadlines (first
  response, resolution) are both decided: met = both met, breached = either missed
  (judged now by :func:`desk.sla.sla_state`, so an unanswered ticket past its
  deadline is a breach before the monitor's next pass). Compliance = met / (met +
  breached); tickets still within a deadline are pending and left out.
* **most used articles** — ``answered`` turns of the period's conversations per article.

Ticket figures select tickets by their own creation time, channel and language;
rating figures by the rating's time, channel and language.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from statistics import fmean

from customerlog import schema
from customerlog.ratings import ArticleQuality
from desk import sla
from insights.data import PeriodData, Rating, TicketRecord, Turn, parse_at
from insights.filters import Filters, bucket

# A customer starting another conversation this soon after one did not get a
# resolution the first time.
REPEAT_CONTACT_WINDOW = timedelta(days=7)

CSAT_SATISFIED_FROM = 4
CES_EASY_FROM = 5
NPS_PROMOTER_FROM = 9
NPS_DETRACTOR_UP_TO = 6

SLA_MET = "met"
SLA_BREACHED = "breached"
SLA_PENDING = "pending"


@dataclass(frozen=True)
class ConversationFacts:
    """What a report needs to know about one conversation."""

    id: str
    customer_id: str
    channel: str | None
    lang: str | None
    started: datetime
    day: date
    escalated: bool
    answered: bool
    rated_not_helpful: bool
    resolved_by_desk_in_one: bool
    came_back: bool

    @property
    def contained(self) -> bool:
        return not self.escalated

    @property
    def resolved_first_contact(self) -> bool:
        if self.came_back:
            return False
        if self.escalated:
            return self.resolved_by_desk_in_one
        return self.answered and not self.rated_not_helpful


@dataclass(frozen=True)
class TicketFacts:
    """One ticket's timings and SLA outcome."""

    id: int
    conversation_id: str
    channel: str | None
    lang: str
    day: date
    speed_wall: timedelta | None
    speed_business: timedelta | None
    handling_wall: timedelta | None
    handling_business: timedelta | None
    sla: str
    breached_clocks: tuple[str, ...] = ()


@dataclass(frozen=True)
class ArticleUse:
    """An article given as the answer to a customer turn."""

    article_id: str
    conversation_id: str
    day: date
    channel: str | None
    lang: str | None


@dataclass
class Facts:
    """A period boiled down to facts; :func:`summarise` turns them into figures."""

    filters: Filters
    conversations: list[ConversationFacts] = field(default_factory=list)
    ratings: list[Rating] = field(default_factory=list)
    tickets: list[TicketFacts] = field(default_factory=list)
    article_uses: list[ArticleUse] = field(default_factory=list)
    # The customer turns of the kept conversations (for knowledge gaps).
    turns: list[Turn] = field(default_factory=list)


def _came_back(
    conversation_id: str, customer_id: str, started: datetime, firsts: dict[str, list]
) -> bool:
    window_end = started + REPEAT_CONTACT_WINDOW
    return any(
        other != conversation_id and started < at <= window_end
        for other, at in firsts.get(customer_id, [])
    )


def ticket_facts(
    record: TicketRecord, policy: sla.SlaPolicy, now: datetime, filters: Filters
) -> TicketFacts:
    """A ticket's speed to answer, handling time and SLA outcome (see the module doc)."""
    ticket = record.ticket
    created = record.created
    first = parse_at(ticket.first_response_at)
    closed = parse_at(ticket.closed_at)
    speed_wall = speed_business = handling_wall = handling_business = None
    if first is not None:
        speed_wall = first - created
        speed_business = sla.business_time_between(policy, created, first)
    if closed is not None:
        start = min(record.first_taken or closed, closed)
        handling_wall = closed - start
        handling_business = sla.business_time_between(policy, start, closed)
    clocks = (
        ("first_response", parse_at(ticket.first_response_due), first),
        ("resolution", parse_at(ticket.resolution_due), closed),
    )
    states = {}
    for name, due, done in clocks:
        if due is None:  # a ticket from before the SLA columns: compute its deadline
            first_due, resolution_due = sla.due_dates(policy, ticket.priority, created)
            due = first_due if name == "first_response" else resolution_due
        states[name] = sla.sla_state(policy, created, due, now, done)
    breached = tuple(name for name, state in states.items() if state == "breached")
    if breached:
        outcome = SLA_BREACHED
    elif all(state == "met" for state in states.values()):
        outcome = SLA_MET
    else:
        outcome = SLA_PENDING
    return TicketFacts(
        id=ticket.id,
        conversation_id=ticket.conversation_id,
        channel=ticket.channel,
        lang=ticket.lang,
        day=filters.day_of(created),
        speed_wall=speed_wall,
        speed_business=speed_business,
        handling_wall=handling_wall,
        handling_business=handling_business,
        sla=outcome,
        breached_clocks=breached,
    )


def build_facts(data: PeriodData, policy: sla.SlaPolicy, now: datetime) -> Facts:
    """The period's conversations, tickets, ratings and article uses (see module doc)."""
    filters = data.filters
    by_conversation: dict[str, list[Turn]] = defaultdict(list)
    for turn in data.turns:
        by_conversation[turn.conversation_id].append(turn)
    # Each customer's conversations and when they started, later ones included.
    firsts: dict[str, list[tuple[str, datetime]]] = defaultdict(list)
    seen: set[str] = set()
    for turn in [*data.turns, *data.later_turns]:
        if turn.kind == schema.KIND_CUSTOMER and turn.conversation_id not in seen:
            seen.add(turn.conversation_id)
            firsts[turn.customer_id].append((turn.conversation_id, turn.at))
    not_helpful = {
        r.conversation_id for r in data.ratings if r.kind == schema.RATING_HELPFUL and r.value == 0
    }
    facts = Facts(filters=filters)
    for conversation_id, turns in by_conversation.items():
        customer_turns = [t for t in turns if t.kind == schema.KIND_CUSTOMER]
        if not customer_turns:
            continue
        first = customer_turns[0]
        if not filters.matches(first.channel, first.lang):
            continue
        records = data.ticket_conversations.get(conversation_id, [])
        escalated = bool(records) or any(
            t.decision == schema.DECISION_ESCALATED for t in customer_turns
        )
        facts.conversations.append(
            ConversationFacts(
                id=conversation_id,
                customer_id=first.customer_id,
                channel=first.channel,
                lang=first.lang,
                started=first.at,
                day=filters.day_of(first.at),
                escalated=escalated,
                answered=any(t.decision == schema.DECISION_ANSWERED for t in customer_turns),
                rated_not_helpful=conversation_id in not_helpful,
                resolved_by_desk_in_one=any(
                    r.ticket.closed_at and r.operator_answers == 1 for r in records
                ),
                came_back=_came_back(conversation_id, first.customer_id, first.at, firsts),
            )
        )
        for turn in customer_turns:
            facts.turns.append(turn)
            if turn.decision == schema.DECISION_ANSWERED and turn.article_id:
                facts.article_uses.append(
                    ArticleUse(
                        turn.article_id,
                        conversation_id,
                        filters.day_of(turn.at),
                        first.channel,
                        first.lang,
                    )
                )
    facts.conversations.sort(key=lambda c: (c.started, c.id))
    facts.ratings = list(data.ratings)
    facts.tickets = [ticket_facts(r, policy, now, filters) for r in data.tickets]
    return facts


# ---- figures -----------------------------------------------------------------------------


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _mean(values: Iterable[timedelta | None]) -> timedelta | None:
    present = [v.total_seconds() for v in values if v is not None]
    return timedelta(seconds=fmean(present)) if present else None


@dataclass(frozen=True)
class Summary:
    """The scalar figures of one slice (see the module docstring for definitions)."""

    conversations: int
    customers: int
    multichannel_customers: int
    contained: int
    escalated: int
    first_contact_resolved: int
    csat_responses: int
    csat_mean: float | None
    csat_satisfied: int
    nps_responses: int
    promoters: int
    passives: int
    detractors: int
    ces_responses: int
    ces_mean: float | None
    ces_easy: int
    tickets: int
    tickets_answered: int
    speed_wall: timedelta | None
    speed_business: timedelta | None
    tickets_closed: int
    handling_wall: timedelta | None
    handling_business: timedelta | None
    sla_met: int
    sla_breached: int
    sla_pending: int
    first_response_breaches: int
    resolution_breaches: int

    @property
    def containment_rate(self) -> float | None:
        return _rate(self.contained, self.conversations)

    @property
    def escalation_rate(self) -> float | None:
        return _rate(self.escalated, self.conversations)

    @property
    def fcr_rate(self) -> float | None:
        return _rate(self.first_contact_resolved, self.conversations)

    @property
    def csat_satisfied_share(self) -> float | None:
        return _rate(self.csat_satisfied, self.csat_responses)

    @property
    def ces_easy_share(self) -> float | None:
        return _rate(self.ces_easy, self.ces_responses)

    @property
    def nps(self) -> float | None:
        """% promoters − % detractors, −100..100."""
        if not self.nps_responses:
            return None
        return 100 * (self.promoters - self.detractors) / self.nps_responses

    @property
    def sla_compliance(self) -> float | None:
        return _rate(self.sla_met, self.sla_met + self.sla_breached)


def summarise(facts: Facts) -> Summary:
    """Every scalar figure of a slice."""
    conversations = facts.conversations
    csat = [r.value for r in facts.ratings if r.kind == schema.RATING_CSAT]
    nps = [r.value for r in facts.ratings if r.kind == schema.RATING_NPS]
    ces = [r.value for r in facts.ratings if r.kind == schema.RATING_CES]
    tickets = facts.tickets
    closed = [t for t in tickets if t.handling_wall is not None]
    channels_of: dict[str, set[str | None]] = defaultdict(set)
    for conversation in conversations:
        channels_of[conversation.customer_id].add(conversation.channel)
    return Summary(
        conversations=len(conversations),
        customers=len(channels_of),
        multichannel_customers=sum(len(used) > 1 for used in channels_of.values()),
        contained=sum(c.contained for c in conversations),
        escalated=sum(c.escalated for c in conversations),
        first_contact_resolved=sum(c.resolved_first_contact for c in conversations),
        csat_responses=len(csat),
        csat_mean=fmean(csat) if csat else None,
        csat_satisfied=sum(v >= CSAT_SATISFIED_FROM for v in csat),
        nps_responses=len(nps),
        promoters=sum(v >= NPS_PROMOTER_FROM for v in nps),
        passives=sum(NPS_DETRACTOR_UP_TO < v < NPS_PROMOTER_FROM for v in nps),
        detractors=sum(v <= NPS_DETRACTOR_UP_TO for v in nps),
        ces_responses=len(ces),
        ces_mean=fmean(ces) if ces else None,
        ces_easy=sum(v >= CES_EASY_FROM for v in ces),
        tickets=len(tickets),
        tickets_answered=sum(t.speed_wall is not None for t in tickets),
        speed_wall=_mean(t.speed_wall for t in tickets),
        speed_business=_mean(t.speed_business for t in tickets),
        tickets_closed=len(closed),
        handling_wall=_mean(t.handling_wall for t in closed),
        handling_business=_mean(t.handling_business for t in closed),
        sla_met=sum(t.sla == SLA_MET for t in tickets),
        sla_breached=sum(t.sla == SLA_BREACHED for t in tickets),
        sla_pending=sum(t.sla == SLA_PENDING for t in tickets),
        first_response_breaches=sum("first_response" in t.breached_clocks for t in tickets),
        resolution_breaches=sum("resolution" in t.breached_clocks for t in tickets),
    )


# ---- breakdowns --------------------------------------------------------------------------

BY_DAY = "day"
BY_WEEK = "week"
BY_CHANNEL = "channel"
BY_LANG = "lang"


def _key(dimension: str) -> Callable[[object], str]:
    if dimension in (BY_DAY, BY_WEEK):
        return lambda item: bucket(item.day, dimension)  # type: ignore[attr-defined]
    if dimension == BY_CHANNEL:
        return lambda item: item.channel or "—"  # type: ignore[attr-defined]
    if dimension == BY_LANG:
        return lambda item: item.lang or "—"  # type: ignore[attr-defined]
    raise ValueError(f"unknown breakdown {dimension!r}")


def _rating_day(rating: Rating, filters: Filters) -> date:
    return filters.day_of(rating.at)


def breakdown(
    facts: Facts, dimension: str, labels: Iterable[str] = ()
) -> list[tuple[str, Summary]]:
    """The summary per day, ISO week, channel or language, in label order; ``labels``
    lists buckets to show even when empty (every day of the period)."""
    key = _key(dimension)
    groups: dict[str, Facts] = {label: Facts(filters=facts.filters) for label in labels}

    def group(label: str) -> Facts:
        return groups.setdefault(label, Facts(filters=facts.filters))

    for conversation in facts.conversations:
        group(key(conversation)).conversations.append(conversation)
    for ticket in facts.tickets:
        group(key(ticket)).tickets.append(ticket)
    for rating in facts.ratings:
        dated = _DatedRating(rating, _rating_day(rating, facts.filters))
        group(key(dated)).ratings.append(rating)
    ordered = list(labels) or sorted(groups)
    ordered += sorted(set(groups) - set(ordered))
    return [(label, summarise(groups[label])) for label in ordered]


@dataclass(frozen=True)
class _DatedRating:
    rating: Rating
    day: date

    @property
    def channel(self) -> str | None:
        return self.rating.channel

    @property
    def lang(self) -> str | None:
        return self.rating.lang


# ---- articles ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ArticleUsage:
    """How often an article was the bot's answer in the period."""

    article_id: str
    answers: int
    conversations: int
    share: float


def most_used_articles(facts: Facts, limit: int | None = None) -> list[ArticleUsage]:
    """Articles by number of ``answered`` turns, most used first; ``share`` is of all
    answered turns of the period."""
    counts = Counter(use.article_id for use in facts.article_uses)
    conversations: dict[str, set[str]] = defaultdict(set)
    for use in facts.article_uses:
        conversations[use.article_id].add(use.conversation_id)
    total = sum(counts.values())
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    usage = [
        ArticleUsage(article, count, len(conversations[article]), count / total)
        for article, count in ranked
    ]
    return usage[:limit] if limit is not None else usage


def article_helpfulness(facts: Facts) -> list[ArticleQuality]:
    """Helpful / not-helpful votes per article in the period, worst score first (the
    same score and review rule as :func:`customerlog.ratings.article_quality`)."""
    helpful: Counter[str] = Counter()
    unhelpful: Counter[str] = Counter()
    for rating in facts.ratings:
        if rating.kind != schema.RATING_HELPFUL or rating.target_type != schema.TARGET_ARTICLE:
            continue
        (helpful if rating.value else unhelpful)[rating.target_id] += 1
    qualities = [
        ArticleQuality(article, helpful[article], unhelpful[article])
        for article in set(helpful) | set(unhelpful)
    ]
    return sorted(qualities, key=lambda q: (q.score, -q.votes, q.article_id))
