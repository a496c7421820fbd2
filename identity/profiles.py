"""Customer profiles: which channel ids are one person, linked and unlinked with a trail.

Every conversation belongs to a profile from its first message (:func:`observe`). Two
profiles become one when

- the same **verified** e-mail address or phone number arrives on both (automatic,
  reason ``verified_email``/``verified_phone``); unverified ones only become
  :func:`suggestions` for an operator;
- an operator merges them in the console (:func:`merge`, reason ``operator``).

Every merge records which channel ids it moved, so :func:`undo` puts exactly those back;
an undone pair is blocked from automatic linking, or the next signed message would join
them again. Older profiles absorb newer ones, and an absorbed profile's id keeps
resolving to the profile that absorbed it (:func:`resolve`), so ids written elsewhere
(an NPS rating, a note) stay meaningful.

The functions taking a ``sqlite3.Connection`` run inside the caller's write transaction
(the log's projection links identities in the same transaction that logs the turns).
"""

from __future__ import annotations

import json
import secrets
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

import sqlite_utils

from identity import schema
from identity.contacts import Contact
from sportello.clock import MILLISECONDS, format_time, utc_now
from sportello.db import write_transaction

PREFIX = "cust-"
REASON_VERIFIED = "verified_{kind}"
REASON_SAME_CONVERSATION = "same_conversation"


@dataclass(frozen=True)
class Merge:
    """One link between two profiles, as the console lists it."""

    id: int
    kept: str
    absorbed: str
    moved: list[str]
    reason: str
    actor: str | None
    at: str
    undone_at: str | None = None
    undone_by: str | None = None


@dataclass(frozen=True)
class Suggestion:
    """Another profile that shares a contact detail with this one (not linked)."""

    profile_id: str
    kind: str
    value: str
    verified: bool


@dataclass
class Profile:
    """One person: their channel ids, conversations, contact details and links."""

    id: str
    created_at: str
    channels: list[dict] = field(default_factory=list)
    conversations: list[dict] = field(default_factory=list)
    contacts: list[dict] = field(default_factory=list)
    merges: list[Merge] = field(default_factory=list)

    @property
    def channel_ids(self) -> list[str]:
        return [row["channel_id"] for row in self.channels]

    @property
    def conversation_ids(self) -> list[str]:
        return [row["conversation_id"] for row in self.conversations]


def _now(at: datetime | None) -> str:
    """The stored form of ``at`` (default now), to the millisecond: profile links and merges
    made within one second keep their order."""
    return format_time(at or utc_now(), MILLISECONDS)


def _new_profile(conn: sqlite3.Connection, at: str) -> str:
    profile_id = PREFIX + secrets.token_hex(6)
    conn.execute(f"INSERT INTO {schema.PROFILES} (id, created_at) VALUES (?, ?)", [profile_id, at])
    return profile_id


def _profile_of_channel(conn: sqlite3.Connection, channel_id: str) -> str | None:
    row = conn.execute(
        f"SELECT profile_id FROM {schema.CHANNELS} WHERE channel_id = ?", [channel_id]
    ).fetchone()
    return row[0] if row else None


def _channels_of(conn: sqlite3.Connection, profile_id: str) -> list[str]:
    return [
        row[0]
        for row in conn.execute(
            f"SELECT channel_id FROM {schema.CHANNELS} WHERE profile_id = ? ORDER BY first_seen",
            [profile_id],
        )
    ]


def _created(conn: sqlite3.Connection, profile_id: str) -> tuple[str, str]:
    row = conn.execute(
        f"SELECT created_at FROM {schema.PROFILES} WHERE id = ?", [profile_id]
    ).fetchone()
    return (row[0] if row else "", profile_id)


def _blocked(conn: sqlite3.Connection, ours: Iterable[str], theirs: Iterable[str]) -> bool:
    pairs = [tuple(sorted((a, b))) for a in ours for b in theirs]
    return any(
        conn.execute(
            f"SELECT 1 FROM {schema.BLOCKS} WHERE channel_a = ? AND channel_b = ?", list(pair)
        ).fetchone()
        for pair in pairs
    )


