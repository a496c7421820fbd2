"""The identity tables' schema history (``identity_*``, described in :mod:`identity.schema`).

Applied once by :mod:`stack.database` at start-up. A migration that has been released is
never edited: a schema change is a new numbered function at the end of this file.
"""

from __future__ import annotations

import sqlite_utils
from sqlite_utils import Migrations

migrations = Migrations("identity")

_INITIAL_SQL = """
CREATE TABLE IF NOT EXISTS identity_profiles (
    id TEXT PRIMARY KEY,
    created_at TEXT NOT NULL,
    merged_into TEXT
);
CREATE TABLE IF NOT EXISTS identity_channels (
    channel_id TEXT PRIMARY KEY,
    profile_id TEXT NOT NULL REFERENCES identity_profiles(id),
    channel TEXT,
    first_seen TEXT NOT NULL,
    last_seen TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS identity_channels_profile ON identity_channels(profile_id);
CREATE TABLE IF NOT EXISTS identity_conversations (
    conversation_id TEXT PRIMARY KEY,
    channel_id TEXT NOT NULL,
    channel TEXT,
    first_seen TEXT NOT NULL,
    last_seen TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS identity_conversations_channel ON identity_conversations(channel_id);
CREATE TABLE IF NOT EXISTS identity_contacts (
    channel_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    value TEXT NOT NULL,
    verified INTEGER NOT NULL DEFAULT 0,
    first_seen TEXT NOT NULL,
    last_seen TEXT NOT NULL,
    PRIMARY KEY (channel_id, kind, value)
);
CREATE INDEX IF NOT EXISTS identity_contacts_value ON identity_contacts(kind, value);
CREATE TABLE IF NOT EXISTS identity_merges (
    id INTEGER PRIMARY KEY,
    kept TEXT NOT NULL,
    absorbed TEXT NOT NULL,
    moved TEXT NOT NULL,
    reason TEXT NOT NULL,
    actor TEXT,
    at TEXT NOT NULL,
    undone_at TEXT,
    undone_by TEXT
);
CREATE INDEX IF NOT EXISTS identity_merges_kept ON identity_merges(kept);
CREATE INDEX IF NOT EXISTS identity_merges_absorbed ON identity_merges(absorbed);
CREATE TABLE IF NOT EXISTS identity_blocks (
    channel_a TEXT NOT NULL,
    channel_b TEXT NOT NULL,
    PRIMARY KEY (channel_a, channel_b)
)
"""


@migrations(name="0001_initial")
def initial(db: sqlite_utils.Database) -> None:
    """The schema of the release before numbered migrations (6c15e6c); the tables and
    indexes a database made by that release already has are kept as they are."""
    for statement in _INITIAL_SQL.split(";"):
        if statement.strip():
            db.execute(statement)
