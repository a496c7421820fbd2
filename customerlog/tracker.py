"""Rasa's tracker store as Sportello reads it: a SQLite file or a PostgreSQL database.

Rasa's SQL tracker store keeps every event of every conversation in one table,
``events`` (``id``, ``sender_id``, ``type_name``, ``timestamp``, ``intent_name``,
``action_name``, ``data``: the event as JSON). ``sportello run`` keeps it in the SQLite
file ``tracker_db_path``; several Rasa servers share it on PostgreSQL
(``SPORTELLO_TRACKER_URL``, docs/scaling.md). The customer log tails it by id
(:mod:`customerlog.turns`), export and erasure read and delete a customer's events and
retention deletes old ones (:mod:`customerlog.erasure`, for :mod:`privacy`): all of
them through :class:`TrackerStore`, which hides what differs between the two. Nothing
else touches Rasa's tables.

Tailing by id needs a safe horizon on PostgreSQL. With one SQLite writer, ids become
visible in order. With several Rasa servers writing PostgreSQL, an id is taken when a
row is inserted but the row is seen only at commit: id 101 can appear after id 102 was
read, and a reader whose position had moved past 102 would never see 101. So the log
reads only up to a *fence*: the highest id that was already visible
:data:`POSTGRES_HORIZON_S` seconds ago, by the database's own clock (:func:`settled`).
Every lower id was taken before that moment, and Rasa commits a save within
milliseconds of inserting its rows (one message's events, one transaction), so by now
each of them is visible or will never be. Event timestamps are no substitute: Rasa sets
them when it creates an event (a customer's message at the start of a turn), not when
it inserts the row, and on the Rasa server's clock.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sportello.db import checkpoint
from sportello.settings import get_settings

SQLITE = "sqlite"
POSTGRESQL = "postgresql"

# How long an id must have been visible before the log reads up to it on PostgreSQL.
# Rasa's transactions last milliseconds; this leaves room for a slow database.
POSTGRES_HORIZON_S = 10.0


class TrackerStoreError(RuntimeError):
    """The tracker store's address cannot be read (unknown scheme, no driver)."""


@dataclass(frozen=True)
class Sighting:
    """The highest event id visible at one moment, on the tracker store's clock (ms)."""

    event_id: int
    at_ms: int


def settled(
    fence: Sighting | None, seen: Sighting, horizon_s: float
) -> tuple[int | None, Sighting]:
    """How far the log may read now, and the fence to keep for next time.

    ``fence`` is the sighting kept from an earlier call, ``seen`` the one just made.
    Returns ``(upto, fence)``: every id up to ``upto`` is final (None: read nothing new
    yet). A fence is kept until it has matured, never replaced by a newer one before,
    or frequent callers would keep it from ever maturing. A clock that went back
    replaces the fence: ``seen`` is a genuine sighting too.
    """
    if horizon_s <= 0:
        return seen.event_id, seen
    if fence is None or seen.at_ms < fence.at_ms:
        return None, seen
    if seen.at_ms - fence.at_ms >= horizon_s * 1000:
        return fence.event_id, seen
    return None, fence


