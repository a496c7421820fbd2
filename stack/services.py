"""Starting, watching and stopping the whole assistant: Rasa server, action server, chat
page, operator console and the desk's monitor.

Rasa 3.6 needs Python 3.10 and the knowledge base needs torch on 3.11, so the assistant
is several processes from two environments (Rasa's own production shape: a server and a
separate action server). ``sportello run`` and the integration tests both start them
through :func:`running_stack`, so what the tests exercise is what a company runs.

``sportello run`` also watches them (:func:`supervise`): a process that dies (a crash,
``kill -9``, the out-of-memory killer) is started again, so the assistant heals by
itself; everything a process knows lives in SQLite, so a restart loses nothing. A
service that keeps dying is given up on and the whole stack stops with its log's name.
"""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

import httpx

from customerlog.tracker import SQLITE, TrackerStoreError, parse_location
from desk.users import list_users
from sportello.db import open_db
from sportello.keys import load_key, rasa_token, weak_rasa_token
from sportello.settings import LOOPBACK_HOSTS, PROJECT_ROOT, WILDCARD_HOSTS, Settings, connect_host
from stack.database import prepare

logger = logging.getLogger(__name__)

# A service restarted more than this many times within the window is given up on.
MAX_RESTARTS = 5
RESTART_WINDOW_S = 300.0

RASA_BIN = PROJECT_ROOT / ".venv-rasa" / "bin" / "rasa"
RASA_PYTHON = RASA_BIN.parent / "python"
APP_PYTHON = Path(sys.executable)
MODELS_DIR = PROJECT_ROOT / "models"
TELEGRAM_SECRET_FILE = "telegram_secret"
TELEGRAM_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")


# Files the services create are readable by their owner only (customers' conversations).
PRIVATE_UMASK = 0o077


class ServiceError(RuntimeError):
    """A service did not start; the message names it and points to its log."""


@dataclass
class Service:
    """One child process and how to tell that it is ready."""

    name: str
    argv: list[str]
    # None for a worker with no HTTP side: it is ready once it has stayed up briefly.
    health_url: str | None
    log_path: Path
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None
    cwd: Path = PROJECT_ROOT

    def start(self) -> None:
        self.log_path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        log = os.fdopen(os.open(self.log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600), "ab")
        self.process = subprocess.Popen(
            self.argv,
            cwd=self.cwd,
            env={**os.environ, **self.env},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stop() ends workers too
            umask=PRIVATE_UMASK,  # whatever it creates (databases, index, logs) is private
        )
        log.close()

    def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        alive_since = time.monotonic()
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise ServiceError(
                    f"{self.name} exited with code {self.process.returncode}; see {self.log_path}"
                )
            if self.health_url is None:
                if time.monotonic() - alive_since >= 2:
                    return
                time.sleep(0.2)
                continue
            try:
                if httpx.get(self.health_url, timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        raise ServiceError(f"{self.name} not ready after {timeout:.0f} s; see {self.log_path}")

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=5)
        except ProcessLookupError:
            pass


def run_dir(settings: Settings) -> Path:
    """Generated configuration and service logs of one data directory."""
    path = settings.data_dir / "run"
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def secure_data_dir(settings: Settings) -> None:
    """The data folder 0700 and everything in it 0700 (folders) or 0600 (files), also
    what an older version left readable by every user of the machine."""
    root = settings.data_dir
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    root.chmod(0o700)
    for folder, folders, files in os.walk(root):
        for name in folders:
            (Path(folder) / name).chmod(0o700)
        for name in files:
            path = Path(folder) / name
            if path.is_file() and not path.is_symlink():
                path.chmod(0o600)


def tracker_store_endpoint(settings: Settings) -> dict[str, object]:
    """Rasa's ``tracker_store`` section: the SQLite file, or the database
    ``SPORTELLO_TRACKER_URL`` names, so that Rasa writes where the customer log reads.

    A PostgreSQL URL becomes Rasa's SQL tracker store (host, port, database, user,
    password, and libpq parameters such as ``sslmode`` as its ``query``); a
    ``sqlite:///`` URL names another SQLite file. Raises :class:`ServiceError` for any
    other URL.
    """
    try:
        dialect, address = parse_location(settings.tracker_store)
    except TrackerStoreError as exc:
        raise ServiceError(f"SPORTELLO_TRACKER_URL: {exc}") from exc
    if dialect == SQLITE:
        return {
            "type": "bot.tracker_store.SQLiteTrackerStore",
            "dialect": "sqlite",
            "db": str(address),
        }
    url = urlsplit(str(address))
    section: dict[str, object] = {"type": "SQL", "dialect": "postgresql"}
    section["url"] = url.hostname or "localhost"
    if url.port:
        section["port"] = url.port
    section["db"] = unquote(url.path.lstrip("/")) or "rasa"
    if url.username:
        section["username"] = unquote(url.username)
    if url.password:
        section["password"] = unquote(url.password)
    if url.query:
        section["query"] = dict(parse_qsl(url.query))
    return section


