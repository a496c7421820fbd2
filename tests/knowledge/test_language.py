"""Telling Italian from English in short, informal customer messages."""

from __future__ import annotations

import pytest

from knowledge.language import detect_language, resolve_language


@pytest.mark.parametrize(
    "text",
    [
        "ciao, quanto costa la spedizione?",
        "vendete biciclette?",
        "dov'è il mio ordine",
        "posso pagare con paypal?",
        "voglio parlare con un operatore",
        "la macchina non scalda",
        "grazie mille",
        "avete capsule compatibili",
        "buongiorno",
        "salta",  # the one-word answer the rating question invites
    ],
)
def test_italian_messages(text: str) -> None:
    assert detect_language(text) == "it"


@pytest.mark.parametrize(
    "text",
    [
        "how long does delivery take?",
        "where's my order",
        "can I pay with PayPal?",
        "I want to talk to a human",
        "my machine is not heating",
        "thanks a lot",
        "do you sell bicycles?",
        "hello",
        "skip",
    ],
)
def test_english_messages(text: str) -> None:
    assert detect_language(text) == "en"


@pytest.mark.parametrize("text", ["", "ok", "👍☕", "12345", "PayPal", "<b></b>"])
def test_no_clue_gives_none(text: str) -> None:
    assert detect_language(text) is None


@pytest.mark.parametrize(
    "text",
    [
        "mario.64affefd@@example.it",  # a mistyped address: its parts read as English
        "mario.rossi@example.it",
        "https://www.example.it/shipping-tracking",
        "www.aurora-shop.com",
        "mario.rossi@example.com example.it",
    ],
)
def test_addresses_and_domains_give_no_clue(text: str) -> None:
    assert detect_language(text) is None


def test_words_around_an_address_still_count() -> None:
    assert detect_language("allora scrivete a ghost.1234abcd@example.com") == "it"
    assert detect_language("please write to mario.rossi@example.it") == "en"
    assert detect_language("grazie.come faccio a cambiare l'indirizzo?") == "it"


def test_unclear_message_keeps_the_conversation_language() -> None:
    assert resolve_language("ok", previous="en") == "en"
    assert resolve_language("ok", previous=None, default="it") == "it"
    assert resolve_language("thank you", previous="it") == "en"
