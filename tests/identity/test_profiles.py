from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import sqlite_utils

from identity import profiles, schema
from identity.contacts import Contact
from sportello.db import write_transaction

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc)
ANNA = Contact("email", "anna@example.com", True)
ANNA_TYPED = Contact("email", "anna@example.com", False)


def see(
    db: sqlite_utils.Database,
    conversation: str,
    channel_id: str | None = None,
    channel: str = "socketio",
    *found: Contact,
    minutes: int = 0,
) -> str:
    return profiles.record(
        db,
        conversation_id=conversation,
        channel_id=channel_id or conversation,
        channel=channel,
        contacts=found,
        at=T0 + timedelta(minutes=minutes),
    )


def test_every_conversation_gets_a_profile_and_keeps_it(db: sqlite_utils.Database) -> None:
    first = see(db, "web-1")
    assert first.startswith(profiles.PREFIX)
    assert see(db, "web-1", minutes=5) == first
    assert see(db, "web-2") != first
    profile = profiles.get_profile(db, first)
    assert profile is not None
    assert profile.channel_ids == ["web-1"] and profile.conversation_ids == ["web-1"]
    assert profile.channels[0]["last_seen"] > profile.channels[0]["first_seen"]


def test_the_same_verified_email_on_two_channels_links_them(db: sqlite_utils.Database) -> None:
    web = see(db, "web-1", None, "socketio", ANNA)
    messaging = see(db, "wa-1", "wa-393331234567", "callback", ANNA, minutes=10)
    assert messaging == web  # the older profile absorbs the newer
    profile = profiles.get_profile(db, web)
    assert profile is not None
    assert set(profile.channel_ids) == {"web-1", "wa-393331234567"}
    assert set(profile.conversation_ids) == {"web-1", "wa-1"}
    [merge] = profile.merges
    assert (merge.reason, merge.actor, merge.kept) == ("verified_email", None, web)
    # Any of the ids finds the person.
    for any_id in ("wa-1", "wa-393331234567", "web-1", merge.absorbed):
        assert profiles.resolve(db, any_id) == web


def test_an_email_typed_in_the_chat_only_suggests(db: sqlite_utils.Database) -> None:
    web = see(db, "web-1", None, "socketio", ANNA)
    stranger = see(db, "rest-9", None, "rest", ANNA_TYPED)
    assert stranger != web
    [suggestion] = profiles.suggestions(db, stranger)
    assert (suggestion.profile_id, suggestion.kind, suggestion.value) == (
        web,
        "email",
        "anna@example.com",
    )
    assert profiles.suggestions(db, web)[0].profile_id == stranger


def test_a_signed_id_arriving_mid_conversation_links_the_anonymous_start(
    db: sqlite_utils.Database,
) -> None:
    crm = see(db, "rest-old", "crm-42", "rest")
    anonymous = see(db, "rest-new", None, "rest", minutes=5)
    assert anonymous != crm
    # The customer logs in: the same conversation now carries the signed CRM id.
    assert see(db, "rest-new", "crm-42", "rest", minutes=6) == crm
    profile = profiles.get_profile(db, crm)
    assert profile is not None
    assert set(profile.conversation_ids) == {"rest-old", "rest-new"}
    assert profile.merges[0].reason == profiles.REASON_SAME_CONVERSATION


def test_an_operator_merge_and_its_undo(db: sqlite_utils.Database) -> None:
    a = see(db, "web-1")
    b = see(db, "tg-1", "tg-77", "telegram", minutes=1)
    merge_id = profiles.merge(db, b, a, actor="marta", at=T0 + timedelta(hours=1))
    assert profiles.resolve(db, "web-1") == b
    [merge] = profiles.merges_of(db, b)
    assert (merge.id, merge.reason, merge.actor, merge.moved) == (
        merge_id,
        "operator",
        "marta",
        ["web-1"],
    )
    with pytest.raises(profiles.IdentityError):
        profiles.merge(db, "web-1", "tg-77", actor="marta")  # already one customer

    assert profiles.undo(db, merge_id, actor="luca") == a
    assert profiles.resolve(db, "web-1") == a
    assert profiles.resolve(db, "tg-77") == b
    assert profiles.merges_of(db, b)[0].undone_by == "luca"
    with pytest.raises(profiles.IdentityError):
        profiles.undo(db, merge_id, actor="luca")


def test_an_undone_automatic_link_is_not_made_again(db: sqlite_utils.Database) -> None:
    web = see(db, "web-1", None, "socketio", ANNA)
    see(db, "wa-1", None, "callback", ANNA, minutes=1)
    [merge] = profiles.merges_of(db, web)
    profiles.undo(db, merge.id, actor="marta")
    # The next signed message from the separated channel stays separate...
    separated = see(db, "wa-1", None, "callback", ANNA, minutes=2)
    assert separated != web
    # ...while a third channel with the same address joins the first profile, and not
    # the separated one (which would join the pair again through the back door).
    assert see(db, "mail-1", None, "callback", ANNA, minutes=3) == web
    assert profiles.resolve(db, "wa-1") == separated
    # An operator may still merge the separated pair on purpose.
    profiles.merge(db, web, separated, actor="marta")
    assert profiles.resolve(db, "wa-1") == profiles.resolve(db, "web-1")


def test_undo_returns_channels_moved_on_by_later_merges(db: sqlite_utils.Database) -> None:
    a, b, c = see(db, "a"), see(db, "b", minutes=1), see(db, "c", minutes=2)
    first = profiles.merge(db, b, c, actor="op")  # c → b
    profiles.merge(db, a, b, actor="op")  # b (with c's channel) → a
    profiles.undo(db, first, actor="op")
    assert profiles.resolve(db, "c") == c
    assert profiles.resolve(db, "b") == a


def test_forget_deletes_a_profile_with_what_it_absorbed(db: sqlite_utils.Database) -> None:
    web = see(db, "web-1", None, "socketio", ANNA)
    see(db, "wa-1", None, "callback", ANNA, minutes=1)
    other = see(db, "other", None, "rest", Contact("email", "x@example.com", True))
    with write_transaction(db) as conn:
        profiles.forget(conn, ["web-1", "wa-1"])
    for table in schema.TABLES:
        rows = [str(row) for row in db[table].rows]
        assert not any("web-1" in r or "wa-1" in r or web in r or "anna@" in r for r in rows), table
    assert profiles.resolve(db, "other") == other
