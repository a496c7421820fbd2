"""How the console writes durations on a page, and moments in the JSON queue.

The library stores moments as ISO text in UTC (or hands back datetimes); pages show them
with :func:`sportello.clock.display_time` (Rome time whatever the server's time zone),
the JSON queue in ISO form.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sportello.clock import as_datetime


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
