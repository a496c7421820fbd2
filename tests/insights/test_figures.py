"""Every figure on a hand-built week whose right answers were worked out by hand.

The week is Monday 2 to Sunday 8 November 2026, Europe/Rome (UTC+1); "now" is Monday
9 November 13:00 in Rome. The desk's policy is the default: Monday to Friday
09:00-13:00 and 14:00-18:00; normal priority 4 h to first response and 16 h to
resolution, high priority 1 h and 8 h (business time).

=====  =====  ========  ====  ========  ==========================================
conv   day    channel   lang  customer  what happened
=====  =====  ========  ====  ========  ==========================================
c1     Mon    socketio  it    u1        bot answered A, voted helpful, CSAT 5
c2     Mon    socketio  it    u2        abstained, then escalated: ticket T1, NPS 8
c3     Tue    rest      en    u3        asked for a person at 20:00: ticket T2
c5     Thu    rest      en    u3        bot answered B, CSAT 4
c6     Fri    socketio  it    u1        only "Ciao"; NPS 6
c7     Fri    socketio  it    u7        personal case at 17:00: ticket T3 (high)
c4     Sat    socketio  en    u4        bot answered A, voted not helpful; NPS 10
c8     Mon 9  socketio  it    u2        after the week: u2 came back within 7 days
c0/c9  Sun 1 23:30 / Mon 9 00:30 Rome: just outside the week (UTC would disagree)
=====  =====  ========  ====  ========  ==========================================

T1: created Mon 11:05, claimed 11:30, answered 12:05, closed 14:05 (Rome), CSAT 2.
T2: created Tue 20:00, answered Wed 09:30, still open. T3: never answered.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
import sqlite_utils

from customerlog import ratings, schema
from customerlog.turns import record_turn
from desk import sla, tickets
from identity import profiles
from identity.contacts import Contact
from insights import figures
from insights.data import read_period
from insights.filters import Filters
from insights.report import build_report, table

POLICY = sla.SlaPolicy()
NOW = datetime(2026, 11, 9, 12, 0, tzinfo=timezone.utc)
WEEK = Filters(since=date(2026, 11, 2), until=date(2026, 11, 8))
CONVERSATIONS = {
    "c1": ("socketio", "it", "u1"),
    "c2": ("socketio", "it", "u2"),
    "c3": ("rest", "en", "u3"),
    "c4": ("socketio", "en", "u4"),
    "c5": ("rest", "en", "u3"),
    "c6": ("socketio", "it", "u1"),
    "c7": ("socketio", "it", "u7"),
    "c8": ("socketio", "it", "u2"),
    "c0": ("socketio", "it", "u0"),
    "c9": ("socketio", "it", "u9"),
}


def utc(day: int, hour: int, minute: int = 0) -> datetime:
    """A November 2026 time given in UTC (Rome is UTC+1 all month)."""
    return datetime(2026, 11, day, hour, minute, tzinfo=timezone.utc)


def turn(db, conv: str, at: datetime, text: str, decision: str, **extra) -> None:
    channel, lang, customer = CONVERSATIONS[conv]
    record_turn(
        db,
        conversation_id=conv,
        customer_id=customer,
        channel=channel,
        lang=lang,
        at=at.isoformat(),
        kind=schema.KIND_CUSTOMER,
        text=text,
        decision=decision,
        **extra,
    )


def rate(db, conv: str, kind: str, value: int, target_type: str, target: str, at: datetime):
    channel, lang, customer = CONVERSATIONS[conv]
    rater = ratings.Rater(conv, customer, channel, lang)
    ratings.record(db, rater, kind, value, target_type, target, at)


def ticket(db, conv: str, at: datetime, reason: str, priority: str = "normal") -> int:
    channel, lang, customer = CONVERSATIONS[conv]
    opened, _ = tickets.open_ticket(
        db,
        conv,
        lang=lang,
        channel=channel,
        customer_id=customer,
        reason=reason,
        priority=priority,
        policy=POLICY,
        now=at,
    )
    return opened.id


@pytest.fixture
def week(db: sqlite_utils.Database) -> sqlite_utils.Database:
    answered, abstained = schema.DECISION_ANSWERED, schema.DECISION_ABSTAINED
    escalated, small_talk = schema.DECISION_ESCALATED, schema.DECISION_SMALL_TALK
    helpful, csat, nps = schema.RATING_HELPFUL, schema.RATING_CSAT, schema.RATING_NPS
    article, conversation = schema.TARGET_ARTICLE, schema.TARGET_CONVERSATION
    customer = schema.TARGET_CUSTOMER

    turn(db, "c0", utc(1, 22, 30), "Ciao", small_talk)
    turn(db, "c1", utc(2, 9), "Quanto costa la spedizione?", answered, article_id="A")
    rate(db, "c1", helpful, 1, article, "A", utc(2, 9, 1))
    rate(db, "c1", csat, 5, conversation, "c1", utc(2, 9, 2))

    turn(db, "c2", utc(2, 10), "Accettate i buoni pasto?", abstained, intent="ask_question")
    t1 = ticket(db, "c2", utc(2, 10, 5), tickets.REASON_KB_ABSTAINED)
    turn(db, "c2", utc(2, 10, 5), "Posso pagare coi ticket?", escalated, ticket_id=t1)
    rate(db, "c2", nps, 8, customer, "u2", utc(2, 10, 6))
    tickets.claim_ticket(db, t1, "giulia", now=utc(2, 10, 30))
    tickets.answer_ticket(db, t1, "giulia", "Sì.", now=utc(2, 11, 5))
    tickets.close_ticket(db, t1, "giulia", now=utc(2, 13, 5))
    rate(db, "c2", csat, 2, schema.TARGET_TICKET, str(t1), utc(2, 13, 10))

    t2 = ticket(db, "c3", utc(3, 19), tickets.REASON_ASKED_FOR_HUMAN)
    turn(db, "c3", utc(3, 19), "I want a person", escalated, intent="ask_human", ticket_id=t2)
    tickets.answer_ticket(db, t2, "marco", "Hello.", now=utc(4, 8, 30))

    turn(db, "c5", utc(5, 9), "How do I return an item?", answered, article_id="B")
    rate(db, "c5", csat, 4, conversation, "c5", utc(5, 9, 5))

    turn(db, "c6", utc(6, 8), "Ciao", small_talk)
    rate(db, "c6", nps, 6, customer, "u1", utc(6, 8, 1))

    t3 = ticket(db, "c7", utc(6, 16), tickets.REASON_PERSONAL_CASE, priority="high")
    turn(db, "c7", utc(6, 16), "Il pacco è rotto", escalated, intent="personal_case", ticket_id=t3)

    turn(db, "c4", utc(7, 14), "How much is shipping?", answered, article_id="A")
    rate(db, "c4", helpful, 0, article, "A", utc(7, 14, 1))
    rate(db, "c4", nps, 10, customer, "u4", utc(7, 14, 2))

    turn(db, "c9", utc(8, 23, 30), "Ciao", small_talk)
    turn(db, "c8", utc(9, 8), "Quanto costa la spedizione?", answered, article_id="A")
    return db


def facts(db: sqlite_utils.Database, filters: Filters = WEEK) -> figures.Facts:
    data = read_period(db, filters, follow_up=figures.REPEAT_CONTACT_WINDOW)
    return figures.build_facts(data, POLICY, NOW)


def test_conversations_are_the_weeks_ids_by_rome_days(week: sqlite_utils.Database) -> None:
    found = facts(week)
    assert [c.id for c in found.conversations] == ["c1", "c2", "c3", "c5", "c6", "c7", "c4"]
    assert figures.summarise(found).conversations == 7


def test_containment_and_escalation(week: sqlite_utils.Database) -> None:
    summary = figures.summarise(facts(week))
    assert (summary.contained, summary.escalated) == (4, 3)
    assert summary.containment_rate == pytest.approx(4 / 7)
    assert summary.escalation_rate == pytest.approx(3 / 7)


def test_first_contact_resolution(week: sqlite_utils.Database) -> None:
    found = facts(week)
    resolved = [c.id for c in found.conversations if c.resolved_first_contact]
    # c1: u1 came back (c6); c2: u2 came back after the week (c8); c3, c7: tickets not
    # closed; c4: rated not helpful; c6: never answered. Only c5 is left.
    assert resolved == ["c5"]
    assert figures.summarise(found).fcr_rate == pytest.approx(1 / 7)


def test_one_answer_from_the_desk_resolves_unless_the_customer_comes_back(
    week: sqlite_utils.Database,
) -> None:
    [c2] = [c for c in facts(week).conversations if c.id == "c2"]
    assert c2.escalated and c2.resolved_by_desk_in_one  # T1 closed after one answer
    assert c2.came_back  # c8, 6 days 22 hours later, seen beyond the week's end
    assert not c2.resolved_first_contact


def test_csat(week: sqlite_utils.Database) -> None:
    summary = figures.summarise(facts(week))
    assert summary.csat_responses == 3
    assert summary.csat_mean == pytest.approx(11 / 3)
    assert summary.csat_satisfied_share == pytest.approx(2 / 3)


def test_ces_sits_beside_csat_and_nps(week: sqlite_utils.Database) -> None:
    """The effort score (1-7) after tickets: its mean and the share of 5-7 ("easy")."""
    assert figures.summarise(facts(week)).ces_mean is None  # none given yet
    ces, ticket = schema.RATING_CES, schema.TARGET_TICKET
    rate(week, "c2", ces, 6, ticket, "1", utc(2, 13, 11))
    rate(week, "c3", ces, 3, ticket, "2", utc(4, 9))
    summary = figures.summarise(facts(week))
    assert summary.ces_responses == 2
    assert summary.ces_mean == pytest.approx(4.5)
    assert summary.ces_easy_share == pytest.approx(1 / 2)
    assert summary.csat_responses == 3 and summary.nps_responses == 3  # unchanged


def test_nps(week: sqlite_utils.Database) -> None:
    summary = figures.summarise(facts(week))
    assert (summary.promoters, summary.passives, summary.detractors) == (1, 1, 1)
    assert summary.nps == 0


def test_helpful_votes_per_article(week: sqlite_utils.Database) -> None:
    [quality] = figures.article_helpfulness(facts(week))
    assert (quality.article_id, quality.helpful, quality.not_helpful) == ("A", 1, 1)


def test_most_used_articles(week: sqlite_utils.Database) -> None:
    used = figures.most_used_articles(facts(week))
    assert [(u.article_id, u.answers, u.conversations) for u in used] == [("A", 2, 2), ("B", 1, 1)]
    assert used[0].share == pytest.approx(2 / 3)


def test_speed_to_answer_in_wall_and_business_time(week: sqlite_utils.Database) -> None:
    summary = figures.summarise(facts(week))
    # T1: 60 min wall, 60 business; T2: Tue 20:00 -> Wed 09:30 = 810 min wall, 30 business.
    assert summary.tickets == 3 and summary.tickets_answered == 2
    assert summary.speed_wall == timedelta(minutes=435)
    assert summary.speed_business == timedelta(minutes=45)


def test_handling_time(week: sqlite_utils.Database) -> None:
    summary = figures.summarise(facts(week))
    # Only T1 is closed: claimed 11:30, closed 14:05 Rome; the lunch hour is not business time.
    assert summary.tickets_closed == 1
    assert summary.handling_wall == timedelta(minutes=155)
    assert summary.handling_business == timedelta(minutes=95)


def test_sla_compliance_and_breaches(week: sqlite_utils.Database) -> None:
    found = facts(week)
    outcome = {t.id: (t.sla, t.breached_clocks) for t in found.tickets}
    assert sorted(outcome.values()) == [
        ("breached", ("first_response",)),  # T3: due Fri 18:00, never answered
        ("breached", ("resolution",)),  # T2: due Thu 18:00, still open
        ("met", ()),  # T1
    ]
    summary = figures.summarise(found)
    assert (summary.sla_met, summary.sla_breached, summary.sla_pending) == (1, 2, 0)
    assert summary.sla_compliance == pytest.approx(1 / 3)
    assert (summary.first_response_breaches, summary.resolution_breaches) == (1, 1)


def test_breakdowns_by_day_channel_and_language(week: sqlite_utils.Database) -> None:
    found = facts(week)
    days = dict(figures.breakdown(found, figures.BY_DAY, [f"2026-11-0{d}" for d in range(2, 9)]))
    assert [days[f"2026-11-0{d}"].conversations for d in range(2, 9)] == [2, 1, 0, 1, 2, 1, 0]
    assert days["2026-11-02"].csat_mean == pytest.approx(3.5)  # 5 (c1) and 2 (T1)
    channels = dict(figures.breakdown(found, figures.BY_CHANNEL))
    assert (channels["socketio"].conversations, channels["rest"].conversations) == (5, 2)
    assert channels["rest"].tickets == 1
    langs = dict(figures.breakdown(found, figures.BY_LANG))
    assert (langs["it"].conversations, langs["en"].conversations) == (4, 3)
    assert langs["en"].nps == 100  # only u4's 10
    weeks = figures.breakdown(found, figures.BY_WEEK)
    assert [(label, s.conversations) for label, s in weeks] == [("2026-W45", 7)]


def test_filters_select_by_channel_and_language(week: sqlite_utils.Database) -> None:
    english = Filters(since=WEEK.since, until=WEEK.until, lang="en")
    summary = figures.summarise(facts(week, english))
    assert summary.conversations == 3 and summary.tickets == 1
    assert summary.csat_responses == 1 and summary.nps_responses == 1
    rest = Filters(since=WEEK.since, until=WEEK.until, channel="rest")
    assert figures.summarise(facts(week, rest)).conversations == 2


def test_report_tables(week: sqlite_utils.Database) -> None:
    report = build_report(week, WEEK, now=NOW, policy=POLICY, with_gaps=False)
    summary = {row["figure"]: row["value"] for row in table(report, "summary")}
    assert summary["conversations"] == 7
    assert summary["containment_rate"] == round(4 / 7, 4)
    assert summary["speed_to_answer_business_minutes"] == 45.0
    assert summary["nps"] == 0.0
    trend = table(report, "trend")
    assert [row["day"] for row in trend] == [f"2026-11-0{d}" for d in range(2, 9)]
    assert trend[2]["csat_mean"] is None, "a day without data is empty, not zero"


def test_customers_are_people_across_channels(week: sqlite_utils.Database) -> None:
    before = figures.summarise(facts(week))
    # u1 (c1, c6) and u3 (c3, c5) wrote twice, each on one channel.
    assert (before.customers, before.multichannel_customers) == (5, 0)
    # u3 (REST) and u4 (web chat, c4) gave the same verified e-mail: one person.
    anna = Contact("email", "anna@example.com", True)
    for conversation, channel_id, channel in (("c5", "u3", "rest"), ("c4", "u4", "socketio")):
        profiles.record(
            week,
            conversation_id=conversation,
            channel_id=channel_id,
            channel=channel,
            contacts=[anna],
        )
    found = facts(week)
    after = figures.summarise(found)
    assert (after.customers, after.multichannel_customers) == (4, 1)
    # c5 counted as resolved first time until we knew that its customer came back on
    # another channel (c4) two days later.
    [c5] = [c for c in found.conversations if c.id == "c5"]
    assert c5.came_back and not c5.resolved_first_contact
    assert after.first_contact_resolved == before.first_contact_resolved - 1
