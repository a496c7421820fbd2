"""The console's tickets: the queue by SLA deadline, the ticket page, claiming, taking
over, answering and closing.

Operators and supervisors work tickets; marketing users get 403 here. Tickets are read
and changed only through :mod:`desk.tickets` (``list_queue``, ``get_ticket``,
``ticket_messages``, ``claim_ticket``, ``answer_ticket``, ``close_ticket``). Claiming is
atomic there, and the library refuses answers and closes from anyone but the ticket's
holder (supervisors take a ticket over first); answering an unclaimed ticket claims it.
Once an answer (or a close) is committed, the route delivers it
(:func:`desk.delivery.deliver_ticket_updates`; push channels: one call to Rasa's API, at
most its timeout); the monitor retries what could not be delivered.

Time-left badges are wall-clock time until the stored deadline (the deadlines themselves
count business time). The queue refreshes itself with a meta refresh every
:data:`QUEUE_REFRESH_SECONDS`; ``/api/queue`` gives the same queue as JSON.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

import sqlite_utils
from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from desk import delivery, mailbox, tickets, users
from desk.console import customers, kbsearch
from desk.console.deps import CheckedForm, Db, Now, Supervisor, TicketWorker, console
from desk.console.display import format_duration, format_iso
from desk.console.render import Notice, redirect_with_notice, refusal, render, ui_text
from desk.console.text import Text
from knowledge import drafts, phrasings
from knowledge.store import ArticleError
from sportello.clock import as_datetime, display_time

QUEUE_REFRESH_SECONDS = 30
MAX_ANSWER_CHARS = 4000

router = APIRouter()


@dataclass(frozen=True)
class Deadline:
    """The deadline that matters now for a ticket, as the queue and ticket page show it."""

    kind: str  # "first_response" until the first answer, then "resolution"
    due: datetime | None
    state: str  # "ok" | "at_risk" | "breached"
    label: str  # "3 h 05 min left" / "overdue by 10 min"


def deadline(ticket: tickets.Ticket, now: datetime, text: Text) -> Deadline:
    """Which SLA deadline applies and how close it is.

    The at-risk and breached flags are the ones the SLA monitor stored on the ticket; a
    deadline already in the past counts as breached even before the monitor's next pass.
    """
    answered = ticket.first_response_at is not None
    kind = "resolution" if answered else "first_response"
    due = as_datetime(ticket.resolution_due if answered else ticket.first_response_due)
    if due is None:
        label = text.no_due
    elif due > now:
        label = text.get("left", time=format_duration(due - now, text.lang))
    else:
        label = text.get("overdue", time=format_duration(now - due, text.lang))
    if ticket.breached or (due is not None and due <= now):
        state = "breached"
    elif ticket.at_risk:
        state = "at_risk"
    else:
        state = "ok"
    return Deadline(kind=kind, due=due, state=state, label=label)


def status_label(ticket: tickets.Ticket, text: Text) -> str:
    if ticket.status == tickets.STATUS_CLAIMED and ticket.assigned_to:
        return text.get("status_claimed", who=ticket.assigned_to)
    return text.get(f"status_{ticket.status}", ticket.status)


@router.get("/queue", response_class=HTMLResponse)
def queue(request: Request, user: TicketWorker, db: Db, now: Now) -> HTMLResponse:
    text = ui_text(request)
    queued = tickets.list_queue(db, now)
    last = tickets.last_customer_messages(db, [ticket.id for ticket in queued])
    rows = [
        {
            "ticket": ticket,
            "deadline": deadline(ticket, now, text),
            "status": status_label(ticket, text),
            "last": last.get(ticket.id),
        }
        for ticket in queued
    ]
    return render(
        request,
        "queue.html",
        rows=rows,
        refresh_seconds=QUEUE_REFRESH_SECONDS,
        format_time=display_time,
    )


@router.get("/api/queue")
def queue_json(user: TicketWorker, db: Db, now: Now) -> JSONResponse:
    return JSONResponse(
        [
            {
                "id": ticket.id,
                "status": ticket.status,
                "assigned_to": ticket.assigned_to,
                "priority": ticket.priority,
                "lang": ticket.lang,
                "channel": ticket.channel,
                "first_response_due": format_iso(ticket.first_response_due),
                "resolution_due": format_iso(ticket.resolution_due),
                "escalation_level": ticket.escalation_level,
                "sla": deadline(ticket, now, Text("en")).state,
            }
            for ticket in tickets.list_queue(db, now)
        ]
    )


def ticket_page(
    request: Request,
    db: sqlite_utils.Database,
    ticket_id: int,
    status_code: int = 200,
    notice: Notice | None = None,
    draft: str = "",
) -> HTMLResponse:
    """The ticket page, also after a refused action (with its status and notice).

    A missing ticket raises ``NotFoundError``, which the app turns into a 404 page."""
    parts = console(request)
    text = ui_text(request)
    ticket = tickets.get_ticket(db, ticket_id)
    user: users.User = request.state.user
    may_act = ticket.status != tickets.STATUS_CLOSED and ticket.assigned_to in (
        None,
        user.username,
    )
    messages = tickets.ticket_messages(db, ticket_id)
    kb_question = drafts.derive_question(_customer_words(messages))
    return render(
        request,
        "ticket.html",
        status_code,
        notice=notice,
        ticket=ticket,
        messages=messages,
        deadline=deadline(ticket, parts.clock(), text),
        status=status_label(ticket, text),
        customer_lang=text.get(f"lang_{ticket.lang}", ticket.lang),
        may_act=may_act,
        mine=ticket.assigned_to == user.username,
        may_take_over=ticket.status != tickets.STATUS_CLOSED
        and ticket.assigned_to not in (None, user.username)
        and user.is_supervisor,
        max_answer_chars=MAX_ANSWER_CHARS,
        draft=draft,
        kb_question=kb_question,
        suggested=kbsearch.likeliest(kb_question, ticket.lang) if may_act and parts.load_kb else [],
        format_time=display_time,
        conversations=tickets.ticket_conversations(db, ticket_id),
        mails=mailbox.ticket_mails(db, ticket_id),
        replies=mailbox.ticket_replies(db, ticket_id),
        mail_enabled=parts.settings.mail_enabled,
        **customers.customer_context(db, ticket),
    )


def _customer_words(messages: list[tickets.Message]) -> list[str]:
    return [m.text for m in messages if m.role == "customer"]


def _customer_said(db: sqlite_utils.Database, ticket_id: int) -> list[str]:
    return _customer_words(tickets.ticket_messages(db, ticket_id))


def _learn_wording(db: sqlite_utils.Database, ticket_id: int, article_id: str) -> None:
    """The customer's question, answered with ``article_id``: a proposed phrasing."""
    ticket = tickets.get_ticket(db, ticket_id)
    phrasings.propose(
        db,
        article_id,
        ticket.lang,
        drafts.derive_question(_customer_said(db, ticket_id)),
        phrasings.SOURCE_OPERATOR,
        f"ticket:{ticket_id}",
    )


