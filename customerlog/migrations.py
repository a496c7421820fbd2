"""The customer log's schema history: ``log_turns``, ``ratings``, ``rating_requests`` and
``log_state`` (described in :mod:`customerlog.schema`).

Applied once by :mod:`stack.database` at start-up. A migration that has been released is
never edited: a schema change is a new numbered function at the end of this file.
"""

from __future__ import annotations

import sqlite_utils
from sqlite_utils import Migrations

migrations = Migrations("customerlog")

_INITIAL_SQL = """
CREATE TABLE IF NOT EXISTS log_turns (
    id INTEGER PRIMARY KEY,
    event_id INTEGER UNIQUE,
    conversation_id TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    channel TEXT,
    lang TEXT,
    at TEXT NOT NULL,
    kind TEXT NOT NULL,
    text TEXT NOT NULL DEFAULT '',
    intent TEXT,
    intent_confidence REAL,
    reply TEXT NOT NULL DEFAULT '',
    decision TEXT,
    article_id TEXT,
    confidence REAL,
    ticket_id INTEGER
);
CREATE INDEX IF NOT EXISTS log_turns_conversation ON log_turns(conversation_id, id);
CREATE INDEX IF NOT EXISTS log_turns_customer ON log_turns(customer_id);
CREATE INDEX IF NOT EXISTS log_turns_at ON log_turns(at);
CREATE TABLE IF NOT EXISTS ratings (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    value INTEGER NOT NULL,
    target_type TEXT NOT NULL,
    target_id TEXT NOT NULL,
    article_lang TEXT,
    session TEXT,
    conversation_id TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    channel TEXT,
    lang TEXT,
    at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS ratings_target ON ratings(target_type, target_id);
CREATE INDEX IF NOT EXISTS ratings_customer ON ratings(customer_id);
CREATE TABLE IF NOT EXISTS rating_requests (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    target_type TEXT NOT NULL,
    target_id TEXT NOT NULL,
    session TEXT NOT NULL DEFAULT '',
    conversation_id TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    asked_at TEXT NOT NULL,
    status TEXT NOT NULL,
    answered_at TEXT,
    UNIQUE (kind, target_type, target_id, session)
);
CREATE INDEX IF NOT EXISTS rating_requests_customer ON rating_requests(customer_id, kind, asked_at);
CREATE TABLE IF NOT EXISTS log_state (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
"""


@migrations(name="0001_initial")
def initial(db: sqlite_utils.Database) -> None:
    """The schema of the release before numbered migrations (6c15e6c); the tables and
    indexes a database made by that release already has are kept as they are."""
    for statement in _INITIAL_SQL.split(";"):
        if statement.strip():
            db.execute(statement)
