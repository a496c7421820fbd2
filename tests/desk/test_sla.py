"""SLA deadlines in business time: lunch breaks, weekends, Italian holidays, clock changes.

Every expected deadline below was worked out by hand from the calendar, not from the code.
"""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import tomllib

from desk.sla import (
    PRIORITIES,
    WEEKDAYS,
    SlaError,
    SlaPolicy,
    SlaPolicyError,
    Slot,
    add_business_time,
    business_time_between,
    due_dates,
    easter_sunday,
    is_open,
    italian_holidays,
    load_policy,
    next_opening,
    sla_state,
)

ROME = ZoneInfo("Europe/Rome")
UTC = timezone.utc
EXAMPLE_FILE = Path(__file__).resolve().parents[2] / "sla.example.toml"

POLICY = load_policy(None)
DEFAULT_DAY = (Slot(9 * 60, 13 * 60), Slot(14 * 60, 18 * 60))
# The default hours on every day of the week, so clock changes (always on a Sunday) fall
# inside business days.
SEVEN_DAYS = SlaPolicy(business_hours=(DEFAULT_DAY,) * 7)
ROUND_THE_CLOCK = SlaPolicy(business_hours=((Slot(0, 24 * 60),),) * 7, national_holidays=False)


def rome(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=ROME)


def minutes(n: int) -> timedelta:
    return timedelta(minutes=n)


def hours(n: float) -> timedelta:
    return timedelta(hours=n)


def sunday_only(*slots: Slot) -> SlaPolicy:
    return SlaPolicy(business_hours=((),) * 6 + (slots,), national_holidays=False)


# --- holidays --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("year", "expected"),
    [
        (2019, date(2019, 4, 21)),
        (2024, date(2024, 3, 31)),
        (2025, date(2025, 4, 20)),
        (2026, date(2026, 4, 5)),
        (2027, date(2027, 3, 28)),
        (2038, date(2038, 4, 25)),
        (2285, date(2285, 3, 22)),
    ],
)
def test_easter_follows_the_gregorian_computus(year: int, expected: date) -> None:
    assert easter_sunday(year) == expected


def _computus(year: int) -> date:
    """The anonymous Gregorian computus (Meeus/Jones/Butcher) the module used to carry:
    the reference dateutil must agree with."""
    a = year % 19
    b, c = divmod(year, 100)
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    leap = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * leap) // 451
    month, day = divmod(h + leap - 7 * m + 114, 31)
    return date(year, month, day + 1)


def test_dateutil_easter_agrees_with_the_old_computus_for_every_year() -> None:
    assert [easter_sunday(y) for y in range(1583, 4100)] == [
        _computus(y) for y in range(1583, 4100)
    ]


@pytest.mark.parametrize(
    ("year", "easter_monday"),
    [
        (2019, date(2019, 4, 22)),
        (2024, date(2024, 4, 1)),
        (2025, date(2025, 4, 21)),
        (2026, date(2026, 4, 6)),
        (2027, date(2027, 3, 29)),
        (2030, date(2030, 4, 22)),
        (2038, date(2038, 4, 26)),
    ],
)
def test_easter_monday_is_a_national_holiday_every_year(year: int, easter_monday: date) -> None:
    holidays = italian_holidays(year)
    assert easter_monday in holidays
    assert easter_monday - timedelta(days=1) in holidays  # Easter Sunday
    assert easter_monday.weekday() == 0
    assert easter_monday + timedelta(days=1) not in holidays


FIXED_HOLIDAYS = [(1, 1), (1, 6), (4, 25), (5, 1), (6, 2), (8, 15), (11, 1), (12, 8), (12, 25)]
EXPECTED_HOLIDAYS = {
    2025: {date(2025, m, d) for m, d in [*FIXED_HOLIDAYS, (12, 26), (4, 20), (4, 21)]},
    2026: {date(2026, m, d) for m, d in [*FIXED_HOLIDAYS, (12, 26), (4, 5), (4, 6), (10, 4)]},
    2027: {date(2027, m, d) for m, d in [*FIXED_HOLIDAYS, (12, 26), (3, 28), (3, 29), (10, 4)]},
}