def _holder(db: sqlite_utils.Database, ticket_id: int) -> str:
    return tickets.get_ticket(db, ticket_id).assigned_to or "?"


@router.get("/tickets/{ticket_id}", response_class=HTMLResponse)
def show_ticket(request: Request, ticket_id: int, user: TicketWorker, db: Db) -> HTMLResponse:
    return ticket_page(request, db, ticket_id)


@router.post("/tickets/{ticket_id}/claim")
def claim(
    request: Request, ticket_id: int, form: CheckedForm, user: TicketWorker, db: Db, now: Now
) -> Response:
    if tickets.get_ticket(db, ticket_id).status == tickets.STATUS_CLOSED:
        return ticket_page(request, db, ticket_id, 409, refusal("already_closed"))
    if not tickets.claim_ticket(db, ticket_id, user.username, now=now):
        refused = refusal("claim_refused", who=_holder(db, ticket_id))
        return ticket_page(request, db, ticket_id, 409, refused)
    return redirect_with_notice(request, f"/tickets/{ticket_id}", "claimed_by_you")


@router.post("/tickets/{ticket_id}/take-over")
def take_over(
    request: Request, ticket_id: int, form: CheckedForm, user: Supervisor, db: Db, now: Now
) -> Response:
    """Supervisors take a ticket someone else holds (escalations go to them)."""
    try:
        tickets.take_over_ticket(db, ticket_id, user.username, now=now)
    except tickets.TicketClosedError:
        return ticket_page(request, db, ticket_id, 409, refusal("already_closed"))
    return redirect_with_notice(request, f"/tickets/{ticket_id}", "taken_over")


