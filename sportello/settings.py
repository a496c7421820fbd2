"""Every setting a company may want to change, read once from environment variables.

One typed object so that the action server, the command line, the web page and the
tests agree on where data lives and which ports and thresholds are used. Each field
documents its variable; defaults run the whole assistant on one machine with embedded
files under ``var/`` in the checkout.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _env_str(name: str, default: str) -> str:
    value = os.environ.get(name, "").strip()
    return value or default


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ValueError(f"{name} must be a whole number, got {raw!r}") from exc


def _env_days(name: str, default: int) -> int:
    """A number of days, 0 or more."""
    days = _env_int(name, default)
    if days < 0:
        raise ValueError(f"{name} must be 0 or more days, got {days}")
    return days


def _env_list(name: str) -> tuple[str, ...]:
    """A comma-separated list (addresses), blanks dropped."""
    return tuple(part.strip() for part in os.environ.get(name, "").split(",") if part.strip())


def _env_float_or_none(name: str) -> float | None:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return None
    try:
        return float(raw)
    except ValueError as exc:
        raise ValueError(f"{name} must be a number, got {raw!r}") from exc


@dataclass(frozen=True)
class Settings:
    """Where data lives, how services reach each other, and the knowledge-base knobs."""

    # SPORTELLO_DATA_DIR: every file the assistant writes (SQLite, FAISS index, logs).
    data_dir: Path = field(default_factory=lambda: PROJECT_ROOT / "var")
    # SPORTELLO_DEFAULT_LANG: language assumed when a message gives no clue ("ok", "👍").
    default_lang: str = "it"
    # SPORTELLO_KB_THRESHOLD: confidence below which the bot abstains; None means the
    # calibrated default shipped in knowledge/calibration.json.
    kb_threshold: float | None = None
    # SPORTELLO_KB_CLARIFY_THRESHOLD: below kb_threshold but at least this, the bot offers
    # the likeliest articles as choices; None means the calibrated default (0 or more).
    kb_clarify_threshold: float | None = None
    # SPORTELLO_MAX_MESSAGE_CHARS: longer customer messages are cut before search.
    max_message_chars: int = 2000
    # SPORTELLO_MAX_REQUEST_BYTES: the largest request body any channel accepts (Rasa's
    # REST/callback/socket.io, the chat page, the console); larger ones get 413.
    max_request_bytes: int = 65536
    # SPORTELLO_NEW_CONVERSATIONS_PER_HOUR, SPORTELLO_RATINGS_PER_HOUR: what one client
    # address may start or rate per hour on the customer channels (bot/limits.py);
    # requests from this machine that no proxy forwarded are not limited.
    new_conversations_per_hour: int = 60
    ratings_per_hour: int = 120
    # SPORTELLO_RASA_SPEEDUPS: which of bot/rasa_speedups.py's patches to Rasa's internals
    # the Rasa server installs when it loads its model: "all" (default), "0" none,
    # "-name" all but that one (comma-separated: "-a,-b"), "a,b" only those. Each also
    # stays off, with a warning in the log, on library versions it was not written for.
    rasa_speedups: str = "all"
    # Ports and bind addresses of the services started by `sportello run`, one per
    # service so that only what customers need can be opened to a network:
    # SPORTELLO_HOST the chat page; SPORTELLO_RASA_HOST the Rasa server (its HTTP API and,
    # on the same port, the web chat's socket.io and the channel webhooks);
    # SPORTELLO_ACTION_HOST the action server (unauthenticated: keep it on loopback);
    # SPORTELLO_CONSOLE_HOST the operator console. All default to loopback, whatever
    # SPORTELLO_HOST says: a public deployment puts a reverse proxy in front (README,
    # "Putting Sportello on the internet").
    host: str = "127.0.0.1"
    rasa_host: str = "127.0.0.1"
    action_host: str = "127.0.0.1"
    console_host: str = "127.0.0.1"
    rasa_port: int = 5005
    action_port: int = 5055
    web_port: int = 8000
    console_port: int = 8001
    # SPORTELLO_PUBLIC_CHAT_URL: the chat page's address as customers' browsers reach it
    # (e.g. https://chat.example.com); the Rasa server accepts cross-origin requests
    # (CORS) from this origin only. None: the page's own address(es) on this machine.
    public_chat_url: str | None = None
    # SPORTELLO_PUBLIC_SOCKET_URL: where browsers open the web chat's socket.io
    # (https://… gives wss://), e.g. the reverse proxy forwarding /socket.io/ to Rasa.
    # None: the Rasa server's own address.
    public_socket_url: str | None = None
    # SPORTELLO_SLA_FILE: the SLA policy (targets, business hours, holidays); None means
    # the defaults in desk/sla.py (Europe/Rome, Mon-Fri 9-13 and 14-18, Italian holidays).
    sla_file: Path | None = None
    # SPORTELLO_SECRET_KEY: signs console sessions; None means a random key kept in
    # data_dir/secret_key (created on first use), so sessions survive restarts.
    secret_key: str | None = None
    # SPORTELLO_RASA_TOKEN: protects Rasa's HTTP API; never exposed to browsers nor put
    # on a command line. None means a random token kept in data_dir/rasa_token (created
    # on first use, like the secret key); read it with sportello.keys.rasa_token().
    rasa_token: str | None = None
    # SPORTELLO_LOG_RETENTION_DAYS: conversation logs (turns, tracker events, ticket
    # transcripts) older than this are deleted by the retention job.
    log_retention_days: int = 365
    # SPORTELLO_NPS_PERIOD_DAYS: a customer is asked the NPS question at most once per period.
    nps_period_days: int = 90
    # SPORTELLO_CALLBACK_URL: where Rasa's ``callback`` channel POSTs every bot message
    # (server-to-server integrations, operator answers included); None: no callback channel.
    callback_url: str | None = None
    # SPORTELLO_TELEGRAM_TOKEN (from BotFather), SPORTELLO_TELEGRAM_VERIFY (the bot's
    # username) and SPORTELLO_TELEGRAM_WEBHOOK_URL (public HTTPS address of
    # /webhooks/telegram/webhook): all three switch the Telegram channel on; None: off.
    telegram_token: str | None = None
    telegram_verify: str | None = None
    telegram_webhook_url: str | None = None
    # SPORTELLO_TELEGRAM_SECRET: the secret Telegram sends back with every update
    # (X-Telegram-Bot-Api-Secret-Token, 1-256 of A-Z a-z 0-9 _ -); the webhook refuses
    # requests without it. None means a random one kept in data_dir/telegram_secret.
    telegram_secret: str | None = None
    # SPORTELLO_IDENTITY_SECRET: the key a company's own site or messaging integration
    # signs a logged-in customer's e-mail/phone with (HMAC-SHA256, identity/contacts.py),
    # so that Sportello may trust them and link that customer's channels; None means a
    # random key kept in data_dir/identity_secret (``sportello customer sign`` prints
    # signatures made with it).
    identity_secret: str | None = None
    # SPORTELLO_TRACKER_URL: Rasa's tracker store when it is not the SQLite file
    # tracker_db_path: an SQLAlchemy-style URL, e.g.
    # postgresql://rasa:password@db.internal:5432/rasa (docs/scaling.md). The Rasa server
    # `sportello run` starts writes there; the customer log, export/erasure and
    # retention read there. None: the file.
    tracker_url: str | None = None
    # SPORTELLO_SMTP_URL: where operators' answers and the CSAT question are mailed to
    # customers who left an address: smtp://user:password@host:587 (STARTTLS, required),
    # smtps://user:password@host:465 (TLS from the first byte), smtp://host:25 without
    # credentials (plain, for a relay on loopback). None: no e-mail is sent, and the bot
    # never promises one.
    smtp_url: str | None = None
    # SPORTELLO_MAIL_FROM: the sender of those mails, e.g. "Caffè Aurora <assistenza@…>";
    # replies come back to it (read over IMAP). Needed together with smtp_url.
    mail_from: str | None = None
    # SPORTELLO_IMAP_URL: the mailbox customers' replies arrive in, polled by the
    # monitor: imaps://user:password@host:993/INBOX (TLS) or imap://… (loopback only).
    # None: replies by e-mail are not read.
    imap_url: str | None = None
    # SPORTELLO_IMAP_POLL_SECONDS: how often the monitor reads the mailbox.
    imap_poll_seconds: int = 30
    # SPORTELLO_COMPANY_NAME: the name customers read in mails (subject and signature).
    company_name: str = "Caffè Aurora"
    # SPORTELLO_ALERT_OPERATORS: comma-separated addresses told by mail when an urgent or
    # high-priority ticket opens; SPORTELLO_ALERT_SUPERVISORS: told when a ticket is at
    # risk or breaches its SLA. Events of the same minute come in one mail (desk/alerts.py).
    # Empty: no alerts. Need mail (smtp_url, mail_from).
    alert_operators: tuple[str, ...] = ()
    alert_supervisors: tuple[str, ...] = ()
    # SPORTELLO_WEBCHAT_KEEP_DAYS: how many days after its last message a web chat stays
    # in the customer's browser (localStorage), so that closing the tab loses nothing and
    # reopening the page shows the operators' answers given meanwhile; also how long the
    # "continue the conversation" link of an answer mail works (sportello/chatlinks.py).
    # 0: the chat is kept for the tab only and mails carry no link.
    webchat_keep_days: int = 7

    @property
    def mail_enabled(self) -> bool:
        """Customers can be answered by e-mail: an SMTP server and a sender are set."""
        return bool(self.smtp_url and self.mail_from)

    @property
    def db_path(self) -> Path:
        """The SQLite database: the single source of truth for articles and logs."""
        return self.data_dir / "sportello.db"

    @property
    def tracker_db_path(self) -> Path:
        """Rasa's SQL tracker store (SQLite), kept beside the other data."""
        return self.data_dir / "tracker.db"

    @property
    def tracker_store(self) -> str | Path:
        """Where Sportello reads Rasa's tracker store: the URL, else the SQLite file."""
        return self.tracker_url or self.tracker_db_path

    @property
    def index_dir(self) -> Path:
        """Derived FAISS index files; safe to delete, rebuilt from SQLite."""
        return self.data_dir / "index"

    @property
    def rasa_url(self) -> str:
        """Where Sportello's own processes reach the Rasa server."""
        return f"http://{connect_host(self.rasa_host)}:{self.rasa_port}"

    @property
    def action_url(self) -> str:
        return f"http://{connect_host(self.action_host)}:{self.action_port}/webhook"

    @property
    def web_url(self) -> str:
        """Where the chat page is reached on this machine."""
        return f"http://{connect_host(self.host)}:{self.web_port}"

    @property
    def console_url(self) -> str:
        """Where the operator console is reached on this machine."""
        return f"http://{connect_host(self.console_host)}:{self.console_port}"


