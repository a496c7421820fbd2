"""How the bot words handoff times, and what in a customer's text it reacts to.

Times are said in the desk's local time zone (the SLA policy's, Europe/Rome by
default), the way a person would: "entro oggi alle 15:30", "by tomorrow at 9:30 am",
"lunedì 24 novembre alle 9:30". Day and month names are CLDR's, through Babel, which
carries its own locale data: servers rarely have an Italian system locale.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from babel.dates import get_day_names, get_month_names

# Personal cases the bot cannot solve (a damaged delivery, a double charge, a
# complaint): a safety net for when the NLU does not classify them as personal_case.
_PERSONAL_CASE = re.compile(
    r"addebitat\w* (?:due|2) volte|doppio addebito|pagat\w* (?:due|2) volte|"
    r"charged (?:me )?twice|double[- ]charged?|billed twice|"
    r"\breclamo\b|\bcomplaint\b|"
    r"arrivat\w* (?:rott|danneggiat)\w*|danneggiat\w*|"
    r"arrived (?:broken|damaged)|\bdamaged\b",
    re.IGNORECASE,
)


def _clock(moment: datetime, lang: str) -> str:
    if lang == "en":
        hour = moment.hour % 12 or 12
        return f"{hour}:{moment.minute:02d} {'am' if moment.hour < 12 else 'pm'}"
    return f"{moment.hour}:{moment.minute:02d}"


def when_text(moment: datetime, now: datetime, lang: str, timezone: str) -> str:
    """``moment`` as a customer reads it: today/tomorrow, else weekday, day and month."""
    zone = ZoneInfo(timezone)
    local, today = moment.astimezone(zone), now.astimezone(zone).date()
    clock = _clock(local, lang)
    if local.date() == today:
        return f"today at {clock}" if lang == "en" else f"oggi alle {clock}"
    if local.date() == today + timedelta(days=1):
        return f"tomorrow at {clock}" if lang == "en" else f"domani alle {clock}"
    day = day_and_month(local, "en" if lang == "en" else "it")
    return f"{day} at {clock}" if lang == "en" else f"{day} alle {clock}"


def day_and_month(moment: datetime | date, lang: str) -> str:
    """ "lunedì 24 novembre" / "Monday 24 November": the weekday, the day and the month."""
    days = get_day_names("wide", locale=lang)  # 0 = Monday, as date.weekday()
    months = get_month_names("wide", locale=lang)  # 1 = January
    return f"{days[moment.weekday()]} {moment.day} {months[moment.month]}"


def due_text(due: datetime, now: datetime, lang: str, timezone: str) -> str:
    """A deadline: "entro oggi alle 15:30" / "by today at 3:30 pm"."""
    return f"{'by' if lang == 'en' else 'entro'} {when_text(due, now, lang, timezone)}"


def looks_like_personal_case(text: str) -> bool:
    """True when the text reports a damaged delivery, a double charge or a complaint."""
    return bool(_PERSONAL_CASE.search(text or ""))


_NUMBER_WORDS = {
    "zero": 0, "uno": 1, "una": 1, "due": 2, "tre": 3, "quattro": 4, "cinque": 5, "sei": 6,
    "sette": 7, "otto": 8, "nove": 9, "dieci": 10, "one": 1, "two": 2, "three": 3,
    "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10,
}  # fmt: skip
_RATING_TOKEN = re.compile(r"\b([0-9]{1,3})\b(?:\s*(?:/|su|out of)\s*(?:5|10)\b)?|[a-z]+", re.I)
# A rating is a short answer ("4", "direi 4", "9 su 10"); a longer message that merely
# contains a number ("la spedizione per 2 kg quanto costa?") is a question.
_MAX_RATING_WORDS = 5


def parse_rating(text: object) -> int | None:
    """The number a customer gave as a rating (digits or a number word), if any."""
    words = str(text or "").strip().lower().split()
    if not words or len(words) > _MAX_RATING_WORDS:
        return None
    for match in _RATING_TOKEN.finditer(" ".join(words)):
        token = match.group(0)
        if match.group(1) is not None:
            return int(match.group(1))
        if token in _NUMBER_WORDS:
            return _NUMBER_WORDS[token]
    return None


_ORDINALS = {
    "primo": 1, "prima": 1, "first": 1, "secondo": 2, "seconda": 2, "second": 2,
    "terzo": 3, "terza": 3, "third": 3, "ultimo": -1, "ultima": -1, "last": -1,
}  # fmt: skip
# A choice is a short reply ("2", "la seconda", "the first one", "opzione 3").
_MAX_CHOICE_WORDS = 4


def parse_choice(text: object, offered: list[str]) -> int | None:
    """Which of the ``offered`` choices (0-based) a typed reply picks, if it picks one.

    Accepts the number shown beside a choice, an ordinal ("la seconda", "the last one")
    or the choice's own text, typed or pasted whole. Anything else is not a choice, so
    a new question after the bot's "Forse cercavi…" is searched as a question.
    """
    clean = " ".join(str(text or "").casefold().split()).strip(" .!?")
    if not clean or not offered:
        return None
    for i, title in enumerate(offered):
        if clean == " ".join(title.casefold().split()).strip(" .!?"):
            return i
    words = re.findall(r"[^\W_]+", clean)
    if not words or len(words) > _MAX_CHOICE_WORDS:
        return None
    for word in words:
        number = int(word) if word.isdigit() else _NUMBER_WORDS.get(word, _ORDINALS.get(word))
        if number is None:
            continue
        if number == -1:
            return len(offered) - 1
        return number - 1 if 1 <= number <= len(offered) else None
    return None