def tracker_store_yaml(settings: Settings) -> str:
    """The ``tracker_store:`` block of an endpoints file (tracker_store_endpoint)."""
    section = tracker_store_endpoint(settings)
    return "tracker_store:\n" + "".join(
        f"  {key}: {json.dumps(value)}\n" for key, value in section.items()
    )


def write_endpoints(settings: Settings) -> Path:
    """Rasa's endpoints file for these settings (ports and tracker store vary per install).

    Only the owner may read it: a PostgreSQL tracker store's password is in it.
    """
    tracker = tracker_store_yaml(settings)
    path = run_dir(settings) / "endpoints.yml"
    path.touch(mode=0o600)
    path.chmod(0o600)
    path.write_text(
        "# Generated by stack.services from the settings; edit the settings, not this file.\n"
        "action_endpoint:\n"
        f"  url: {json.dumps(settings.action_url)}\n"
        f"{tracker}",
        encoding="utf-8",
    )
    return path


def write_credentials(settings: Settings) -> Path:
    """Rasa's credentials file: the repository's channels plus those the settings switch on.

    The callback URL and the Telegram bot differ per install (and the bot token is a
    secret), so they come from the settings and only the owner may read the file; the
    checked-in ``credentials.yml`` stays the default for ``rasa run``/``rasa shell`` by
    hand and is copied first. Raises :class:`ServiceError` for an incomplete channel.
    """
    sections = [
        "# Generated by stack.services from credentials.yml and the settings;\n"
        "# edit those, not this file.\n",
        (PROJECT_ROOT / "credentials.yml").read_text(encoding="utf-8"),
    ]
    if settings.callback_url:
        if not settings.callback_url.startswith(("http://", "https://")):
            raise ServiceError("SPORTELLO_CALLBACK_URL must be an http:// or https:// URL")
        sections.append(
            "\n# SPORTELLO_CALLBACK_URL: every bot message is POSTed there.\n"
            f"bot.channels.CallbackInput:\n  url: {json.dumps(settings.callback_url)}\n"
        )
    telegram = {
        "SPORTELLO_TELEGRAM_TOKEN": settings.telegram_token,
        "SPORTELLO_TELEGRAM_VERIFY": settings.telegram_verify,
        "SPORTELLO_TELEGRAM_WEBHOOK_URL": settings.telegram_webhook_url,
    }
    if any(telegram.values()):
        missing = [name for name, value in telegram.items() if not value]
        if missing:
            raise ServiceError(f"the Telegram channel also needs {', '.join(missing)}")
        if not str(settings.telegram_webhook_url).startswith("https://"):
            raise ServiceError("SPORTELLO_TELEGRAM_WEBHOOK_URL must be https:// (Telegram's rule)")
        secret = load_key(settings.telegram_secret, settings.data_dir, TELEGRAM_SECRET_FILE)
        if not TELEGRAM_SECRET.fullmatch(secret.decode("utf-8")):
            raise ServiceError(
                "SPORTELLO_TELEGRAM_SECRET: 1-256 characters among A-Z a-z 0-9 _ - "
                "(Telegram's rule)"
            )
        sections.append(
            "\n# SPORTELLO_TELEGRAM_*: Rasa registers the webhook with Telegram at start-up,\n"
            "# with the secret Telegram sends back with every update (checked).\n"
            "bot.channels.TelegramInput:\n"
            f"  access_token: {json.dumps(settings.telegram_token)}\n"
            f"  verify: {json.dumps(settings.telegram_verify)}\n"
            f"  webhook_url: {json.dumps(settings.telegram_webhook_url)}\n"
            f"  secret_token: {json.dumps(secret.decode('utf-8'))}\n"
        )
    path = run_dir(settings) / "credentials.yml"
    path.touch(mode=0o600)
    path.chmod(0o600)
    path.write_text("".join(sections), encoding="utf-8")
    return path


