"""The customer-facing chat page: one bilingual HTML page hosting the rasa-webchat widget.

Run it with::

    .venv/bin/python -m uvicorn webchat.app:app --port 8000

``app`` is built at import time from :func:`sportello.settings.get_settings` (environment
variables ``SPORTELLO_HOST``, ``SPORTELLO_RASA_PORT``, ...); tests and other callers build
their own with :func:`create_app`.

Why a small server instead of a static file: the page must point the widget at the Rasa
server named in the settings, pick the customer's language (``?lang=en`` or the browser's
``Accept-Language``, Italian by default), serve the widget from our own origin rather than a
CDN, and send a Content-Security-Policy that lets the widget open its socket to Rasa and
nothing else. The page never carries the Rasa API token: the browser talks only to Rasa's
socket.io channel, which needs none.

Routes: ``/`` the page, ``/widget.js`` rasa-webchat's bundle from ``webchat/node_modules``
(installed by ``scripts/setup.sh``, 503 with an explanation until it is), ``/chat.css`` the
page's styles, ``/chat.js`` the page's script (keeps the chat in the browser for
``SPORTELLO_WEBCHAT_KEEP_DAYS`` and shows what operators answered meanwhile),
``POST /conversation`` a returning customer's ticket state and answers
(webchat/conversation.py), ``/healthz`` liveness (200 while the process runs; ``widget``
tells whether the bundle is installed).

Known and intended: rasa-webchat 1.0.1 ``@import``s the Inter font from Google Fonts. The
policy blocks it (the browser console shows the refusal) so that customers' browsers make no
third-party requests; the page falls back to system fonts. Rasa needs ``--cors`` because the
widget's socket is cross-origin (another port). Images in bot messages load only from this
origin or ``data:`` URLs.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, PlainTextResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from sportello.clock import utc_now
from sportello.db import open_db
from sportello.settings import WILDCARD_HOSTS, Settings, get_settings
from sportello.web import (
    BASE_HEADERS,
    SUPPORTED_LANGS,
    BodyLimit,
    choose_language,
    keep_query_strings_out_of_access_logs,
)
from stack.database import prepare
from webchat.conversation import Reply, conversation_view

logger = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
STATIC_DIR = HERE / "static"
WIDGET_JS = HERE / "node_modules" / "rasa-webchat" / "lib" / "index.js"

# Payload the widget sends when a conversation starts: the bot's greeting intent.
SOCKET_PATH = "/socket.io/"
HOST_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]{0,252})")
HOST_IPV6 = re.compile(r"[0-9A-Fa-f:.]{2,45}")

# Everything the customer reads on the page, per language. The company name lives here
# because this page is the demo company's storefront chat.
PAGE_TEXT: dict[str, dict[str, str]] = {
    "it": {
        "page_title": "Caffè Aurora · Assistenza clienti",
        "brand": "Caffè Aurora",
        "heading": "Come possiamo aiutarti?",
        "intro": (
            "Sono l'assistente virtuale di Caffè Aurora: chiedimi di spedizioni, resi, "
            "pagamenti, abbonamento, capsule e macchine da caffè. Se non so rispondere, "
            "passo la conversazione a una persona del servizio clienti."
        ),
        "privacy_note": "Non scrivere in chat password o dati della carta di pagamento.",
        "keep_note": (
            "La conversazione resta salvata in questo browser per {days} giorni dall'ultimo "
            "messaggio: se chiudi la pagina, riaprendola ritrovi la chat e le risposte "
            "degli operatori."
        ),
        "keep_note_one": (
            "La conversazione resta salvata in questo browser per un giorno dall'ultimo "
            "messaggio: se chiudi la pagina, riaprendola ritrovi la chat e le risposte "
            "degli operatori."
        ),
        "keep_note_tab": ("La conversazione resta solo in questa scheda: chiudendola si cancella."),
        "forget": "Cancella questa conversazione da questo browser",
        "link_expired": (
            "Il link per continuare la conversazione è scaduto o non è valido: scrivici qui."
        ),
        "other_lang_label": "English",
        "other_lang_hint": "Read this page in English",
        "chat_label": "Chat con l'assistente di Caffè Aurora",
        "widget_title": "Caffè Aurora",
        "widget_subtitle": "Assistente virtuale",
        "input_hint": "Scrivi la tua domanda…",
        "connecting": "Connessione in corso…",
        "unavailable": ("La chat non è disponibile in questo momento. Riprova tra qualche minuto."),
        "noscript": "Per usare la chat attiva JavaScript nel browser.",
    },
    "en": {
        "page_title": "Caffè Aurora · Customer support",
        "brand": "Caffè Aurora",
        "heading": "How can we help?",
        "intro": (
            "I'm Caffè Aurora's virtual assistant: ask me about shipping, returns, payments, "
            "the subscription, capsules and coffee machines. If I can't answer, I'll hand the "
            "conversation to someone from our customer service team."
        ),
        "privacy_note": "Please don't type passwords or payment card details in the chat.",
        "keep_note": (
            "The conversation is kept in this browser for {days} days after the last "
            "message: if you close the page, opening it again brings back the chat and "
            "the operators' answers."
        ),
        "keep_note_one": (
            "The conversation is kept in this browser for one day after the last "
            "message: if you close the page, opening it again brings back the chat and "
            "the operators' answers."
        ),
        "keep_note_tab": "The conversation stays in this tab only: closing it deletes it.",
        "forget": "Delete this conversation from this browser",
        "link_expired": (
            "The link to continue the conversation has expired or is not valid: write to us here."
        ),
        "other_lang_label": "Italiano",
        "other_lang_hint": "Leggi questa pagina in italiano",
        "chat_label": "Chat with Caffè Aurora's assistant",
        "widget_title": "Caffè Aurora",
        "widget_subtitle": "Virtual assistant",
        "input_hint": "Type your question…",
        "connecting": "Connecting…",
        "unavailable": "The chat is not available right now. Please try again in a few minutes.",
        "noscript": "Please enable JavaScript to use the chat.",
    },
}

WIDGET_MISSING_MESSAGE = (
    "Il widget della chat non è installato: esegui scripts/setup.sh "
    "(installa rasa-webchat con `npm ci` in webchat/).\n"
    "The chat widget is not installed: run scripts/setup.sh "
    "(it installs rasa-webchat with `npm ci` in webchat/).\n"
)


def socket_url(settings: Settings, page_host: str | None) -> str:
    """The Rasa server URL as the browser must reach it.

    ``SPORTELLO_PUBLIC_SOCKET_URL`` when set (a reverse proxy forwarding ``/socket.io/``,
    ``https://`` so that the socket is ``wss://``); otherwise ``settings.rasa_url``. When
    Rasa binds to a wildcard address (``0.0.0.0``), the browser cannot connect to that, so
    the host name it used for this page is used with Rasa's port instead.
    """
    if settings.public_socket_url:
        return settings.public_socket_url
    if settings.rasa_host not in WILDCARD_HOSTS or not page_host:
        return settings.rasa_url
    if ":" in page_host and HOST_IPV6.fullmatch(page_host):
        return f"http://[{page_host}]:{settings.rasa_port}"
    if HOST_NAME.fullmatch(page_host):
        return f"http://{page_host}:{settings.rasa_port}"
    # The Host header is client-controlled: anything odd does not reach the page or its CSP.
    return settings.rasa_url


def content_security_policy(rasa_origin: str, nonce: str) -> str:
    """Scripts only from this origin (plus the page's one nonce-tagged init script);
    network connections only to this origin and the Rasa socket (HTTP polling and
    WebSocket). Styles allow inline because the widget injects its own ``<style>`` tags.
    """
    parts = urlsplit(rasa_origin)
    ws_scheme = "wss" if parts.scheme == "https" else "ws"
    ws_origin = urlunsplit((ws_scheme, parts.netloc, "", "", ""))
    http_origin = urlunsplit((parts.scheme, parts.netloc, "", "", ""))
    return "; ".join(
        [
            "default-src 'none'",
            f"script-src 'self' 'nonce-{nonce}'",
            "style-src 'self' 'unsafe-inline'",
            "img-src 'self' data:",
            "font-src 'self' data:",
            f"connect-src 'self' {http_origin} {ws_origin}",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
            "object-src 'none'",
        ]
    )


# Non-HTML responses never need to load anything.
DEFAULT_CSP = "default-src 'none'; frame-ancestors 'none'"


def greet_payload(lang: str) -> str:
    """The intent the widget sends on start, with the page language for the slot."""
    return "/greet" + json.dumps({"language": lang}, separators=(",", ":"))


def widget_config(lang: str, rasa_url: str, keep_days: int) -> dict[str, Any]:
    """Props for ``WebChat.default``: embedded (always open), greeting on start.

    ``withRules`` is off: with it on (the default) rasa-webchat 1.0.1 stays invisible until
    the server sends Botfront-style "rules" in ``session_confirm``, which Rasa never does, so
    a slow or absent server would leave an empty box instead of "Connecting…".
    ``params.storage`` is ``"local"`` when conversations are kept (``keep_days`` > 0): the
    widget's record outlives the tab and webchat/static/chat.js dates it and deletes it
    after ``keep_days`` days without a message (or at once, on the customer's request);
    ``"session"`` keeps the conversation for the tab only.
    The greeting carries the page's language as an entity (``/greet{"language": "en"}``)
    so that the bot greets in it: "/greet" alone has no words to detect a language from.
    """
    text = PAGE_TEXT[lang]
    return {
        "initPayload": greet_payload(lang),
        "socketUrl": rasa_url,
        "socketPath": SOCKET_PATH,
        "customData": {"language": lang},
        "embedded": True,
        "hideWhenNotConnected": False,
        "withRules": False,
        "title": text["widget_title"],
        "subtitle": text["widget_subtitle"],
        "inputTextFieldHint": text["input_hint"],
        "connectingText": text["connecting"],
        "params": {"storage": "local" if keep_days > 0 else "session"},
    }


def keep_note(lang: str, keep_days: int) -> str:
    """What the privacy note says about how long the chat stays in the browser."""
    text = PAGE_TEXT[lang]
    if keep_days <= 0:
        return text["keep_note_tab"]
    if keep_days == 1:
        return text["keep_note_one"]
    return text["keep_note"].format(days=keep_days)


def installed_widget_version(widget_path: Path) -> str | None:
    """rasa-webchat's version (its package.json beside ``lib/``): the widget drops a
    stored conversation written for another version, so chat.js writes this one."""
    try:
        package = json.loads((widget_path.parent.parent / "package.json").read_text("utf-8"))
    except (OSError, ValueError):
        return None
    version = package.get("version") if isinstance(package, dict) else None
    return version if isinstance(version, str) else None


def _conversation(settings: Settings, body: object) -> Reply:
    """``POST /conversation`` off the event loop: SQLite may wait for a writer."""
    db = open_db(settings.db_path)
    try:
        return conversation_view(db, settings, body, utc_now())
    finally:
        db.close()


def create_app(settings: Settings, widget_path: Path = WIDGET_JS) -> FastAPI:
    """The chat page application for ``settings``.

    ``widget_path`` is the rasa-webchat bundle to serve (tests point it elsewhere to check
    the "not installed" answer).
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        prepare(settings.db_path).close()  # the schema, once: POST /conversation reads it
        yield

    app = FastAPI(
        title="Sportello chat page",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        lifespan=lifespan,
    )
    templates = Environment(
        loader=FileSystemLoader(STATIC_DIR),
        autoescape=select_autoescape(["html"]),
    )
    page_template = templates.get_template("index.html")
    app.add_middleware(BodyLimit, max_bytes=settings.max_request_bytes)
    keep_query_strings_out_of_access_logs()
    if not widget_path.is_file():
        logger.warning("chat widget bundle missing at %s: run scripts/setup.sh", widget_path)
    widget_version = installed_widget_version(widget_path)

    @app.middleware("http")
    async def security_headers(request: Request, call_next: Any) -> Response:
        response: Response = await call_next(request)
        for name, value in BASE_HEADERS.items():
            response.headers.setdefault(name, value)
        response.headers.setdefault("Content-Security-Policy", DEFAULT_CSP)
        return response

    @app.get("/", response_class=HTMLResponse)
    def page(request: Request, lang: str | None = None) -> HTMLResponse:
        chosen = choose_language(
            lang, request.headers.get("accept-language"), settings.default_lang
        )
        other = next(code for code in SUPPORTED_LANGS if code != chosen)
        rasa_url = socket_url(settings, request.url.hostname)
        nonce = secrets.token_urlsafe(16)
        html = page_template.render(
            lang=chosen,
            other_lang=other,
            text=PAGE_TEXT[chosen],
            keep_note=keep_note(chosen, settings.webchat_keep_days),
            nonce=nonce,
            config={
                "widget": widget_config(chosen, rasa_url, settings.webchat_keep_days),
                "unavailableText": PAGE_TEXT[chosen]["unavailable"],
                "lang": chosen,
                "keepDays": settings.webchat_keep_days,
                "widgetVersion": widget_version,
                "linkExpiredText": PAGE_TEXT[chosen]["link_expired"],
            },
        )
        return HTMLResponse(
            html,
            headers={
                "Content-Security-Policy": content_security_policy(rasa_url, nonce),
                # A fresh nonce per response: a cached copy would carry a stale one.
                "Cache-Control": "no-store",
                "Vary": "Accept-Language",
                "Content-Language": chosen,
            },
        )

    @app.get("/widget.js")
    def widget() -> Response:
        if not widget_path.is_file():
            return PlainTextResponse(WIDGET_MISSING_MESSAGE, status_code=503)
        return FileResponse(
            widget_path,
            media_type="text/javascript",
            headers={"Cache-Control": "public, max-age=3600"},
        )

    @app.get("/chat.js")
    def page_script() -> FileResponse:
        return FileResponse(
            STATIC_DIR / "chat.js",
            media_type="text/javascript",
            headers={"Cache-Control": "public, max-age=3600"},
        )

    @app.get("/chat.css")
    def stylesheet() -> FileResponse:
        return FileResponse(
            STATIC_DIR / "chat.css",
            media_type="text/css",
            headers={"Cache-Control": "public, max-age=3600"},
        )

    @app.post("/conversation")
    async def conversation(request: Request) -> JSONResponse:
        try:
            body = await request.json()
        except ValueError:
            body = None
        reply = await run_in_threadpool(_conversation, settings, body)
        return JSONResponse(
            reply.body, status_code=reply.status, headers={"Cache-Control": "no-store"}
        )

    @app.get("/healthz")
    def healthz() -> JSONResponse:
        return JSONResponse({"status": "ok", "widget": widget_path.is_file()})

    return app


app = create_app(get_settings())
