"""What every console route may depend on: the checked form, the user's role, refusals."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from starlette.datastructures import FormData

from desk import users
from desk.console.session import csrf_matches


class CsrfRejected(Exception):
    """A POST without the session's CSRF token."""


class Forbidden(Exception):
    """The user's role may not use this route."""


async def checked_form(request: Request) -> FormData:
    """The POSTed form, after checking its CSRF token against the session's (403 if not)."""
    form = await request.form()
    token = form.get("csrf_token")
    if not csrf_matches(request.state.session, token if isinstance(token, str) else None):
        raise CsrfRejected
    return form


def ticket_worker(request: Request) -> users.User:
    """The logged-in user, if their role works tickets (403 otherwise)."""
    user: users.User | None = request.state.user
    if user is None or not user.works_tickets:
        raise Forbidden
    return user


CheckedForm = Annotated[FormData, Depends(checked_form)]
TicketWorker = Annotated[users.User, Depends(ticket_worker)]


def supervisor(request: Request) -> users.User:
    """The logged-in user, if a supervisor (403 otherwise)."""
    user: users.User | None = request.state.user
    if user is None or not user.is_supervisor:
        raise Forbidden
    return user


Supervisor = Annotated[users.User, Depends(supervisor)]