def rasa_env() -> dict[str, str]:
    """Quiet TensorFlow, keep Rasa to one thread per op on a 2-core machine, and switch
    off Rasa's usage telemetry: Rasa 3.6 enables it on first use and would report every
    training and server start to Rasa's servers (with Sentry error reports), which a
    self-hosted support desk must not do without its owner's choice."""
    return {
        "RASA_TELEMETRY_ENABLED": "false",
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "OMP_NUM_THREADS": "1",
        "TF_INTRA_OP_PARALLELISM_THREADS": "1",
        "TF_INTER_OP_PARALLELISM_THREADS": "1",
        "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
    }


def chat_origins(settings: Settings) -> list[str]:
    """The origins whose pages may call the Rasa server from a browser (its ``--cors``):
    the chat page's public address, else the page's own address on this machine (both
    spellings of loopback, which browsers treat as different origins)."""
    if settings.public_chat_url:
        parts = urlsplit(settings.public_chat_url)
        return [f"{parts.scheme}://{parts.netloc}"]
    if settings.host in LOOPBACK_HOSTS or settings.host in WILDCARD_HOSTS:
        port = settings.web_port
        return [f"http://127.0.0.1:{port}", f"http://localhost:{port}", f"http://[::1]:{port}"]
    return [f"http://{connect_host(settings.host)}:{settings.web_port}"]


def rasa_server_env(settings: Settings) -> dict[str, str]:
    """What the Rasa server reads from its environment rather than its command line:
    the API token (bot/rasa_main.py hands it to Rasa; a command line is public on the
    machine) and the request-size caps of its web server (Sanic reads ``SANIC_*``)."""
    return {
        "SPORTELLO_DATA_DIR": str(settings.data_dir),  # the key signing web-chat sessions
        "SPORTELLO_RASA_TOKEN": rasa_token(settings),
        "SPORTELLO_MAX_MESSAGE_CHARS": str(settings.max_message_chars),
        "SPORTELLO_MAX_REQUEST_BYTES": str(settings.max_request_bytes),
        "SPORTELLO_NEW_CONVERSATIONS_PER_HOUR": str(settings.new_conversations_per_hour),
        "SPORTELLO_RATINGS_PER_HOUR": str(settings.ratings_per_hour),
        "SANIC_REQUEST_MAX_SIZE": str(settings.max_request_bytes),
        "SANIC_WEBSOCKET_MAX_SIZE": str(settings.max_request_bytes),
        # Its access log would record the API token and ids in query strings.
        "SANIC_ACCESS_LOG": "False",
    }


def exposure_problems(settings: Settings) -> list[str]:
    """Settings that would expose more than customers need or leave the chat unreachable
    (``sportello run`` refuses to start with any of them)."""
    problems = []
    weak = weak_rasa_token(rasa_token(settings))
    if weak:
        problems.append(weak)
    if settings.host in WILDCARD_HOSTS and not settings.public_chat_url:
        problems.append(
            "SPORTELLO_HOST opens the chat page to the network: set SPORTELLO_PUBLIC_CHAT_URL "
            "to the address customers use, so that only that page may call the Rasa server "
            "/ imposta SPORTELLO_PUBLIC_CHAT_URL all'indirizzo pubblico della pagina chat."
        )
    if (
        settings.host not in LOOPBACK_HOSTS
        and settings.rasa_host in LOOPBACK_HOSTS
        and not settings.public_socket_url
    ):
        problems.append(
            "the chat page is open to the network but the Rasa server (socket.io) is on "
            "loopback: set SPORTELLO_PUBLIC_SOCKET_URL to the reverse proxy forwarding "
            "/socket.io/ / imposta SPORTELLO_PUBLIC_SOCKET_URL (il proxy che inoltra /socket.io/)."
        )
    return problems