def observe(
    conn: sqlite3.Connection,
    *,
    conversation_id: str,
    channel_id: str,
    channel: str | None,
    contacts: Iterable[Contact] = (),
    at: datetime | None = None,
) -> str:
    """Record one customer message's identity facts; returns the (possibly linked) profile.

    Creates the profile of a new channel id, remembers the conversation and the contact
    details, and links the profile with every other one holding the same verified detail
    (unless an operator separated them). Must run inside a write transaction.
    """
    stamp = _now(at)
    profile_id = _profile_of_channel(conn, channel_id)
    if profile_id is None:
        profile_id = _new_profile(conn, stamp)
        conn.execute(
            f"INSERT INTO {schema.CHANNELS} (channel_id, profile_id, channel, first_seen, "
            "last_seen) VALUES (?, ?, ?, ?, ?)",
            [channel_id, profile_id, channel, stamp, stamp],
        )
    else:
        conn.execute(
            f"UPDATE {schema.CHANNELS} SET last_seen = max(last_seen, ?), "
            "channel = coalesce(channel, ?) WHERE channel_id = ?",
            [stamp, channel, channel_id],
        )
    before = conn.execute(
        f"SELECT channel_id FROM {schema.CONVERSATIONS} WHERE conversation_id = ?",
        [conversation_id],
    ).fetchone()
    conn.execute(
        f"INSERT INTO {schema.CONVERSATIONS} (conversation_id, channel_id, channel, first_seen, "
        "last_seen) VALUES (?, ?, ?, ?, ?) ON CONFLICT(conversation_id) DO UPDATE SET "
        "channel_id = excluded.channel_id, last_seen = max(last_seen, excluded.last_seen), "
        "channel = coalesce(channel, excluded.channel)",
        [conversation_id, channel_id, channel, stamp, stamp],
    )
    if before is not None and before[0] != channel_id:
        # The customer logged in mid-conversation (their signed id arrived): one person.
        profile_id = _link(conn, profile_id, before[0], REASON_SAME_CONVERSATION, stamp)
    for contact in contacts:
        conn.execute(
            f"INSERT INTO {schema.CONTACTS} (channel_id, kind, value, verified, first_seen, "
            "last_seen) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(channel_id, kind, value) DO "
            "UPDATE SET verified = max(verified, excluded.verified), "
            "last_seen = max(last_seen, excluded.last_seen)",
            [channel_id, contact.kind, contact.value, int(contact.verified), stamp, stamp],
        )
        if contact.verified:
            profile_id = _link_verified(conn, profile_id, channel_id, contact, stamp)
    return profile_id


def _link_verified(
    conn: sqlite3.Connection, profile_id: str, channel_id: str, contact: Contact, stamp: str
) -> str:
    """Join every profile holding the same verified detail; returns the surviving one."""
    others = [
        row[0]
        for row in conn.execute(
            f"SELECT DISTINCT c.channel_id FROM {schema.CONTACTS} c "
            f"JOIN {schema.CHANNELS} ch ON ch.channel_id = c.channel_id "
            "WHERE c.kind = ? AND c.value = ? AND c.verified = 1 AND ch.profile_id != ?",
            [contact.kind, contact.value, profile_id],
        )
    ]
    for other in others:
        profile_id = _link(
            conn, profile_id, other, REASON_VERIFIED.format(kind=contact.kind), stamp
        )
    return profile_id


def _link(
    conn: sqlite3.Connection, profile_id: str, other_channel: str, reason: str, stamp: str
) -> str:
    """Merge the profile of ``other_channel`` with ``profile_id`` (the older one stays),
    unless an operator separated them; returns the surviving profile."""
    other = _profile_of_channel(conn, other_channel)
    if other is None or other == profile_id:
        return profile_id
    if _blocked(conn, _channels_of(conn, profile_id), _channels_of(conn, other)):
        return profile_id
    keep, absorb = sorted((profile_id, other), key=lambda p: _created(conn, p))
    _merge(conn, keep, absorb, reason, None, stamp)
    return keep


def _merge(
    conn: sqlite3.Connection, keep: str, absorb: str, reason: str, actor: str | None, stamp: str
) -> int:
    moved = _channels_of(conn, absorb)
    conn.execute(
        f"UPDATE {schema.CHANNELS} SET profile_id = ? WHERE profile_id = ?", [keep, absorb]
    )
    conn.execute(f"UPDATE {schema.PROFILES} SET merged_into = ? WHERE id = ?", [keep, absorb])
    cursor = conn.execute(
        f"INSERT INTO {schema.MERGES} (kept, absorbed, moved, reason, actor, at) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        [keep, absorb, json.dumps(moved), reason, actor, stamp],
    )
    return int(cursor.lastrowid or 0)


def _resolve(conn: sqlite3.Connection, any_id: str) -> str | None:
    """The live profile of a profile id, channel id or conversation id."""
    profile_id = _profile_of_channel(conn, any_id)
    if profile_id is None:
        row = conn.execute(
            f"SELECT ch.profile_id FROM {schema.CONVERSATIONS} c JOIN {schema.CHANNELS} ch "
            "ON ch.channel_id = c.channel_id WHERE c.conversation_id = ?",
            [any_id],
        ).fetchone()
        profile_id = row[0] if row else any_id
    for _ in range(100):  # follow merged_into; a cycle cannot be written, but never loop
        row = conn.execute(
            f"SELECT merged_into FROM {schema.PROFILES} WHERE id = ?", [profile_id]
        ).fetchone()
        if row is None:
            return None
        if row[0] is None:
            return profile_id
        profile_id = row[0]
    return None


