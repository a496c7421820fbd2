"""Which slice of the log a report covers: a date range, a channel, a language, a source.

Dates are calendar days in the desk's time zone (the SLA policy's, Europe/Rome by
default), both ends included: ``since=2026-11-02, until=2026-11-08`` is one Monday-to-
Sunday week of Italian days, whatever the UTC offsets. Days and weeks in every
breakdown are counted in the same zone; weeks start on Monday (ISO 8601).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from sportello.clock import utc_now

# The default report: the last four weeks, today included.
DEFAULT_DAYS = 28
# Up to this many days a trend is drawn per day; longer ranges per ISO week.
DAILY_UP_TO_DAYS = 31

SOURCE_ALL = "all"
SOURCE_REAL = "real"
SOURCE_SIMULATED = "simulated"
SOURCES = (SOURCE_ALL, SOURCE_REAL, SOURCE_SIMULATED)

# Conversation ids of simulated data (``insights.demo``) start with this; real
# conversation ids never do (Rasa's are UUIDs or the channel's own ids).
SIMULATED_PREFIX = "sim-"

GRANULARITY_DAY = "day"
GRANULARITY_WEEK = "week"


class FilterError(ValueError):
    """A filter that cannot be used (a malformed date, an end before the start)."""


def is_simulated(conversation_id: str | None) -> bool:
    return bool(conversation_id) and str(conversation_id).startswith(SIMULATED_PREFIX)


@dataclass(frozen=True)
class Filters:
    """A report's slice. ``channel``/``lang`` None mean every channel / both languages;
    ``source`` keeps real data, simulated data or both."""

    since: date
    until: date
    channel: str | None = None
    lang: str | None = None
    source: str = SOURCE_ALL
    zone: str = "Europe/Rome"

    def __post_init__(self) -> None:
        if self.until < self.since:
            raise FilterError(f"the end date {self.until} is before the start date {self.since}")
        if self.source not in SOURCES:
            raise FilterError(f"unknown source {self.source!r}; use one of {', '.join(SOURCES)}")

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.zone)

    @property
    def days(self) -> int:
        return (self.until - self.since).days + 1

    @property
    def start(self) -> datetime:
        """The first instant of ``since`` (local midnight), in UTC."""
        return datetime.combine(self.since, time(0), self.tz).astimezone(timezone.utc)

    @property
    def end(self) -> datetime:
        """The first instant after ``until`` (exclusive), in UTC."""
        following = self.until + timedelta(days=1)
        return datetime.combine(following, time(0), self.tz).astimezone(timezone.utc)

    def contains(self, moment: datetime) -> bool:
        return self.start <= moment < self.end

    def previous(self) -> Filters:
        """The period of the same length just before this one (for trends)."""
        length = timedelta(days=self.days)
        return replace(self, since=self.since - length, until=self.until - length)

    def day_of(self, moment: datetime) -> date:
        """The local calendar day of an instant."""
        return moment.astimezone(self.tz).date()

    def keeps(self, conversation_id: str | None) -> bool:
        """Whether the source filter keeps rows of this conversation."""
        if self.source == SOURCE_ALL:
            return True
        return is_simulated(conversation_id) == (self.source == SOURCE_SIMULATED)

    def matches(self, channel: str | None, lang: str | None) -> bool:
        return (self.channel is None or channel == self.channel) and (
            self.lang is None or lang == self.lang
        )

    @property
    def granularity(self) -> str:
        return GRANULARITY_DAY if self.days <= DAILY_UP_TO_DAYS else GRANULARITY_WEEK


def bucket(day: date, granularity: str) -> str:
    """A day's label in a trend: ``2026-11-03`` per day, ``2026-W45`` per ISO week."""
    if granularity == GRANULARITY_WEEK:
        year, week, _ = day.isocalendar()
        return f"{year}-W{week:02d}"
    return day.isoformat()


def buckets(filters: Filters, granularity: str) -> list[str]:
    """Every label of the period in order, empty days and weeks included."""
    labels: list[str] = []
    for offset in range(filters.days):
        label = bucket(filters.since + timedelta(days=offset), granularity)
        if not labels or labels[-1] != label:
            labels.append(label)
    return labels


def parse_day(text: str | None, name: str) -> date | None:
    """``YYYY-MM-DD`` as a date; empty means not given."""
    if not text:
        return None
    try:
        return date.fromisoformat(text.strip())
    except ValueError as exc:
        raise FilterError(f"{name} must be a date as YYYY-MM-DD, got {text!r}") from exc


def make_filters(
    since: str | date | None = None,
    until: str | date | None = None,
    *,
    channel: str | None = None,
    lang: str | None = None,
    source: str | None = None,
    today: date | None = None,
    zone: str | None = None,
) -> Filters:
    """Filters from user input: missing dates give the last :data:`DEFAULT_DAYS` days up
    to ``today`` (in the desk's zone); empty strings mean "any"."""
    if zone is None:
        from desk.tickets import configured_policy

        zone = configured_policy().timezone
    tz = ZoneInfo(zone)
    today = today or utc_now().astimezone(tz).date()
    end = until if isinstance(until, date) else parse_day(until, "until")
    start = since if isinstance(since, date) else parse_day(since, "since")
    end = end or (max(today, start) if start else today)
    start = start or end - timedelta(days=DEFAULT_DAYS - 1)
    return Filters(
        since=start,
        until=end,
        channel=channel or None,
        lang=lang or None,
        source=source or SOURCE_ALL,
        zone=zone,
    )
