"""The operator console: log in, see the queue by SLA deadline, claim, answer and close tickets.

Run it with::

    .venv/bin/python -m uvicorn desk.console.app:app --port 8001

``app`` is built at import time from :func:`sportello.settings.get_settings`; tests build
their own with :func:`create_app`.

Server-rendered pages, no JavaScript at all: the policy allows no scripts, the queue
refreshes itself with a meta refresh every 30 seconds, forms post back and redirect.

Access: ``/healthz``, ``/login`` and the stylesheet are open; every other path (including
ones that do not exist) needs a session: pages redirect to ``/login``, ``/api/*`` and
non-GET requests get 401. Operators and supervisors work tickets; marketing users get 403
on ticket routes and read the insights (:mod:`insights`). Every POST form carries the session's
CSRF token (403 without it). The role is re-read from the database on every request.

Tickets are read and changed only through :mod:`desk.tickets` (``list_queue``,
``get_ticket``, ``ticket_messages``, ``claim_ticket``, ``answer_ticket``,
``close_ticket``). Claiming is atomic there, and the library refuses answers and closes
from anyone but the ticket's holder (supervisors included, for now: it has no override
yet); answering an unclaimed ticket claims it. Answers are delivered by the library in the
request (push channels: one call to Rasa's API, at most its timeout).

Time-left badges are wall-clock time until the stored deadline (the deadlines themselves
count business time); times are shown in :data:`DISPLAY_TZ`. Customer text reaches the
page only through Jinja autoescaping.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

import sqlite_utils
from fastapi import FastAPI, Form, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from sqlite_utils.db import NotFoundError
from starlette.concurrency import run_in_threadpool

from desk import mailbox, tickets, users
from desk.console import articles, customers, kbsearch
from desk.console.auth import FAILURE_DELAY_SECONDS, LoginThrottle
from desk.console.deps import CheckedForm, CsrfRejected, Forbidden, TicketWorker
from desk.console.session import (
    COOKIE_NAME,
    SessionSigner,
    load_secret_key,
    new_csrf_token,
)
from desk.console.text import SUPPORTED_LANGS, Text
from knowledge import drafts, phrasings
from knowledge.store import ArticleError
from sportello.db import open_db
from sportello.settings import Settings, get_settings
from sportello.web import (
    BASE_HEADERS,
    CONSOLE_MAX_BODY_BYTES,
    BodyLimit,
    choose_language,
    keep_query_strings_out_of_access_logs,
)

HERE = Path(__file__).resolve().parent
TEMPLATES_DIR = HERE / "templates"
STATIC_DIR = HERE / "static"

# Reachable without a session. Everything else is refused (see the module docstring).
PUBLIC_PATHS = frozenset({"/healthz", "/login", "/static/console.css"})
API_PREFIX = "/api/"
QUEUE_REFRESH_SECONDS = 30
MAX_ANSWER_CHARS = 4000
DISPLAY_TZ = ZoneInfo("Europe/Rome")
# Where a login may send the browser back to: a local path only, never another site.
LOCAL_PATH = re.compile(r"/[A-Za-z0-9/_-]*")

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


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def as_datetime(value: datetime | str | None) -> datetime | None:
    """A timezone-aware datetime from the library's value (ISO text or datetime); naive = UTC."""
    if value is None or value == "":
        return None
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def format_duration(delta: timedelta, lang: str) -> str:
    """``2 h 05 min``, ``1 g 3 h`` / ``1 d 3 h``: precise enough for a badge."""
    minutes = int(abs(delta).total_seconds() // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    day_unit = "g" if lang == "it" else "d"
    if days:
        return f"{days} {day_unit} {hours} h"
    if hours:
        return f"{hours} h {mins:02d} min"
    return f"{mins} min"


def format_time(value: datetime | str | None) -> str:
    moment = as_datetime(value)
    return moment.astimezone(DISPLAY_TZ).strftime("%d/%m/%Y %H:%M") if moment else ""


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


def safe_next(value: str | None) -> str | None:
    if value and LOCAL_PATH.fullmatch(value) and not value.startswith("//"):
        return value
    return None


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

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if load_kb:
            kbsearch.start_loading()
        yield

    app = FastAPI(
        title="Sportello operator console",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.add_middleware(BodyLimit, max_bytes=CONSOLE_MAX_BODY_BYTES)
    keep_query_strings_out_of_access_logs()
    signer = SessionSigner(lambda: load_secret_key(settings))
    login_throttle = throttle or LoginThrottle()
    templates = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR), autoescape=True, undefined=StrictUndefined
    )

    @contextmanager
    def connected() -> Iterator[sqlite_utils.Database]:
        """A connection for one request, opened and closed in the thread that uses it
        (SQLite connections refuse to be shared between threads)."""
        db = open_db(settings.db_path)
        try:
            yield db
        finally:
            db.close()

    def load_user(username: str) -> users.User | None:
        with connected() as db:
            return users.get_user(db, username)

    # --- sessions, language, rendering ------------------------------------------------

    def session(request: Request) -> dict[str, Any]:
        return request.state.session

    def update_session(request: Request, **values: Any) -> None:
        request.state.session.update(values)
        request.state.session_changed = True

    def replace_session(request: Request, new: dict[str, Any]) -> None:
        request.state.session = new
        request.state.session_changed = True

    def ensure_csrf(request: Request) -> str:
        token = session(request).get("csrf")
        if not isinstance(token, str) or not token:
            token = new_csrf_token()
            update_session(request, csrf=token)
        return token

    def ui_text(request: Request) -> Text:
        """``?lang=`` (remembered in the session), then the user's preference, then the
        browser's ``Accept-Language``, then the configured default."""
        query = (request.query_params.get("lang") or "").lower()
        if query in SUPPORTED_LANGS:
            if session(request).get("lang") != query:
                update_session(request, lang=query)
            return Text(query)
        chosen = session(request).get("lang")
        user: users.User | None = request.state.user
        if chosen not in SUPPORTED_LANGS and user is not None and user.lang in SUPPORTED_LANGS:
            chosen = user.lang
        if chosen not in SUPPORTED_LANGS:
            chosen = choose_language(
                None, request.headers.get("accept-language"), settings.default_lang
            )
        return Text(chosen)

    def take_notice(request: Request) -> dict[str, Any] | None:
        notice = session(request).get("notice")
        if notice is not None:
            request.state.session.pop("notice")
            request.state.session_changed = True
        return notice

    def set_notice(request: Request, key: str, level: str = "ok", **values: str) -> None:
        update_session(request, notice={"key": key, "level": level, "values": values})

    def render(
        request: Request,
        name: str,
        status_code: int = 200,
        notice: dict[str, Any] | None = None,
        **context: Any,
    ) -> HTMLResponse:
        text = ui_text(request)
        notice = notice or take_notice(request)
        html = templates.get_template(name).render(
            t=text,
            lang=text.lang,
            user=request.state.user,
            csrf_token=ensure_csrf(request),
            # The language switch re-requests this page; after a POST it goes home instead.
            path=request.url.path if request.method == "GET" else "/",
            notice_text=text.get(notice["key"], **notice["values"]) if notice else None,
            notice_level=notice["level"] if notice else None,
            **context,
        )
        return HTMLResponse(html, status_code=status_code, headers={"Content-Language": text.lang})

    # --- the gate: sessions, authentication, headers ------------------------------------

    @app.middleware("http")
    async def gate(request: Request, call_next: Callable[[Request], Any]) -> Response:
        data = signer.loads(request.cookies.get(COOKIE_NAME))
        user = None
        if isinstance(data.get("user"), str):
            user = await run_in_threadpool(load_user, data["user"])
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
                signer.dumps(request.state.session),
                max_age=signer.max_age,
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

    @app.exception_handler(CsrfRejected)
    async def csrf_rejected(request: Request, exc: CsrfRejected) -> HTMLResponse:
        return render(request, "error.html", 403, message_key="csrf_failed")

    @app.exception_handler(Forbidden)
    async def forbidden(request: Request, exc: Forbidden) -> Response:
        if request.url.path.startswith(API_PREFIX):
            return JSONResponse({"detail": "forbidden"}, status_code=403)
        return render(request, "error.html", 403, message_key="forbidden")

    @app.exception_handler(NotFoundError)
    async def ticket_not_found(request: Request, exc: NotFoundError) -> HTMLResponse:
        return render(request, "error.html", 404, message_key="not_found")

    # --- open routes ----------------------------------------------------------------------

    @app.get("/healthz")
    def healthz() -> JSONResponse:
        return JSONResponse({"status": "ok"})

    @app.get("/static/console.css")
    def stylesheet() -> FileResponse:
        return FileResponse(
            STATIC_DIR / "console.css",
            media_type="text/css",
            headers={"Cache-Control": "public, max-age=3600"},
        )

    @app.get("/login", response_class=HTMLResponse)
    def login_page(request: Request, next: str | None = None) -> Response:
        if request.state.user is not None:
            return RedirectResponse("/", status_code=303)
        return render(request, "login.html", next=safe_next(next) or "", failed=None)

    @app.post("/login", response_class=HTMLResponse)
    async def login(
        request: Request,
        form: CheckedForm,
        username: Annotated[str, Form()] = "",
        password: Annotated[str, Form()] = "",
        next: Annotated[str, Form()] = "",
    ) -> Response:
        """Async so that the pause after a failure holds no worker thread (auth.py);
        the password check itself (scrypt) runs in the thread pool."""
        username = username.strip()[:64]
        address = request.client.host if request.client else "unknown"
        wait = login_throttle.retry_after(address, username)
        if wait:
            refused = render(
                request, "login.html", 429, next=safe_next(next) or "", failed="login_throttled"
            )
            refused.headers["Retry-After"] = str(wait)
            return refused

        def check() -> users.User | None:
            with connected() as db:
                return users.authenticate(db, username, password)

        user = await run_in_threadpool(check)
        if user is None:
            login_throttle.failed(address, username)
            await asyncio.sleep(failure_delay)
            return render(
                request, "login.html", 401, next=safe_next(next) or "", failed="login_failed"
            )
        login_throttle.succeeded(address, username)
        # A fresh session (and CSRF token) on login: nothing from before carries over.
        fresh = {
            "user": user.username,
            "pwc": user.password_changed_at,
            "csrf": new_csrf_token(),
        }
        if session(request).get("lang") in SUPPORTED_LANGS:
            fresh["lang"] = session(request)["lang"]
        replace_session(request, fresh)
        return RedirectResponse(safe_next(next) or "/", status_code=303)

    # --- everything below needs a session (the gate enforces it) ----------------------------

    @app.post("/logout")
    def logout(request: Request, form: CheckedForm) -> Response:
        lang = session(request).get("lang")
        replace_session(request, {"lang": lang} if lang in SUPPORTED_LANGS else {})
        set_notice(request, "logged_out")
        return RedirectResponse("/login", status_code=303)

    @app.get("/")
    def home(request: Request) -> Response:
        user: users.User = request.state.user
        return RedirectResponse("/queue" if user.works_tickets else "/insights", status_code=303)

    # --- insights: marketing and supervisors (operators get 403) -------------------------
    # The insights package (and matplotlib) load on the first insights request only.
    from urllib.parse import urlencode

    from desk.console.text import UI_TEXT

    insights_roles = frozenset({users.ROLE_MARKETING, users.ROLE_SUPERVISOR})

    def insights_reader(request: Request) -> users.User:
        user: users.User | None = request.state.user
        if user is None or user.role not in insights_roles:
            raise Forbidden
        return user

    def insights_query(request: Request) -> tuple[Any, str | None]:
        """The filters in the query (``language`` filters customers' language: ``lang``
        is the console's own); bad input falls back to the default period."""
        from insights.filters import FilterError, make_filters

        query = request.query_params
        today = clock().astimezone(DISPLAY_TZ).date()
        language = query.get("language") or None
        try:
            return make_filters(
                query.get("since"),
                query.get("until"),
                channel=(query.get("channel") or "")[:40] or None,
                lang=language if language in SUPPORTED_LANGS else None,
                source=query.get("source") or None,
                today=today,
            ), None
        except FilterError as exc:
            return make_filters(today=today), str(exc)

    def insights_link(filters: Any) -> str:
        """The filters as a query string, for chart and CSV links."""
        values = {
            "since": filters.since.isoformat(),
            "until": filters.until.isoformat(),
            "channel": filters.channel or "",
            "language": filters.lang or "",
            "source": filters.source,
        }
        return urlencode({k: v for k, v in values.items() if v})

    def insights_percent(value: float | None) -> str:
        return "—" if value is None else f"{100 * value:.1f}%"

    def insights_number(value: float | None, places: int = 0) -> str:
        return "—" if value is None else f"{value:.{places}f}"

    def insights_report(filters: Any, with_gaps: bool) -> Any:
        from insights.report import build_report

        with connected() as db:
            return build_report(db, filters, now=clock(), with_gaps=with_gaps)

    @app.get("/insights", response_class=HTMLResponse)
    def insights(request: Request) -> HTMLResponse:
        user = insights_reader(request)
        from insights.charts import CHARTS
        from insights.data import channels_seen
        from insights.report import table

        text = ui_text(request)
        filters, problem = insights_query(request)
        report = insights_report(filters, with_gaps=True)
        with connected() as db:
            channels = channels_seen(db)
        return render(
            request,
            "insights.html",
            notice=(
                {"key": "insights_bad_filter", "level": "error", "values": {"why": problem}}
                if problem
                else None
            ),
            report=report,
            filters=filters,
            query=insights_link(filters),
            channels=channels,
            articles=table(report, "articles", text.lang),
            article_ratings=table(report, "article_ratings", text.lang),
            charts=CHARTS,
            may_write_articles=user.works_tickets,
            write_url=lambda gap: (
                "/articles/new?"
                + urlencode({"lang": gap.lang, "question": gap.representative}, quote_via=quote)
            ),
            pct=insights_percent,
            num=insights_number,
            dur=lambda delta: format_duration(delta, text.lang) if delta is not None else "—",
        )

    @app.get("/insights/charts/{name}.png")
    def insights_chart(request: Request, name: str) -> Response:
        insights_reader(request)
        from insights import charts

        if name not in charts.CHARTS:
            return render(request, "error.html", 404, message_key="insights_unknown")
        text = ui_text(request)
        filters, _ = insights_query(request)
        report = insights_report(filters, with_gaps=name in charts.NEEDS_GAPS)
        labels = {
            key[len("insights_chart_") :]: value
            for key, value in UI_TEXT[text.lang].items()
            if key.startswith("insights_chart_")
        }
        png = charts.render(report, name, {**labels, "lang": text.lang})
        return Response(png, media_type="image/png")

    @app.get("/insights/{name}.csv")
    def insights_csv(request: Request, name: str) -> Response:
        insights_reader(request)
        from insights.report import TABLES, columns, table, to_csv

        if name not in TABLES:
            return render(request, "error.html", 404, message_key="insights_unknown")
        text = ui_text(request)
        filters, _ = insights_query(request)
        report = insights_report(filters, with_gaps=name == "gaps")
        body = to_csv(columns(name, report), table(report, name, text.lang))
        filename = f"insights-{name}-{filters.since}-{filters.until}.csv"
        return Response(
            body,
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{filename}"'},
        )

    @app.get("/queue", response_class=HTMLResponse)
    def queue(request: Request, user: TicketWorker) -> HTMLResponse:
        text = ui_text(request)
        now = clock()
        with connected() as db:
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
            format_time=format_time,
        )

    @app.get("/api/queue")
    def queue_json(user: TicketWorker) -> JSONResponse:
        now = clock()
        with connected() as db:
            queued = tickets.list_queue(db, now)
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
                for ticket in queued
            ]
        )

    def ticket_page(
        request: Request,
        db: sqlite_utils.Database,
        ticket_id: int,
        status_code: int = 200,
        notice: dict[str, Any] | None = None,
        draft: str = "",
    ) -> HTMLResponse:
        text = ui_text(request)
        ticket = tickets.get_ticket(db, ticket_id)
        user: users.User = request.state.user
        may_act = ticket.status != tickets.STATUS_CLOSED and ticket.assigned_to in (
            None,
            user.username,
        )
        messages = tickets.ticket_messages(db, ticket_id)
        kb_question = drafts.derive_question(m.text for m in messages if m.role == "customer")
        return render(
            request,
            "ticket.html",
            status_code,
            notice=notice,
            ticket=ticket,
            messages=messages,
            deadline=deadline(ticket, clock(), text),
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
            suggested=kbsearch.likeliest(kb_question, ticket.lang) if may_act and load_kb else [],
            format_time=format_time,
            conversations=tickets.ticket_conversations(db, ticket_id),
            mails=mailbox.ticket_mails(db, ticket_id),
            replies=mailbox.ticket_replies(db, ticket_id),
            mail_enabled=settings.mail_enabled,
            **customers.customer_context(db, ticket),
        )

    def refusal(key: str, **values: str) -> dict[str, Any]:
        return {"key": key, "level": "error", "values": values}

    def learn_wording(db: sqlite_utils.Database, ticket_id: int, article_id: str) -> None:
        """The customer's question, answered with ``article_id``: a proposed phrasing."""
        ticket = tickets.get_ticket(db, ticket_id)
        said = [m.text for m in tickets.ticket_messages(db, ticket_id) if m.role == "customer"]
        phrasings.propose(
            db,
            article_id,
            ticket.lang,
            drafts.derive_question(said),
            phrasings.SOURCE_OPERATOR,
            f"ticket:{ticket_id}",
        )

    def holder(db: sqlite_utils.Database, ticket_id: int) -> str:
        return tickets.get_ticket(db, ticket_id).assigned_to or "?"

    @app.get("/tickets/{ticket_id}", response_class=HTMLResponse)
    def show_ticket(request: Request, ticket_id: int, user: TicketWorker) -> HTMLResponse:
        with connected() as db:
            return ticket_page(request, db, ticket_id)

    @app.post("/tickets/{ticket_id}/claim")
    def claim(request: Request, ticket_id: int, form: CheckedForm, user: TicketWorker) -> Response:
        with connected() as db:
            if tickets.get_ticket(db, ticket_id).status == tickets.STATUS_CLOSED:
                return ticket_page(request, db, ticket_id, 409, refusal("already_closed"))
            if not tickets.claim_ticket(db, ticket_id, user.username, now=clock()):
                refused = refusal("claim_refused", who=holder(db, ticket_id))
                return ticket_page(request, db, ticket_id, 409, refused)
        set_notice(request, "claimed_by_you")
        return RedirectResponse(f"/tickets/{ticket_id}", status_code=303)

    @app.post("/tickets/{ticket_id}/take-over")
    def take_over(
        request: Request, ticket_id: int, form: CheckedForm, user: TicketWorker
    ) -> Response:
        """Supervisors take a ticket someone else holds (escalations go to them)."""
        if not user.is_supervisor:
            raise Forbidden
        with connected() as db:
            try:
                tickets.take_over_ticket(db, ticket_id, user.username, now=clock())
            except tickets.TicketClosedError:
                return ticket_page(request, db, ticket_id, 409, refusal("already_closed"))
        set_notice(request, "taken_over")
        return RedirectResponse(f"/tickets/{ticket_id}", status_code=303)

    @app.post("/tickets/{ticket_id}/answer")
    def answer(
        request: Request,
        ticket_id: int,
        form: CheckedForm,
        user: TicketWorker,
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
        with connected() as db:
            if not body:
                return ticket_page(request, db, ticket_id, 422, refusal("answer_empty"))
            if len(body) > MAX_ANSWER_CHARS:
                too_long = refusal("answer_too_long", max=str(MAX_ANSWER_CHARS))
                return ticket_page(request, db, ticket_id, 422, too_long, draft=body)
            try:
                tickets.answer_ticket(db, ticket_id, user.username, body, now=clock())
            except tickets.TicketClosedError:
                return ticket_page(request, db, ticket_id, 409, refusal("already_closed"))
            except tickets.TicketClaimedError:
                refused = refusal("answer_refused", who=holder(db, ticket_id))
                return ticket_page(request, db, ticket_id, 403, refused)
            if article_id:
                learn_wording(db, ticket_id, article_id)
            if propose:
                ticket = tickets.get_ticket(db, ticket_id)
                said = [
                    m.text for m in tickets.ticket_messages(db, ticket_id) if m.role == "customer"
                ]
                question = kb_question.strip() or drafts.derive_question(said)
                try:
                    draft = drafts.propose(
                        db,
                        question=question,
                        answer=body,
                        lang=ticket.lang,
                        author=user.username,
                        tags=[tag for tag in kb_tags.split(",") if tag.strip()],
                        source=drafts.SOURCE_TICKET.format(ticket_id=ticket_id),
                        names=drafts.customer_names(said, ticket.customer_email),
                    )
                except ArticleError as exc:
                    set_notice(request, "article_invalid", level="error", why=str(exc))
                    return RedirectResponse(f"/tickets/{ticket_id}", status_code=303)
                set_notice(request, "answer_sent_and_proposed", id=draft.id)
                return RedirectResponse(f"/tickets/{ticket_id}", status_code=303)
        set_notice(request, "answer_sent")
        return RedirectResponse(f"/tickets/{ticket_id}", status_code=303)

    @app.post("/tickets/{ticket_id}/close")
    def close(request: Request, ticket_id: int, form: CheckedForm, user: TicketWorker) -> Response:
        with connected() as db:
            if tickets.get_ticket(db, ticket_id).status == tickets.STATUS_CLOSED:
                return ticket_page(request, db, ticket_id, 409, refusal("already_closed"))
            try:
                tickets.close_ticket(db, ticket_id, user.username, now=clock())
            except tickets.TicketClaimedError:
                refused = refusal("close_refused", who=holder(db, ticket_id))
                return ticket_page(request, db, ticket_id, 403, refused)
        set_notice(request, "ticket_closed")
        return RedirectResponse("/queue", status_code=303)

    articles.register(app, render=render, connected=connected, set_notice=set_notice)
    customers.register(
        app, render=render, connected=connected, set_notice=set_notice, format_time=format_time
    )
    return app


def format_iso(value: datetime | str | None) -> str | None:
    moment = as_datetime(value)
    return moment.isoformat() if moment else None


app = create_app(get_settings(), load_kb=True)
