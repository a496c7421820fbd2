"""The operator console: log in, see the queue by SLA deadline, claim, answer and close tickets.

Run it with::

    .venv/bin/python -m uvicorn desk.console.app:app --port 8001

``app`` is built at import time from :func:`sportello.settings.get_settings`; tests build
their own with :func:`create_app`.

Server-rendered pages, no JavaScript at all: the policy allows no scripts, the queue
refreshes itself with a meta refresh every 30 seconds, forms post back and redirect.

This module builds the app and guards it; the pages are routers, one per area:

- :mod:`desk.console.auth`: logging in and out (and the login throttle);
- :mod:`desk.console.tickets`: the queue and the ticket page, claim, answer, close;
- :mod:`desk.console.articles`: the knowledge base's drafts and articles;
- :mod:`desk.console.customers`: customer profiles, merged and unmerged;
- :mod:`desk.console.insights`: the figures, charts and CSV tables;
- :mod:`desk.console.pages`: the health check, the stylesheet, home.

What their routes share (a database per request, the user and their role, the checked
form, the clock) is in :mod:`desk.console.deps`; every page is rendered by
:mod:`desk.console.render`.

Access, enforced here by :func:`gate`: ``/healthz``, ``/login`` and the stylesheet are
open; every other path (including ones that do not exist) needs a session: pages
redirect to ``/login``, ``/api/*`` and non-GET requests get 401. Operators and
supervisors work tickets; marketing users get 403 on ticket routes and read the
insights. Every POST form carries the session's CSRF token (403 without it). The role is
re-read from the database on every request.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from sqlite_utils.db import NotFoundError
from starlette.concurrency import run_in_threadpool

from desk import users
from desk.console import articles, auth, customers, insights, kbsearch, pages, tickets
from desk.console.auth import FAILURE_DELAY_SECONDS, LoginThrottle
from desk.console.deps import Console, CsrfRejected, Forbidden, connected, console
from desk.console.render import render
from desk.console.session import COOKIE_NAME, SessionSigner, load_secret_key
from sportello.clock import utc_now
from sportello.settings import Settings, get_settings
from sportello.web import (
    BASE_HEADERS,
    CONSOLE_MAX_BODY_BYTES,
    BodyLimit,
    keep_query_strings_out_of_access_logs,
)
from stack.database import prepare

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"

# Reachable without a session. Everything else is refused (see the module docstring).
PUBLIC_PATHS = frozenset({"/healthz", "/login", "/static/console.css"})
API_PREFIX = "/api/"

# No scripts at all; styles and images from this origin; forms post only here.
CONSOLE_CSP = "; ".join(
    [
        "default-src 'none'",
        "script-src 'none'",
        "style-src 'self'",
        "img-src 'self' data:",
        "form-action 'self'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    ]
)

# In the order their routes are matched.
ROUTERS = (
    pages.router,
    auth.router,
    insights.router,
    tickets.router,
    articles.router,
    customers.router,
)


def create_app(
    settings: Settings,
    *,
    clock: Callable[[], datetime] = utc_now,
    failure_delay: float = FAILURE_DELAY_SECONDS,
    throttle: LoginThrottle | None = None,
    load_kb: bool = False,
) -> FastAPI:
    """The console for ``settings``.

    ``clock`` gives "now" for deadlines and for the time stamps of what operators do
    (tests fix it); ``failure_delay`` is the pause after a failed login (tests shorten
    it); ``throttle`` counts failed logins. ``load_kb`` loads the knowledge base's
    searcher in the background at start-up and shows suggested articles on ticket
    pages (the served console does; most tests need no models).
    """
    app = FastAPI(
        title="Sportello operator console",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        lifespan=_lifespan,
    )
    app.state.console = Console(
        settings=settings,
        clock=clock,
        templates=Environment(
            loader=FileSystemLoader(TEMPLATES_DIR), autoescape=True, undefined=StrictUndefined
        ),
        signer=SessionSigner(lambda: load_secret_key(settings)),
        throttle=throttle or LoginThrottle(),
        failure_delay=failure_delay,
        load_kb=load_kb,
    )
    app.add_middleware(BodyLimit, max_bytes=CONSOLE_MAX_BODY_BYTES)
    app.middleware("http")(gate)
    keep_query_strings_out_of_access_logs()
    app.add_exception_handler(CsrfRejected, _csrf_rejected)
    app.add_exception_handler(Forbidden, _forbidden)
    app.add_exception_handler(NotFoundError, _not_found)
    for router in ROUTERS:
        add_routes(app, router)
    return app


def add_routes(app: FastAPI, router: APIRouter) -> None:
    """Add ``router``'s routes to ``app`` itself, in order.

    Not ``app.include_router``: since FastAPI 0.1xx (0.165 here) that adds one lazily
    resolved entry for the whole router to ``app.routes`` instead of its routes, and the
    access-control tests walk ``app.routes`` to try every route without a session, with
    the wrong role and without a CSRF token. The console's routers have no prefix,
    dependencies or other options of their own, so their routes are used as they are.
    """
    assert not router.prefix and not router.dependencies, "add_routes copies routes as they are"
    app.router.routes.extend(router.routes)


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    # The schema, once, before the first request.
    prepare(app.state.console.settings.db_path).close()
    if app.state.console.load_kb:
        kbsearch.start_loading()
    yield


def _load_user(settings: Settings, username: str) -> users.User | None:
    with connected(settings) as db:
        return users.get_user(db, username)


async def gate(request: Request, call_next: Callable[[Request], Any]) -> Response:
    """Every request: load the session and its user, refuse what needs one, send the
    changed session back, and add the security headers."""
    parts = console(request)
    data = parts.signer.loads(request.cookies.get(COOKIE_NAME))
    user = None
    if isinstance(data.get("user"), str):
        user = await run_in_threadpool(_load_user, parts.settings, data["user"])
        if user is None or data.get("pwc") != user.password_changed_at:
            user, data = None, {}
    request.state.session = data
    request.state.session_changed = False
    request.state.user = user
    path = request.url.path
    if user is None and path not in PUBLIC_PATHS:
        if request.method in ("GET", "HEAD") and not path.startswith(API_PREFIX):
            response: Response = RedirectResponse(f"/login?next={quote(path)}", status_code=303)
        elif path.startswith(API_PREFIX):
            response = JSONResponse({"detail": "authentication required"}, status_code=401)
        else:
            # A form posted after the session expired: say so, with a way back in.
            response = render(request, "error.html", 401, message_key="unauthorized")
    else:
        response = await call_next(request)
    if request.state.session_changed:
        response.set_cookie(
            COOKIE_NAME,
            parts.signer.dumps(request.state.session),
            max_age=parts.signer.max_age,
            httponly=True,
            samesite="lax",
            secure=request.url.scheme == "https",
        )
    for name, value in BASE_HEADERS.items():
        response.headers.setdefault(name, value)
    response.headers.setdefault("Content-Security-Policy", CONSOLE_CSP)
    # Pages show customers' messages: never keep them in shared caches or history.
    response.headers.setdefault("Cache-Control", "no-store")
    return response


async def _csrf_rejected(request: Request, exc: Exception) -> HTMLResponse:
    return render(request, "error.html", 403, message_key="csrf_failed")


async def _forbidden(request: Request, exc: Exception) -> Response:
    if request.url.path.startswith(API_PREFIX):
        return JSONResponse({"detail": "forbidden"}, status_code=403)
    return render(request, "error.html", 403, message_key="forbidden")


async def _not_found(request: Request, exc: Exception) -> HTMLResponse:
    """A ticket the library does not know (other areas answer their own 404s)."""
    return render(request, "error.html", 404, message_key="not_found")


app = create_app(get_settings(), load_kb=True)