def app_env(settings: Settings) -> dict[str, str]:
    """The 3.11 services read the same settings and never reach for a model hub."""
    return {
        "SPORTELLO_DATA_DIR": str(settings.data_dir),
        "SPORTELLO_HOST": settings.host,
        "SPORTELLO_RASA_HOST": settings.rasa_host,
        "SPORTELLO_ACTION_HOST": settings.action_host,
        "SPORTELLO_CONSOLE_HOST": settings.console_host,
        **(
            {"SPORTELLO_PUBLIC_CHAT_URL": settings.public_chat_url}
            if settings.public_chat_url
            else {}
        ),
        **(
            {"SPORTELLO_PUBLIC_SOCKET_URL": settings.public_socket_url}
            if settings.public_socket_url
            else {}
        ),
        "SPORTELLO_MAX_MESSAGE_CHARS": str(settings.max_message_chars),
        "SPORTELLO_MAX_REQUEST_BYTES": str(settings.max_request_bytes),
        "SPORTELLO_RASA_PORT": str(settings.rasa_port),
        "SPORTELLO_ACTION_PORT": str(settings.action_port),
        "SPORTELLO_WEB_PORT": str(settings.web_port),
        "SPORTELLO_CONSOLE_PORT": str(settings.console_port),
        **({"SPORTELLO_SLA_FILE": str(settings.sla_file)} if settings.sla_file else {}),
        **({"SPORTELLO_SECRET_KEY": settings.secret_key} if settings.secret_key else {}),
        **(
            {"SPORTELLO_IDENTITY_SECRET": settings.identity_secret}
            if settings.identity_secret
            else {}
        ),
        **({"SPORTELLO_TRACKER_URL": settings.tracker_url} if settings.tracker_url else {}),
        **(
            {"SPORTELLO_KB_THRESHOLD": str(settings.kb_threshold)}
            if settings.kb_threshold is not None
            else {}
        ),
        **(
            {"SPORTELLO_KB_CLARIFY_THRESHOLD": str(settings.kb_clarify_threshold)}
            if settings.kb_clarify_threshold is not None
            else {}
        ),
        **({"SPORTELLO_SMTP_URL": settings.smtp_url} if settings.smtp_url else {}),
        **({"SPORTELLO_MAIL_FROM": settings.mail_from} if settings.mail_from else {}),
        **({"SPORTELLO_IMAP_URL": settings.imap_url} if settings.imap_url else {}),
        "SPORTELLO_IMAP_POLL_SECONDS": str(settings.imap_poll_seconds),
        "SPORTELLO_COMPANY_NAME": settings.company_name,
        "SPORTELLO_ALERT_OPERATORS": ",".join(settings.alert_operators),
        "SPORTELLO_ALERT_SUPERVISORS": ",".join(settings.alert_supervisors),
        "SPORTELLO_WEBCHAT_KEEP_DAYS": str(settings.webchat_keep_days),
        **({"SPORTELLO_RASA_TOKEN": settings.rasa_token} if settings.rasa_token else {}),
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "OMP_NUM_THREADS": "1",
        "TOKENIZERS_PARALLELISM": "false",
    }


def train_model() -> Path:
    """Train the Rasa model if its inputs changed (Rasa skips unchanged training itself)."""
    cmd = [
        str(RASA_BIN), "train",
        "--config", "config.yml",
        "--domain", "bot/domain.yml",
        "--data", "bot/data",
        "--out", str(MODELS_DIR),
    ]  # fmt: skip
    subprocess.run(cmd, cwd=PROJECT_ROOT, env={**os.environ, **rasa_env()}, check=True)
    return latest_model()


def latest_model() -> Path:
    models = sorted(MODELS_DIR.glob("*.tar.gz"), key=lambda p: p.stat().st_mtime)
    if not models:
        raise ServiceError("no trained Rasa model in models/: run `make train`")
    return models[-1]


def build_services(settings: Settings, model: Path) -> list[Service]:
    """The processes, in start order, with the settings' ports."""
    logs = run_dir(settings)
    action_base = f"http://{connect_host(settings.action_host)}:{settings.action_port}"
    return [
        Service(
            name="action server",
            argv=[
                str(APP_PYTHON),
                "-m",
                "actions.server",
                "--host",
                settings.action_host,
                "--port",
                str(settings.action_port),
            ],
            health_url=f"{action_base}/health",
            log_path=logs / "actions.log",
            env=app_env(settings),
        ),
        Service(
            name="Rasa server",
            # The token reaches Rasa through its environment (rasa_server_env), never argv.
            argv=[
                str(RASA_PYTHON),
                "-m",
                "bot.rasa_main",
                "run",
                "--model",
                str(model),
                "--endpoints",
                str(write_endpoints(settings)),
                "--credentials",
                str(write_credentials(settings)),
                "--interface",
                settings.rasa_host,
                "--port",
                str(settings.rasa_port),
                "--enable-api",
                "--cors",
                *chat_origins(settings),
            ],
            health_url=f"{settings.rasa_url}/",
            log_path=logs / "rasa.log",
            env={**rasa_env(), **rasa_server_env(settings)},
        ),
        Service(
            name="chat page",
            argv=[
                str(APP_PYTHON),
                "-m",
                "uvicorn",
                "webchat.app:app",
                "--host",
                settings.host,
                "--port",
                str(settings.web_port),
            ],
            health_url=f"{settings.web_url}/healthz",
            log_path=logs / "web.log",
            env=app_env(settings),
        ),
        Service(
            name="operator console",
            argv=[
                str(APP_PYTHON),
                "-m",
                "uvicorn",
                "desk.console.app:app",
                "--host",
                settings.console_host,
                "--port",
                str(settings.console_port),
            ],
            health_url=f"{settings.console_url}/healthz",
            log_path=logs / "console.log",
            env=app_env(settings),
        ),
        Service(
            name="SLA monitor",
            argv=[str(APP_PYTHON), "-m", "desk.monitor"],
            health_url=None,
            log_path=logs / "monitor.log",
            env=app_env(settings),
        ),
    ]


