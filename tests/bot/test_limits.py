"""Per-client limits on the customer channels (bot/limits.py)."""

from __future__ import annotations

from bot.limits import HOUR_SECONDS, ClientLimits, client_address, is_rating


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_proxy_is_believed_only_on_this_machine() -> None:
    assert client_address("127.0.0.1", "198.51.100.1, 203.0.113.7") == "203.0.113.7"
    assert client_address("203.0.113.9", "198.51.100.1") == "203.0.113.9"  # forged header
    assert client_address("127.0.0.1", None) == "127.0.0.1"


def test_new_conversations_per_client_per_hour() -> None:
    clock = FakeClock()
    limits = ClientLimits(conversations_per_hour=2, ratings_per_hour=1, clock=clock)
    assert limits.allow_conversation("203.0.113.7", "a")
    assert limits.allow_conversation("203.0.113.7", "b")
    assert not limits.allow_conversation("203.0.113.7", "c")
    assert limits.allow_conversation("203.0.113.7", "a")  # started ones continue
    assert limits.allow_conversation("203.0.113.8", "d")
    assert limits.allow_conversation("127.0.0.1", "local")  # this machine, unforwarded
    clock.now += HOUR_SECONDS
    assert limits.allow_conversation("203.0.113.7", "c")


def test_ratings_per_client_per_hour() -> None:
    clock = FakeClock()
    limits = ClientLimits(conversations_per_hour=2, ratings_per_hour=1, clock=clock)
    assert limits.allow_rating("203.0.113.7")
    assert not limits.allow_rating("203.0.113.7")
    assert limits.allow_rating("203.0.113.8")
    clock.now += HOUR_SECONDS
    assert limits.allow_rating("203.0.113.7")


def test_rating_payloads_are_recognised() -> None:
    assert is_rating('/give_rating{"rating": "5"}')
    assert is_rating('/answer_helpful{"article": "a1"}')
    assert not is_rating("/greet")
    assert not is_rating("give_rating")
    assert not is_rating(None)
