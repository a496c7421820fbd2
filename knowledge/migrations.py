"""The knowledge base's schema history: ``articles``, ``article_history``, ``kb_state``
and ``phrasing_proposals``, with the triggers that keep the history and the change counter.

Applied once by :mod:`stack.database` at start-up. A migration that has been released is
never edited: a schema change is a new numbered function at the end of this file. Table
names are written out here, not taken from the modules' constants, so that a migration
keeps meaning what it meant when it was released.
"""

from __future__ import annotations

import sqlite_utils
from sqlite_utils import Migrations

migrations = Migrations("knowledge")

_SNAPSHOT_COLUMNS = (
    "id", "lang", "question", "alt_questions", "answer", "tags", "source", "status",
    "updated_at", "updated_by",
)  # fmt: skip


@migrations(name="0001_initial")
def initial(db: sqlite_utils.Database) -> None:
    """The schema of the release before numbered migrations (6c15e6c).

    The floor: it accepts a fresh database and one made by an earlier release, whose
    tables it keeps, adding only what they lack (``articles.updated_by``, the history
    table and its triggers came after the first release).
    """
    tables = set(db.table_names())
    if "articles" not in tables:
        db["articles"].create(
            {
                "id": str,
                "lang": str,
                "question": str,
                "alt_questions": str,
                "answer": str,
                "tags": str,
                "source": str,
                "status": str,
                "created_at": str,
                "updated_at": str,
            },
            pk=("id", "lang"),
            not_null={"id", "lang", "question", "answer", "status"},
        )
        db["articles"].create_index(["status"], if_not_exists=True)
    if "updated_by" not in db["articles"].columns_dict:
        db.execute("ALTER TABLE articles ADD COLUMN updated_by TEXT")
    if "article_history" not in tables:
        db.execute(
            """CREATE TABLE article_history (
                id TEXT NOT NULL, lang TEXT NOT NULL, version INTEGER NOT NULL,
                question TEXT, alt_questions TEXT, answer TEXT, tags TEXT, source TEXT,
                status TEXT, updated_at TEXT, updated_by TEXT,
                PRIMARY KEY (id, lang, version))"""
        )
    columns = ", ".join(_SNAPSHOT_COLUMNS)
    values = ", ".join(f"NEW.{c}" for c in _SNAPSHOT_COLUMNS)
    for event in ("INSERT", "UPDATE"):
        db.execute(
            f"CREATE TRIGGER IF NOT EXISTS articles_{event.lower()}_history "
            f"AFTER {event} ON articles BEGIN "
            f"INSERT INTO article_history (version, {columns}) VALUES ("
            f"(SELECT COALESCE(MAX(version), 0) + 1 FROM article_history "
            f"WHERE id = NEW.id AND lang = NEW.lang), {values}); END"
        )
    if "kb_state" not in tables:
        db["kb_state"].create({"key": str, "version": int}, pk="key")
        db["kb_state"].insert({"key": "articles", "version": 0}, ignore=True)
    for event in ("INSERT", "UPDATE", "DELETE"):
        db.execute(
            f"CREATE TRIGGER IF NOT EXISTS articles_{event.lower()}_bump "
            f"AFTER {event} ON articles BEGIN "
            f"UPDATE kb_state SET version = version + 1 WHERE key = 'articles'; END"
        )
    if "phrasing_proposals" not in tables:
        db["phrasing_proposals"].create(
            {
                "id": int,
                "article_id": str,
                "lang": str,
                "text": str,
                "norm": str,
                "source": str,
                "status": str,
                "votes": int,
                "refs": str,
                "first_at": str,
                "last_at": str,
                "decided_by": str,
                "decided_at": str,
            },
            pk="id",
            not_null={"article_id", "lang", "text", "norm", "status"},
        )
        db["phrasing_proposals"].create_index(
            ["article_id", "lang", "norm"], unique=True, if_not_exists=True
        )
        db["phrasing_proposals"].create_index(["status"], if_not_exists=True)
