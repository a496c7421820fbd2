"""UI strings: every key in both languages, every template key defined."""

from __future__ import annotations

import re

from desk.console.app import TEMPLATES_DIR
from desk.console.text import SUPPORTED_LANGS, UI_TEXT, Text


def test_both_languages_have_the_same_keys() -> None:
    assert set(UI_TEXT) == set(SUPPORTED_LANGS)
    assert set(UI_TEXT["it"]) == set(UI_TEXT["en"])


def test_placeholders_match_across_languages() -> None:
    for key, italian in UI_TEXT["it"].items():
        placeholders = set(re.findall(r"\{(\w+)\}", italian))
        assert placeholders == set(re.findall(r"\{(\w+)\}", UI_TEXT["en"][key])), key


def test_every_string_a_template_names_exists() -> None:
    used = set()
    for template in TEMPLATES_DIR.glob("*.html"):
        used |= set(re.findall(r"\bt\.(\w+)", template.read_text(encoding="utf-8")))
    used -= {"get"}
    assert used, "templates read strings as t.key"
    assert used <= set(UI_TEXT["it"]), used - set(UI_TEXT["it"])


def test_text_fills_values_and_falls_back() -> None:
    text = Text("en")
    assert text.get("ticket_title", id=7) == "Ticket #7"
    assert text.get("priority_weird", "weird") == "weird"
    assert Text("it").claim == "Prendi in carico"
