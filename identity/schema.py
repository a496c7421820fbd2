"""The identity tables: who is behind each channel id, and how we know.

In the rest of Sportello ``customer_id`` is what one channel knows about the person — the
channel's own customer id when it sends one (``metadata.customer_id``), else the
conversation id (a web visitor's browser). Here those are *channel ids*, and a
*customer profile* groups the channel ids of one person:

=========================  ===================================================================
table                      holds
=========================  ===================================================================
identity_profiles          ``id`` (``cust-…``), ``created_at``, ``merged_into`` (the profile
                           that absorbed this one; ids stay resolvable after a merge)
identity_channels          ``channel_id`` → ``profile_id``; ``channel`` (``socketio``, ``rest``,
                           ``callback``…), ``first_seen``, ``last_seen``
identity_conversations     ``conversation_id`` → ``channel_id``, ``channel``, first/last seen
identity_contacts          e-mail addresses and phone numbers seen on a channel id: ``kind``,
                           normalised ``value``, ``verified`` (signed by the company's server,
                           see :mod:`identity.contacts`), first/last seen
identity_merges            every link: ``kept`` and ``absorbed`` profile, ``moved`` (JSON list
                           of the channel ids moved), ``reason`` (``verified_email``,
                           ``verified_phone``, ``operator``), ``actor``, ``at``,
                           ``undone_at``/``undone_by``
identity_blocks            pairs of channel ids an operator separated (an undone merge): never
                           linked automatically again
=========================  ===================================================================

Contact details are personal data: erasure (:mod:`privacy.customers`) deletes a profile's
rows, retention deletes channel ids not seen for the retention period.
"""

from __future__ import annotations

import sqlite_utils

from sportello.db import write_transaction

PROFILES = "identity_profiles"
CHANNELS = "identity_channels"
CONVERSATIONS = "identity_conversations"
CONTACTS = "identity_contacts"
MERGES = "identity_merges"
BLOCKS = "identity_blocks"
TABLES = (PROFILES, CHANNELS, CONVERSATIONS, CONTACTS, MERGES, BLOCKS)

REASON_OPERATOR = "operator"

_SQL = f"""
CREATE TABLE IF NOT EXISTS {PROFILES} (
    id TEXT PRIMARY KEY,
    created_at TEXT NOT NULL,
    merged_into TEXT
);
CREATE TABLE IF NOT EXISTS {CHANNELS} (
    channel_id TEXT PRIMARY KEY,
    profile_id TEXT NOT NULL REFERENCES {PROFILES}(id),
    channel TEXT,
    first_seen TEXT NOT NULL,
    last_seen TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS {CHANNELS}_profile ON {CHANNELS}(profile_id);
CREATE TABLE IF NOT EXISTS {CONVERSATIONS} (
    conversation_id TEXT PRIMARY KEY,
    channel_id TEXT NOT NULL,
    channel TEXT,
    first_seen TEXT NOT NULL,
    last_seen TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS {CONVERSATIONS}_channel ON {CONVERSATIONS}(channel_id);
CREATE TABLE IF NOT EXISTS {CONTACTS} (
    channel_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    value TEXT NOT NULL,
    verified INTEGER NOT NULL DEFAULT 0,
    first_seen TEXT NOT NULL,
    last_seen TEXT NOT NULL,
    PRIMARY KEY (channel_id, kind, value)
);
CREATE INDEX IF NOT EXISTS {CONTACTS}_value ON {CONTACTS}(kind, value);
CREATE TABLE IF NOT EXISTS {MERGES} (
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
CREATE INDEX IF NOT EXISTS {MERGES}_kept ON {MERGES}(kept);
CREATE INDEX IF NOT EXISTS {MERGES}_absorbed ON {MERGES}(absorbed);
CREATE TABLE IF NOT EXISTS {BLOCKS} (
    channel_a TEXT NOT NULL,
    channel_b TEXT NOT NULL,
    PRIMARY KEY (channel_a, channel_b)
)
"""


def ensure_schema(db: sqlite_utils.Database) -> None:
    """Create the identity tables; idempotent and cheap once done."""
    if set(TABLES) <= set(db.table_names()):
        return
    with write_transaction(db) as conn:
        for statement in _SQL.split(";"):
            if statement.strip():
                conn.execute(statement)
