"""Opening the SQLite database the same way everywhere.

Every process (action server, console, command line, tests) goes through here so that
all of them use WAL journaling (readers never block the writer), wait for a busy lock
instead of failing, and enforce foreign keys. A crash between two writes then leaves the
database at the last committed transaction: nothing half-written.

Deleted rows are overwritten with zeros (``secure_delete``), so a customer's erased text
does not survive in the file's free pages; :func:`checkpoint` also empties the WAL file,
which still holds the pages as they were before. Only the owner may read the files (0600,
the folder 0700): they hold customers' conversations.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlite_utils

from sportello.settings import get_settings


def open_db(path: Path | str | None = None, *, any_thread: bool = False) -> sqlite_utils.Database:
    """The database at ``path`` (default: the configured one), created if missing.

    ``any_thread`` lets the connection be used from a thread other than the one that
    opened it, one thread at a time: the console's per-request connection is opened by
    FastAPI in one worker thread and used by the route in another. Never share such a
    connection between requests or threads running at once.
    """
    db_path = Path(path) if path is not None else get_settings().db_path
    db_path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    if not db_path.exists():
        # SQLite creates the file (and later its -wal and -shm) with the permissions of
        # the database file: create it private first.
        os.close(os.open(db_path, os.O_WRONLY | os.O_CREAT, 0o600))
    db = sqlite_utils.Database(sqlite3.connect(db_path, check_same_thread=not any_thread))
    db.execute("PRAGMA secure_delete=ON")
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA busy_timeout=5000")
    db.execute("PRAGMA foreign_keys=ON")
    db.execute("PRAGMA synchronous=NORMAL")
    return db


def checkpoint(conn: sqlite3.Connection | sqlite_utils.Database) -> None:
    """Copy the WAL into the database and empty it, so that pages as they were before a
    deletion leave the disk (best effort: a reader still using them keeps the WAL)."""
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")


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
