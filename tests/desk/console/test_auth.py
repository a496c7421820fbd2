"""The login throttle: per client address and username, with back-off instead of a lock."""

from __future__ import annotations

from desk.console.auth import FORGET_SECONDS, FREE_FAILURES_PER_ADDRESS, LoginThrottle

HOME = "192.0.2.10"
ATTACKER = "203.0.113.66"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_free_failures_then_a_wait_that_doubles() -> None:
    clock = FakeClock()
    throttle = LoginThrottle(free_failures=3, first_wait_seconds=2, clock=clock)
    for _ in range(2):
        throttle.failed(ATTACKER, "Anna")
    assert throttle.retry_after(ATTACKER, "anna") == 0
    throttle.failed(ATTACKER, "anna ")
    assert throttle.retry_after(ATTACKER, "ANNA") == 2
    clock.now += 2
    assert throttle.retry_after(ATTACKER, "anna") == 0
    throttle.failed(ATTACKER, "anna")
    assert throttle.retry_after(ATTACKER, "anna") == 4
    clock.now += 4
    throttle.failed(ATTACKER, "anna")
    assert throttle.retry_after(ATTACKER, "anna") == 8


def test_the_wait_is_capped() -> None:
    clock = FakeClock()
    throttle = LoginThrottle(
        free_failures=1, first_wait_seconds=2, max_wait_seconds=60, clock=clock
    )
    for _ in range(20):
        throttle.failed(ATTACKER, "anna")
        clock.now += throttle.retry_after(ATTACKER, "anna")
    throttle.failed(ATTACKER, "anna")
    assert throttle.retry_after(ATTACKER, "anna") == 60


def test_a_guesser_does_not_lock_the_operator_out() -> None:
    """The old throttle locked Anna out for 15 minutes, from anywhere, after five
    failures by anyone; now only the guessing address waits."""
    throttle = LoginThrottle(free_failures=3, clock=FakeClock())
    for _ in range(10):
        throttle.failed(ATTACKER, "anna")
    assert throttle.retry_after(ATTACKER, "anna") > 0
    assert throttle.retry_after(HOME, "anna") == 0
    assert throttle.retry_after(ATTACKER, "bruno") == 0


def test_one_address_trying_many_usernames_waits_too() -> None:
    throttle = LoginThrottle(free_failures=3, clock=FakeClock())
    for number in range(FREE_FAILURES_PER_ADDRESS):
        throttle.failed(ATTACKER, f"user{number}")
    assert throttle.retry_after(ATTACKER, "somebody-new") > 0
    assert throttle.retry_after(HOME, "somebody-new") == 0


def test_success_clears_and_old_failures_are_forgotten() -> None:
    clock = FakeClock()
    throttle = LoginThrottle(free_failures=2, clock=clock)
    throttle.failed(HOME, "anna")
    throttle.succeeded(HOME, "anna")
    throttle.failed(HOME, "anna")
    assert throttle.retry_after(HOME, "anna") == 0
    clock.now += FORGET_SECONDS
    throttle.failed(HOME, "anna")
    assert throttle.retry_after(HOME, "anna") == 0  # the earlier failure was forgotten