@pytest.mark.parametrize("year", sorted(EXPECTED_HOLIDAYS))
def test_italian_holidays_per_year(year: int) -> None:
    assert italian_holidays(year) == EXPECTED_HOLIDAYS[year]


def test_san_francesco_is_a_national_holiday_only_from_2026() -> None:
    assert date(2025, 10, 4) not in italian_holidays(2025)
    assert date(2026, 10, 4) in italian_holidays(2026)


def test_italian_holidays_returns_a_copy_callers_may_change() -> None:
    italian_holidays(2026).add(date(2026, 3, 3))
    assert date(2026, 3, 3) not in italian_holidays(2026)


WEEKDAY_HOLIDAYS = sorted(
    day for days in EXPECTED_HOLIDAYS.values() for day in days if day.weekday() < 5
)


@pytest.mark.parametrize("holiday", WEEKDAY_HOLIDAYS, ids=str)
def test_the_desk_is_closed_on_every_weekday_holiday(holiday: date) -> None:
    mid_morning = rome(holiday.year, holiday.month, holiday.day, 10)
    assert not is_open(POLICY, mid_morning)
    reopening = next_opening(POLICY, mid_morning).astimezone(ROME)
    assert reopening.date() > holiday
    assert (reopening.hour, reopening.minute) == (9, 0)
    # The same weekday a week earlier is an ordinary working day (no holiday is 7 days
    # after another in these years except around Christmas, which the assert allows).
    week_before = holiday - timedelta(days=7)
    if week_before not in italian_holidays(week_before.year):
        assert is_open(POLICY, mid_morning - timedelta(days=7))


@pytest.mark.parametrize(
    ("created", "due"),
    [
        # Friday 17:00, one hour left; Easter Monday closed; three hours on Tuesday.
        (rome(2025, 4, 18, 17), rome(2025, 4, 22, 12)),
        (rome(2026, 4, 3, 17), rome(2026, 4, 7, 12)),
        # 2027: Easter Sunday is also the spring clock change; the deadline is in CEST.
        (rome(2027, 3, 26, 17), rome(2027, 3, 30, 12)),
    ],
)
def test_easter_monday_is_skipped(created: datetime, due: datetime) -> None:
    first_response, _ = due_dates(POLICY, "normal", created)
    assert first_response == due


def test_national_holidays_can_be_switched_off() -> None:
    policy = SlaPolicy(national_holidays=False)
    assert is_open(policy, rome(2026, 12, 8, 10))
    assert not is_open(POLICY, rome(2026, 12, 8, 10))


# --- business hours, lunch break and weekends ------------------------------------------


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        (rome(2026, 11, 24, 8, 59), False),
        (rome(2026, 11, 24, 9), True),
        (rome(2026, 11, 24, 12, 59), True),
        (rome(2026, 11, 24, 13), False),
        (rome(2026, 11, 24, 13, 59), False),
        (rome(2026, 11, 24, 14), True),
        (rome(2026, 11, 24, 17, 59), True),
        (rome(2026, 11, 24, 18), False),
        (rome(2026, 11, 28, 10), False),  # Saturday
        (rome(2026, 11, 29, 10), False),  # Sunday
    ],
)
def test_is_open_follows_the_slots(at: datetime, expected: bool) -> None:
    assert is_open(POLICY, at) is expected


@pytest.mark.parametrize(
    ("start", "duration", "expected"),
    [
        # Opened 12:30: half an hour before lunch, 3h30 after it.
        (rome(2026, 11, 24, 12, 30), hours(4), rome(2026, 11, 24, 17, 30)),
        (rome(2026, 11, 24, 12, 45), minutes(30), rome(2026, 11, 24, 14, 15)),
        # Opened during lunch: counting starts at 14:00.
        (rome(2026, 11, 24, 13, 20), minutes(30), rome(2026, 11, 24, 14, 30)),
        (rome(2026, 11, 24, 13, 20), hours(1), rome(2026, 11, 24, 15)),
        # A duration that fills the morning ends at 13:00, not at 14:00.
        (rome(2026, 11, 24, 9), hours(4), rome(2026, 11, 24, 13)),
        (rome(2026, 11, 24, 9), hours(8), rome(2026, 11, 24, 18)),
        (rome(2026, 11, 24, 9), hours(8) + minutes(1), rome(2026, 11, 25, 9, 1)),
        # Weekend: Friday 17:00 + 2h is Monday 10:00.
        (rome(2026, 11, 27, 17), hours(2), rome(2026, 11, 30, 10)),
        (rome(2026, 11, 28, 11), hours(1), rome(2026, 11, 30, 10)),
    ],
)
def test_add_business_time(start: datetime, duration: timedelta, expected: datetime) -> None:
    assert add_business_time(POLICY, start, duration) == expected


