"""Sportello scaled out on one machine: throwaway PostgreSQL and Redis on loopback, and
several Rasa servers that share them and one action server.

This is the shape ``docs/scaling.md`` describes for a company that outgrows one
machine, squeezed onto loopback: every Rasa server keeps conversations in Rasa's SQL
tracker store on PostgreSQL and takes Rasa's Redis lock store, so any of them can
answer any message of any conversation. The smoke test
(``tests/integration/test_scale_out.py``) and the measurement (``bench/scaleout.py``)
both start it through :func:`running_scale_out`, and the processes are built by
:func:`stack.services.build_services`, the code ``sportello run`` uses; only the
Rasa server's endpoints file differs.

PostgreSQL refuses to run as root, so as root the cluster runs as Debian's
``postgres`` user, in a directory of its own under the system temporary folder (a
pytest ``tmp_path`` is not reachable by another user). Nothing listens beyond
127.0.0.1 and a unix socket in that directory; everything started is stopped, and the
directory removed, on exit.
"""

from __future__ import annotations

import dataclasses
import glob
import json
import os
import pwd
import re
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from bench.ports import free_port
from bench.speed import seed_demo
from sportello.settings import Settings
from stack.services import (
    Service,
    build_services,
    tracker_store_yaml,
    wait_model_loaded,
)

# `make test` sets this: there missing PostgreSQL or Redis binaries fail the smoke test
# instead of skipping it, so CI cannot pass without having run it.
REQUIRE_ENV = "SPORTELLO_REQUIRE_SCALE_OUT"
PG_USER = "sportello"
PG_DATABASE = "rasa"
# Rasa's lock keys become "<prefix>:lock:<conversation id>" (the prefix must be alphanumeric).
LOCK_KEY_PREFIX = "sportello"
LOCK_KEY = f"{LOCK_KEY_PREFIX}:lock:"
# The lock store of the shared Rasa servers: Sportello's atomic version of Rasa's Redis
# lock store (bot/lock_store.py; Rasa's own loses messages, RasaHQ/rasa#9213).
LOCK_STORE = "bot.lock_store.AtomicRedisLockStore"
# Unlikely to clash with a separator inside a stored event (JSON escapes control characters).
_FIELD_SEP, _RECORD_SEP = "\x1f", "\x1e"


class ScaleOutError(RuntimeError):
    """A server of the scaled-out stack did not start or answer; the message says which."""


# ---- binaries --------------------------------------------------------------------------------
def postgres_bin(name: str) -> str | None:
    """A PostgreSQL program: on the PATH (Debian's are linked into /usr/local/bin here), or
    in Debian's versioned folder, newest first."""
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)
    return candidates[0] if candidates else None


