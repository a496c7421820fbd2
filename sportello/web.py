"""What every Sportello web page shares: the page language and the security headers.

The chat page (customers) and the operator console (staff) are separate apps with
their own Content-Security-Policy; both choose the language the same way and send the
same base headers, from here, and both cap request bodies (:class:`BodyLimit`).
"""

from __future__ import annotations

import logging
from typing import Any

from sportello.languages import LANGUAGES, supported

SUPPORTED_LANGS = LANGUAGES

# Sent with every response; each app adds its own Content-Security-Policy.
BASE_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


def choose_language(query_lang: str | None, accept_language: str | None, default: str) -> str:
    """The page language: an explicit ``?lang=`` wins, then the browser's preference order.

    ``accept_language`` is the raw header (``"en-GB,en;q=0.9,it;q=0.8"``); tags are ranked
    by their ``q`` weight, only the primary subtag counts, ``q=0`` means "not this one".
    Anything unsupported or malformed falls back to ``default`` (itself forced to a
    supported language, Italian if the setting is odd).
    """
    fallback = supported(default)
    if query_lang and query_lang.strip().lower() in SUPPORTED_LANGS:
        return query_lang.strip().lower()
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        primary = tag.strip().lower().split("-")[0]
        weight = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip() == "q":
                try:
                    weight = float(value)
                except ValueError:
                    weight = 0.0
        if primary in SUPPORTED_LANGS and weight > 0:
            ranked.append((-weight, position, primary))
    return min(ranked)[2] if ranked else fallback


class WithoutQueryStrings(logging.Filter):
    """Drops the query string from uvicorn's access-log lines: ``?q=`` searches and
    ``?lang=`` links may carry a customer's words or an e-mail address, and access logs
    are kept longer and read by more people than the data they describe."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            record.args = (*args[:2], args[2].split("?", 1)[0], *args[3:])
        return True


def keep_query_strings_out_of_access_logs() -> None:
    """Install :class:`WithoutQueryStrings` on uvicorn's access logger (once)."""
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, WithoutQueryStrings) for f in access.filters):
        access.addFilter(WithoutQueryStrings())


# The operator console's forms (an article's text, a reply) may be longer than a
# customer's message; still bounded.
CONSOLE_MAX_BODY_BYTES = 1024 * 1024

TOO_LARGE = b"Richiesta troppo grande. / Request too large.\n"


class BodyLimit:
    """ASGI middleware: a request body over ``max_bytes`` gets 413 before any handler
    parses it (uvicorn itself has no such cap). Checks ``Content-Length`` up front and
    counts the bytes of a chunked body as they arrive."""

    def __init__(self, app: Any, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await _refuse(send)
            return
        received = 0
        started = False

        async def counting_receive() -> dict:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise _BodyTooLarge
            return message

        async def tracking_send(message: dict) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except _BodyTooLarge:
            if not started:
                await _refuse(send)


class _BodyTooLarge(Exception):
    pass


async def _refuse(send: Any) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(TOO_LARGE)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": TOO_LARGE})
