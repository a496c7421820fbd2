"""Service-level deadlines counted in business time: what the desk promises customers.

A ticket's first-response and resolution deadlines count only the minutes the desk is
open: business hours per weekday (several slots a day, so a lunch break does not count),
minus Italian national holidays and any extra closed dates the company adds (a patron
saint's day, the Christmas-week closure). The calendar lives in one time zone
(Europe/Rome by default) and every computation goes through ``zoneinfo``, so the two
days a year when the clocks change count the real minutes that pass: on the last Sunday
of March a 00:00-24:00 slot lasts 23 hours, on the last Sunday of October 25.

What a caller must know:

* Every datetime passed in must be timezone-aware (any zone); a naive one raises
  :class:`SlaError`, because guessing its zone silently moves deadlines by an hour or two.
  Every datetime returned is in UTC, ready to be stored as ISO text and compared.
* Business-hour slots are wall-clock times in the policy's zone, end exclusive
  ("09:00-13:00" closes at 13:00; "24:00" is the end of the day). A slot opens the first
  moment the local clock shows its start and closes the first moment it shows its end:
  a time shown twice in autumn means its first occurrence, a time skipped in spring
  means the moment of the jump. Only a desk open around 02:00-03:00 on those Sundays
  ever notices.
* A deadline that uses up a slot exactly falls at the slot's end (13:00, not 14:00).
* Nothing here touches the database or the clock: callers pass ``now``, so the monitor,
  the console and the tests all compute the same answer.

The policy is read from a TOML file (see ``sla.example.toml`` at the repository root,
which documents every key) or defaults to the values below.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta, timezone
from functools import cache, lru_cache
from itertools import pairwise
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import tomllib
from dateutil.easter import EASTER_WESTERN, easter

PRIORITIES = ("urgent", "high", "normal", "low")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")

SlaState = Literal["ok", "at_risk", "breached", "met"]

MINUTES_PER_DAY = 24 * 60

# A calendar with no open minute for this many consecutive days is treated as a
# configuration mistake (every day closed) rather than searched forever.
_MAX_CLOSED_DAYS = 400


class SlaError(ValueError):
    """A wrong argument to an SLA computation (naive datetime, unknown priority, ...)."""


class SlaPolicyError(SlaError):
    """An SLA policy that cannot be used; the message names the key and the fix."""


@dataclass(frozen=True)
class Slot:
    """One opening period of a day, in minutes after local midnight, end exclusive.

    Minutes rather than ``datetime.time`` because a slot may run to midnight ("24:00"),
    which ``time`` cannot represent.
    """

    start: int
    end: int

    def __post_init__(self) -> None:
        if not 0 <= self.start < self.end <= MINUTES_PER_DAY:
            raise SlaPolicyError(
                f"business-hour slot {self} must start before it ends, within 00:00-24:00"
            )

    @classmethod
    def parse(cls, text: str) -> Slot:
        """Read "HH:MM-HH:MM" (24-hour clock; "24:00" allowed as an end)."""
        if not isinstance(text, str) or text.count("-") != 1:
            raise SlaPolicyError(
                f'business-hour slot {text!r} must look like "09:00-13:00" (HH:MM-HH:MM)'
            )
        first, second = text.split("-")
        return cls(_parse_clock(first, text), _parse_clock(second, text))

    def __str__(self) -> str:
        return f"{_format_clock(self.start)}-{_format_clock(self.end)}"


@dataclass(frozen=True)
class Targets:
    """How much business time a priority allows before the first answer and the fix."""

    first_response: timedelta
    resolution: timedelta


def _default_business_hours() -> tuple[tuple[Slot, ...], ...]:
    weekday = (Slot(9 * 60, 13 * 60), Slot(14 * 60, 18 * 60))
    return (weekday,) * 5 + ((), ())


def _default_targets() -> dict[str, Targets]:
    return {
        "urgent": Targets(timedelta(minutes=30), timedelta(hours=4)),
        "high": Targets(timedelta(hours=1), timedelta(hours=8)),
        "normal": Targets(timedelta(hours=4), timedelta(hours=16)),
        "low": Targets(timedelta(hours=8), timedelta(hours=40)),
    }


@dataclass(frozen=True)
class SlaPolicy:
    """The desk's calendar and promises. Construct it directly or with :func:`load_policy`;
    both validate, so an impossible policy fails at start-up and never at a customer.

    ``business_hours`` has seven entries, Monday first, each a tuple of slots (empty =
    closed). ``annual_holidays`` are (month, day) pairs closed every year; ``closed_dates``
    are one-off closures. ``targets`` maps every name in :data:`PRIORITIES` to its
    :class:`Targets`. A ticket is "at risk" once ``at_risk_fraction`` of the business time
    between its creation and a deadline has passed.
    """

    timezone: str = "Europe/Rome"
    business_hours: tuple[tuple[Slot, ...], ...] = field(default_factory=_default_business_hours)
    national_holidays: bool = True
    annual_holidays: frozenset[tuple[int, int]] = frozenset()
    closed_dates: frozenset[date] = frozenset()
    targets: Mapping[str, Targets] = field(default_factory=_default_targets)
    at_risk_fraction: float = 0.75

    def __post_init__(self) -> None:
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise SlaPolicyError(
                f"unknown time zone {self.timezone!r}: use an IANA name such as "
                '"Europe/Rome" (the system time-zone database must be installed)'
            ) from exc
        if len(self.business_hours) != 7:
            raise SlaPolicyError("business_hours needs seven days, Monday first")
        # Stored sorted so the calendar can walk slots in order.
        ordered = tuple(tuple(sorted(day, key=lambda s: s.start)) for day in self.business_hours)
        object.__setattr__(self, "business_hours", ordered)
        for name, slots in zip(WEEKDAYS, self.business_hours, strict=True):
            _check_no_overlap(name, slots)
        if not any(self.business_hours):
            raise SlaPolicyError("business_hours closes every day: open at least one slot")
        for month, day in self.annual_holidays:
            _check_month_day(month, day)
        missing = [p for p in PRIORITIES if p not in self.targets]
        unknown = [p for p in self.targets if p not in PRIORITIES]
        if unknown:
            raise SlaPolicyError(
                f"unknown priority {unknown[0]!r} in targets: use {', '.join(PRIORITIES)}"
            )
        if missing:
            raise SlaPolicyError(f"targets has no entry for priority {missing[0]!r}")
        for priority, target in self.targets.items():
            for kind in ("first_response", "resolution"):
                if getattr(target, kind) <= timedelta(0):
                    raise SlaPolicyError(f"targets.{priority}.{kind} must be longer than zero")
            if target.resolution < target.first_response:
                raise SlaPolicyError(
                    f"targets.{priority}.resolution must not be shorter than its first_response"
                )
        if isinstance(self.at_risk_fraction, bool) or not 0 < self.at_risk_fraction < 1:
            raise SlaPolicyError(
                f"at_risk_fraction must be a number between 0 and 1, got {self.at_risk_fraction!r}"
            )

    @property
    def zone(self) -> ZoneInfo:
        """The policy's time zone (``ZoneInfo`` caches instances, so this is cheap)."""
        return ZoneInfo(self.timezone)