def test_business_time_between_skips_lunch_nights_and_weekends() -> None:
    assert business_time_between(POLICY, rome(2026, 11, 24, 12), rome(2026, 11, 24, 15)) == hours(2)
    # Friday 12:00 to Monday 12:00: 1h + 4h on Friday, 3h on Monday.
    assert business_time_between(POLICY, rome(2026, 11, 27, 12), rome(2026, 11, 30, 12)) == hours(8)
    assert business_time_between(POLICY, rome(2026, 11, 28, 1), rome(2026, 11, 29, 23)) == hours(0)


def test_business_time_between_is_negative_when_the_end_comes_first() -> None:
    assert business_time_between(POLICY, rome(2026, 11, 24, 15), rome(2026, 11, 24, 12)) == -hours(
        2
    )


def test_zero_duration_returns_the_start_and_negative_is_refused() -> None:
    saturday = rome(2026, 11, 28, 10)
    assert add_business_time(POLICY, saturday, timedelta(0)) == saturday
    with pytest.raises(SlaError, match="negative"):
        add_business_time(POLICY, saturday, -minutes(1))


def test_a_ticket_opened_at_23_59_on_a_friday_is_due_on_monday() -> None:
    friday_night = rome(2026, 11, 27, 23, 59)
    expected = {
        "urgent": (rome(2026, 11, 30, 9, 30), rome(2026, 11, 30, 13)),
        "high": (rome(2026, 11, 30, 10), rome(2026, 11, 30, 18)),
        "normal": (rome(2026, 11, 30, 13), rome(2026, 12, 1, 18)),
        "low": (rome(2026, 11, 30, 18), rome(2026, 12, 4, 18)),
    }
    for priority in PRIORITIES:
        assert due_dates(POLICY, priority, friday_night) == expected[priority], priority


@pytest.mark.parametrize(
    ("priority", "created", "first_response_due"),
    [
        # Christmas Eve 17:00: one hour, then 25 (holiday), 26 and 27 (weekend) closed.
        ("normal", rome(2026, 12, 24, 17), rome(2026, 12, 28, 12)),
        # New Year's Eve 17:30: half an hour, New Year's Day closed, then Friday.
        ("high", rome(2025, 12, 31, 17, 30), rome(2026, 1, 2, 9, 30)),
        # The evening before Epiphany (a Tuesday in 2026).
        ("urgent", rome(2026, 1, 5, 17, 45), rome(2026, 1, 7, 9, 15)),
        # The eve of the Festa della Repubblica.
        ("urgent", rome(2026, 6, 1, 17, 50), rome(2026, 6, 3, 9, 20)),
    ],
)
def test_a_ticket_opened_on_a_holiday_eve(
    priority: str, created: datetime, first_response_due: datetime
) -> None:
    assert due_dates(POLICY, priority, created)[0] == first_response_due


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        (rome(2026, 11, 24, 7), rome(2026, 11, 24, 9)),  # before opening
        (rome(2026, 11, 24, 13, 30), rome(2026, 11, 24, 14)),  # lunch
        (rome(2026, 11, 24, 18), rome(2026, 11, 25, 9)),  # closing time exactly
        (rome(2026, 11, 27, 23, 59), rome(2026, 11, 30, 9)),  # Friday night
        (rome(2026, 11, 28, 10), rome(2026, 11, 30, 9)),  # Saturday
        (rome(2026, 12, 24, 18, 30), rome(2026, 12, 28, 9)),  # Christmas Eve evening
        (rome(2026, 11, 24, 10, 17), rome(2026, 11, 24, 10, 17)),  # open: now
    ],
)
def test_next_opening(at: datetime, expected: datetime) -> None:
    assert next_opening(POLICY, at) == expected


