"""Test databases, opened the way every process opens one: created, then migrated.

Nothing in the library creates tables on a read any more (schema changes are numbered
migrations, applied at start-up: :mod:`stack.database`), so a test opens its database
here, never with :func:`sportello.db.open_db` alone.
"""

from __future__ import annotations

from pathlib import Path

import sqlite_utils

from stack.database import prepare


def open_db(path_or_tmp: Path | str | None = None) -> sqlite_utils.Database:
    """The database at ``path_or_tmp`` migrated to the current schema.

    A directory (pytest's ``tmp_path``) holds a ``sportello.db``; ``None`` is the
    configured database (``SPORTELLO_DATA_DIR``), as the command line opens it.
    """
    path = Path(path_or_tmp) if path_or_tmp is not None else None
    if path is not None and path.is_dir():
        path = path / "sportello.db"
    return prepare(path)
