"""Numbered schema migrations, applied once per database, all in one write transaction.

Each package that owns tables keeps its schema history in its own ``migrations.py``: a
:class:`sqlite_utils.Migrations` set named after the package, whose functions are
named ``0001_initial``, ``0002_…`` in the order they must run. sqlite-utils records the
migrations applied in the ``_sqlite_migrations`` table (set, name, when), so a database
says which version of each package's schema it has, and nothing has to check the
schema on every read.

:func:`apply` takes the write lock first (``BEGIN IMMEDIATE``) and only then looks at
what is pending: of two processes starting together, the second waits for the first
and then finds nothing left to do. Every migration of every set commits together, or
none does (sqlite-utils runs each one in a savepoint inside that transaction).

A new schema change is a new numbered function at the end of the owner's
``migrations.py``; a migration that has been released is never edited.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import sqlite_utils
from sqlite_utils import Migrations

from sportello.db import write_transaction

NAME_PATTERN = re.compile(r"(\d{4})_[a-z0-9_]+")


class MigrationOrderError(ValueError):
    """A migration set whose names are not ``0001_…``, ``0002_…`` in order."""


def check_numbering(migrations: Migrations) -> None:
    """Raise :class:`MigrationOrderError` unless the set's migrations are numbered from
    ``0001`` without gaps, in the order they were declared (the order they run in)."""
    for expected, migration in enumerate(migrations._migrations, start=1):
        match = NAME_PATTERN.fullmatch(migration.name)
        if match is None or int(match.group(1)) != expected:
            raise MigrationOrderError(
                f"migration {migrations.name}/{migration.name}: expected a name "
                f"'{expected:04d}_<what_it_does>'"
            )


def pending(db: sqlite_utils.Database, sets: Sequence[Migrations]) -> list[str]:
    """The migrations not yet applied, as ``set/name``, in the order they would run.

    Reads only: a database nothing was ever applied to lists every migration.
    """
    return [f"{s.name}/{m.name}" for s in sets for m in s.pending(db)]


def apply(db: sqlite_utils.Database, sets: Sequence[Migrations]) -> list[str]:
    """Apply the pending migrations of ``sets``, in order, in one write transaction.

    Returns what was applied (``set/name``); an empty list when the database was up to
    date. A migration that fails rolls back everything this call did and is raised.
    """
    for migrations in sets:
        check_numbering(migrations)
    with write_transaction(db):
        done = pending(db, sets)
        for migrations in sets:
            migrations.apply(db)
    return done
