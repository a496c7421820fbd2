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

Configured in the endpoints file as ``type: bot.tracker_store.SQLiteTrackerStore`` with
the same keys as ``type: SQL``; on any other dialect (PostgreSQL when scaling out) it
is Rasa's store unchanged.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from rasa.core.tracker_store import SQLTrackerStore


def _tune_sqlite(dbapi_connection: Any, connection_record: Any) -> None:
    """Per-connection settings (WAL itself is stored in the file; the rest is not)."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
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