# Addresses a server binds to but a client cannot connect to.
WILDCARD_HOSTS = frozenset({"0.0.0.0", "::", ""})
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})


def connect_host(bind: str) -> str:
    """The address a process on this machine connects to for a service bound to ``bind``
    (a wildcard bind is reached on loopback; an IPv6 literal gets its brackets)."""
    if bind in WILDCARD_HOSTS:
        return "127.0.0.1"
    return f"[{bind}]" if ":" in bind else bind


def load_settings() -> Settings:
    """Read the environment now (tests call this after changing variables)."""
    data_dir = os.environ.get("SPORTELLO_DATA_DIR", "").strip()
    return Settings(
        data_dir=Path(data_dir).expanduser().resolve() if data_dir else PROJECT_ROOT / "var",
        default_lang=_env_str("SPORTELLO_DEFAULT_LANG", "it"),
        kb_threshold=_env_float_or_none("SPORTELLO_KB_THRESHOLD"),
        kb_clarify_threshold=_env_float_or_none("SPORTELLO_KB_CLARIFY_THRESHOLD"),
        max_message_chars=_env_int("SPORTELLO_MAX_MESSAGE_CHARS", 2000),
        max_request_bytes=_env_int("SPORTELLO_MAX_REQUEST_BYTES", 65536),
        new_conversations_per_hour=_env_int("SPORTELLO_NEW_CONVERSATIONS_PER_HOUR", 60),
        ratings_per_hour=_env_int("SPORTELLO_RATINGS_PER_HOUR", 120),
        rasa_speedups=_env_str("SPORTELLO_RASA_SPEEDUPS", "all"),
        host=_env_str("SPORTELLO_HOST", "127.0.0.1"),
        rasa_host=_env_str("SPORTELLO_RASA_HOST", "127.0.0.1"),
        action_host=_env_str("SPORTELLO_ACTION_HOST", "127.0.0.1"),
        console_host=_env_str("SPORTELLO_CONSOLE_HOST", "127.0.0.1"),
        public_chat_url=_env_str("SPORTELLO_PUBLIC_CHAT_URL", "").rstrip("/") or None,
        public_socket_url=_env_str("SPORTELLO_PUBLIC_SOCKET_URL", "").rstrip("/") or None,
        rasa_port=_env_int("SPORTELLO_RASA_PORT", 5005),
        action_port=_env_int("SPORTELLO_ACTION_PORT", 5055),
        web_port=_env_int("SPORTELLO_WEB_PORT", 8000),
        console_port=_env_int("SPORTELLO_CONSOLE_PORT", 8001),
        sla_file=Path(os.environ["SPORTELLO_SLA_FILE"])
        if os.environ.get("SPORTELLO_SLA_FILE")
        else None,
        secret_key=os.environ.get("SPORTELLO_SECRET_KEY") or None,
        rasa_token=os.environ.get("SPORTELLO_RASA_TOKEN", "").strip() or None,
        log_retention_days=_env_int("SPORTELLO_LOG_RETENTION_DAYS", 365),
        nps_period_days=_env_int("SPORTELLO_NPS_PERIOD_DAYS", 90),
        callback_url=_env_str("SPORTELLO_CALLBACK_URL", "") or None,
        telegram_token=_env_str("SPORTELLO_TELEGRAM_TOKEN", "") or None,
        telegram_verify=_env_str("SPORTELLO_TELEGRAM_VERIFY", "") or None,
        telegram_webhook_url=_env_str("SPORTELLO_TELEGRAM_WEBHOOK_URL", "") or None,
        telegram_secret=_env_str("SPORTELLO_TELEGRAM_SECRET", "") or None,
        identity_secret=os.environ.get("SPORTELLO_IDENTITY_SECRET") or None,
        tracker_url=_env_str("SPORTELLO_TRACKER_URL", "") or None,
        smtp_url=_env_str("SPORTELLO_SMTP_URL", "") or None,
        mail_from=_env_str("SPORTELLO_MAIL_FROM", "") or None,
        imap_url=_env_str("SPORTELLO_IMAP_URL", "") or None,
        imap_poll_seconds=_env_int("SPORTELLO_IMAP_POLL_SECONDS", 30),
        company_name=_env_str("SPORTELLO_COMPANY_NAME", "Caffè Aurora"),
        alert_operators=_env_list("SPORTELLO_ALERT_OPERATORS"),
        alert_supervisors=_env_list("SPORTELLO_ALERT_SUPERVISORS"),
        webchat_keep_days=_env_days("SPORTELLO_WEBCHAT_KEEP_DAYS", 7),
    )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return load_settings()
