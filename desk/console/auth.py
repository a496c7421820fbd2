"""Slowing down password guessing at the console's login form, without locking operators out.

Failed logins are counted per client address *and* username, and per client address
alone (one address trying many names). The first :data:`FREE_FAILURES` of a key cost
nothing more than the pause after each failure; after that the key must wait before its
next attempt, twice as long each time (:data:`FIRST_WAIT_SECONDS`, doubled, at most
:data:`MAX_WAIT_SECONDS`). A refused attempt is answered at once (429 with
``Retry-After``) and checks no password. So someone guessing Anna's password from one
address slows only themselves: Anna logging in from her own desk is not locked out, as
she was by the old 15-minute lock on the username. Unknown usernames are counted the same
way, so the throttle does not reveal which accounts exist. A key's failures are forgotten
:data:`FORGET_SECONDS` after its last one, or at once by a successful login.

Counts live in the process's memory: a restart clears them, which is acceptable for a
brake (the scrypt cost per attempt remains). Nothing here sleeps: the console awaits the
pause after a failure on the event loop, so a burst of wrong passwords occupies no
worker thread.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

FREE_FAILURES = 5
# An address trying many usernames gets this many failures before waiting.
FREE_FAILURES_PER_ADDRESS = 20
FIRST_WAIT_SECONDS = 2.0
MAX_WAIT_SECONDS = 15 * 60
FORGET_SECONDS = 60 * 60
FAILURE_DELAY_SECONDS = 0.5
# Beyond this many keys tracked, forgotten entries are dropped (bounds memory when
# someone tries many names or addresses).
PRUNE_ABOVE = 10_000


@dataclass
class _Record:
    failures: int
    last_failure: float
    blocked_until: float


class LoginThrottle:
    """Failed logins per (client address, lower-case username) and per address; thread-safe."""

    def __init__(
        self,
        free_failures: int = FREE_FAILURES,
        first_wait_seconds: float = FIRST_WAIT_SECONDS,
        max_wait_seconds: float = MAX_WAIT_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.free_failures = free_failures
        self.first_wait_seconds = first_wait_seconds
        self.max_wait_seconds = max_wait_seconds
        self._clock = clock
        self._records: dict[tuple[str, str], _Record] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _keys(address: str, username: str) -> list[tuple[str, str]]:
        return [(address, username.strip().lower()), (address, "")]

    def _limit(self, key: tuple[str, str]) -> int:
        return FREE_FAILURES_PER_ADDRESS if key[1] == "" else self.free_failures

    def retry_after(self, address: str, username: str) -> int:
        """Whole seconds this address must wait before trying this username; 0: go ahead."""
        now = self._clock()
        with self._lock:
            waits = [
                record.blocked_until - now
                for key in self._keys(address, username)
                if (record := self._records.get(key)) is not None
            ]
        return max(0, math.ceil(max(waits, default=0.0)))

    def failed(self, address: str, username: str) -> None:
        now = self._clock()
        with self._lock:
            for key in self._keys(address, username):
                record = self._records.get(key)
                if record is None or now - record.last_failure >= FORGET_SECONDS:
                    record = _Record(failures=0, last_failure=now, blocked_until=now)
                record.failures += 1
                record.last_failure = now
                over = record.failures - self._limit(key)
                if over >= 0:
                    wait = min(self.first_wait_seconds * 2**over, self.max_wait_seconds)
                    record.blocked_until = now + wait
                self._records[key] = record
            if len(self._records) > PRUNE_ABOVE:
                for key, record in list(self._records.items()):
                    if now - record.last_failure >= FORGET_SECONDS:
                        del self._records[key]

    def succeeded(self, address: str, username: str) -> None:
        """The right password: this address's count for this user starts again."""
        with self._lock:
            self._records.pop(self._keys(address, username)[0], None)