def test_results_are_in_utc_whatever_zone_the_input_uses() -> None:
    created = rome(2026, 11, 27, 23, 59)
    same_instant_elsewhere = created.astimezone(ZoneInfo("America/New_York"))
    for when in (created, same_instant_elsewhere, created.astimezone(UTC)):
        first, resolution = due_dates(POLICY, "urgent", when)
        assert first == datetime(2026, 11, 30, 8, 30, tzinfo=UTC)
        assert first.tzinfo is UTC and resolution.tzinfo is UTC
        assert next_opening(POLICY, when).tzinfo is UTC
        assert add_business_time(POLICY, when, timedelta(0)).tzinfo is UTC


def test_naive_datetimes_are_refused_everywhere() -> None:
    naive = datetime(2026, 11, 24, 10)
    aware = rome(2026, 11, 24, 10)
    calls = [
        lambda: is_open(POLICY, naive),
        lambda: next_opening(POLICY, naive),
        lambda: add_business_time(POLICY, naive, hours(1)),
        lambda: business_time_between(POLICY, aware, naive),
        lambda: due_dates(POLICY, "high", naive),
        lambda: sla_state(POLICY, aware, aware, naive),
        lambda: sla_state(POLICY, aware, aware, aware, done_at=naive),
    ]
    for call in calls:
        with pytest.raises(SlaError, match="no time zone"):
            call()


def test_unknown_priority_is_refused() -> None:
    with pytest.raises(
        SlaError, match=r"unknown priority 'critical': use urgent, high, normal, low"
    ):
        due_dates(POLICY, "critical", rome(2026, 11, 24, 10))


# --- clock changes (last Sunday of March and of October) -------------------------------


@pytest.mark.parametrize(
    ("spring", "autumn"),
    [
        (date(2025, 3, 30), date(2025, 10, 26)),
        (date(2026, 3, 29), date(2026, 10, 25)),
        (date(2027, 3, 28), date(2027, 10, 31)),
    ],
)
def test_change_days_have_23_and_25_real_hours(spring: date, autumn: date) -> None:
    def day_length(day: date) -> timedelta:
        start = rome(day.year, day.month, day.day)
        nxt = day + timedelta(days=1)
        return business_time_between(ROUND_THE_CLOCK, start, rome(nxt.year, nxt.month, nxt.day))

    assert day_length(spring) == hours(23)
    assert day_length(autumn) == hours(25)
    assert day_length(spring - timedelta(days=1)) == hours(24)
    # 24 business hours from the spring midnight end at 01:00 local the next day.
    start = rome(spring.year, spring.month, spring.day)
    # (Python's aware + timedelta is wall-clock arithmetic, hence the UTC conversion.)
    due = add_business_time(ROUND_THE_CLOCK, start, hours(24))
    assert due == start.astimezone(UTC) + hours(24)
    assert due.astimezone(ROME).hour == 1


def test_a_weekend_across_the_spring_change_counts_business_minutes() -> None:
    # Friday 17:00 CET (16:00 UTC) + 2h: one hour Friday, one hour Monday -> 10:00 CEST.
    due = add_business_time(POLICY, rome(2026, 3, 27, 17), hours(2))
    assert due == datetime(2026, 3, 30, 8, tzinfo=UTC)
    assert business_time_between(POLICY, rome(2026, 3, 27, 17), due) == hours(2)


def test_a_weekend_across_the_autumn_change_counts_business_minutes() -> None:
    # Friday 17:00 CEST (15:00 UTC) + 2h: Monday 10:00 CET = 09:00 UTC.
    due = add_business_time(POLICY, rome(2026, 10, 23, 17), hours(2))
    assert due == datetime(2026, 10, 26, 9, tzinfo=UTC)