class TrackerStore:
    """An open connection to the tracker store; SQL is written with ``?`` placeholders.

    ``horizon_s`` is how long an id must have been visible before tailing may pass it
    (0 on SQLite: one writer at a time, ids visible in order).
    """

    def __init__(self, conn: Any, dialect: str) -> None:
        self.conn = conn
        self.dialect = dialect
        self.horizon_s = POSTGRES_HORIZON_S if dialect == POSTGRESQL else 0.0

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """Run ``sql`` (``?`` placeholders, no ``?`` or ``%`` inside literals); a cursor."""
        if self.dialect == POSTGRESQL:
            sql = sql.replace("%", "%%").replace("?", "%s")
        return self.conn.execute(sql, tuple(params))

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Statements inside commit together (or not at all)."""
        if self.dialect == POSTGRESQL:
            with self.conn.transaction():
                yield
        else:
            with self.conn:
                yield

    def has_events(self) -> bool:
        """Whether Rasa has created its ``events`` table yet (it does on first start)."""
        if self.dialect == POSTGRESQL:
            sql = "SELECT to_regclass('events') IS NOT NULL"
        else:
            sql = "SELECT COUNT(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = 'events'"
        return bool(self.execute(sql).fetchone()[0])

    def sighting(self) -> Sighting:
        """The highest id visible now. On PostgreSQL the time is the server's, read
        after the statement's snapshot, so that every id up to it was taken before."""
        if self.dialect == POSTGRESQL:
            top, at_ms = self.execute(
                "SELECT COALESCE(MAX(id), 0), "
                "(EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::bigint FROM events"
            ).fetchone()
            return Sighting(int(top), int(at_ms))
        top = self.execute("SELECT COALESCE(MAX(id), 0) FROM events").fetchone()[0]
        return Sighting(int(top), int(time.time() * 1000))

    def events_after(self, mark: int, upto: int, limit: int) -> list[tuple[int, str, str]]:
        """``(id, sender_id, data)`` of the events with ``mark < id <= upto``, by id."""
        return [
            (int(event_id), sender, data)
            for event_id, sender, data in self.execute(
                "SELECT id, sender_id, data FROM events WHERE id > ? AND id <= ? "
                "ORDER BY id LIMIT ?",
                (mark, upto, limit),
            ).fetchall()
        ]

    def events_of(self, senders: Sequence[str]) -> list[tuple[str, str]]:
        """``(sender_id, data)`` of every event of these conversations, by id."""
        rows: list[tuple[int, str, str]] = []
        for chunk in _chunks(senders):
            marks = ", ".join("?" for _ in chunk)
            rows += self.execute(
                f"SELECT id, sender_id, data FROM events WHERE sender_id IN ({marks})", chunk
            ).fetchall()
        return [(sender, data) for _, sender, data in sorted(rows)]

    def delete_events(
        self, *, before: float | None = None, senders: Sequence[str] = ()
    ) -> tuple[int, int]:
        """Delete the events older than ``before`` (a Unix time) and those of ``senders``,
        in one transaction; returns (rows deleted, the highest id left).

        On SQLite the WAL is checkpointed after a deletion: it still holds the deleted
        events' pages, and a deletion here is erasure or retention.
        """
        deleted = 0
        with self.transaction():
            if before is not None:
                deleted += self.execute(
                    "DELETE FROM events WHERE timestamp < ?", (before,)
                ).rowcount
            for chunk in _chunks(senders):
                marks = ", ".join("?" for _ in chunk)
                deleted += self.execute(
                    f"DELETE FROM events WHERE sender_id IN ({marks})", chunk
                ).rowcount
            highest = self.execute("SELECT COALESCE(MAX(id), 0) FROM events").fetchone()[0]
        if deleted and self.dialect == SQLITE:
            checkpoint(self.conn)
        return deleted, int(highest)


def _chunks(values: Sequence[str], size: int = 500) -> Iterator[list[str]]:
    """Runs of at most ``size`` values: SQLite limits the parameters of one statement."""
    for start in range(0, len(values), size):
        yield list(values[start : start + size])


def connect_postgres(url: str) -> Any:
    """A connection (autocommit: each read sees what is committed now) to ``url``."""
    try:
        import psycopg
    except ImportError as exc:
        raise TrackerStoreError(
            "SPORTELLO_TRACKER_URL names PostgreSQL but psycopg is not installed "
            '(pip install "psycopg[binary]==3.3.9")'
        ) from exc
    return psycopg.connect(
        url, autocommit=True, connect_timeout=10, application_name="sportello-customer-log"
    )


def parse_location(where: str | Path) -> tuple[str, str | Path]:
    """``(dialect, address)`` of a tracker store named by a SQLite file path or an
    SQLAlchemy-style URL (``postgresql://user:password@host:5432/rasa``,
    ``postgresql+psycopg2://…``, ``sqlite:////abs/tracker.db``).

    PostgreSQL URLs are handed to libpq without the driver part, so its parameters
    work (``?sslmode=require``, ``?options=-csearch_path%3Dschema`` for Rasa's
    ``POSTGRESQL_SCHEMA``).
    """
    if isinstance(where, Path):
        return SQLITE, where
    scheme, sep, rest = where.partition("://")
    if not sep:
        return SQLITE, Path(where)
    base = scheme.split("+", 1)[0].lower()
    if base in ("postgresql", "postgres"):
        return POSTGRESQL, f"postgresql://{rest}"
    if base == SQLITE:
        path = rest[1:].split("?", 1)[0]  # sqlite:///relative, sqlite:////absolute
        if not path:
            raise TrackerStoreError("an in-memory SQLite tracker store cannot be shared")
        return SQLITE, Path(path)
    raise TrackerStoreError(
        f"unsupported tracker store {scheme!r}: use postgresql://… or sqlite:///…"
    )


@contextmanager
def tracker_store(where: str | Path | None = None) -> Iterator[TrackerStore | None]:
    """Rasa's tracker store (default: the configured one), or None while it holds no
    ``events`` table yet (Rasa creates it on its first start). Never creates a SQLite
    file itself; an unreachable PostgreSQL raises (``psycopg.OperationalError``)."""
    dialect, address = parse_location(where if where is not None else get_settings().tracker_store)
    if isinstance(address, Path):
        if not address.exists():
            yield None
            return
        conn = sqlite3.connect(address, timeout=10)
        conn.execute("PRAGMA secure_delete=ON")  # deletions are erasure (sportello/db.py)
    else:
        conn = connect_postgres(address)
    try:
        store = TrackerStore(conn, dialect)
        yield store if store.has_events() else None
    finally:
        conn.close()
