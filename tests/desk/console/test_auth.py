"""The login throttle: five failures lock a username for the window, success clears it."""

from __future__ import annotations

from desk.console.auth import LoginThrottle


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_locks_after_max_failures_and_unlocks_after_the_window() -> None:
    clock = FakeClock()
    throttle = LoginThrottle(max_failures=3, window_seconds=60, clock=clock)
    for _ in range(2):
        throttle.failed("Anna")
    assert not throttle.locked("anna")
    throttle.failed("anna ")
    assert throttle.locked("ANNA")
    assert not throttle.locked("bruno")
    clock.now += 61
    assert not throttle.locked("anna")


def test_old_failures_fall_out_of_the_window() -> None:
    clock = FakeClock()
    throttle = LoginThrottle(max_failures=2, window_seconds=60, clock=clock)
    throttle.failed("anna")
    clock.now += 59
    throttle.failed("anna")
    assert throttle.locked("anna")
    clock.now += 2
    assert not throttle.locked("anna")


def test_success_clears_the_count() -> None:
    throttle = LoginThrottle(max_failures=2, window_seconds=60, clock=FakeClock())
    throttle.failed("anna")
    throttle.succeeded("anna")
    throttle.failed("anna")
    assert not throttle.locked("anna")