def test_opening_hours_on_the_change_day_follow_the_new_offset() -> None:
    # Sunday 2026-03-29: 09:00 CEST is 07:00 UTC (it would be 08:00 UTC in CET).
    assert not is_open(SEVEN_DAYS, datetime(2026, 3, 29, 6, 59, tzinfo=UTC))
    assert is_open(SEVEN_DAYS, datetime(2026, 3, 29, 7, 0, tzinfo=UTC))
    assert next_opening(SEVEN_DAYS, rome(2026, 3, 29)) == datetime(2026, 3, 29, 7, tzinfo=UTC)
    # Sunday 2026-10-25: 09:00 CET is 08:00 UTC (it would be 07:00 UTC in CEST).
    assert not is_open(SEVEN_DAYS, datetime(2026, 10, 25, 7, 59, tzinfo=UTC))
    assert is_open(SEVEN_DAYS, datetime(2026, 10, 25, 8, 0, tzinfo=UTC))
    # Saturday 17:00 CET + 2h -> Sunday 10:00 CEST (08:00 UTC).
    assert add_business_time(SEVEN_DAYS, rome(2026, 3, 28, 17), hours(2)) == datetime(
        2026, 3, 29, 8, tzinfo=UTC
    )
    # A full business day on the change day is still 8 hours.
    assert business_time_between(SEVEN_DAYS, rome(2026, 10, 25), rome(2026, 10, 26)) == hours(8)


def test_a_night_slot_across_the_change_counts_real_minutes() -> None:
    night = sunday_only(Slot(60, 4 * 60))
    # 01:00-04:00 on the spring Sunday lasts two real hours, on the autumn one four.
    assert business_time_between(night, rome(2026, 3, 29), rome(2026, 3, 30)) == hours(2)
    assert business_time_between(night, rome(2026, 10, 25), rome(2026, 10, 26)) == hours(4)
    assert add_business_time(night, rome(2026, 3, 29), hours(2)) == datetime(
        2026, 3, 29, 2, tzinfo=UTC
    )


def test_a_time_skipped_in_spring_means_the_moment_of_the_jump() -> None:
    # 2026-03-29: the clock jumps from 02:00 CET to 03:00 CEST at 01:00 UTC.
    late_start = sunday_only(Slot(150, 5 * 60))  # 02:30-05:00
    assert next_opening(late_start, rome(2026, 3, 29)) == datetime(2026, 3, 29, 1, tzinfo=UTC)
    assert business_time_between(late_start, rome(2026, 3, 29), rome(2026, 3, 30)) == hours(2)
    # 01:00-02:30 then 02:45-05:00: 1h before the jump, 2h after, no minute counted twice.
    split = sunday_only(Slot(60, 150), Slot(165, 5 * 60))
    assert business_time_between(split, rome(2026, 3, 29), rome(2026, 3, 30)) == hours(3)
    assert add_business_time(split, rome(2026, 3, 29), hours(1)) == datetime(
        2026, 3, 29, 1, tzinfo=UTC
    )
    assert is_open(split, datetime(2026, 3, 29, 1, tzinfo=UTC))


def test_a_slot_wholly_inside_the_skipped_hour_does_not_open_that_day() -> None:
    skipped = sunday_only(Slot(130, 170))  # 02:10-02:50
    assert business_time_between(skipped, rome(2026, 3, 29), rome(2026, 3, 30)) == hours(0)
    # The next Sunday it opens as usual, at 02:10 CEST.
    assert next_opening(skipped, rome(2026, 3, 29)) == datetime(2026, 4, 5, 0, 10, tzinfo=UTC)


def test_a_time_shown_twice_in_autumn_means_its_first_occurrence() -> None:
    # 2026-10-25: 02:00-03:00 is shown twice (CEST, then CET). Closing at 02:30 means
    # the first 02:30 (00:30 UTC), so 01:00-02:30 lasts 1h30.
    early = sunday_only(Slot(60, 150))
    assert business_time_between(early, rome(2026, 10, 25), rome(2026, 10, 26)) == minutes(90)
    # Opening at the first 02:30 and closing at 04:00 CET (03:00 UTC): 2h30.
    late = sunday_only(Slot(150, 4 * 60))
    assert business_time_between(late, rome(2026, 10, 25), rome(2026, 10, 26)) == minutes(150)


