"""Turns of the customer log, projected from Rasa's tracker store.

Rasa already writes every event of every conversation to its SQL tracker store (an
append-only ``events`` table with an increasing id). Rather than logging from each
custom action — which would miss every turn a plain response answers (greetings,
thanks, chitchat) — the log follows that table: each customer message becomes one row
of ``log_turns`` with what the bot said and decided after it. The position reached is
stored with the rows in one transaction, so a crash or a second process replays
nothing twice and skips nothing; ``event_id`` is unique as a second guard. The
store is a SQLite file or, with several Rasa servers, PostgreSQL; there the log reads
only up to a safe horizon (:mod:`customerlog.tracker`), so it runs 10-20 s behind.

The SLA monitor runs :func:`sync` every few seconds; ``sportello log sync`` runs it once.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import sqlite_utils

from customerlog import schema
from customerlog.tracker import Sighting, TrackerStore, settled, tracker_store
from identity import contacts, profiles
from sportello.clock import MILLISECONDS, format_time, utc_now
from sportello.db import write_transaction

logger = logging.getLogger(__name__)

# The log's position in the tracker store: the highest event id projected, and the
# fence of the safe horizon (customerlog/tracker.py): an id and when it was seen (ms).
MARK = "tracker_event_id"
FENCE_ID = "tracker_fence_id"
FENCE_AT = "tracker_fence_at_ms"

# Actions and slots of the bot (bot/domain.yml) that say what was decided.
_KB_ACTION = "action_answer_from_kb"
_FOR_OPERATOR_ACTION = "action_record_for_operator"
_RATING_ACTIONS = ("action_record_rating", "action_answer_helpful")
_ERROR_RESPONSES = ("utter_error", "utter_handoff_failed")


def customer_id_from(metadata: object, conversation_id: str, at: float | None = None) -> str:
    """The person behind a message: the company's ``customer_id`` when the metadata
    carries it signed and unexpired at ``at`` (the message's Unix time; default now,
    :mod:`identity.contacts`), else the conversation id."""
    secret = contacts.identity_secret()
    return contacts.verified_customer_id(metadata, secret, at) or conversation_id


def _event_time(data: dict) -> float | None:
    """When a tracker event happened (Unix seconds), None when it does not say."""
    stamp = data.get("timestamp")
    return float(stamp) if isinstance(stamp, int | float) and not isinstance(stamp, bool) else None


def _iso(timestamp: object) -> str:
    try:
        moment = datetime.fromtimestamp(float(timestamp), tz=timezone.utc)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError, OSError):
        moment = utc_now()
    return format_time(moment, MILLISECONDS)


@dataclass
class _Turn:
    """A turn being assembled from the events that follow one user event."""

    event_id: int
    conversation_id: str
    customer_id: str
    channel: str | None
    lang: str | None
    at: str
    kind: str
    text: str = ""
    intent: str | None = None
    intent_confidence: float | None = None
    replies: list[str] = field(default_factory=list)
    article_id: str | None = None
    confidence: float | None = None
    ticket_id: int | None = None
    decision: str | None = None
    kb_ran: bool = False
    escalated: bool = False
    for_operator: bool = False
    rated: bool = False
    error: bool = False
    row_id: int | None = None

    def final_decision(self) -> str | None:
        if self.kind != schema.KIND_CUSTOMER:
            return None
        if self.escalated:
            return schema.DECISION_ESCALATED
        if self.article_id:
            return schema.DECISION_ANSWERED
        if self.error:
            return schema.DECISION_ERROR
        if self.kb_ran:
            return schema.DECISION_ABSTAINED
        if self.rated:
            return schema.DECISION_RATED
        if self.for_operator:
            return schema.DECISION_FOR_OPERATOR
        if self.replies:
            return schema.DECISION_SMALL_TALK
        return self.decision

    def row(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "conversation_id": self.conversation_id,
            "customer_id": self.customer_id,
            "channel": self.channel,
            "lang": self.lang,
            "at": self.at,
            "kind": self.kind,
            "text": self.text,
            "intent": self.intent,
            "intent_confidence": self.intent_confidence,
            "reply": "\n".join(self.replies),
            "decision": self.final_decision(),
            "article_id": self.article_id,
            "confidence": self.confidence,
            "ticket_id": self.ticket_id,
        }


def is_external(data: dict[str, Any]) -> bool:
    """Whether a user event was triggered by Sportello itself (Rasa's ``trigger_intent``:
    metadata ``is_external`` and the text ``EXTERNAL: <intent>``) rather than typed."""
    metadata = data.get("metadata")
    text = data.get("text")
    return (
        isinstance(metadata, dict)
        and metadata.get("is_external") is True
        and isinstance(text, str)
        and text.startswith("EXTERNAL: ")
    )


def _new_turn(event_id: int, sender: str, data: dict[str, Any], lang: str | None) -> _Turn:
    parse = data.get("parse_data") or {}
    intent = parse.get("intent") or {}
    name = str(intent.get("name") or "") or None
    for entity in parse.get("entities") or []:
        if isinstance(entity, dict) and entity.get("entity") == "language":
            lang = str(entity.get("value") or "") or lang
    # How the message arrived, not its intent name: a customer can type
    # "/EXTERNAL_operator_message"; only Rasa's trigger_intent (the desk) marks the event
    # external, and the channels drop that mark from what customers send (bot/channels.py).
    external = is_external(data)
    if external and name == "EXTERNAL_operator_message":
        kind = schema.KIND_OPERATOR
    elif external:
        kind = schema.KIND_SYSTEM
    else:
        kind = schema.KIND_CUSTOMER
    confidence = intent.get("confidence")
    return _Turn(
        event_id=event_id,
        conversation_id=sender,
        customer_id=customer_id_from(data.get("metadata"), sender, _event_time(data)),
        channel=data.get("input_channel"),
        lang=lang,
        at=_iso(data.get("timestamp")),
        kind=kind,
        text="" if external else str(data.get("text") or ""),
        intent=name,
        intent_confidence=float(confidence) if isinstance(confidence, (int, float)) else None,
    )


def _observe_identity(conn: sqlite3.Connection, turn: _Turn, metadata: object) -> None:
    """Every conversation belongs to a customer profile: record this message's identity
    facts (channel id, e-mail/phone given or signed) in the same transaction."""
    at = datetime.fromisoformat(turn.at)
    found = contacts.observed(metadata, turn.text, contacts.identity_secret(), at.timestamp())
    profiles.observe(
        conn,
        conversation_id=turn.conversation_id,
        channel_id=turn.customer_id,
        channel=turn.channel,
        contacts=found,
        at=at,
    )


def _load_last(conn: sqlite3.Connection, sender: str) -> _Turn | None:
    """The sender's latest stored turn, to continue it with events that came later."""
    conn.row_factory = sqlite3.Row
    try:
        row = conn.execute(
            f"SELECT * FROM {schema.TURNS} WHERE conversation_id = ? ORDER BY event_id DESC "
            "LIMIT 1",
            (sender,),
        ).fetchone()
    finally:
        conn.row_factory = None
    if row is None:
        return None
    turn = _Turn(
        event_id=row["event_id"],
        conversation_id=row["conversation_id"],
        customer_id=row["customer_id"],
        channel=row["channel"],
        lang=row["lang"],
        at=row["at"],
        kind=row["kind"],
        text=row["text"],
        intent=row["intent"],
        intent_confidence=row["intent_confidence"],
        replies=[line for line in row["reply"].split("\n") if line] if row["reply"] else [],
        article_id=row["article_id"],
        confidence=row["confidence"],
        ticket_id=row["ticket_id"],
        row_id=row["id"],
    )
    decision = row["decision"]
    turn.decision = decision
    turn.escalated = decision == schema.DECISION_ESCALATED
    turn.kb_ran = decision in (schema.DECISION_ABSTAINED, schema.DECISION_ANSWERED)
    turn.for_operator = decision == schema.DECISION_FOR_OPERATOR
    turn.rated = decision == schema.DECISION_RATED
    turn.error = decision == schema.DECISION_ERROR
    return turn


