"""Console sessions: a small signed cookie, its key, and the CSRF token it carries.

The cookie holds JSON (username, the user's ``password_changed_at``, a CSRF token, the
chosen UI language, the issue time, a one-shot notice) followed by an HMAC-SHA256
signature, so the browser can read but not forge or alter it. It is HttpOnly and
SameSite=Lax, and lives for one working shift (:data:`MAX_AGE_SECONDS`). The role is never
taken from the cookie: every request reloads the user, so a role change applies at once,
and a changed password invalidates every session issued before it.

The signing key is ``settings.secret_key`` or, when unset, a random key kept in
``data_dir/secret_key`` (created with 0600 permissions on first use), so sessions survive
restarts and several console processes agree on it.

While a request is served, its session is the dict in ``request.state.session`` (the
console's gate loads it from the cookie); routes change it only through
:func:`update_session` and :func:`replace_session`, which tell the gate to send a new
cookie.

Known limit of signed cookies: logging out deletes the cookie in that browser, but a copy
stolen earlier stays valid until it expires or the password changes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
from collections.abc import Callable
from typing import Any

from starlette.requests import Request

from sportello.keys import load_key
from sportello.settings import Settings

COOKIE_NAME = "sportello_console"
MAX_AGE_SECONDS = 12 * 3600
KEY_FILE = "secret_key"


def load_secret_key(settings: Settings) -> bytes:
    """The key sessions are signed with (see the module docstring); deleting the file
    logs every console user out."""
    return load_key(settings.secret_key, settings.data_dir, KEY_FILE)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class SessionSigner:
    """Turns a session dict into a cookie value and back, refusing tampered or old ones.

    ``key`` may be a function returning the key: it is then called on first use, so that
    importing the console module (which builds an app) writes no key file.
    """

    def __init__(self, key: bytes | Callable[[], bytes], max_age: int = MAX_AGE_SECONDS) -> None:
        self._key_source = key
        self._key: bytes | None = key if isinstance(key, bytes) else None
        self._lock = threading.Lock()
        self.max_age = max_age

    def _signature(self, payload: bytes) -> bytes:
        if self._key is None:
            with self._lock:
                if self._key is None:
                    source = self._key_source
                    self._key = source if isinstance(source, bytes) else source()
        return hmac.new(self._key, payload, hashlib.sha256).digest()

    def dumps(self, session: dict[str, Any]) -> str:
        """The cookie value for ``session``; stamps the issue time if it has none."""
        data = {"iat": int(time.time()), **session}
        payload = json.dumps(data, separators=(",", ":"), sort_keys=True).encode("utf-8")
        return f"{_b64(payload)}.{_b64(self._signature(payload))}"

    def loads(self, value: str | None) -> dict[str, Any]:
        """The session in ``value``; an empty dict when missing, forged or expired."""
        if not value or value.count(".") != 1:
            return {}
        encoded, signature = value.split(".")
        try:
            payload = _unb64(encoded)
            valid = hmac.compare_digest(_unb64(signature), self._signature(payload))
            data = json.loads(payload) if valid else None
        except (ValueError, UnicodeDecodeError):
            return {}
        if not isinstance(data, dict) or not isinstance(data.get("iat"), int):
            return {}
        if not 0 <= time.time() - data["iat"] <= self.max_age:
            return {}
        return data


def new_csrf_token() -> str:
    return secrets.token_urlsafe(32)


def csrf_matches(session: dict[str, Any], submitted: str | None) -> bool:
    """Whether a form's token is the session's (constant-time; False when either is missing)."""
    expected = session.get("csrf")
    if not isinstance(expected, str) or not expected or not submitted:
        return False
    return hmac.compare_digest(expected.encode("utf-8"), submitted.encode("utf-8"))


def session_of(request: Request) -> dict[str, Any]:
    return request.state.session


def update_session(request: Request, **values: Any) -> None:
    request.state.session.update(values)
    request.state.session_changed = True


def replace_session(request: Request, new: dict[str, Any]) -> None:
    """A new session in place of the old one (at login and logout: nothing carries over
    that the caller does not copy)."""
    request.state.session = new
    request.state.session_changed = True


def ensure_csrf(request: Request) -> str:
    """The session's CSRF token, created on first use (every page's forms carry it)."""
    token = session_of(request).get("csrf")
    if not isinstance(token, str) or not token:
        token = new_csrf_token()
        update_session(request, csrf=token)
    return token