def test_a_calendar_that_never_opens_is_reported() -> None:
    every_day = frozenset(
        (d.month, d.day) for d in (date(2024, 1, 1) + timedelta(days=n) for n in range(366))
    )
    shut = SlaPolicy(annual_holidays=every_day)
    with pytest.raises(SlaPolicyError, match="never opens"):
        next_opening(shut, rome(2026, 11, 24, 10))


# --- properties over many random starts ------------------------------------------------


def _random_instants(rng: random.Random, count: int) -> list[datetime]:
    first = datetime(2025, 1, 1, tzinfo=UTC)
    span = int((datetime(2028, 1, 1, tzinfo=UTC) - first).total_seconds())
    return [first + timedelta(seconds=rng.randrange(span)) for _ in range(count)]


@pytest.mark.parametrize("policy", [POLICY, SEVEN_DAYS], ids=["default", "seven_days"])
def test_business_time_between_inverts_add_business_time(policy: SlaPolicy) -> None:
    rng = random.Random(20261123)
    for start in _random_instants(rng, 600):
        duration = timedelta(seconds=rng.randrange(1, 60 * 3600))
        due = add_business_time(policy, start, duration)
        assert business_time_between(policy, start, due) == duration, (start, duration)
        # The deadline is reached while open, and never before the wall-clock sum.
        assert is_open(policy, due - timedelta(microseconds=1)), (start, duration)
        assert due >= start + duration


def test_business_time_between_adds_up_over_a_split() -> None:
    rng = random.Random(7)
    for a in _random_instants(rng, 300):
        b = a + timedelta(seconds=rng.randrange(20 * 86400))
        c = b + timedelta(seconds=rng.randrange(20 * 86400))
        assert business_time_between(POLICY, a, c) == business_time_between(
            POLICY, a, b
        ) + business_time_between(POLICY, b, c)


def _naively_open(moment: datetime) -> bool:
    """An independent reading of the default policy, one minute at a time."""
    local = moment.astimezone(ROME)
    if local.weekday() >= 5 or local.date() in EXPECTED_HOLIDAYS[local.year]:
        return False
    return 9 <= local.hour < 13 or 14 <= local.hour < 18


@pytest.mark.parametrize(
    "start",
    [
        rome(2026, 3, 27, 8),  # spring change weekend
        rome(2026, 10, 23, 8),  # autumn change weekend
        rome(2027, 3, 26, 8),  # Easter + clock change
        rome(2026, 12, 23, 8),  # Christmas
        rome(2025, 4, 24, 8),  # 25 April and 1 May week
    ],
    ids=str,
)
def test_business_time_matches_a_minute_by_minute_count(start: datetime) -> None:
    start = start.astimezone(UTC)
    window = 4 * 24 * 60
    open_minutes = [_naively_open(start + minutes(m)) for m in range(window)]
    assert business_time_between(POLICY, start, start + minutes(window)) == minutes(
        sum(open_minutes)
    )
    for m in range(0, window, 37):
        assert is_open(POLICY, start + minutes(m)) is open_minutes[m], start + minutes(m)


# --- SLA state -------------------------------------------------------------------------


def test_sla_state_goes_ok_then_at_risk_then_breached() -> None:
    created = rome(2026, 11, 24, 9)
    due, _ = due_dates(POLICY, "normal", created)
    assert due == rome(2026, 11, 24, 13)
    assert sla_state(POLICY, created, due, rome(2026, 11, 24, 10)) == "ok"
    assert sla_state(POLICY, created, due, rome(2026, 11, 24, 11, 59)) == "ok"
    assert sla_state(POLICY, created, due, rome(2026, 11, 24, 12)) == "at_risk"  # 3h of 4h
    assert sla_state(POLICY, created, due, due) == "at_risk"  # an answer now is still in time
    assert sla_state(POLICY, created, due, due + timedelta(seconds=1)) == "breached"


def test_sla_state_met_or_breached_once_done() -> None:
    created = rome(2026, 11, 24, 9)
    due = rome(2026, 11, 24, 13)
    later = rome(2026, 11, 26, 10)
    assert sla_state(POLICY, created, due, later, done_at=rome(2026, 11, 24, 12, 30)) == "met"
    assert sla_state(POLICY, created, due, later, done_at=due) == "met"
    assert sla_state(POLICY, created, due, later, done_at=due + minutes(1)) == "breached"