def _apply(turn: _Turn, data: dict[str, Any]) -> None:
    """Fold one non-user event into the turn it follows."""
    kind = data.get("event")
    if kind == "bot":
        text = data.get("text")
        if text:
            turn.replies.append(str(text))
        utter = (data.get("metadata") or {}).get("utter_action")
        if utter in _ERROR_RESPONSES:
            turn.error = True
    elif kind == "action":
        name = data.get("name")
        if name == _KB_ACTION:
            turn.kb_ran = True
        elif name == _FOR_OPERATOR_ACTION:
            turn.for_operator = True
        elif name in _RATING_ACTIONS:
            turn.rated = True
    elif kind == "slot":
        name, value = data.get("name"), data.get("value")
        if name == "kb_article_id":
            turn.article_id = str(value) if value else None
        elif name == "kb_confidence":
            turn.confidence = float(value) if isinstance(value, (int, float)) else None
        elif name == "handoff_active" and value is True:
            turn.escalated = True
        elif name == "language" and value:
            turn.lang = str(value)


def _ticket_for(conn: sqlite3.Connection, turn: _Turn) -> int | None:
    """The conversation's latest ticket, for a turn that escalated.

    The one read of a desk table in the log, by its name: the desk imports the log (the
    history, ratings by e-mail), so the log cannot ask the desk through a function. A
    database the desk has not used yet has no ticket table, hence no ticket.
    """
    if not conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'tickets'"
    ).fetchone():
        return None
    row = conn.execute(
        "SELECT id FROM tickets WHERE conversation_id = ? ORDER BY id DESC LIMIT 1",
        (turn.conversation_id,),
    ).fetchone()
    return row[0] if row else None


