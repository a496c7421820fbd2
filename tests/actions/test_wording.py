"""How handoff times are worded for customers, and what the bot spots in their text."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from actions.wording import (
    day_and_month,
    due_text,
    looks_like_personal_case,
    parse_choice,
    when_text,
)

ROME = ZoneInfo("Europe/Rome")
NOW = datetime(2026, 11, 23, 8, 0, tzinfo=ROME)  # Monday


@pytest.mark.parametrize(
    ("moment", "lang", "expected"),
    [
        (datetime(2026, 11, 23, 15, 30, tzinfo=ROME), "it", "oggi alle 15:30"),
        (datetime(2026, 11, 23, 15, 30, tzinfo=ROME), "en", "today at 3:30 pm"),
        (datetime(2026, 11, 24, 9, 5, tzinfo=ROME), "it", "domani alle 9:05"),
        (datetime(2026, 11, 24, 9, 5, tzinfo=ROME), "en", "tomorrow at 9:05 am"),
        (datetime(2026, 11, 30, 12, 0, tzinfo=ROME), "it", "lunedì 30 novembre alle 12:00"),
        (datetime(2026, 11, 30, 12, 0, tzinfo=ROME), "en", "Monday 30 November at 12:00 pm"),
    ],
)
def test_times_are_said_in_local_time(moment: datetime, lang: str, expected: str) -> None:
    assert when_text(moment, NOW, lang, "Europe/Rome") == expected


def test_utc_deadlines_are_converted_to_rome_time_across_dst() -> None:
    # 29 March 2026: clocks go forward; 07:30 UTC is 9:30 in Rome (CEST).
    due = datetime(2026, 3, 30, 7, 30, tzinfo=ZoneInfo("UTC"))
    now = datetime(2026, 3, 27, 17, 0, tzinfo=ROME)
    assert due_text(due, now, "it", "Europe/Rome") == "entro lunedì 30 marzo alle 9:30"
    assert due_text(due, now, "en", "Europe/Rome") == "by Monday 30 March at 9:30 am"


@pytest.mark.parametrize(
    "text",
    [
        "mi avete addebitato due volte",
        "il pacco è arrivato danneggiato",
        "I was double charged",
        "I want to file a complaint",
        "voglio fare un reclamo",
    ],
)
def test_personal_cases_are_spotted(text: str) -> None:
    assert looks_like_personal_case(text)


@pytest.mark.parametrize(
    "text", ["quanto costa la spedizione?", "how do I return an item?", "posso pagare due rate?"]
)
def test_ordinary_questions_are_not_personal_cases(text: str) -> None:
    assert not looks_like_personal_case(text)


OFFER = ["Quanto costa la spedizione?", "Come faccio un reso?", "Orari del negozio"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1", 0),
        (" 2. ", 1),
        ("la seconda", 1),
        ("the third one", 2),
        ("l'ultima", 2),
        ("the last one", 2),
        ("opzione tre", 2),
        ("come faccio un reso", 1),
        ("Orari del negozio!", 2),
        ("4", None),
        ("0", None),
        ("quanto costa la spedizione in Germania per 2 kg?", None),
        ("", None),
        ("grazie", None),
    ],
)
def test_parse_choice_reads_numbers_ordinals_and_titles(text, expected):
    assert parse_choice(text, OFFER) == expected


def test_parse_choice_with_nothing_offered_is_none():
    assert parse_choice("1", []) is None


# The names the module spelled out by hand before Babel: the reference it must match.
OLD_DAYS = {
    "it": ("lunedì", "martedì", "mercoledì", "giovedì", "venerdì", "sabato", "domenica"),
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
}
OLD_MONTHS = {
    "it": (
        "gennaio", "febbraio", "marzo", "aprile", "maggio", "giugno",
        "luglio", "agosto", "settembre", "ottobre", "novembre", "dicembre",
    ),
    "en": (
        "January", "February", "March", "April", "May", "June",
        "July", "August", "September", "October", "November", "December",
    ),
}  # fmt: skip


@pytest.mark.parametrize("lang", ["it", "en"])
def test_babel_names_every_day_and_month_as_the_old_lists_did(lang: str) -> None:
    # 2 January 2023 was a Monday: 7 days give every weekday, the 1st of each month every month.
    for offset in range(7):
        day = date(2023, 1, 2 + offset)
        assert (
            day_and_month(day, lang) == f"{OLD_DAYS[lang][offset]} {day.day} {OLD_MONTHS[lang][0]}"
        )
    for month in range(1, 13):
        first = date(2026, month, 1)
        expected = f"{OLD_DAYS[lang][first.weekday()]} 1 {OLD_MONTHS[lang][month - 1]}"
        assert day_and_month(first, lang) == expected
