"""Opening the SQLite database the same way everywhere.

Every process (action server, console, command line, tests) goes through here so that
all of them use WAL journaling (readers never block the writer), wait for a busy lock
instead of failing, and enforce foreign keys. A crash between two writes then leaves the
database at the last committed transaction: nothing half-written.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlite_utils

from sportello.settings import get_settings


def open_db(path: Path | str | None = None) -> sqlite_utils.Database:
    """The database at ``path`` (default: the configured one), created if missing."""
    db_path = Path(path) if path is not None else get_settings().db_path
    db_path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite_utils.Database(db_path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA busy_timeout=5000")
    db.execute("PRAGMA foreign_keys=ON")
    db.execute("PRAGMA synchronous=NORMAL")
    return db


@contextmanager
def write_transaction(db: sqlite_utils.Database) -> Iterator[sqlite3.Connection]:
    """A transaction that takes the write lock up front (waiting for it up to the busy
    timeout), so that check-then-write sequences are atomic and never fail with
    "database is locked" when a read would have to be upgraded to a write."""
    conn = db.conn
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
