"""One list of languages, and the fallback every layer uses for an unknown one."""

from __future__ import annotations

from desk.console.text import UI_TEXT
from knowledge import language, store
from sportello.languages import DEFAULT_LANGUAGE, LANGUAGES, supported


def test_a_supported_language_is_kept_and_anything_else_falls_back() -> None:
    assert supported("en") == "en"
    assert supported("it", default="en") == "it"
    assert supported("fr") == DEFAULT_LANGUAGE == "it"
    assert supported(None, default="en") == "en"
    assert supported("de", default="xx") == "it"  # a misconfigured default is not spoken


def test_every_package_speaks_the_same_languages() -> None:
    assert LANGUAGES == language.SUPPORTED == store.LANGS
    assert set(UI_TEXT) == set(LANGUAGES)
