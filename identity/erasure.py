"""Identity's share of a customer's erasure and of the retention period.

Only identity writes its tables (``identity_*``); :mod:`privacy`, which erases and
purges across every domain, asks through these functions and
:func:`identity.profiles.forget`, which removes a person's channel ids and the profiles
left without any.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

import sqlite_utils

from identity import profiles, schema


def _marks(values: Sequence[str]) -> str:
    return ", ".join("?" for _ in values) or "NULL"


def count(
    db: sqlite_utils.Database,
    channel_ids: Sequence[str],
    conversations: Sequence[str],
    profile_id: str | None,
) -> dict[str, int]:
    """How many identity rows about the customer each table holds (after erasure: zeros)."""

    def number(sql: str, values: list[str]) -> int:
        return int(db.execute(sql, values).fetchone()[0])

    ids, marks = list(channel_ids), _marks(channel_ids)
    counts = {
        table: number(f"SELECT COUNT(*) FROM {table} WHERE channel_id IN ({marks})", ids)
        for table in (schema.CHANNELS, schema.CONTACTS)
    }
    counts[schema.CONVERSATIONS] = number(
        f"SELECT COUNT(*) FROM {schema.CONVERSATIONS} WHERE channel_id IN ({marks}) "
        f"OR conversation_id IN ({_marks(conversations)})",
        [*ids, *conversations],
    )
    profile = [profile_id or ""]
    counts[schema.PROFILES] = number(
        f"SELECT COUNT(*) FROM {schema.PROFILES} WHERE id = ? OR merged_into = ?", profile * 2
    )
    counts[schema.MERGES] = number(
        f"SELECT COUNT(*) FROM {schema.MERGES} WHERE kept = ? OR absorbed = ?", profile * 2
    )
    return counts


def erase(
    conn: sqlite3.Connection, channel_ids: Sequence[str], conversations: Sequence[str]
) -> None:
    """Forget the customer's channel ids (and their profile, once it has none left) and
    conversations, inside the caller's transaction."""
    profiles.forget(conn, channel_ids)
    conn.execute(
        f"DELETE FROM {schema.CONVERSATIONS} WHERE conversation_id IN ({_marks(conversations)})",
        list(conversations),
    )


def purge(conn: sqlite3.Connection, before: str) -> int:
    """Forget the channel ids and conversations not seen since ``before`` (ISO 8601),
    inside the caller's transaction; returns how many channel ids went."""
    stale = [
        row[0]
        for row in conn.execute(
            f"SELECT channel_id FROM {schema.CHANNELS} WHERE last_seen < ?", (before,)
        )
    ]
    profiles.forget(conn, stale)
    conn.execute(f"DELETE FROM {schema.CONVERSATIONS} WHERE last_seen < ?", (before,))
    return len(stale)
