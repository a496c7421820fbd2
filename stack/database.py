"""The database's schema, brought up to date once when a process starts.

Every package that owns tables in ``sportello.db`` keeps its numbered migrations in its
own ``migrations.py``; :data:`MIGRATIONS` lists them in the order they run, a package
after those it reads: knowledge, identity, customerlog, desk (the desk's ``customer_log``
view reads the log's turns). Every
process that opens the database (action server, console, monitor, ``sportello run``,
the command line, the benchmarks) calls :func:`prepare` once at start-up; ``sportello
migrate`` does the same on demand. Nothing checks the schema on every read.

Rasa's own tracker store (``tracker.db``) is Rasa's: it is not migrated here.
"""

from __future__ import annotations

from pathlib import Path

import sqlite_utils
from sqlite_utils import Migrations

import customerlog.migrations
import desk.migrations
import identity.migrations
import knowledge.migrations
from sportello import migrations
from sportello.db import open_db

MIGRATIONS: tuple[Migrations, ...] = (
    knowledge.migrations.migrations,
    identity.migrations.migrations,
    customerlog.migrations.migrations,
    desk.migrations.migrations,
)


def migrate(db: sqlite_utils.Database) -> list[str]:
    """Apply every pending migration (``set/name`` returned, in order); one transaction."""
    return migrations.apply(db, MIGRATIONS)


def pending(db: sqlite_utils.Database) -> list[str]:
    """The migrations :func:`migrate` would apply, as ``set/name``; reads only."""
    return migrations.pending(db, MIGRATIONS)


def prepare(path: Path | str | None = None) -> sqlite_utils.Database:
    """The database at ``path`` (default: the configured one), created if missing and
    migrated to the current schema: what every process opens first."""
    db = open_db(path)
    migrate(db)
    return db
