"""The customer log, export, erasure and retention on a tracker store in PostgreSQL.

A throwaway PostgreSQL cluster (bench/scaleout_stack.py, a couple of seconds to
start) holds an ``events`` table shaped like Rasa 3.6's SQLTrackerStore's; the rows are
written here the way Rasa saves a turn (one transaction per save). The scale-out smoke
test (tests/integration/test_scale_out.py) does the same with real Rasa servers.
Skipped without PostgreSQL's programs, except under ``SPORTELLO_REQUIRE_SCALE_OUT=1``.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

import psycopg
import pytest
import sqlite_utils

from bench.scaleout_stack import REQUIRE_ENV, Postgres, missing_binaries, running_postgres
from customerlog import schema, tracker, turns
from privacy import customers, retention
from tests.customerlog.tracker import kb_turn

# Rasa 3.6's SQLTrackerStore.SQLEvent as SQLAlchemy creates it on PostgreSQL.
RASA_EVENTS = """
CREATE SEQUENCE events_seq;
CREATE TABLE events (
    id INTEGER NOT NULL DEFAULT nextval('events_seq') PRIMARY KEY,
    sender_id VARCHAR(255) NOT NULL,
    type_name VARCHAR(255) NOT NULL,
    timestamp FLOAT,
    intent_name VARCHAR(255),
    action_name VARCHAR(255),
    data TEXT
);
CREATE INDEX ix_events_sender_id ON events (sender_id);
"""
HORIZON_S = 0.5


@pytest.fixture(scope="module")
def postgres() -> Iterator[Postgres]:
    missing = [m for m in missing_binaries() if "redis" not in m]
    if missing:
        if os.environ.get(REQUIRE_ENV) == "1":
            pytest.fail("PostgreSQL is needed: " + "; ".join(missing))
        pytest.skip("PostgreSQL is needed: " + "; ".join(missing))
    with running_postgres() as server:
        yield server


@pytest.fixture
def url(postgres: Postgres, monkeypatch: pytest.MonkeyPatch) -> str:
    """A new database of the cluster, before Rasa has created its table; a short horizon."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    postgres.query(f"CREATE DATABASE {name}", database="postgres")
    monkeypatch.setattr(tracker, "POSTGRES_HORIZON_S", HORIZON_S)
    return f"postgresql+psycopg2://{postgres.user}@{postgres.host}:{postgres.port}/{name}"


class RasaWriter:
    """Saves events as Rasa's SQLTrackerStore does: one transaction per save."""

    def __init__(self, url: str) -> None:
        self.conninfo = "postgresql://" + url.split("://", 1)[1]
        self.clock = time.time()
        with psycopg.connect(self.conninfo, autocommit=True) as conn:
            conn.execute(RASA_EVENTS)

    def insert(self, conn: psycopg.Connection, sender: str, *events: dict[str, Any]) -> None:
        for event in events:
            self.clock += 0.001
            data = {"timestamp": self.clock, **event}
            conn.execute(
                "INSERT INTO events (sender_id, type_name, timestamp, data) "
                "VALUES (%s, %s, %s, %s)",
                (sender, data["event"], data["timestamp"], json.dumps(data)),
            )

    def add(self, sender: str, *events: dict[str, Any]) -> None:
        with psycopg.connect(self.conninfo) as conn:
            self.insert(conn, sender, *events)

    def count(self, sender: str | None = None) -> int:
        with psycopg.connect(self.conninfo) as conn:
            sql, params = "SELECT COUNT(*) FROM events", ()
            if sender is not None:
                sql, params = sql + " WHERE sender_id = %s", (sender,)
            return conn.execute(sql, params).fetchone()[0]


def test_a_database_without_rasa_s_table_is_no_store_yet(url: str) -> None:
    with tracker.tracker_store(url) as store:
        assert store is None
    RasaWriter(url)
    with tracker.tracker_store(url) as store:
        assert store is not None and store.horizon_s == HORIZON_S


def _two_saves_committed_out_of_order(
    writer: RasaWriter, db: sqlite_utils.Database, url: str
) -> set[str]:
    """Server A inserts its turn first but commits after server B; the log syncs in
    between. Returns the turns logged once both are committed and the horizon passed."""
    with psycopg.connect(writer.conninfo) as slow:
        writer.insert(slow, "slow", *kb_turn("slow", "orari?", "opening-hours"))
        writer.add("fast", *kb_turn("fast", "quanto costa la spedizione?", "shipping"))
        turns.sync(db, url)
    time.sleep(HORIZON_S + 0.1)
    turns.sync(db, url)
    return {r["conversation_id"] for r in db[schema.TURNS].rows}


def test_a_save_committed_after_a_later_one_is_still_logged(
    db: sqlite_utils.Database, url: str
) -> None:
    writer = RasaWriter(url)
    assert _two_saves_committed_out_of_order(writer, db, url) == {"slow", "fast"}


def test_without_the_horizon_that_save_would_be_lost(
    db: sqlite_utils.Database, url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the horizon is for, shown on the real database."""
    monkeypatch.setattr(tracker, "POSTGRES_HORIZON_S", 0.0)
    writer = RasaWriter(url)
    assert _two_saves_committed_out_of_order(writer, db, url) == {"fast"}


def test_the_log_stays_behind_the_horizon_unless_asked_to_settle(
    db: sqlite_utils.Database, url: str
) -> None:
    writer = RasaWriter(url)
    writer.add("c1", *kb_turn("c1", "orari?", "opening-hours"))
    assert turns.sync(db, url) == 0, "just committed: not read yet"
    assert turns.sync(db, url, settle=True) == 1
    assert turns.conversation_turns(db, "c1")[0]["article_id"] == "opening-hours"
    assert turns.sync(db, url) == 0


def test_export_and_erasure_reach_the_events_in_postgresql(
    db: sqlite_utils.Database, url: str
) -> None:
    writer = RasaWriter(url)
    writer.add("mario", *kb_turn("mario", "quanto costa la spedizione?", "shipping"))
    writer.add("bianca", *kb_turn("bianca", "orari del negozio?", "opening-hours"))

    exported = customers.export(db, "mario", url)
    assert [t["text"] for t in exported["turns"]] == ["quanto costa la spedizione?"]
    assert len(exported["tracker_events"]) == len(kb_turn("mario", "", None))
    assert {e["conversation_id"] for e in exported["tracker_events"]} == {"mario"}

    left = customers.erase(db, "mario", url)
    assert left["tracker_events"] == 0 and not any(left.values()), left
    assert writer.count("mario") == 0
    assert writer.count("bianca") == len(kb_turn("bianca", "", None))


def test_retention_deletes_old_events_and_logging_goes_on(
    db: sqlite_utils.Database, url: str
) -> None:
    writer = RasaWriter(url)
    writer.clock -= 400 * 86400
    writer.add("old", *kb_turn("old", "vecchia domanda", "faq"))
    writer.clock += 400 * 86400
    writer.add("new", *kb_turn("new", "domanda recente", "faq"))
    turns.sync(db, url, settle=True)

    purged = retention.purge(db, 365, datetime.now(timezone.utc), url)

    assert purged.tracker_events == len(kb_turn("old", "", None))
    assert (writer.count("old"), writer.count("new")) == (0, len(kb_turn("new", "", None)))
    writer.add("later", *kb_turn("later", "e adesso?", "faq"))
    assert turns.sync(db, url, settle=True) == 1