def missing_binaries() -> list[str]:
    """What is missing to start PostgreSQL and Redis here, each with how to get it."""
    missing = [
        f"{name} not found (Debian: apt-get install postgresql)"
        for name in ("initdb", "postgres", "psql")
        if postgres_bin(name) is None
    ]
    missing += [
        f"{name} not found (Debian: apt-get install redis-server)"
        for name in ("redis-server", "redis-cli")
        if shutil.which(name) is None
    ]
    if os.geteuid() == 0 and not _user_exists("postgres"):
        missing.append("running as root and no 'postgres' user to run PostgreSQL as")
    return missing


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def _stop(process: subprocess.Popen[bytes], sig: int = signal.SIGTERM, timeout: float = 20) -> None:
    """Stop a server started in its own session, and everything it forked."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, sig)
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=5)
    except ProcessLookupError:
        pass


def _wait(
    ready: Callable[[], bool],
    process: subprocess.Popen[bytes],
    name: str,
    log: Path,
    timeout: float,
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ScaleOutError(f"{name} exited with code {process.returncode}; see {log}")
        if ready():
            return
        time.sleep(0.2)
    raise ScaleOutError(f"{name} not ready after {timeout:.0f} s; see {log}")


# ---- PostgreSQL ------------------------------------------------------------------------------
@dataclass
class Postgres:
    """A running throwaway cluster: TCP on 127.0.0.1, a unix socket in ``socket_dir``."""

    host: str
    port: int
    socket_dir: Path
    user: str = PG_USER
    database: str = PG_DATABASE
    process: subprocess.Popen[bytes] | None = None

    def query(self, sql: str, database: str | None = None, **params: str) -> list[list[str]]:
        """Rows of ``sql`` as text, through psql over the unix socket.

        ``params`` become psql variables, so values are quoted by psql
        (``:'name'`` in the SQL), never pasted into it.
        """
        argv = [
            str(postgres_bin("psql")),
            "--no-psqlrc", "-X", "-q", "-A", "-t",
            "-v", "ON_ERROR_STOP=1",
            "-F", _FIELD_SEP, "-R", _RECORD_SEP,
            "-h", str(self.socket_dir), "-p", str(self.port),
            "-U", self.user, "-d", database or self.database,
        ]  # fmt: skip
        for name, value in params.items():
            argv += ["-v", f"{name}={value}"]
        done = subprocess.run(argv, input=sql, capture_output=True, text=True, timeout=30)
        if done.returncode != 0:
            raise ScaleOutError(f"psql failed: {done.stderr.strip()}")
        out = done.stdout.rstrip("\n")
        return [record.split(_FIELD_SEP) for record in out.split(_RECORD_SEP) if record]

    @property
    def url(self) -> str:
        """The SPORTELLO_TRACKER_URL naming this cluster's database (TCP, no password)."""
        return f"postgresql://{self.user}@{self.host}:{self.port}/{self.database}"

    def events(self, conversation_id: str) -> list[dict]:
        """Rasa's stored events of one conversation, oldest first (its ``events`` table)."""
        rows = self.query(
            "SELECT data FROM events WHERE sender_id = :'sender' ORDER BY id",
            sender=conversation_id,
        )
        return [json.loads(row[0]) for row in rows]

    def is_ready(self) -> bool:
        try:
            return self.query("SELECT 1", database="postgres") == [["1"]]
        except (ScaleOutError, subprocess.TimeoutExpired):
            return False


