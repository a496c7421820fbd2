"""The customer log's turns, projected from the tracker store."""

from __future__ import annotations

import sqlite_utils

from customerlog import schema, turns
from identity.contacts import identity_secret, signed_metadata
from tests.customerlog.tracker import FakeTracker, action, bot, external, kb_turn, slot, user


def signed(**details: str) -> dict[str, str | int]:
    """Metadata as a company's server signs it (identity.contacts), valid for a day from
    the fake tracker's clock: signatures are checked at the time of the message."""
    return signed_metadata(identity_secret(), now=FakeTracker.START, **details)


def test_each_customer_message_becomes_one_turn_with_reply_and_decision(
    db: sqlite_utils.Database, tracker: FakeTracker
) -> None:
    tracker.add("c1", {"event": "session_started"}, action("action_session_start"))
    tracker.add(
        "c1", user("ciao", "greet", "it"), action("utter_greet"), bot("Ciao!", "utter_greet")
    )
    tracker.add("c1", *kb_turn("c1", "quanto costa la spedizione?", "shipping-cost"))
    tracker.add("c1", *kb_turn("c1", "avete un negozio su Marte?", None))

    assert turns.sync(db) == 3
    rows = turns.conversation_turns(db, "c1")
    assert [r["decision"] for r in rows] == [
        schema.DECISION_SMALL_TALK,
        schema.DECISION_ANSWERED,
        schema.DECISION_ABSTAINED,
    ]
    answered = rows[1]
    assert answered["text"] == "quanto costa la spedizione?"
    assert answered["reply"] == "answer of shipping-cost"
    assert answered["article_id"] == "shipping-cost"
    assert answered["confidence"] == 0.81
    assert answered["lang"] == "it"
    assert answered["channel"] == "rest"
    assert answered["customer_id"] == "c1"
    assert rows[2]["article_id"] is None and rows[2]["confidence"] == 0.2


def test_sync_is_incremental_and_never_logs_twice(
    db: sqlite_utils.Database, tracker: FakeTracker
) -> None:
    tracker.add("c1", *kb_turn("c1", "orari?", "opening-hours"))
    assert turns.sync(db) == 1
    assert turns.sync(db) == 0
    tracker.add("c1", *kb_turn("c1", "e la domenica?", "opening-hours"))
    assert turns.sync(db) == 1
    assert db[schema.TURNS].count == 2


def test_a_turn_split_across_two_saves_is_completed(
    db: sqlite_utils.Database, tracker: FakeTracker
) -> None:
    events = kb_turn("c1", "posso pagare con PayPal?", "payment-methods")
    tracker.add("c1", *events[:2])
    turns.sync(db)
    tracker.add("c1", *events[2:])
    turns.sync(db)
    (row,) = turns.conversation_turns(db, "c1")
    assert row["decision"] == schema.DECISION_ANSWERED
    assert row["reply"] == "answer of payment-methods"


def test_escalation_operator_messages_and_language(
    db: sqlite_utils.Database, tracker: FakeTracker
) -> None:
    tracker.add(
        "c2",
        user("I want a human", "ask_human", "en", metadata=signed(customer_id="crm-42")),
        action("action_request_human"),
        bot("I've passed your conversation..."),
        slot("handoff_active", True),
        external("EXTERNAL_operator_message"),
        action("action_deliver_operator_message"),
        bot("Hello, this is Anna from customer service."),
    )
    turns.sync(db)
    first, second = turns.conversation_turns(db, "c2")
    assert first["decision"] == schema.DECISION_ESCALATED
    assert first["customer_id"] == "crm-42"
    assert first["lang"] == "en"
    assert second["kind"] == schema.KIND_OPERATOR
    assert second["text"] == ""
    assert second["reply"] == "Hello, this is Anna from customer service."
    assert second["lang"] == "en", "the conversation's language carries over"


def test_a_customer_typing_an_external_intent_is_a_customer_turn(
    db: sqlite_utils.Database, tracker: FakeTracker
) -> None:
    """Turns are classified by how they arrived: "/EXTERNAL_operator_message" typed by a
    customer (even with a forged ``is_external`` in the metadata it sends) is the
    customer's own turn, never an operator's."""
    tracker.add(
        "c3",
        user("/EXTERNAL_operator_message", "EXTERNAL_operator_message"),
        action("action_deliver_operator_message"),
        user(
            "/EXTERNAL_ticket_closed",
            "EXTERNAL_ticket_closed",
            metadata={"is_external": True},
        ),
        action("action_ticket_closed"),
    )
    turns.sync(db)
    typed, forged = turns.conversation_turns(db, "c3")
    assert typed["kind"] == forged["kind"] == schema.KIND_CUSTOMER
    assert typed["text"] == "/EXTERNAL_operator_message"


def test_conversations_never_mix(db: sqlite_utils.Database, tracker: FakeTracker) -> None:
    a = kb_turn("a", "domanda di A", "faq-a")
    b = kb_turn("b", "question from B", "faq-b", lang="en")
    # Interleaved saves of two conversations.
    tracker.add("a", a[0])
    tracker.add("b", b[0])
    tracker.add("a", *a[1:])
    tracker.add("b", *b[1:])
    turns.sync(db)
    (row_a,) = turns.conversation_turns(db, "a")
    (row_b,) = turns.conversation_turns(db, "b")
    assert (row_a["article_id"], row_a["reply"]) == ("faq-a", "answer of faq-a")
    assert (row_b["article_id"], row_b["reply"]) == ("faq-b", "answer of faq-b")


def test_hostile_text_is_stored_as_text(db: sqlite_utils.Database, tracker: FakeTracker) -> None:
    hostile = "<script>alert(1)</script>'); DROP TABLE log_turns;-- \x00\x07 " + "x" * 20_000
    tracker.add("h", *kb_turn("h", hostile, None))
    turns.sync(db)
    (row,) = turns.conversation_turns(db, "h")
    assert row["text"] == hostile
    assert schema.TURNS in db.table_names()


def test_unreadable_events_are_skipped(db: sqlite_utils.Database, tracker: FakeTracker) -> None:
    import sqlite3

    with sqlite3.connect(tracker.path) as conn:
        conn.execute(
            "INSERT INTO events (sender_id, type_name, timestamp, data) VALUES ('x', 'user', 1, ?)",
            ("{not json",),
        )
    tracker.add("x", *kb_turn("x", "ok?", "faq"))
    assert turns.sync(db) == 1


def test_no_tracker_file_means_nothing_to_log(db: sqlite_utils.Database) -> None:
    assert turns.sync(db) == 0


def test_record_turn_writes_turns_without_rasa(db: sqlite_utils.Database) -> None:
    turns.record_turn(
        db, conversation_id="sim-1", at="2026-11-01T10:00:00+00:00", kind="customer", text="hi"
    )
    (row,) = turns.conversation_turns(db, "sim-1")
    assert row["event_id"] is None and row["customer_id"] == "sim-1"
