"""How the console reads the library's times and writes times and durations on a page.

The library stores moments as ISO text in UTC (or hands back datetimes); pages show them
in :data:`DISPLAY_TZ` whatever the server's time zone, and the JSON queue in ISO form.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

DISPLAY_TZ = ZoneInfo("Europe/Rome")


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def as_datetime(value: datetime | str | None) -> datetime | None:
    """A timezone-aware datetime from the library's value (ISO text or datetime); naive = UTC."""
    if value is None or value == "":
        return None
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def format_time(value: datetime | str | None) -> str:
    """``24/11/2026 10:30`` in :data:`DISPLAY_TZ`; "" when there is no time."""
    moment = as_datetime(value)
    return moment.astimezone(DISPLAY_TZ).strftime("%d/%m/%Y %H:%M") if moment else ""


def format_iso(value: datetime | str | None) -> str | None:
    moment = as_datetime(value)
    return moment.isoformat() if moment else None


def format_duration(delta: timedelta, lang: str) -> str:
    """``2 h 05 min``, ``1 g 3 h`` / ``1 d 3 h``: precise enough for a badge."""
    minutes = int(abs(delta).total_seconds() // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    day_unit = "g" if lang == "it" else "d"
    if days:
        return f"{days} {day_unit} {hours} h"
    if hours:
        return f"{hours} h {mins:02d} min"
    return f"{mins} min"
