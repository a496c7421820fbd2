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
