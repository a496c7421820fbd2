"""A tracker store file shaped like Rasa 3.6's SQLTrackerStore, for unit tests.

The integration tests use the real Rasa server; these helpers write the same rows
(``events`` with the event serialised in ``data``) without starting it.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

SCHEMA = """CREATE TABLE IF NOT EXISTS events (
    id INTEGER NOT NULL PRIMARY KEY,
    sender_id VARCHAR(255) NOT NULL,
    type_name VARCHAR(255) NOT NULL,
    timestamp FLOAT,
    intent_name VARCHAR(255),
    action_name VARCHAR(255),
    data TEXT
)"""


class FakeTracker:
    """Appends events to a tracker store file, one transaction per call (like Rasa's save)."""

    START = 1_780_000_000.0

    def __init__(self, path: Path) -> None:
        self.path = path
        self.clock = self.START
        with sqlite3.connect(path) as conn:
            conn.execute(SCHEMA)

    def add(self, sender: str, *events: dict[str, Any]) -> None:
        with sqlite3.connect(self.path) as conn:
            for event in events:
                self.clock += 1
                data = {"timestamp": self.clock, **event}
                conn.execute(
                    "INSERT INTO events (sender_id, type_name, timestamp, intent_name, "
                    "action_name, data) VALUES (?, ?, ?, ?, ?, ?)",
                    (
                        sender,
                        data["event"],
                        data["timestamp"],
                        (data.get("parse_data") or {}).get("intent", {}).get("name"),
                        data.get("name") if data["event"] == "action" else None,
                        json.dumps(data),
                    ),
                )

    def count(self, sender: str | None = None) -> int:
        with sqlite3.connect(self.path) as conn:
            if sender is None:
                return conn.execute("SELECT COUNT(*) FROM events").fetchone()[0]
            return conn.execute(
                "SELECT COUNT(*) FROM events WHERE sender_id = ?", (sender,)
            ).fetchone()[0]


def user(text: str, intent: str, lang: str | None = None, **extra: Any) -> dict[str, Any]:
    entities = [{"entity": "language", "value": lang}] if lang else []
    return {
        "event": "user",
        "text": text,
        "parse_data": {"intent": {"name": intent, "confidence": 0.9}, "entities": entities},
        "input_channel": extra.pop("channel", "rest"),
        **extra,
    }


def external(intent: str) -> dict[str, Any]:
    """An intent the desk triggered (Rasa's ``trigger_intent``: UserUttered.create_external)."""
    return {
        "event": "user",
        "text": f"EXTERNAL: {intent}",
        "parse_data": {"intent": {"name": intent, "confidence": 1.0}, "entities": []},
        "input_channel": "rest",
        "metadata": {"is_external": True},
    }


def action(name: str) -> dict[str, Any]:
    return {"event": "action", "name": name}


def bot(text: str, utter: str | None = None) -> dict[str, Any]:
    return {"event": "bot", "text": text, "metadata": {"utter_action": utter} if utter else {}}


def slot(name: str, value: Any) -> dict[str, Any]:
    return {"event": "slot", "name": name, "value": value}


def kb_turn(sender: str, text: str, article: str | None, lang: str = "it") -> list[dict]:
    """A question answered (article given) or abstained on (article None)."""
    reply = f"answer of {article}" if article else "non lo so"
    return [
        user(text, "ask_question", lang),
        slot("language", lang),
        action("action_answer_from_kb"),
        bot(reply),
        slot("kb_article_id", article),
        slot("kb_confidence", 0.81 if article else 0.2),
        action("action_listen"),
    ]
