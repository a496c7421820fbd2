"""Logging in and out of the console, and slowing down password guessing at the login form.

**Routes.** ``GET /login`` shows the form (a logged-in user goes home); ``POST /login``
checks the password and starts a fresh session (a new CSRF token; only the chosen UI
language carries over), then returns to the local page asked for (``next``, never
another site); ``POST /logout`` ends the session. Both forms carry the CSRF token like
every other (the login page's comes from the anonymous session). Who may reach which
page after that is the gate's business (:mod:`desk.console.app`).

**The throttle.** Failed logins are counted per client address *and* username, and per
client address alone (one address trying many names). The first :data:`FREE_FAILURES` of
a key cost nothing more than the pause after each failure; after that the key must wait
before its next attempt, twice as long each time (:data:`FIRST_WAIT_SECONDS`, doubled, at
most :data:`MAX_WAIT_SECONDS`). A refused attempt is answered at once (429 with
``Retry-After``) and checks no password. So someone guessing Anna's password from one
address slows only themselves: Anna logging in from her own desk is not locked out, as
she was by the old 15-minute lock on the username. Unknown usernames are counted the same
way, so the throttle does not reveal which accounts exist. A key's failures are forgotten
:data:`FORGET_SECONDS` after its last one, or at once by a successful login.

Counts live in the process's memory: a restart clears them, which is acceptable for a
brake (the scrypt cost per attempt remains). Nothing here sleeps in a thread: the login
route awaits the pause after a failure on the event loop, so a burst of wrong passwords
occupies no worker thread.
"""

from __future__ import annotations

import asyncio
import math
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from desk import users
from desk.console.deps import CheckedForm, connected, console
from desk.console.render import redirect_with_notice, render
from desk.console.session import new_csrf_token, replace_session, session_of
from desk.console.text import SUPPORTED_LANGS

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
# Where a login may send the browser back to: a local path only, never another site.
LOCAL_PATH = re.compile(r"/[A-Za-z0-9/_-]*")
MAX_USERNAME_CHARS = 64


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


router = APIRouter()


def safe_next(value: str | None) -> str | None:
    if value and LOCAL_PATH.fullmatch(value) and not value.startswith("//"):
        return value
    return None


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str | None = None) -> Response:
    if request.state.user is not None:
        return RedirectResponse("/", status_code=303)
    return render(request, "login.html", next=safe_next(next) or "", failed=None)


@router.post("/login", response_class=HTMLResponse)
async def login(
    request: Request,
    form: CheckedForm,
    username: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "",
) -> Response:
    """Async so that the pause after a failure holds no worker thread; the password
    check itself (scrypt) runs in the thread pool."""
    parts = console(request)
    username = username.strip()[:MAX_USERNAME_CHARS]
    address = request.client.host if request.client else "unknown"
    wait = parts.throttle.retry_after(address, username)
    if wait:
        refused = render(
            request, "login.html", 429, next=safe_next(next) or "", failed="login_throttled"
        )
        refused.headers["Retry-After"] = str(wait)
        return refused

    def check() -> users.User | None:
        with connected(parts.settings) as db:
            return users.authenticate(db, username, password)

    user = await run_in_threadpool(check)
    if user is None:
        parts.throttle.failed(address, username)
        await asyncio.sleep(parts.failure_delay)
        return render(request, "login.html", 401, next=safe_next(next) or "", failed="login_failed")
    parts.throttle.succeeded(address, username)
    # A fresh session (and CSRF token) on login: nothing from before carries over.
    fresh = {
        "user": user.username,
        "pwc": user.password_changed_at,
        "csrf": new_csrf_token(),
    }
    if session_of(request).get("lang") in SUPPORTED_LANGS:
        fresh["lang"] = session_of(request)["lang"]
    replace_session(request, fresh)
    return RedirectResponse(safe_next(next) or "/", status_code=303)


@router.post("/logout")
def logout(request: Request, form: CheckedForm) -> Response:
    lang = session_of(request).get("lang")
    replace_session(request, {"lang": lang} if lang in SUPPORTED_LANGS else {})
    return redirect_with_notice(request, "/login", "logged_out")