# --- loading ---------------------------------------------------------------------------

_TOP_LEVEL_KEYS = (
    "timezone",
    "at_risk_fraction",
    "national_holidays",
    "extra_holidays",
    "business_hours",
    "targets",
)
_DURATION = re.compile(r"^(?:(?P<hours>\d+)h)?(?:(?P<minutes>\d+)m)?$")
_CLOCK = re.compile(r"^(?P<hour>\d{2}):(?P<minute>\d{2})$")
_MONTH_DAY = re.compile(r"^(?P<month>\d{2})-(?P<day>\d{2})$")


def load_policy(path: Path | None) -> SlaPolicy:
    """The policy in a TOML file, or the defaults when ``path`` is None.

    Keys left out keep their defaults (for ``business_hours`` per day, for ``targets`` per
    priority and per target), so a file only states what differs. Unknown keys are errors,
    so a typo cannot silently leave a default in force. Raises :class:`SlaPolicyError`
    naming the file and the key.
    """
    if path is None:
        return SlaPolicy()
    try:
        with Path(path).open("rb") as handle:
            raw = tomllib.load(handle)
    except FileNotFoundError as exc:
        raise SlaPolicyError(f"SLA policy file not found: {path}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise SlaPolicyError(f"{path}: not valid TOML: {exc}") from exc
    try:
        return policy_from_mapping(raw)
    except SlaPolicyError as exc:
        raise SlaPolicyError(f"{path}: {exc}") from exc


def policy_from_mapping(raw: Mapping[str, Any]) -> SlaPolicy:
    """Build a policy from parsed TOML (or any mapping shaped the same way)."""
    _reject_unknown(raw, _TOP_LEVEL_KEYS, "")
    defaults = SlaPolicy()
    kwargs: dict[str, Any] = {}
    if "timezone" in raw:
        kwargs["timezone"] = _expect(raw["timezone"], str, "timezone", "a string")
    if "at_risk_fraction" in raw:
        value = raw["at_risk_fraction"]
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise SlaPolicyError(f"at_risk_fraction must be a number, got {value!r}")
        kwargs["at_risk_fraction"] = float(value)
    if "national_holidays" in raw:
        kwargs["national_holidays"] = _expect(
            raw["national_holidays"], bool, "national_holidays", "true or false"
        )
    if "extra_holidays" in raw:
        annual, dates = _parse_extra_holidays(raw["extra_holidays"])
        kwargs["annual_holidays"] = annual
        kwargs["closed_dates"] = dates
    if "business_hours" in raw:
        kwargs["business_hours"] = _parse_business_hours(
            raw["business_hours"], defaults.business_hours
        )
    if "targets" in raw:
        kwargs["targets"] = _parse_targets(raw["targets"], defaults.targets)
    return SlaPolicy(**kwargs)


def _parse_business_hours(
    raw: Any, defaults: tuple[tuple[Slot, ...], ...]
) -> tuple[tuple[Slot, ...], ...]:
    table = _expect(raw, dict, "business_hours", "a table of weekdays")
    _reject_unknown(table, WEEKDAYS, "business_hours")
    days = list(defaults)
    for index, name in enumerate(WEEKDAYS):
        if name not in table:
            continue
        texts = _expect(table[name], list, f"business_hours.{name}", 'a list like ["09:00-13:00"]')
        try:
            slots = tuple(sorted((Slot.parse(text) for text in texts), key=lambda s: s.start))
        except SlaPolicyError as exc:
            raise SlaPolicyError(f"business_hours.{name}: {exc}") from exc
        days[index] = slots
    return tuple(days)


def _parse_targets(raw: Any, defaults: Mapping[str, Targets]) -> dict[str, Targets]:
    table = _expect(raw, dict, "targets", "a table of priorities")
    _reject_unknown(table, PRIORITIES, "targets", what="priority")
    targets = dict(defaults)
    for priority, entry in table.items():
        entry = _expect(entry, dict, f"targets.{priority}", "a table")
        _reject_unknown(entry, ("first_response", "resolution"), f"targets.{priority}")
        changes = {
            kind: _parse_duration(value, f"targets.{priority}.{kind}")
            for kind, value in entry.items()
        }
        targets[priority] = replace(targets[priority], **changes)
    return targets


def _parse_duration(raw: Any, key: str) -> timedelta:
    """Business-time durations are written "30m", "4h" or "1h30m"; days are not accepted
    because a business day is ambiguous (8 opening hours? 24 hours?)."""
    match = _DURATION.match(raw) if isinstance(raw, str) else None
    if not match or not raw:
        raise SlaPolicyError(f'{key} must be a duration like "30m", "4h" or "1h30m", got {raw!r}')
    return timedelta(hours=int(match["hours"] or 0), minutes=int(match["minutes"] or 0))


def _parse_extra_holidays(raw: Any) -> tuple[frozenset[tuple[int, int]], frozenset[date]]:
    items = _expect(raw, list, "extra_holidays", 'a list like ["06-29", "2026-12-24"]')
    annual: set[tuple[int, int]] = set()
    dates: set[date] = set()
    for item in items:
        if isinstance(item, date) and not isinstance(item, datetime):
            dates.add(item)
            continue
        if isinstance(item, str):
            month_day = _MONTH_DAY.match(item)
            if month_day:
                pair = (int(month_day["month"]), int(month_day["day"]))
                try:
                    _check_month_day(*pair)
                except SlaPolicyError as exc:
                    raise SlaPolicyError(f"extra_holidays: {exc}") from exc
                annual.add(pair)
                continue
            try:
                dates.add(date.fromisoformat(item))
                continue
            except ValueError:
                pass
        raise SlaPolicyError(
            f'extra_holidays entry {item!r} must be "MM-DD" (every year) or '
            '"YYYY-MM-DD" (that day only)'
        )
    return frozenset(annual), frozenset(dates)


def _parse_clock(text: str, slot: str) -> int:
    match = _CLOCK.match(text.strip())
    if match:
        hour, minute = int(match["hour"]), int(match["minute"])
        if (hour < 24 and minute < 60) or (hour, minute) == (24, 0):
            return hour * 60 + minute
    raise SlaPolicyError(
        f"business-hour slot {slot!r}: {text.strip()!r} is not a time of day "
        "(HH:MM on a 24-hour clock, 00:00 to 24:00)"
    )


def _format_clock(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _check_no_overlap(day_name: str, slots: Iterable[Slot]) -> None:
    ordered = sorted(slots, key=lambda s: s.start)
    for earlier, later in pairwise(ordered):
        if later.start < earlier.end:
            raise SlaPolicyError(f"business_hours.{day_name}: slots {earlier} and {later} overlap")


def _check_month_day(month: int, day: int) -> None:
    try:
        date(2000, month, day)  # a leap year, so 02-29 is accepted
    except ValueError as exc:
        raise SlaPolicyError(f"{month:02d}-{day:02d} is not a day of the year") from exc


def _reject_unknown(
    table: Mapping[str, Any], known: tuple[str, ...], section: str, what: str = "key"
) -> None:
    where = f" in [{section}]" if section else ""
    for key in table:
        if key not in known:
            raise SlaPolicyError(
                f"unknown {what} {key!r}{where}: expected one of {', '.join(known)}"
            )


def _expect(value: Any, kind: type, key: str, description: str) -> Any:
    if not isinstance(value, kind):
        raise SlaPolicyError(f"{key} must be {description}, got {value!r}")
    return value


# --- the calendar ----------------------------------------------------------------------


def easter_sunday(year: int) -> date:
    """Western (Gregorian) Easter, the one Italy keeps (dateutil's ``EASTER_WESTERN``)."""
    return easter(year, EASTER_WESTERN)


@cache
def _italian_holidays(year: int) -> frozenset[date]:
    easter = easter_sunday(year)
    fixed = [(1, 1), (1, 6), (4, 25), (5, 1), (6, 2), (8, 15), (11, 1), (12, 8), (12, 25), (12, 26)]
    if year >= 2026:
        # Legge 151/2025: San Francesco d'Assisi, national holiday again from 2026.
        fixed.append((10, 4))
    days = {date(year, month, day) for month, day in fixed}
    days.update({easter, easter + timedelta(days=1)})
    return frozenset(days)


def italian_holidays(year: int) -> set[date]:
    """Italy's national public holidays in ``year``: 1 Jan, 6 Jan, Easter Sunday and
    Monday, 25 Apr, 1 May, 2 Jun, 15 Aug, 4 Oct (from 2026), 1 Nov, 8 Dec, 25 and 26 Dec.
    Local patron saints' days are not national: add them as ``extra_holidays``."""
    return set(_italian_holidays(year))


def _is_closed_day(policy: SlaPolicy, day: date) -> bool:
    return (
        (policy.national_holidays and day in _italian_holidays(day.year))
        or (day.month, day.day) in policy.annual_holidays
        or day in policy.closed_dates
    )


def _wall_clock_to_utc(day: date, minute: int, zone: ZoneInfo) -> datetime:
    """The first instant at which the local clock reads ``minute`` on ``day`` or later.

    That is when a person watching the clock would open or close the desk: a time shown
    twice in autumn means its first occurrence; a time the clock skips in spring means
    the moment of the jump (02:30 -> 03:00 CEST). The mapping never goes backwards, so
    slots that do not overlap on the clock do not overlap in real time either.
    """
    # Aware + timedelta is wall-clock arithmetic in Python, and fold=0 is the first
    # occurrence of a repeated time.
    local = datetime(day.year, day.month, day.day, tzinfo=zone) + timedelta(minutes=minute)
    instant = local.astimezone(timezone.utc)
    if instant.astimezone(zone).replace(tzinfo=None) == local.replace(tzinfo=None):
        return instant
    # Skipped by the spring change: fold=0 read it with the old offset (an instant after
    # the jump), fold=1 with the new one (an instant before). The jump happens on a whole
    # second; find it between the two.
    wall = local.replace(tzinfo=None)
    before = int(local.replace(fold=1).timestamp())
    after = int(instant.timestamp())
    while after - before > 1:
        middle = (before + after) // 2
        reading = datetime.fromtimestamp(middle, zone).replace(tzinfo=None)
        before, after = (before, middle) if reading >= wall else (middle, after)
    return datetime.fromtimestamp(after, timezone.utc)


def _day_intervals(policy: SlaPolicy, day: date) -> tuple[tuple[datetime, datetime], ...]:
    """The open periods of one local day in UTC, in order (a slot lying wholly in the
    hour skipped in spring has no real minutes and is left out)."""
    if _is_closed_day(policy, day):
        return ()
    return _slot_intervals(policy.timezone, policy.business_hours[day.weekday()], day)


@lru_cache(maxsize=8192)
def _slot_intervals(
    zone_name: str, slots: tuple[Slot, ...], day: date
) -> tuple[tuple[datetime, datetime], ...]:
    # Cached: the monitor recomputes the same few weeks for every ticket on every pass.
    zone = ZoneInfo(zone_name)
    intervals = []
    for slot in slots:
        start = _wall_clock_to_utc(day, slot.start, zone)
        end = _wall_clock_to_utc(day, slot.end, zone)
        if end > start:
            intervals.append((start, end))
    return tuple(intervals)


def _open_intervals(policy: SlaPolicy, after: datetime) -> Iterator[tuple[datetime, datetime]]:
    """The desk's open periods in UTC, in order, from the first one ending after ``after``.

    Periods are per local day: one ending at 24:00 touches the next day's 00:00 start,
    which is harmless for every use here.
    """
    day = after.astimezone(policy.zone).date() - timedelta(days=1)
    closed_days = 0
    while True:
        intervals = _day_intervals(policy, day)
        closed_days = 0 if intervals else closed_days + 1
        if closed_days > _MAX_CLOSED_DAYS:
            raise SlaPolicyError(
                f"the desk never opens in the {_MAX_CLOSED_DAYS} days before {day}: "
                "check business_hours and extra_holidays"
            )
        for start, end in intervals:
            if end > after:
                yield start, end
        day += timedelta(days=1)


def _utc(value: datetime, name: str) -> datetime:
    if not isinstance(value, datetime):
        raise SlaError(f"{name} must be a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise SlaError(
            f"{name}={value.isoformat()} has no time zone: pass an aware datetime "
            "(e.g. datetime.now(timezone.utc)); naive times would shift deadlines"
        )
    return value.astimezone(timezone.utc)


# --- the public computations -----------------------------------------------------------


def is_open(policy: SlaPolicy, at: datetime) -> bool:
    """Whether the desk is open at ``at`` (slot starts are open, slot ends closed)."""
    at = _utc(at, "at")
    start, _ = next(_open_intervals(policy, at))
    return start <= at


def next_opening(policy: SlaPolicy, at: datetime) -> datetime:
    """The first instant at or after ``at`` when the desk is open, in UTC; ``at`` itself
    when the desk is open then. What the bot tells a customer who writes after hours."""
    at = _utc(at, "at")
    start, _ = next(_open_intervals(policy, at))
    return max(start, at)


def add_business_time(policy: SlaPolicy, start: datetime, duration: timedelta) -> datetime:
    """The earliest instant (UTC) by which ``duration`` of open time has passed since
    ``start``. Starting while closed counts from the next opening; a duration that
    exactly fills a slot ends at the slot's end. A zero duration returns ``start``."""
    start = _utc(start, "start")
    if duration < timedelta(0):
        raise SlaError(f"duration must not be negative, got {duration}")
    if duration == timedelta(0):
        return start
    remaining = duration
    for open_start, open_end in _open_intervals(policy, start):
        begin = max(open_start, start)
        available = open_end - begin
        if remaining <= available:
            return begin + remaining
        remaining -= available
    raise AssertionError("unreachable: _open_intervals never ends")


def business_time_between(policy: SlaPolicy, start: datetime, end: datetime) -> timedelta:
    """Open time between two instants: the inverse of :func:`add_business_time`.

    Negative when ``end`` is before ``start`` (so ``business_time_between(policy, now,
    due)`` is the business time left, negative once overdue).
    """
    start = _utc(start, "start")
    end = _utc(end, "end")
    if end < start:
        return -business_time_between(policy, end, start)
    total = timedelta(0)
    for open_start, open_end in _open_intervals(policy, start):
        if open_start >= end:
            break
        total += min(open_end, end) - max(open_start, start)
    return total


def due_dates(policy: SlaPolicy, priority: str, created_at: datetime) -> tuple[datetime, datetime]:
    """(first_response_due, resolution_due) in UTC for a ticket created at ``created_at``;
    both count business time from creation."""
    if priority not in PRIORITIES:
        raise SlaError(f"unknown priority {priority!r}: use {', '.join(PRIORITIES)}")
    target = policy.targets[priority]
    return (
        add_business_time(policy, created_at, target.first_response),
        add_business_time(policy, created_at, target.resolution),
    )


def sla_state(
    policy: SlaPolicy,
    created_at: datetime,
    due: datetime,
    now: datetime,
    done_at: datetime | None = None,
) -> SlaState:
    """Where one deadline stands.

    ``done_at`` (the first answer, or the closing, for whichever deadline ``due`` is) set:
    "met" if it came no later than ``due``, else "breached". Not done: "breached" once
    ``now`` is past ``due``; "at_risk" once ``policy.at_risk_fraction`` of the business
    time from ``created_at`` to ``due`` has passed; otherwise "ok". The fraction counts
    business time, so a ticket does not turn at-risk overnight while the desk is closed.
    """
    created_at = _utc(created_at, "created_at")
    due = _utc(due, "due")
    now = _utc(now, "now")
    if done_at is not None:
        return "met" if _utc(done_at, "done_at") <= due else "breached"
    if now > due:
        return "breached"
    allowed = business_time_between(policy, created_at, due)
    elapsed = business_time_between(policy, created_at, now)
    if elapsed >= allowed * policy.at_risk_fraction:
        return "at_risk"
    return "ok"
