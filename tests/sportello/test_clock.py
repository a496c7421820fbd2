"""sportello.clock: one clock, one stored form, one display."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from sportello import clock

ROME_SUMMER = timezone(timedelta(hours=2))


def test_utc_now_is_aware_utc_to_the_microsecond() -> None:
    before = datetime.now(timezone.utc)
    now = clock.utc_now()
    after = datetime.now(timezone.utc)
    assert now.tzinfo is timezone.utc
    assert before <= now <= after


def test_format_time_stores_utc_whole_seconds_by_default() -> None:
    moment = datetime(2026, 3, 2, 11, 30, 15, 987654, tzinfo=ROME_SUMMER)
    assert clock.format_time(moment) == "2026-03-02T09:30:15+00:00"


@pytest.mark.parametrize(
    ("timespec", "expected"),
    [
        (clock.SECONDS, "2026-03-02T09:30:15+00:00"),
        (clock.MILLISECONDS, "2026-03-02T09:30:15.987+00:00"),
        (clock.MICROSECONDS, "2026-03-02T09:30:15.987654+00:00"),
    ],
)
def test_format_time_keeps_the_precision_a_column_asks_for(timespec: str, expected: str) -> None:
    moment = datetime(2026, 3, 2, 9, 30, 15, 987654, tzinfo=timezone.utc)
    assert clock.format_time(moment, timespec) == expected


def test_format_time_refuses_naive_datetimes() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        clock.format_time(datetime(2026, 3, 2, 9, 30))


def test_stored_times_sort_as_text_in_time_order() -> None:
    base = datetime(2026, 3, 2, 23, 59, 59, tzinfo=timezone.utc)
    moments = [base + timedelta(seconds=s) for s in (0, 1, 3600, 86400 * 40)]
    stored = [clock.format_time(m.astimezone(ROME_SUMMER)) for m in moments]
    assert sorted(stored) == stored


def test_parse_time_reads_back_what_format_time_stored() -> None:
    moment = datetime(2026, 3, 2, 9, 30, 15, tzinfo=timezone.utc)
    assert clock.parse_time(clock.format_time(moment)) == moment
    assert clock.parse_time(None) is None
    assert clock.parse_time("") is None


def test_as_datetime_takes_text_or_datetime_and_naive_means_utc() -> None:
    aware = datetime(2026, 3, 2, 9, 30, tzinfo=timezone.utc)
    assert clock.as_datetime("2026-03-02T09:30:00+00:00") == aware
    assert clock.as_datetime("2026-03-02T09:30:00") == aware
    assert clock.as_datetime(aware.replace(tzinfo=None)) == aware
    assert clock.as_datetime(aware) is aware
    assert clock.as_datetime(None) is None
    assert clock.as_datetime("") is None


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("2026-01-15T09:30:00+00:00", "15/01/2026 10:30"),  # winter: UTC+1
        ("2026-07-15T09:30:00+00:00", "15/07/2026 11:30"),  # summer: UTC+2
        (datetime(2026, 12, 31, 23, 30, tzinfo=timezone.utc), "01/01/2027 00:30"),
        (None, ""),
        ("", ""),
    ],
)
def test_display_time_shows_rome_time(value: datetime | str | None, shown: str) -> None:
    assert clock.display_time(value) == shown
