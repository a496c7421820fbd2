"""Slowing down password guessing at the console's login form.

Two brakes: every failed login waits :data:`FAILURE_DELAY_SECONDS` before answering, and a
username with :data:`MAX_FAILURES` failures within :data:`WINDOW_SECONDS` is refused (even
with the right password) until the window has passed. Unknown usernames are counted the same
way, so the lock does not reveal which accounts exist. Counts live in the process's memory:
a restart clears them, which is acceptable for a brake (the scrypt cost per attempt and the
delay remain).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

MAX_FAILURES = 5
WINDOW_SECONDS = 15 * 60
FAILURE_DELAY_SECONDS = 0.5
# Beyond this many usernames tracked, expired entries are dropped (bounds memory when
# someone tries many names).
PRUNE_ABOVE = 10_000


class LoginThrottle:
    """Recent failed logins per (lower-case) username; thread-safe."""

    def __init__(
        self,
        max_failures: int = MAX_FAILURES,
        window_seconds: float = WINDOW_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_failures = max_failures
        self.window_seconds = window_seconds
        self._clock = clock
        self._failures: dict[str, list[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> list[float]:
        recent = [t for t in self._failures.get(key, []) if now - t < self.window_seconds]
        if recent:
            self._failures[key] = recent
        else:
            self._failures.pop(key, None)
        return recent

    def locked(self, username: str) -> bool:
        """Whether this username has used up its attempts for now."""
        key = username.strip().lower()
        with self._lock:
            return len(self._recent(key, self._clock())) >= self.max_failures

    def failed(self, username: str) -> None:
        key = username.strip().lower()
        with self._lock:
            now = self._clock()
            self._failures[key] = [*self._recent(key, now), now]
            if len(self._failures) > PRUNE_ABOVE:
                for other in list(self._failures):
                    self._recent(other, now)

    def succeeded(self, username: str) -> None:
        with self._lock:
            self._failures.pop(username.strip().lower(), None)