def resolve(db: sqlite_utils.Database, any_id: str) -> str | None:
    """The profile of a profile id, channel (customer) id or conversation id; None if unknown."""
    return _resolve(db.conn, any_id)


def record(
    db: sqlite_utils.Database,
    *,
    conversation_id: str,
    channel_id: str,
    channel: str | None,
    contacts: Iterable[Contact] = (),
    at: datetime | None = None,
) -> str:
    """:func:`observe` in a transaction of its own (for the bot's actions)."""
    with write_transaction(db) as conn:
        return observe(
            conn,
            conversation_id=conversation_id,
            channel_id=channel_id,
            channel=channel,
            contacts=list(contacts),
            at=at,
        )


def profile_map(db: sqlite_utils.Database) -> dict[str, str]:
    """Every known channel id and conversation id → its live profile, for reports that
    count people rather than conversations (one query each, not one per row)."""
    mapping = {
        row[0]: row[1]
        for row in db.execute(f"SELECT channel_id, profile_id FROM {schema.CHANNELS}")
    }
    for conversation_id, channel_id in db.execute(
        f"SELECT conversation_id, channel_id FROM {schema.CONVERSATIONS}"
    ).fetchall():
        if channel_id in mapping:
            mapping.setdefault(conversation_id, mapping[channel_id])
    return mapping


def get_profile(db: sqlite_utils.Database, profile_id: str) -> Profile | None:
    """Everything known about a profile (resolving merged ids); None if unknown."""
    live = _resolve(db.conn, profile_id)
    if live is None:
        return None
    row = db.execute(f"SELECT created_at FROM {schema.PROFILES} WHERE id = ?", [live]).fetchone()
    channels = list(
        db.query(
            f"SELECT * FROM {schema.CHANNELS} WHERE profile_id = ? ORDER BY first_seen", [live]
        )
    )
    ids = [c["channel_id"] for c in channels]
    marks = ", ".join("?" for _ in ids) or "NULL"
    conversations = list(
        db.query(
            f"SELECT * FROM {schema.CONVERSATIONS} WHERE channel_id IN ({marks}) "
            "ORDER BY first_seen",
            ids,
        )
    )
    contacts = list(
        db.query(
            f"SELECT * FROM {schema.CONTACTS} WHERE channel_id IN ({marks}) "
            "ORDER BY verified DESC, kind, value",
            ids,
        )
    )
    return Profile(live, row[0], channels, conversations, contacts, merges_of(db, live))


def merges_of(db: sqlite_utils.Database, profile_id: str) -> list[Merge]:
    """Links made into (or out of) the profile, newest first."""
    rows = db.query(
        f"SELECT * FROM {schema.MERGES} WHERE kept = ? OR absorbed = ? ORDER BY id DESC",
        [profile_id, profile_id],
    )
    return [Merge(**{**row, "moved": json.loads(row["moved"] or "[]")}) for row in rows]


def suggestions(db: sqlite_utils.Database, profile_id: str) -> list[Suggestion]:
    """Other profiles sharing an e-mail address or phone number with this one.

    What an operator may want to merge: typed-in details are never linked by themselves.
    """
    rows = db.query(
        f"""SELECT DISTINCT other.profile_id AS profile_id, mine.kind AS kind,
                   mine.value AS value, max(mine.verified, theirs.verified) AS verified
            FROM {schema.CONTACTS} mine
            JOIN {schema.CHANNELS} me ON me.channel_id = mine.channel_id
            JOIN {schema.CONTACTS} theirs ON theirs.kind = mine.kind AND theirs.value = mine.value
            JOIN {schema.CHANNELS} other ON other.channel_id = theirs.channel_id
            WHERE me.profile_id = ? AND other.profile_id != ?
            ORDER BY other.profile_id, mine.kind""",
        [profile_id, profile_id],
    )
    return [Suggestion(r["profile_id"], r["kind"], r["value"], bool(r["verified"])) for r in rows]


class IdentityError(ValueError):
    """A merge or undo that cannot be done; the message says why."""


