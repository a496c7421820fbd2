"""The console's customer pages: one person across channels, merged and unmerged by hand.

Every ticket page shows its customer's profile (:func:`customer_context`): the channels
they used, their contact details (verified or only typed in the chat), the history of
all their conversations, other profiles that share a contact detail, and the links that
made the profile. ``/customers/{id}`` shows the same for any id (profile, channel id or
conversation) with the customer's tickets. Operators and supervisors may merge two
profiles they know to be one person, and undo any link (automatic ones included);
marketing users get 403 here, as on tickets.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Annotated, Any
from urllib.parse import quote

import sqlite_utils
from fastapi import FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from customerlog import turns
from desk import history, tickets
from desk.console.deps import CheckedForm, TicketWorker
from identity import profiles

logger = logging.getLogger(__name__)

Render = Callable[..., HTMLResponse]
Connect = Callable[[], AbstractContextManager[sqlite_utils.Database]]
SetNotice = Callable[..., None]

MAX_ID_CHARS = 300


def _fresh(db: sqlite_utils.Database) -> None:
    """Bring the log up to date (the monitor does it every few seconds anyway)."""
    try:
        turns.sync(db)
    except Exception:
        logger.exception("could not bring the customer log up to date")


def customer_context(db: sqlite_utils.Database, ticket: tickets.Ticket) -> dict[str, Any]:
    """What the ticket page shows about the customer (empty when nothing is known)."""
    _fresh(db)
    profile_id = profiles.resolve(db, ticket.conversation_id)
    if profile_id is None and ticket.customer_id:
        profile_id = profiles.resolve(db, ticket.customer_id)
    profile = profiles.get_profile(db, profile_id) if profile_id else None
    if profile is None:
        return {"profile": None}
    return _profile_context(db, profile)


def _profile_context(db: sqlite_utils.Database, profile: profiles.Profile) -> dict[str, Any]:
    entries = history.history(db, history.conversations_of(db, profile))
    return {
        "profile": profile,
        "history": entries,
        "history_limit": history.HISTORY_LIMIT,
        "suggestions": profiles.suggestions(db, profile.id),
        "profile_tickets": history.tickets_of(db, profile),
        "quote": quote,
    }


def register(
    app: FastAPI,
    *,
    render: Render,
    connected: Connect,
    set_notice: SetNotice,
    format_time: Callable[[Any], str],
) -> None:
    """Add the /customers pages to the console ``app``."""

    def page(
        request: Request,
        db: sqlite_utils.Database,
        customer_id: str,
        status_code: int = 200,
        notice: dict[str, Any] | None = None,
    ) -> HTMLResponse:
        _fresh(db)
        live = profiles.resolve(db, customer_id[:MAX_ID_CHARS])
        profile = profiles.get_profile(db, live) if live else None
        if profile is None:
            return render(request, "error.html", 404, message_key="customer_unknown", notice=notice)
        return render(
            request,
            "customer.html",
            status_code,
            notice=notice,
            format_time=format_time,
            **_profile_context(db, profile),
        )

    def back(customer_id: str) -> str:
        return f"/customers/{quote(customer_id, safe='')}"

    @app.get("/customers/{customer_id}", response_class=HTMLResponse)
    def show(request: Request, customer_id: str, user: TicketWorker) -> HTMLResponse:
        with connected() as db:
            return page(request, db, customer_id)

    @app.post("/customers/{customer_id}/merge")
    def merge(
        request: Request,
        customer_id: str,
        form: CheckedForm,
        user: TicketWorker,
        other: Annotated[str, Form()] = "",
        back_to: Annotated[str, Form()] = "",
    ) -> Response:
        """Merge ``other`` (any of its ids) into this customer."""
        with connected() as db:
            try:
                profiles.merge(
                    db,
                    customer_id[:MAX_ID_CHARS],
                    other.strip()[:MAX_ID_CHARS],
                    actor=user.username,
                )
            except profiles.IdentityError as exc:
                refused = {
                    "key": "customer_merge_refused",
                    "level": "error",
                    "values": {"why": str(exc)},
                }
                return page(request, db, customer_id, 422, refused)
        set_notice(request, "customer_merged")
        return RedirectResponse(_safe_back(back_to) or back(customer_id), status_code=303)

    @app.post("/customers/{customer_id}/links/{merge_id}/undo")
    def undo(
        request: Request,
        customer_id: str,
        merge_id: int,
        form: CheckedForm,
        user: TicketWorker,
        back_to: Annotated[str, Form()] = "",
    ) -> Response:
        with connected() as db:
            try:
                profiles.undo(db, merge_id, actor=user.username)
            except profiles.IdentityError as exc:
                refused = {
                    "key": "customer_undo_refused",
                    "level": "error",
                    "values": {"why": str(exc)},
                }
                return page(request, db, customer_id, 409, refused)
        set_notice(request, "customer_unmerged")
        return RedirectResponse(_safe_back(back_to) or back(customer_id), status_code=303)


def _safe_back(target: str) -> str | None:
    """Only the console's own ticket and customer pages (no open redirect)."""
    if (
        target.startswith(("/tickets/", "/customers/"))
        and "//" not in target
        and "\\" not in target
    ):
        return target
    return None