def test_at_risk_counts_business_time_not_the_night() -> None:
    created = rome(2026, 11, 24, 16)  # Tuesday 16:00, normal: due Wednesday 11:00
    due, _ = due_dates(POLICY, "normal", created)
    assert due == rome(2026, 11, 25, 11)
    # Wednesday 08:59: 17 of 19 wall-clock hours, but only 2 of 4 business hours.
    assert sla_state(POLICY, created, due, rome(2026, 11, 25, 8, 59)) == "ok"
    assert sla_state(POLICY, created, due, rome(2026, 11, 25, 9, 59)) == "ok"
    assert sla_state(POLICY, created, due, rome(2026, 11, 25, 10)) == "at_risk"


def test_at_risk_fraction_is_configurable() -> None:
    created = rome(2026, 11, 24, 9)
    due = rome(2026, 11, 24, 13)
    half = SlaPolicy(at_risk_fraction=0.5)
    assert sla_state(half, created, due, rome(2026, 11, 24, 11)) == "at_risk"
    assert sla_state(POLICY, created, due, rome(2026, 11, 24, 11)) == "ok"


# --- policy files ----------------------------------------------------------------------


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "sla.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_match_the_brief() -> None:
    assert POLICY.timezone == "Europe/Rome"
    assert POLICY.at_risk_fraction == 0.75
    assert POLICY.business_hours == (DEFAULT_DAY,) * 5 + ((), ())
    expected = {
        "urgent": (minutes(30), hours(4)),
        "high": (hours(1), hours(8)),
        "normal": (hours(4), hours(16)),
        "low": (hours(8), hours(40)),
    }
    assert {p: (t.first_response, t.resolution) for p, t in POLICY.targets.items()} == expected


def test_the_example_file_documents_every_key_with_the_defaults() -> None:
    assert load_policy(EXAMPLE_FILE) == SlaPolicy()
    raw = tomllib.loads(EXAMPLE_FILE.read_text(encoding="utf-8"))
    assert set(raw) == {
        "timezone",
        "at_risk_fraction",
        "national_holidays",
        "extra_holidays",
        "business_hours",
        "targets",
    }
    assert set(raw["business_hours"]) == set(WEEKDAYS)
    assert set(raw["targets"]) == set(PRIORITIES)
    for priority in PRIORITIES:
        assert set(raw["targets"][priority]) == {"first_response", "resolution"}


