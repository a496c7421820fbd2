"""The one home for time: now, the stored form of a moment, and the console's display.

Every package asks this module for "now" and for the text it stores, so that all
timestamps in Sportello's databases are written one way and compare correctly as text:

- :func:`utc_now` is the clock: an aware datetime in UTC with the machine's full
  (microsecond) precision. Code that needs a fixed "now" in tests takes it as an
  argument or replaces its module's own ``clock`` function, never this one.
- :func:`format_time` is the stored form: UTC, ISO 8601, whole seconds by default
  (``2026-03-02T09:30:00+00:00``), which sorts as text. A table whose rows must keep
  their order within one second (articles edited twice in a second, a password changed
  right after a session was issued, conversation turns) passes a finer ``timespec``
  and says why where it does; a column always keeps the precision it was created with.
- :func:`parse_time` and :func:`as_datetime` read stored text back; :func:`display_time`
  is how the operator console shows a moment (Rome time, ``02/03/2026 10:30``).
"""

from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

# The console's times are shown in the company's time zone, whatever the server's is.
DISPLAY_TZ = ZoneInfo("Europe/Rome")

# ``datetime.isoformat`` precisions a column may be stored with.
SECONDS = "seconds"
MILLISECONDS = "milliseconds"
MICROSECONDS = "microseconds"


def utc_now() -> datetime:
    """Now, as an aware datetime in UTC, to the microsecond."""
    return datetime.now(timezone.utc)


def format_time(moment: datetime, timespec: str = SECONDS) -> str:
    """The stored form of an aware datetime: UTC, ISO 8601, to ``timespec`` (sorts as text).

    Naive datetimes raise :class:`ValueError`: their time zone is a guess, and a guess
    would shift deadlines and retention cut-offs by hours.
    """
    if moment.tzinfo is None:
        raise ValueError("datetimes must be timezone-aware")
    return moment.astimezone(timezone.utc).isoformat(timespec=timespec)


def parse_time(text: str | None) -> datetime | None:
    """A stored datetime back as a datetime (None and "" stay None)."""
    return datetime.fromisoformat(text) if text else None


def as_datetime(value: datetime | str | None) -> datetime | None:
    """An aware datetime from ISO text or a datetime; a naive one is taken as UTC.

    For values read from any table or template, where a missing time is ``None`` or "".
    """
    if value is None or value == "":
        return None
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def display_time(value: datetime | str | None) -> str:
    """How the console shows a moment: ``02/03/2026 10:30`` in :data:`DISPLAY_TZ`; "" if none."""
    moment = as_datetime(value)
    return moment.astimezone(DISPLAY_TZ).strftime("%d/%m/%Y %H:%M") if moment else ""
