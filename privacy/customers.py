"""A customer's data: export everything held about them, or erase it and prove it.

A customer is found by any id that names them: their profile id (``cust-…``), a channel
(customer) id or a conversation id. The whole linked identity is covered
(:mod:`identity.profiles`): every channel id linked to the profile, every conversation
of those, every ticket and rating of those conversations. What is held:

- the customer log (:mod:`customerlog.schema`): turns, ratings, rating questions;
- the desk (:mod:`desk.tickets`): tickets with transcripts and e-mail addresses,
  their messages (operators' answers included) and audit events;
- Rasa's tracker store (a SQLite file or PostgreSQL, :mod:`customerlog.tracker`):
  every event of those conversations;
- the identity tables: the profile, its channel ids, contact details and links.

Knowledge-base articles are not the customer's: operator answers are scrubbed before
they become drafts, so approved articles survive an erasure.

This module finds the customer across the domains and holds the erasure in one
transaction; each domain reads and deletes its own rows (:mod:`customerlog.erasure`,
:mod:`desk.erasure`, :mod:`identity.erasure`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import sqlite_utils

from customerlog import erasure as log_erasure
from customerlog import turns
from desk import erasure as desk_erasure
from identity import erasure as identity_erasure
from identity import profiles
from sportello.clock import format_time, utc_now
from sportello.db import checkpoint, write_transaction


@dataclass(frozen=True)
class Footprint:
    """Where a customer appears: their channel ids, conversation ids and ticket ids."""

    customer_id: str
    conversations: list[str]
    tickets: list[int]
    channel_ids: list[str] = field(default_factory=list)
    profile_id: str | None = None

    @property
    def ids(self) -> list[str]:
        """The channel ids the customer's rows carry (their own id when none is linked)."""
        return self.channel_ids or [self.customer_id]


def find(db: sqlite_utils.Database, customer_id: str) -> Footprint:
    """Every channel id, conversation and ticket of the customer named by any of their ids."""
    profile_id = profiles.resolve(db, customer_id)
    profile = profiles.get_profile(db, profile_id) if profile_id else None
    if profile is not None:
        channel_ids = set(profile.channel_ids) or {customer_id}
        conversations = set(profile.conversation_ids)
    else:
        channel_ids, conversations = {customer_id}, {customer_id}
    ids = sorted(channel_ids)
    conversations |= log_erasure.conversations_of(db, ids)
    conversations |= desk_erasure.conversations_of(db, ids)
    ticket_ids = desk_erasure.tickets_of(db, ids, sorted(conversations))
    # A ticket that moved with the customer lived in conversations of theirs.
    conversations |= desk_erasure.conversations_of_tickets(db, ticket_ids)
    return Footprint(
        customer_id,
        sorted(conversations),
        ticket_ids,
        ids,
        profile_id if profile else None,
    )


def _profile(db: sqlite_utils.Database, footprint: Footprint) -> dict[str, Any] | None:
    """The identity profile: channel ids, conversations, contact details, links."""
    profile = profiles.get_profile(db, footprint.profile_id) if footprint.profile_id else None
    if profile is None:
        return None
    data = asdict(profile)
    data["merges"] = [asdict(merge) for merge in profile.merges]
    return data


def export(
    db: sqlite_utils.Database, customer_id: str, tracker: str | Path | None = None
) -> dict[str, Any]:
    """Everything held about the customer, as one JSON-ready dictionary.

    ``tracker``: the tracker store's file or URL (default: the settings'). The log is
    first brought up to the call (on PostgreSQL that waits out the log's safe horizon,
    10-20 s), so that conversations linked by their latest messages are included.
    """
    turns.sync(db, tracker, settle=True)
    footprint = find(db, customer_id)
    return {
        "customer_id": customer_id,
        "exported_at": format_time(utc_now()),
        "profile": _profile(db, footprint),
        "channel_ids": footprint.channel_ids,
        "conversations": footprint.conversations,
        **log_erasure.export(db, footprint.ids, footprint.conversations),
        "tickets": desk_erasure.export(db, footprint.tickets),
        "tracker_events": log_erasure.tracker_events(tracker, footprint.conversations),
    }


def remaining(
    db: sqlite_utils.Database, footprint: Footprint, tracker: str | Path | None = None
) -> dict[str, int]:
    """How many rows about the customer each place still holds (after erasure: zeros)."""
    return {
        **log_erasure.count(db, footprint.ids, footprint.conversations),
        **desk_erasure.count(db, footprint.ids, footprint.conversations, footprint.tickets),
        **identity_erasure.count(db, footprint.ids, footprint.conversations, footprint.profile_id),
        "tracker_events": len(log_erasure.tracker_events(tracker, footprint.conversations)),
    }


def erase(
    db: sqlite_utils.Database, customer_id: str, tracker: str | Path | None = None
) -> dict[str, int]:
    """Delete everything held about the customer; returns what remains (all zeros).

    The log is first brought up to the call, as for :func:`export`; the log, the desk
    and the identity tables are cleaned in one transaction; then the tracker store.
    """
    turns.sync(db, tracker, settle=True)
    footprint = find(db, customer_id)
    with write_transaction(db) as conn:
        desk_erasure.erase(conn, footprint.tickets)
        log_erasure.erase(conn, footprint.ids, footprint.conversations)
        identity_erasure.erase(conn, footprint.channel_ids, footprint.conversations)
    checkpoint(db)  # erased text leaves the WAL too (secure_delete zeroed the pages)
    log_erasure.delete_tracker_events(db, tracker, senders=footprint.conversations)
    return remaining(db, footprint, tracker)
