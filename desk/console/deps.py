"""What every console route may depend on: the app's parts, a database, the checked form,
the user's role, and "now".

The routers are module-level and shared by every app :func:`desk.console.app.create_app`
builds (tests build many, with different settings and clocks). What differs per app lives
in one :class:`Console` on ``app.state``; routes reach it through the dependencies here,
never through globals.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import sqlite_utils
from fastapi import Depends, Request
from jinja2 import Environment
from starlette.datastructures import FormData

from desk import users
from desk.console.session import SessionSigner, csrf_matches
from sportello.db import open_db
from sportello.settings import Settings

if TYPE_CHECKING:
    from desk.console.auth import LoginThrottle


@dataclass(frozen=True)
class Console:
    """One console app's parts, built by ``create_app`` and kept in ``app.state.console``.

    ``clock`` gives "now" for deadlines and for the time stamps of what operators do;
    ``failure_delay`` is the pause after a failed login; ``load_kb`` shows suggested
    articles on ticket pages (the knowledge base's searcher loads at start-up).
    """

    settings: Settings
    clock: Callable[[], datetime]
    templates: Environment
    signer: SessionSigner
    throttle: LoginThrottle
    failure_delay: float
    load_kb: bool


def console(request: Request) -> Console:
    return request.app.state.console


class CsrfRejected(Exception):
    """A POST without the session's CSRF token."""


class Forbidden(Exception):
    """The user's role may not use this route."""


@contextmanager
def connected(settings: Settings) -> Iterator[sqlite_utils.Database]:
    """A connection of its own, for code that runs outside a route's dependencies (the
    gate loading the user) or needs one only sometimes (a login not throttled)."""
    db = open_db(settings.db_path, any_thread=True)
    try:
        yield db
    finally:
        db.close()


def database(request: Request) -> Iterator[sqlite_utils.Database]:
    """This request's connection, closed after the route. FastAPI opens it in one worker
    thread and runs a sync route in another, hence ``any_thread``; no two requests
    share it."""
    with connected(console(request).settings) as db:
        yield db


async def now(request: Request) -> datetime:
    """The console's clock, read once per request: the deadlines a page shows and the
    times an action records agree."""
    return console(request).clock()


async def checked_form(request: Request) -> FormData:
    """The POSTed form, after checking its CSRF token against the session's (403 if not).

    Declare it before the role: a forged POST is refused as such whatever the role."""
    form = await request.form()
    token = form.get("csrf_token")
    if not csrf_matches(request.state.session, token if isinstance(token, str) else None):
        raise CsrfRejected
    return form


def _user_who(request: Request, may: Callable[[users.User], bool]) -> users.User:
    """The logged-in user (the gate lets no one else past the public paths), if ``may``
    says their role may use the route; 403 otherwise. The role checks built on it are
    async: they read only the request, so they run on the event loop, not in a thread."""
    user: users.User | None = request.state.user
    if user is None or not may(user):
        raise Forbidden
    return user


INSIGHTS_ROLES = frozenset({users.ROLE_MARKETING, users.ROLE_SUPERVISOR})


async def current_user(request: Request) -> users.User:
    return _user_who(request, lambda user: True)


async def ticket_worker(request: Request) -> users.User:
    """Operators and supervisors."""
    return _user_who(request, lambda user: user.works_tickets)


async def supervisor(request: Request) -> users.User:
    return _user_who(request, lambda user: user.is_supervisor)


async def insights_reader(request: Request) -> users.User:
    """Marketing users and supervisors (operators get 403)."""
    return _user_who(request, lambda user: user.role in INSIGHTS_ROLES)


Db = Annotated[sqlite_utils.Database, Depends(database)]
Now = Annotated[datetime, Depends(now)]
CheckedForm = Annotated[FormData, Depends(checked_form)]
CurrentUser = Annotated[users.User, Depends(current_user)]
TicketWorker = Annotated[users.User, Depends(ticket_worker)]
Supervisor = Annotated[users.User, Depends(supervisor)]
InsightsReader = Annotated[users.User, Depends(insights_reader)]