def _store(conn: sqlite3.Connection, turns: list[_Turn]) -> None:
    for turn in turns:
        if turn.escalated and turn.ticket_id is None:
            turn.ticket_id = _ticket_for(conn, turn)
        row = turn.row()
        columns = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        updates = ", ".join(f"{c} = excluded.{c}" for c in row if c != "event_id")
        conn.execute(
            f"INSERT INTO {schema.TURNS} ({columns}) VALUES ({marks}) "
            f"ON CONFLICT(event_id) DO UPDATE SET {updates}",
            list(row.values()),
        )


def _project(conn: sqlite3.Connection, rows: list[tuple[int, str, str]]) -> int:
    """Fold tracker events (id, sender, json) into turns; returns how many turns began."""
    open_turns: dict[str, _Turn] = {}
    touched: list[_Turn] = []
    started = 0
    for event_id, sender, raw in rows:
        try:
            data = json.loads(raw)
        except (TypeError, ValueError):
            logger.warning("unreadable tracker event %s skipped", event_id)
            continue
        if not isinstance(data, dict):
            continue
        turn = open_turns.get(sender)
        if data.get("event") == "user":
            previous = turn or _load_last(conn, sender)
            turn = _new_turn(event_id, sender, data, previous.lang if previous else None)
            open_turns[sender] = turn
            touched.append(turn)
            started += 1
            if turn.kind == schema.KIND_CUSTOMER:
                _observe_identity(conn, turn, data.get("metadata"))
            continue
        if turn is None:
            turn = _load_last(conn, sender)
            if turn is None:
                continue  # events before the first message (session start, greetings slots)
            open_turns[sender] = turn
            touched.append(turn)
        _apply(turn, data)
    _store(conn, touched)
    return started


def _fence(conn: sqlite3.Connection) -> Sighting | None:
    found = dict(
        conn.execute(
            f"SELECT name, value FROM {schema.STATE} WHERE name IN (?, ?)", (FENCE_ID, FENCE_AT)
        ).fetchall()
    )
    if FENCE_ID not in found or FENCE_AT not in found:
        return None
    return Sighting(int(found[FENCE_ID]), int(found[FENCE_AT]))


def _save_state(conn: sqlite3.Connection, values: dict[str, int]) -> None:
    for name, value in values.items():
        conn.execute(
            f"INSERT INTO {schema.STATE} (name, value) VALUES (?, ?) "
            "ON CONFLICT(name) DO UPDATE SET value = excluded.value",
            (name, value),
        )


