"""The languages Sportello speaks: one list for the bot, the knowledge base, the desk and
the pages.

Adding a language starts here, then needs its articles, the bot's responses
(bot/domain.yml), the console's and chat page's texts and the language detector's word
lists (:mod:`knowledge.language`). On the floor because every layer checks a language
code against it, including the Rasa server's NLU component, which runs on Python 3.10:
keep this module free of third-party imports.
"""

from __future__ import annotations

LANGUAGES: tuple[str, ...] = ("it", "en")

# What is spoken when nothing says otherwise: the first of LANGUAGES.
DEFAULT_LANGUAGE = LANGUAGES[0]


def supported(lang: str | None, default: str = DEFAULT_LANGUAGE) -> str:
    """``lang`` when Sportello speaks it, else ``default`` (itself forced to a supported
    language: a misconfigured default falls back to :data:`DEFAULT_LANGUAGE`)."""
    if lang in LANGUAGES:
        return lang
    return default if default in LANGUAGES else DEFAULT_LANGUAGE