@contextmanager
def running_postgres(*, durable: bool = False, timeout: float = 60) -> Iterator[Postgres]:
    """A new PostgreSQL cluster with an empty database ``rasa``; removed on exit.

    ``durable=False`` (the smoke test) switches off fsync: the data is thrown away
    anyway. The benchmark keeps PostgreSQL's defaults, as a company would run it.
    """
    workdir = Path(tempfile.mkdtemp(prefix="sportello-pg-"))
    run_as = "postgres" if os.geteuid() == 0 else None
    try:
        if run_as:
            shutil.chown(workdir, user=run_as, group=run_as)
        log = workdir / "postgres.log"
        init = subprocess.run(
            [
                str(postgres_bin("initdb")), "-D", str(workdir / "data"), "-U", PG_USER,
                "--auth=trust", "--encoding=UTF8", "--locale=C.UTF-8", "--no-sync",
            ],
            user=run_as, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        if init.returncode != 0:
            raise ScaleOutError(f"initdb failed: {init.stderr.strip()}")
        server = Postgres(host="127.0.0.1", port=free_port(), socket_dir=workdir)
        settings = [] if durable else ["-c", "fsync=off", "-c", "synchronous_commit=off"]
        with log.open("ab") as out:
            server.process = subprocess.Popen(
                [
                    str(postgres_bin("postgres")), "-D", str(workdir / "data"),
                    "-h", server.host, "-p", str(server.port), "-k", str(workdir),
                    "-c", "max_connections=100", *settings,
                ],
                user=run_as, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        try:
            _wait(server.is_ready, server.process, "PostgreSQL", log, timeout)
            server.query(f"CREATE DATABASE {PG_DATABASE}", database="postgres")
            yield server
        finally:
            _stop(server.process, signal.SIGINT)  # SIGINT: PostgreSQL's fast shutdown
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


# ---- Redis -----------------------------------------------------------------------------------
@dataclass
class Redis:
    """A running redis-server on 127.0.0.1 (no persistence: locks live seconds)."""

    host: str
    port: int
    process: subprocess.Popen[bytes] | None = None

    def cli(self, *args: str) -> str:
        done = subprocess.run(
            ["redis-cli", "-h", self.host, "-p", str(self.port), *args],
            capture_output=True,
            text=True,
            timeout=10,
        )
        if done.returncode != 0:
            raise ScaleOutError(f"redis-cli {' '.join(args)} failed: {done.stderr.strip()}")
        return done.stdout.strip()

    def command_calls(self) -> dict[str, int]:
        """Calls per command since start (``INFO commandstats``), e.g. ``{"set": 12}``."""
        return parse_commandstats(self.cli("INFO", "commandstats"))

    @contextmanager
    def monitoring(self, path: Path) -> Iterator[Path]:
        """Every command Redis receives meanwhile, one per line in ``path`` (MONITOR)."""
        with path.open("wb") as out:
            monitor = subprocess.Popen(
                ["redis-cli", "-h", self.host, "-p", str(self.port), "MONITOR"],
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            deadline = time.monotonic() + 10
            while b"OK" not in path.read_bytes() and time.monotonic() < deadline:
                time.sleep(0.05)
            yield path
        finally:
            time.sleep(0.2)  # the last commands reach the monitor
            _stop(monitor)


def lock_writes(monitor_log: str, conversation_id: str) -> list[tuple[str, int]]:
    """The lock store's writes of one conversation's lock seen by MONITOR, in order:
    ``("set", tickets in the stored lock)`` or ``("del", 0)``. A lock stored with two
    tickets means a second message queued behind the first."""
    pattern = re.compile(
        rf'"(set|del)" "{re.escape(LOCK_KEY + conversation_id)}"(.*)$', re.IGNORECASE
    )
    writes = []
    for line in monitor_log.splitlines():
        found = pattern.search(line)
        if found:
            command = found.group(1).lower()
            writes.append((command, found.group(2).count("number") if command == "set" else 0))
    return writes


def parse_commandstats(info: str) -> dict[str, int]:
    """``cmdstat_set:calls=3,usec=...`` lines -> ``{"set": 3}``."""
    calls = {}
    for line in info.splitlines():
        if line.startswith("cmdstat_") and ":" in line:
            name, fields = line[len("cmdstat_") :].split(":", 1)
            values = dict(part.split("=", 1) for part in fields.split(",") if "=" in part)
            calls[name] = int(values.get("calls", 0))
    return calls


@contextmanager
def running_redis(workdir: Path, timeout: float = 30) -> Iterator[Redis]:
    """A redis-server on a free loopback port, stopped on exit."""
    workdir.mkdir(parents=True, exist_ok=True)
    server = Redis(host="127.0.0.1", port=free_port())
    log = workdir / "redis.log"
    with log.open("ab") as out:
        server.process = subprocess.Popen(
            [
                "redis-server", "--bind", server.host, "--port", str(server.port),
                "--save", "", "--appendonly", "no", "--dir", str(workdir),
                "--protected-mode", "yes",
            ],
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip

    def ready() -> bool:
        try:
            return server.cli("PING") == "PONG"
        except (ScaleOutError, subprocess.TimeoutExpired):
            return False

    try:
        _wait(ready, server.process, "Redis", log, timeout)
        yield server
    finally:
        _stop(server.process)


# ---- Rasa servers sharing them ---------------------------------------------------------------
def scale_out_endpoints(
    action_url: str,
    postgres: Postgres,
    redis: Redis,
    lock_store: str = LOCK_STORE,
    sqlite_tracker: Path | None = None,
) -> str:
    """Rasa's endpoints file for a Rasa server of several: the SQL tracker store on
    PostgreSQL and a lock store in Redis (the snippet docs/scaling.md shows).

    With ``sqlite_tracker``, the tracker store is that SQLite file instead, shared by
    every Rasa server of one machine (docs/scaling.md, "Several Rasa processes on one
    machine").
    """
    where = postgres.url if sqlite_tracker is None else f"sqlite:///{sqlite_tracker}"
    # The tracker store section `sportello run` writes for SPORTELLO_TRACKER_URL.
    tracker = tracker_store_yaml(Settings(tracker_url=where))
    return (
        "# Generated for a scaled-out test run (bench/scaleout_stack.py).\n"
        "action_endpoint:\n"
        f'  url: "{action_url}"\n'
        f"{tracker}"
        "lock_store:\n"
        f'  type: "{lock_store}"\n'
        f'  url: "{redis.host}"\n'
        f"  port: {redis.port}\n"
        "  db: 1\n"
        f'  key_prefix: "{LOCK_KEY_PREFIX}"\n'
    )


def rasa_server(settings: Settings, model: Path, endpoints: Path | None = None) -> Service:
    """The Rasa server ``sportello run`` would start for ``settings``, with another
    endpoints file if given (None: the shipped SQLite tracker store, in-memory locks)."""
    [service] = [s for s in build_services(settings, model) if s.name == "Rasa server"]
    if endpoints is not None:
        service.argv[service.argv.index("--endpoints") + 1] = str(endpoints)
    return service


@dataclass
class ScaleOut:
    """The running scaled-out stack: ``settings`` is the shared data directory and action
    server; ``rasa`` holds one Settings per Rasa server (its port, its run folder)."""

    settings: Settings
    rasa: list[Settings]
    postgres: Postgres
    redis: Redis
    services: list[Service] = field(default_factory=list)

    @property
    def rasa_urls(self) -> list[str]:
        return [s.rasa_url for s in self.rasa]

    def service(self, name: str) -> Service:
        [found] = [s for s in self.services if s.name == name]
        return found


@contextmanager
def running_scale_out(
    workdir: Path,
    model: Path,
    rasa_servers: int = 2,
    *,
    durable: bool = False,
    sqlite_shared: int = 0,
    extra_rasa: Sequence[str] = (),
    lock_store: str = LOCK_STORE,
    timeout: float = 300,
) -> Iterator[ScaleOut]:
    """PostgreSQL, Redis, one action server and ``rasa_servers`` Rasa servers sharing them.

    ``sqlite_shared`` further Rasa servers (named ``Rasa server S1``, ``S2``...) share one
    SQLite tracker store file and the Redis lock store: several Rasa processes on one
    machine without PostgreSQL. They follow the PostgreSQL ones in :attr:`ScaleOut.rasa`.
    ``extra_rasa`` names further Rasa servers started with the shipped single-machine
    endpoints (SQLite tracker store, in-memory locks), for comparison; they are listed
    after the shared ones in :attr:`ScaleOut.rasa` and named ``Rasa server <name>``.
    Everything is stopped on exit, also when start-up fails half-way.
    """
    settings = Settings(
        data_dir=workdir / "data",
        rasa_port=free_port(),
        action_port=free_port(),
        web_port=free_port(),
        console_port=free_port(),
        rasa_token=secrets.token_hex(12),
    )
    seed_demo(settings)
    with ExitStack() as stack:
        postgres = stack.enter_context(running_postgres(durable=durable))
        redis = stack.enter_context(running_redis(workdir / "redis"))
        [action] = [s for s in build_services(settings, model) if s.name == "action server"]
        endpoints = workdir / "endpoints-scale-out.yml"
        endpoints.write_text(scale_out_endpoints(settings.action_url, postgres, redis, lock_store))
        sqlite_endpoints = workdir / "endpoints-sqlite-shared.yml"
        sqlite_endpoints.write_text(
            scale_out_endpoints(
                settings.action_url, postgres, redis, lock_store, workdir / "shared-tracker.db"
            )
        )
        out = ScaleOut(settings=settings, rasa=[], postgres=postgres, redis=redis)
        names = (
            [str(i + 1) for i in range(rasa_servers)]
            + [f"S{i + 1}" for i in range(sqlite_shared)]
            + list(extra_rasa)
        )
        for i, name in enumerate(names):
            own = dataclasses.replace(
                settings,
                data_dir=workdir / f"rasa-{name}",
                rasa_port=settings.rasa_port if i == 0 else free_port(),
            )
            if i < rasa_servers:
                chosen: Path | None = endpoints
            elif i < rasa_servers + sqlite_shared:
                chosen = sqlite_endpoints
            else:
                chosen = None
            service = rasa_server(own, model, chosen)
            service.name = f"Rasa server {name}"
            out.rasa.append(own)
            out.services.append(service)
        out.services.insert(0, action)

        def stop_all() -> None:
            for service in reversed(out.services):
                service.stop()

        stack.callback(stop_all)
        for service in out.services:
            service.start()
        for service in out.services:
            service.wait_ready(timeout)
        for own in out.rasa:
            wait_model_loaded(own, timeout)
        yield out
