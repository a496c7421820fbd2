"""Turning a template into a page: the UI language, the one-shot notice, the CSRF token.

Every page goes through :func:`render`, so every page has the user's language, the form
token the session expects, and the notice the previous action left (shown once).
Customer text reaches the page only through Jinja autoescaping. A form that did its work
answers with :func:`redirect_with_notice`; one refused shows its page again, with a
:func:`refusal` and the status code that says why.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse

from desk import users
from desk.console.deps import console
from desk.console.session import ensure_csrf, session_of, update_session
from desk.console.text import SUPPORTED_LANGS, Text
from sportello.web import choose_language

Notice = dict[str, Any]


def ui_text(request: Request) -> Text:
    """``?lang=`` (remembered in the session), then the user's preference, then the
    browser's ``Accept-Language``, then the configured default."""
    session = session_of(request)
    query = (request.query_params.get("lang") or "").lower()
    if query in SUPPORTED_LANGS:
        if session.get("lang") != query:
            update_session(request, lang=query)
        return Text(query)
    chosen = session.get("lang")
    user: users.User | None = request.state.user
    if chosen not in SUPPORTED_LANGS and user is not None and user.lang in SUPPORTED_LANGS:
        chosen = user.lang
    if chosen not in SUPPORTED_LANGS:
        chosen = choose_language(
            None, request.headers.get("accept-language"), console(request).settings.default_lang
        )
    return Text(chosen)


def redirect_with_notice(
    request: Request, url: str, key: str, level: str = "ok", **values: str
) -> RedirectResponse:
    """How a form that did its work answers: 303 to ``url``, whose page then shows the
    notice ``key`` (from :mod:`desk.console.text`, with ``values``) once."""
    update_session(request, notice={"key": key, "level": level, "values": values})
    return RedirectResponse(url, status_code=303)


def refusal(key: str, **values: str) -> Notice:
    """An error notice for the page rendered in this response."""
    return {"key": key, "level": "error", "values": values}


def _take_notice(request: Request) -> Notice | None:
    notice = session_of(request).get("notice")
    if notice is not None:
        request.state.session.pop("notice")
        request.state.session_changed = True
    return notice


def render(
    request: Request,
    name: str,
    status_code: int = 200,
    notice: Notice | None = None,
    **context: Any,
) -> HTMLResponse:
    """The template ``name`` as this request's page; without ``notice``, the one the
    session holds (shown once)."""
    text = ui_text(request)
    notice = notice or _take_notice(request)
    html = (
        console(request)
        .templates.get_template(name)
        .render(
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
    )
    return HTMLResponse(html, status_code=status_code, headers={"Content-Language": text.lang})