def merge(
    db: sqlite_utils.Database,
    keep: str,
    absorb: str,
    *,
    actor: str,
    at: datetime | None = None,
) -> int:
    """An operator says two profiles are one person; returns the merge id (for undo).

    ``keep`` and ``absorb`` may be any id :func:`resolve` knows. Blocks an operator set
    between them are lifted: this decision replaces that one.
    """
    with write_transaction(db) as conn:
        kept, absorbed = _resolve(conn, keep), _resolve(conn, absorb)
        if kept is None or absorbed is None:
            raise IdentityError(f"unknown customer: {keep if kept is None else absorb}")
        if kept == absorbed:
            raise IdentityError("these are already the same customer")
        ours, theirs = _channels_of(conn, kept), _channels_of(conn, absorbed)
        for a in ours:
            for b in theirs:
                conn.execute(
                    f"DELETE FROM {schema.BLOCKS} WHERE channel_a = ? AND channel_b = ?",
                    sorted((a, b)),
                )
        return _merge(conn, kept, absorbed, schema.REASON_OPERATOR, actor, _now(at))


def undo(
    db: sqlite_utils.Database, merge_id: int, *, actor: str, at: datetime | None = None
) -> str:
    """Separate what a merge joined; returns the profile given back its channel ids.

    The channel ids the merge moved return to the absorbed profile, wherever later merges
    took them, and those pairs are never linked automatically again.
    """
    with write_transaction(db) as conn:
        row = conn.execute(
            f"SELECT absorbed, moved, undone_at FROM {schema.MERGES} WHERE id = ?", [merge_id]
        ).fetchone()
        if row is None:
            raise IdentityError(f"no link #{merge_id}")
        absorbed, moved, undone_at = row[0], json.loads(row[1] or "[]"), row[2]
        if undone_at:
            raise IdentityError(f"link #{merge_id} was already undone")
        current = {channel: _profile_of_channel(conn, channel) for channel in moved}
        holders = {profile for profile in current.values() if profile}
        conn.execute(f"UPDATE {schema.PROFILES} SET merged_into = NULL WHERE id = ?", [absorbed])
        for channel, holder in current.items():
            if holder is None:
                continue  # erased meanwhile
            conn.execute(
                f"UPDATE {schema.CHANNELS} SET profile_id = ? WHERE channel_id = ?",
                [absorbed, channel],
            )
        staying = [
            c for holder in holders for c in _channels_of(conn, holder) if holder != absorbed
        ]
        for a in moved:
            for b in staying:
                conn.execute(
                    f"INSERT OR IGNORE INTO {schema.BLOCKS} (channel_a, channel_b) VALUES (?, ?)",
                    sorted((a, b)),
                )
        conn.execute(
            f"UPDATE {schema.MERGES} SET undone_at = ?, undone_by = ? WHERE id = ?",
            [_now(at), actor, merge_id],
        )
        return absorbed


def _family(conn: sqlite3.Connection, profile_id: str) -> set[str]:
    """The profile and every profile merged into it, directly or not."""
    family, frontier = {profile_id}, [profile_id]
    while frontier:
        current = frontier.pop()
        for (child,) in conn.execute(
            f"SELECT id FROM {schema.PROFILES} WHERE merged_into = ?", [current]
        ).fetchall():
            if child not in family:
                family.add(child)
                frontier.append(child)
    return family


def forget(conn: sqlite3.Connection, channel_ids: Iterable[str]) -> None:
    """Delete the identity rows of these channel ids, and profiles left without any.

    A profile goes when its last channel id goes, together with the profiles it absorbed
    and every merge naming them. Used by erasure and retention, inside their transaction.
    """
    ids = list(dict.fromkeys(channel_ids))
    holders: set[str] = set()
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        marks = ", ".join("?" for _ in chunk)
        holders.update(
            row[0]
            for row in conn.execute(
                f"SELECT DISTINCT profile_id FROM {schema.CHANNELS} WHERE channel_id IN ({marks})",
                chunk,
            )
        )
        for table in (schema.CONTACTS, schema.CONVERSATIONS):
            conn.execute(f"DELETE FROM {table} WHERE channel_id IN ({marks})", chunk)
        conn.execute(
            f"DELETE FROM {schema.BLOCKS} WHERE channel_a IN ({marks}) OR channel_b IN ({marks})",
            chunk + chunk,
        )
        conn.execute(f"DELETE FROM {schema.CHANNELS} WHERE channel_id IN ({marks})", chunk)
    for holder in holders:
        if _channels_of(conn, holder):
            continue
        for profile_id in _family(conn, holder):
            conn.execute(
                f"DELETE FROM {schema.MERGES} WHERE kept = ? OR absorbed = ?",
                [profile_id, profile_id],
            )
            conn.execute(f"DELETE FROM {schema.PROFILES} WHERE id = ?", [profile_id])