@router.post("/tickets/{ticket_id}/answer")
def answer(
    request: Request,
    ticket_id: int,
    form: CheckedForm,
    user: TicketWorker,
    db: Db,
    now: Now,
    text: Annotated[str, Form()] = "",
    propose: Annotated[str, Form()] = "",
    kb_question: Annotated[str, Form()] = "",
    kb_tags: Annotated[str, Form()] = "",
    article_id: Annotated[str, Form()] = "",
) -> Response:
    """Answering an unclaimed ticket claims it (in the library, atomically).

    With "propose for the knowledge base" ticked, the answer also becomes a draft
    article (scrubbed of personal data) for a supervisor to review. An answer sent
    from a suggested article (``article_id``) proposes the customer's question as
    a phrasing of that article.
    """
    body = text.strip()
    if not body:
        return ticket_page(request, db, ticket_id, 422, refusal("answer_empty"))
    if len(body) > MAX_ANSWER_CHARS:
        too_long = refusal("answer_too_long", max=str(MAX_ANSWER_CHARS))
        return ticket_page(request, db, ticket_id, 422, too_long, draft=body)
    try:
        tickets.answer_ticket(db, ticket_id, user.username, body, now=now)
    except tickets.TicketClosedError:
        return ticket_page(request, db, ticket_id, 409, refusal("already_closed"))
    except tickets.TicketClaimedError:
        refused = refusal("answer_refused", who=_holder(db, ticket_id))
        return ticket_page(request, db, ticket_id, 403, refused)
    delivery.deliver_ticket_updates(db, console(request).settings, ticket_id)
    if article_id:
        _learn_wording(db, ticket_id, article_id)
    if propose:
        return _propose_answer(request, db, ticket_id, user, body, kb_question, kb_tags)
    return redirect_with_notice(request, f"/tickets/{ticket_id}", "answer_sent")


def _propose_answer(
    request: Request,
    db: sqlite_utils.Database,
    ticket_id: int,
    user: users.User,
    body: str,
    kb_question: str,
    kb_tags: str,
) -> Response:
    """The answer just sent, as a draft article for a supervisor to review."""
    ticket = tickets.get_ticket(db, ticket_id)
    said = _customer_said(db, ticket_id)
    try:
        draft = drafts.propose(
            db,
            question=kb_question.strip() or drafts.derive_question(said),
            answer=body,
            lang=ticket.lang,
            author=user.username,
            tags=[tag for tag in kb_tags.split(",") if tag.strip()],
            source=drafts.SOURCE_TICKET.format(ticket_id=ticket_id),
            names=drafts.customer_names(said, ticket.customer_email),
        )
    except ArticleError as exc:
        return redirect_with_notice(
            request, f"/tickets/{ticket_id}", "article_invalid", level="error", why=str(exc)
        )
    return redirect_with_notice(
        request, f"/tickets/{ticket_id}", "answer_sent_and_proposed", id=draft.id
    )


@router.post("/tickets/{ticket_id}/close")
def close(
    request: Request,
    ticket_id: int,
    form: CheckedForm,
    user: TicketWorker,
    db: Db,
    now: Now,
) -> Response:
    if tickets.get_ticket(db, ticket_id).status == tickets.STATUS_CLOSED:
        return ticket_page(request, db, ticket_id, 409, refusal("already_closed"))
    try:
        tickets.close_ticket(db, ticket_id, user.username, now=now)
    except tickets.TicketClaimedError:
        refused = refusal("close_refused", who=_holder(db, ticket_id))
        return ticket_page(request, db, ticket_id, 403, refused)
    delivery.deliver_ticket_updates(db, console(request).settings, ticket_id)
    return redirect_with_notice(request, "/queue", "ticket_closed")
