"""Rasa's SQL tracker store, tuned for SQLite: WAL journal and one reused connection.

Rasa's ``SQLTrackerStore`` on SQLite opens a new connection for every read and every
write (SQLAlchemy's default pool for a SQLite file) in the default rollback-journal
mode with ``synchronous=FULL``: each turn's save pays several fsyncs and each closing
connection a checkpoint, 20-25 ms a turn on this machine (docs/profiling.md). This
store keeps one connection open and puts the file in WAL mode with
``synchronous=NORMAL``, as ``sportello.db`` already is (sportello/db.py): a commit no
longer waits for the disk, readers (the customer-log sync, ``sportello customer
export``) never block it, and a crash of the process loses nothing committed (a power
cut may lose the last transactions, never corrupt the file).

On SQLite it also reads and writes the ``events`` table with plain SQL instead of
SQLAlchemy's ORM: the same table, the same queries (the events since the conversation's
last ``session_started``, in id order) and the same rows, but without building query
objects, counting stored events by loading them through a subquery, and flushing ORM
objects on every save. That ORM work was a quarter of the Rasa server's CPU per turn
under load (docs/profiling.md).

Configured in the endpoints file as ``type: bot.tracker_store.SQLiteTrackerStore`` with
the same keys as ``type: SQL``; on any other dialect (PostgreSQL when scaling out) it
is Rasa's store unchanged.
"""

from __future__ import annotations

import itertools
import json
from contextlib import closing
from typing import Any

import sqlalchemy as sa
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.events import SessionStarted
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import INTENT_NAME_KEY

_SESSION_START = "SELECT max(timestamp) FROM events WHERE sender_id = ? AND type_name = ?"
_EVENTS = "SELECT data FROM events WHERE sender_id = ?"
_SINCE = " AND timestamp >= ?"
_ORDER = " ORDER BY id"
_COUNT = "SELECT count(*) FROM events WHERE sender_id = ?"
_INSERT = (
    "INSERT INTO events (sender_id, type_name, timestamp, intent_name, action_name, data)"
    " VALUES (?, ?, ?, ?, ?, ?)"
)


def _tune_sqlite(dbapi_connection: Any, connection_record: Any) -> None:
    """Per-connection settings (WAL itself is stored in the file; the rest is not)."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


class SQLiteTrackerStore(SQLTrackerStore):
    """``SQLTrackerStore`` keeping its SQLite connection open, in WAL mode."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.engine.dialect.name != "sqlite":
            return
        url = self.engine.url
        self.engine.dispose()
        # Rasa uses the store from its event loop only, one session at a time; the
        # overflow covers anything else without ever blocking.
        self.engine = sa.create_engine(
            url,
            poolclass=sa.pool.QueuePool,
            pool_size=1,
            max_overflow=4,
            connect_args={"check_same_thread": False},
        )
        sa.event.listen(self.engine, "connect", _tune_sqlite)
        self.sessionmaker = sa.orm.session.sessionmaker(bind=self.engine)
        self._plain_sql = True

    _plain_sql = False

    async def _retrieve(
        self, sender_id: str, fetch_events_from_all_sessions: bool
    ) -> DialogueStateTracker | None:
        """Rasa's ``_retrieve``: the latest session's events (or all), oldest first."""
        if not self._plain_sql:
            return await super()._retrieve(sender_id, fetch_events_from_all_sessions)
        with closing(self.engine.raw_connection()) as connection:
            rows = _session_rows(
                connection, _EVENTS, sender_id, fetch_events_from_all_sessions, _ORDER
            )
        events = [json.loads(data) for (data,) in rows]
        if self.domain and events:
            return DialogueStateTracker.from_dict(sender_id, events, self.domain.slots)
        return None

    async def save(self, tracker: DialogueStateTracker) -> None:
        """Rasa's ``save``: append the events of the latest session not stored yet."""
        if not self._plain_sql:
            return await super().save(tracker)
        await self.stream_events(tracker)
        with closing(self.engine.raw_connection()) as connection:
            ((stored,),) = _session_rows(connection, _COUNT, tracker.sender_id, False)
            rows = []
            for event in itertools.islice(tracker.events, stored, None):
                data = event.as_dict()
                intent = data.get("parse_data", {}).get("intent", {}).get(INTENT_NAME_KEY)
                rows.append(
                    (
                        tracker.sender_id,
                        event.type_name,
                        data.get("timestamp"),
                        intent,
                        data.get("name"),
                        json.dumps(data),
                    )
                )
            connection.cursor().executemany(_INSERT, rows)
            connection.commit()


def _session_rows(
    connection: Any, select: str, sender_id: str, all_sessions: bool, then: str = ""
) -> list[tuple[Any, ...]]:
    """Rows of ``select`` for the conversation, since its last ``session_started`` unless
    ``all_sessions``: the filter of Rasa's ``SQLTrackerStore._event_query``."""
    cursor = connection.cursor()
    start = None
    if not all_sessions:
        cursor.execute(_SESSION_START, (sender_id, SessionStarted.type_name))
        (start,) = cursor.fetchone()
    if start is None:
        cursor.execute(select + then, (sender_id,))
    else:
        cursor.execute(select + _SINCE + then, (sender_id, start))
    return cursor.fetchall()