@contextmanager
def running_stack(settings: Settings, model: Path, timeout: float = 180) -> Iterator[list[Service]]:
    """Start every service, wait until each answers, and stop them all on exit.

    The database is migrated first, once, so the services start on the current schema
    (each migrates at its own start-up too, finding nothing left to do).
    """
    secure_data_dir(settings)
    prepare(settings.db_path).close()
    services = build_services(settings, model)
    try:
        for service in services:
            service.start()
        for service in services:
            service.wait_ready(timeout)
        wait_model_loaded(settings, timeout)
        yield services
    finally:
        for service in reversed(services):
            service.stop()


def wait_model_loaded(settings: Settings, timeout: float) -> None:
    """Rasa answers ``/`` before its model is loaded; ``/status`` says when it is."""
    deadline = time.monotonic() + timeout
    url = f"{settings.rasa_url}/status"
    while time.monotonic() < deadline:
        try:
            reply = httpx.get(url, params={"token": rasa_token(settings)}, timeout=2)
            if reply.status_code == 200 and reply.json().get("model_file"):
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise ServiceError("the Rasa server did not load its model in time")


def supervise(
    services: list[Service],
    stop: threading.Event,
    *,
    ready_timeout: float = 180,
    poll_s: float = 1.0,
    clock: Callable[[], float] = time.monotonic,
    on_restart: Callable[[Service], None] | None = None,
) -> None:
    """Restart any service that exits, until ``stop`` is set.

    Raises :class:`ServiceError` when one service needed more than
    :data:`MAX_RESTARTS` restarts within :data:`RESTART_WINDOW_S` (it will not heal by
    being restarted again: a broken configuration, a full disk).
    """
    restarts: dict[str, list[float]] = {}
    while not stop.wait(poll_s):
        for service in services:
            if service.running or stop.is_set():
                continue
            code = service.process.returncode if service.process is not None else None
            now = clock()
            recent = [t for t in restarts.get(service.name, []) if now - t < RESTART_WINDOW_S]
            if len(recent) >= MAX_RESTARTS:
                raise ServiceError(
                    f"{service.name} keeps stopping (exit code {code}); see {service.log_path}"
                )
            restarts[service.name] = [*recent, now]
            logger.warning("%s stopped (exit code %s): restarting it", service.name, code)
            print(f"{service.name} stopped (exit code {code}): restarting it", flush=True)
            service.start()
            try:
                service.wait_ready(ready_timeout)
            except ServiceError:
                logger.exception("%s did not come back", service.name)
                continue
            if on_restart is not None:
                on_restart(service)


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def serve(settings: Settings) -> None:
    """Everything ``make run`` promises: train if stale, start, print the addresses, wait.

    The demo knowledge base is loaded and indexed beforehand by ``sportello kb
    seed-demo``; the action server reads the index when it warms up (and builds it from
    SQLite only if it is missing or stale).
    """
    # SIGTERM (a service manager, `kill`) must stop the children too, as Ctrl-C does:
    # they run in their own process groups and would otherwise outlive this process.
    problems = exposure_problems(settings)
    if problems:
        raise ServiceError("\n".join(problems))
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    model = train_model()
    with running_stack(settings, model) as services:
        print(
            "\nSportello is running / Sportello è attivo:\n"
            f"  chat page / pagina chat:      {settings.public_chat_url or settings.web_url}/\n"
            f"  Rasa server (REST, socket.io): {settings.rasa_url}/\n"
            f"  operator console / console:    {settings.console_url}/\n"
            f"  action server:                 {settings.action_url}\n"
            f"  logs / log:                    {run_dir(settings)}\n"
            "Ctrl-C stops everything / Ctrl-C ferma tutto.",
            flush=True,
        )
        if not list_users(open_db(settings.db_path)):
            print(
                "No console user yet / Nessun utente della console: "
                ".venv/bin/sportello users add NAME --role supervisor",
                flush=True,
            )
        try:
            supervise(services, threading.Event())
        except KeyboardInterrupt:
            return
