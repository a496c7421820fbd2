"""The SQLite tracker store: Rasa's SQL store in WAL mode, on one reused connection."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path


def test_conversations_are_stored_in_wal_mode_on_one_connection(
    run_in_rasa: Callable[[str], object], tmp_path: Path
) -> None:
    result = run_in_rasa(
        f"""
        import asyncio, json, sqlite3
        from rasa.shared.core.domain import Domain
        from rasa.shared.core.events import ActionExecuted, SlotSet, UserUttered
        from bot.tracker_store import SQLiteTrackerStore

        db = {str(tmp_path / "tracker.db")!r}
        domain = Domain.load("bot/domain.yml")
        store = SQLiteTrackerStore(domain=domain, dialect="sqlite", db=db)
        connects = []
        import sqlalchemy as sa
        sa.event.listen(store.engine, "connect", lambda *args: connects.append(1))

        async def turns():
            tracker = await store.get_or_create_tracker("c1")
            for text in ("ciao", "quanto costa la spedizione?", "grazie"):
                tracker = await store.retrieve("c1") or tracker
                tracker.update(UserUttered(text, {{"name": "greet", "confidence": 1.0}}))
                tracker.update(SlotSet("language", "it"))
                tracker.update(ActionExecuted("action_listen"))
                await store.save(tracker)
            again = await store.retrieve("c1")
            return [e.text for e in again.events if isinstance(e, UserUttered)], len(again.events)

        texts, events = asyncio.run(turns())
        mode = sqlite3.connect(db).execute("PRAGMA journal_mode").fetchone()[0]
        rows = sqlite3.connect(db).execute("SELECT count(*) FROM events").fetchone()[0]
        found = {{"texts": texts, "mode": mode, "rows": rows, "events": events}}
        print(json.dumps({{**found, "connects": len(connects)}}))
        """
    )
    assert result["texts"] == ["ciao", "quanto costa la spedizione?", "grazie"]
    assert result["mode"] == "wal"
    assert result["rows"] == result["events"]  # each event stored once, none lost
    # Rasa's own store opens a connection per read and per write (9 here): one is kept.
    assert result["connects"] <= 1


def test_plain_sql_reads_and_writes_what_rasas_store_does(
    run_in_rasa: Callable[[str], object], tmp_path: Path
) -> None:
    """The same conversation through Rasa's ORM store and ours: the same rows, trackers."""
    result = run_in_rasa(
        f"""
        import asyncio, json, sqlite3
        from rasa.core.tracker_store import SQLTrackerStore
        from rasa.shared.core.domain import Domain
        from rasa.shared.core.events import (
            ActionExecuted, BotUttered, SessionStarted, SlotSet, UserUttered,
        )
        from rasa.shared.core.trackers import DialogueStateTracker
        from bot.tracker_store import SQLiteTrackerStore

        domain = Domain.load("bot/domain.yml")
        queried = []
        rasa_query = SQLTrackerStore._event_query
        def spy(self, *args, **kwargs):
            queried.append(type(self).__name__)
            return rasa_query(self, *args, **kwargs)
        SQLTrackerStore._event_query = spy

        def said(text, t):
            return [
                UserUttered(
                    text, {{"name": "greet", "confidence": 0.9}}, timestamp=t,
                    parse_data={{"intent": {{"name": "greet", "confidence": 0.9}}, "text": text}},
                ),
                SlotSet("language", "it", timestamp=t),
                BotUttered("<b>ciao</b> '; DROP TABLE events;--", timestamp=t),
                ActionExecuted("action_listen", timestamp=t),
            ]

        def opened(t):
            return [SessionStarted(timestamp=t), ActionExecuted("action_listen", timestamp=t)]

        # Two conversations, the first with a second session: each turn reads the
        # tracker back, adds its events and saves.
        script = [
            ("c1", opened(100.0)), ("c1", said("ciao", 101.0)), ("c2", opened(150.0)),
            ("c1", said("spedizione?", 102.0)), ("c2", said("hello", 151.0)),
            ("c1", opened(200.0)), ("c1", said("di nuovo", 201.0)),
            ("c1", said("€ 5,90 😀", 202.0)),
        ]

        async def converse(store):
            for sender, events in script:
                tracker = await store.retrieve(sender)
                tracker = tracker or DialogueStateTracker(sender, domain.slots)
                for event in events:
                    tracker.update(event)
                await store.save(tracker)
            latest = await store.retrieve("c1")
            full = await store.retrieve_full_tracker("c1")
            missing = await store.retrieve("nobody")
            return (
                [e.as_dict() for e in latest.events],
                [e.as_dict() for e in full.events],
                missing,
            )

        out = {{}}
        for name, cls in (("rasa", SQLTrackerStore), ("ours", SQLiteTrackerStore)):
            db = {str(tmp_path)!r} + f"/{{name}}.db"
            store = cls(domain=domain, dialect="sqlite", db=db)
            latest, full, missing = asyncio.run(converse(store))
            rows = sqlite3.connect(db).execute(
                "SELECT sender_id, type_name, timestamp, intent_name, action_name, data "
                "FROM events ORDER BY id"
            ).fetchall()
            out[name] = {{"latest": latest, "full": full, "missing": missing, "rows": rows}}
        out["queried"] = queried
        print(json.dumps(out))
        """
    )
    rasa, ours = result["rasa"], result["ours"]
    assert ours["rows"] == rasa["rows"]
    assert ours["latest"] == rasa["latest"]
    assert ours["full"] == rasa["full"]
    assert ours["missing"] is None and rasa["missing"] is None
    # Only the latest session is read back, and it is not the whole conversation.
    c1_rows = [row for row in ours["rows"] if row[0] == "c1"]
    assert len(ours["latest"]) == 10 and len(ours["full"]) == len(c1_rows) == 20
    texts = [e.get("text") for e in ours["latest"] if e["event"] == "user"]
    assert texts == ["di nuovo", "€ 5,90 😀"]
    # Rasa's ORM query served Rasa's store only: ours read and wrote with plain SQL.
    assert set(result["queried"]) == {"SQLTrackerStore"}