def _settle(db: sqlite_utils.Database, src: TrackerStore) -> tuple[int | None, float]:
    """How far this pass may read (:func:`customerlog.tracker.settled`), and in how
    many seconds the fence kept for the next pass matures. The fence lives with the
    mark, so every process tailing the store shares it."""
    seen = src.sighting()
    if src.horizon_s <= 0:
        return seen.event_id, 0.0
    with write_transaction(db) as conn:
        fence = _fence(conn)
        upto, kept = settled(fence, seen, src.horizon_s)
        if kept != fence:
            _save_state(conn, {FENCE_ID: kept.event_id, FENCE_AT: kept.at_ms})
    return upto, (kept.at_ms + src.horizon_s * 1000 - seen.at_ms) / 1000


def _mark(conn: sqlite3.Connection) -> int:
    row = conn.execute(f"SELECT value FROM {schema.STATE} WHERE name = ?", (MARK,)).fetchone()
    return int(row[0]) if row else 0


def _project_upto(db: sqlite_utils.Database, src: TrackerStore, upto: int, batch: int) -> int:
    total = 0
    while True:
        with write_transaction(db) as conn:
            rows = src.events_after(_mark(conn), upto, batch)
            if rows:
                total += _project(conn, rows)
                _save_state(conn, {MARK: rows[-1][0]})
        if len(rows) < batch:
            return total


def sync(
    db: sqlite_utils.Database,
    tracker: str | Path | None = None,
    batch: int = 2000,
    *,
    settle: bool = False,
) -> int:
    """Project the tracker events not yet logged; returns the number of new turns.

    ``tracker`` is a SQLite file or a URL (:func:`customerlog.tracker.tracker_store`;
    default: the settings'). On PostgreSQL the log reads only ids visible for the
    store's horizon, so it runs 10-20 s behind; ``settle=True`` waits for that, so
    that every event committed before the call is logged (export and erasure).
    """
    total = 0
    with tracker_store(tracker) as src:
        if src is None:
            return 0
        # Only a settling call needs to know how far "now" is (one query saved per pass).
        wanted = src.sighting().event_id if settle else 0
        while True:
            upto, matures_in = _settle(db, src)
            if upto is not None:
                total += _project_upto(db, src, upto, batch)
            # The mark only passes ids that are final, so reaching ``wanted`` is enough.
            if not settle or max(upto or 0, _mark(db.conn)) >= wanted:
                return total
            time.sleep(max(matures_in, 0.1))


TURN_COLUMNS = (
    "conversation_id",
    "customer_id",
    "channel",
    "lang",
    "at",
    "kind",
    "text",
    "intent",
    "intent_confidence",
    "reply",
    "decision",
    "article_id",
    "confidence",
    "ticket_id",
)


def record_turn(db: sqlite_utils.Database, **values: Any) -> int:
    """Write a turn that did not come through Rasa (imported history, simulated demo
    data); ``values`` are :data:`TURN_COLUMNS`. Returns the row id."""
    unknown = set(values) - set(TURN_COLUMNS)
    if unknown:
        raise ValueError(f"unknown turn columns: {sorted(unknown)}")
    for required in ("conversation_id", "at", "kind"):
        if not values.get(required):
            raise ValueError(f"a turn needs {required}")
    row = {"customer_id": values["conversation_id"], "text": "", "reply": "", **values}
    with write_transaction(db) as conn:
        columns = ", ".join(row)
        cursor = conn.execute(
            f"INSERT INTO {schema.TURNS} ({columns}) VALUES ({', '.join('?' for _ in row)})",
            list(row.values()),
        )
        return int(cursor.lastrowid or 0)


def conversation_turns(db: sqlite_utils.Database, conversation_id: str) -> list[dict[str, Any]]:
    """A conversation's logged turns, oldest first."""
    return list(
        db.query(
            f"SELECT * FROM {schema.TURNS} WHERE conversation_id = ? ORDER BY event_id",
            [conversation_id],
        )
    )
