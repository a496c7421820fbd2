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
from typing import Annotated, Any
from urllib.parse import quote

import sqlite_utils
from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from customerlog import turns
from desk import history, tickets
from desk.console.deps import CheckedForm, Db, TicketWorker
from desk.console.render import Notice, redirect_with_notice, refusal, render
from identity import profiles
from sportello.clock import display_time

logger = logging.getLogger(__name__)

router = APIRouter()

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


def _page(
    request: Request,
    db: sqlite_utils.Database,
    customer_id: str,
    status_code: int = 200,
    notice: Notice | None = None,
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
        format_time=display_time,
        **_profile_context(db, profile),
    )


def _back(customer_id: str, back_to: str) -> str:
    """The page the form came from, if it is one of ours; else this customer's."""
    return _safe_back(back_to) or f"/customers/{quote(customer_id, safe='')}"


@router.get("/customers/{customer_id}", response_class=HTMLResponse)
def show(request: Request, customer_id: str, user: TicketWorker, db: Db) -> HTMLResponse:
    return _page(request, db, customer_id)


@router.post("/customers/{customer_id}/merge")
def merge(
    request: Request,
    customer_id: str,
    form: CheckedForm,
    user: TicketWorker,
    db: Db,
    other: Annotated[str, Form()] = "",
    back_to: Annotated[str, Form()] = "",
) -> Response:
    """Merge ``other`` (any of its ids) into this customer."""
    try:
        profiles.merge(
            db,
            customer_id[:MAX_ID_CHARS],
            other.strip()[:MAX_ID_CHARS],
            actor=user.username,
        )
    except profiles.IdentityError as exc:
        refused = refusal("customer_merge_refused", why=str(exc))
        return _page(request, db, customer_id, 422, refused)
    return redirect_with_notice(request, _back(customer_id, back_to), "customer_merged")


@router.post("/customers/{customer_id}/links/{merge_id}/undo")
def undo(
    request: Request,
    customer_id: str,
    merge_id: int,
    form: CheckedForm,
    user: TicketWorker,
    db: Db,
    back_to: Annotated[str, Form()] = "",
) -> Response:
    try:
        profiles.undo(db, merge_id, actor=user.username)
    except profiles.IdentityError as exc:
        refused = refusal("customer_undo_refused", why=str(exc))
        return _page(request, db, customer_id, 409, refused)
    return redirect_with_notice(request, _back(customer_id, back_to), "customer_unmerged")


def _safe_back(target: str) -> str | None:
    """Only the console's own ticket and customer pages (no open redirect)."""
    if (
        target.startswith(("/tickets/", "/customers/"))
        and "//" not in target
        and "\\" not in target
    ):
        return target
    return None