def test_a_file_states_only_what_differs(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        extra_holidays = ["06-29", 2026-12-24, "2026-12-31"]

        [business_hours]
        saturday = ["09:00-12:00"]

        [targets.urgent]
        first_response = "15m"

        [targets.low]
        resolution = "2h30m"
        first_response = "1h"
        """,
    )
    policy = load_policy(path)
    assert policy.business_hours[0] == DEFAULT_DAY
    assert policy.business_hours[5] == (Slot(9 * 60, 12 * 60),)
    assert is_open(policy, rome(2026, 11, 28, 10))  # Saturday now open
    assert not is_open(policy, rome(2026, 6, 29, 10))  # Saints Peter and Paul, every year
    assert not is_open(policy, rome(2027, 6, 29, 10))
    assert not is_open(policy, rome(2026, 12, 24, 10))  # that year only
    assert not is_open(policy, rome(2026, 12, 31, 10))
    assert is_open(policy, rome(2027, 12, 24, 10))
    assert policy.targets["urgent"].first_response == minutes(15)
    assert policy.targets["urgent"].resolution == hours(4)
    assert policy.targets["low"].resolution == minutes(150)
    assert policy.targets["high"] == POLICY.targets["high"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[business_hours]\nmonday = ["9-13"]', r"business_hours\.monday.*'9-13'.*HH:MM"),
        ('[business_hours]\nmonday = ["0900-1300"]', r"business_hours\.monday.*HH:MM"),
        ('[business_hours]\nmonday = ["09:00-25:00"]', r"'25:00' is not a time of day"),
        ('[business_hours]\nmonday = ["09:60-12:00"]', r"'09:60' is not a time of day"),
        ('[business_hours]\nmonday = ["13:00-09:00"]', r"13:00-09:00 must start before it ends"),
        ('[business_hours]\nmonday = "09:00-13:00"', r"business_hours\.monday must be a list"),
        (
            '[business_hours]\ntuesday = ["09:00-13:00", "12:00-18:00"]',
            r"business_hours\.tuesday: slots 09:00-13:00 and 12:00-18:00 overlap",
        ),
        (
            '[business_hours]\nfriday = ["14:00-18:00", "08:00-14:30"]',
            r"business_hours\.friday: slots 08:00-14:30 and 14:00-18:00 overlap",
        ),
        (
            '[business_hours]\nlunedi = ["09:00-13:00"]',
            r"unknown key 'lunedi' in \[business_hours\]: expected one of monday, tuesday",
        ),
        (
            '[targets.critical]\nfirst_response = "10m"',
            r"unknown priority 'critical' in \[targets\]: "
            "expected one of urgent, high, normal, low",
        ),
        ('[targets.high]\nfirst_response = "1 hour"', r"targets\.high\.first_response.*\"4h\""),
        ('[targets.high]\nfirst_response = "2d"', r"targets\.high\.first_response"),
        ('[targets.high]\nfirst_response = ""', r"targets\.high\.first_response"),
        ('[targets.high]\nfirst_response = "0m"', r"targets\.high\.first_response must be longer"),
        (
            '[targets.high]\nfrist_response = "1h"',
            r"unknown key 'frist_response' in \[targets\.high\]",
        ),
        ('[targets.high]\nresolution = "30m"', r"targets\.high\.resolution must not be shorter"),
        ('timezone = "Europe/Roma"', r"unknown time zone 'Europe/Roma'"),
        ("at_risk_fraction = 1.5", r"at_risk_fraction must be a number between 0 and 1"),
        ('at_risk_fraction = "0.5"', r"at_risk_fraction must be a number"),
        ('national_holidays = "yes"', r"national_holidays must be true or false"),
        ('extra_holidays = ["29/06"]', r"extra_holidays entry '29/06' must be \"MM-DD\""),
        ('extra_holidays = ["02-30"]', r"extra_holidays: 02-30 is not a day of the year"),
        ('extra_holidays = ["2026-02-30"]', r"extra_holidays entry '2026-02-30'"),
        ('opening_hours = "9-18"', r"unknown key 'opening_hours': expected one of timezone"),
        (
            "[business_hours]\n" + "\n".join(f"{day} = []" for day in WEEKDAYS),
            r"closes every day",
        ),
        ("timezone = ", r"not valid TOML"),
    ],
)
def test_policy_errors_say_what_to_fix(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(SlaPolicyError, match=message) as caught:
        load_policy(path)
    assert str(path) in str(caught.value)


def test_a_missing_policy_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(SlaPolicyError, match="not found"):
        load_policy(tmp_path / "nowhere.toml")


def test_policies_built_in_code_are_validated_too() -> None:
    with pytest.raises(SlaPolicyError, match="must start before it ends"):
        Slot(13 * 60, 9 * 60)
    with pytest.raises(SlaPolicyError, match="overlap"):
        SlaPolicy(business_hours=((Slot(540, 780), Slot(720, 1080)),) + ((),) * 6)
    with pytest.raises(SlaPolicyError, match="no entry for priority 'low'"):
        SlaPolicy(targets={p: t for p, t in POLICY.targets.items() if p != "low"})
    with pytest.raises(SlaPolicyError, match="seven days"):
        SlaPolicy(business_hours=(DEFAULT_DAY,) * 5)


def test_slots_given_out_of_order_are_sorted() -> None:
    policy = SlaPolicy(business_hours=((DEFAULT_DAY[1], DEFAULT_DAY[0]),) * 5 + ((), ()))
    assert policy == POLICY
    assert add_business_time(policy, rome(2026, 11, 24, 12), hours(2)) == rome(2026, 11, 24, 15)
