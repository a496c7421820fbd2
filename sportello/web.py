"""What every Sportello web page shares: the page language and the security headers.

The chat page (customers) and the operator console (staff) are separate apps with
their own Content-Security-Policy; both choose the language the same way and send the
same base headers, from here.
"""

from __future__ import annotations

from knowledge.language import SUPPORTED

SUPPORTED_LANGS = SUPPORTED

# Sent with every response; each app adds its own Content-Security-Policy.
BASE_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


def choose_language(query_lang: str | None, accept_language: str | None, default: str) -> str:
    """The page language: an explicit ``?lang=`` wins, then the browser's preference order.

    ``accept_language`` is the raw header (``"en-GB,en;q=0.9,it;q=0.8"``); tags are ranked
    by their ``q`` weight, only the primary subtag counts, ``q=0`` means "not this one".
    Anything unsupported or malformed falls back to ``default`` (itself forced to a
    supported language, Italian if the setting is odd).
    """
    fallback = default if default in SUPPORTED_LANGS else SUPPORTED_LANGS[0]
    if query_lang and query_lang.strip().lower() in SUPPORTED_LANGS:
        return query_lang.strip().lower()
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        primary = tag.strip().lower().split("-")[0]
        weight = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip() == "q":
                try:
                    weight = float(value)
                except ValueError:
                    weight = 0.0
        if primary in SUPPORTED_LANGS and weight > 0:
            ranked.append((-weight, position, primary))
    return min(ranked)[2] if ranked else fallback
