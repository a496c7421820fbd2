"""Opening Rasa's tracker store by file or URL, and the safe horizon for tailing it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlite_utils

from customerlog import schema, turns
from customerlog.tracker import (
    POSTGRESQL,
    SQLITE,
    Sighting,
    TrackerStore,
    TrackerStoreError,
    parse_location,
    settled,
    tracker_store,
)
from sportello.settings import get_settings
from tests.customerlog.tracker import FakeTracker, kb_turn


# ---- where the store is ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("where", "expected"),
    [
        (Path("/srv/tracker.db"), (SQLITE, Path("/srv/tracker.db"))),
        ("/srv/tracker.db", (SQLITE, Path("/srv/tracker.db"))),
        ("sqlite:////srv/tracker.db", (SQLITE, Path("/srv/tracker.db"))),
        ("sqlite:///var/tracker.db", (SQLITE, Path("var/tracker.db"))),
        ("postgresql://rasa@db:5432/rasa", (POSTGRESQL, "postgresql://rasa@db:5432/rasa")),
        ("postgres://rasa:pw@db/rasa", (POSTGRESQL, "postgresql://rasa:pw@db/rasa")),
        (
            "postgresql+psycopg2://rasa@db/rasa?sslmode=require",
            (POSTGRESQL, "postgresql://rasa@db/rasa?sslmode=require"),
        ),
    ],
)
def test_a_store_is_named_by_a_file_or_an_sqlalchemy_url(
    where: str | Path, expected: tuple[str, str | Path]
) -> None:
    assert parse_location(where) == expected


@pytest.mark.parametrize("where", ["mysql://rasa@db/rasa", "sqlite://"])
def test_stores_that_cannot_be_read_are_refused(where: str) -> None:
    with pytest.raises(TrackerStoreError):
        parse_location(where)


def test_a_missing_file_is_no_store_and_is_not_created(tmp_path: Path) -> None:
    path = tmp_path / "tracker.db"
    with tracker_store(path) as store:
        assert store is None
    assert not path.exists()
    sqlite_utils.Database(path)["other"].insert({"x": 1})
    with tracker_store(path) as store:
        assert store is None, "no events table yet: Rasa has not started"


def test_the_settings_url_is_the_default_store(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = data_dir / "elsewhere.db"
    FakeTracker(elsewhere).add("c1", *kb_turn("c1", "orari?", "opening-hours"))
    FakeTracker(data_dir / "tracker.db")  # the default file: empty
    monkeypatch.setenv("SPORTELLO_TRACKER_URL", f"sqlite:///{elsewhere}")
    get_settings.cache_clear()
    with tracker_store() as store:
        assert store is not None
        assert store.sighting().event_id == len(kb_turn("c1", "", None))


@dataclass
class _Recorder:
    """Stands for a driver connection: keeps the SQL it was given."""

    sql: str = ""

    def execute(self, sql: str, params: tuple[Any, ...]) -> None:
        self.sql = sql


def test_placeholders_are_written_once_and_translated_for_postgresql() -> None:
    conn = _Recorder()
    TrackerStore(conn, POSTGRESQL).execute("SELECT 1 WHERE a = ? AND b LIKE 'x%'", (1,))
    assert conn.sql == "SELECT 1 WHERE a = %s AND b LIKE 'x%%'"
    TrackerStore(conn, SQLITE).execute("SELECT 1 WHERE a = ?", (1,))
    assert conn.sql == "SELECT 1 WHERE a = ?"


def test_only_postgresql_has_a_horizon() -> None:
    assert TrackerStore(_Recorder(), SQLITE).horizon_s == 0
    assert TrackerStore(_Recorder(), POSTGRESQL).horizon_s >= 5


def test_sync_reads_a_store_named_by_url(db: sqlite_utils.Database, tracker: FakeTracker) -> None:
    tracker.add("c1", *kb_turn("c1", "orari?", "opening-hours"))
    assert turns.sync(db, f"sqlite:///{tracker.path}") == 1
    assert turns.sync(db, tracker.path) == 0, "one position, however the store is named"
    assert {r["name"] for r in db[schema.STATE].rows} == {turns.MARK}, "no fence on SQLite"


# ---- the safe horizon ----------------------------------------------------------------------------
def test_the_first_sighting_becomes_the_fence_and_nothing_is_read() -> None:
    seen = Sighting(102, 1_000)
    assert settled(None, seen, 10) == (None, seen)


def test_a_young_fence_is_kept_not_replaced_by_newer_sightings() -> None:
    fence = Sighting(102, 1_000)
    assert settled(fence, Sighting(140, 9_000), 10) == (None, fence)
    assert settled(fence, Sighting(150, 10_999), 10) == (None, fence)


def test_a_mature_fence_is_read_up_to_and_the_latest_sighting_becomes_the_next() -> None:
    fence, seen = Sighting(102, 1_000), Sighting(160, 11_000)
    assert settled(fence, seen, 10) == (102, seen)


def test_a_clock_that_went_back_restarts_the_fence() -> None:
    seen = Sighting(160, 500)
    assert settled(Sighting(102, 1_000), seen, 10) == (None, seen)


def test_without_a_horizon_everything_visible_is_read() -> None:
    seen = Sighting(160, 500)
    assert settled(Sighting(102, 400), seen, 0) == (160, seen)


@dataclass(frozen=True)
class _Insert:
    """One event row of a simulated PostgreSQL: its id is taken at ``taken`` and the
    row is visible from ``committed`` on (seconds)."""

    event_id: int
    taken: float
    committed: float


def _tail(rows: list[_Insert], horizon_s: float, polls: list[float]) -> list[int]:
    """Tail ``rows`` as :func:`customerlog.turns.sync` does at the times ``polls``."""
    mark, fence, read = 0, None, []
    for now in polls:
        visible = [r.event_id for r in rows if r.committed <= now]
        upto, fence = settled(fence, Sighting(max(visible, default=0), int(now * 1000)), horizon_s)
        if upto is not None:
            batch = sorted(i for i in visible if mark < i <= upto)
            read += batch
            mark = batch[-1] if batch else mark
    return read


def test_ids_committed_out_of_order_are_all_read_behind_the_horizon() -> None:
    # Two Rasa servers save at once: 101 is taken first but committed after 102.
    rows = [_Insert(100, 0.0, 0.01), _Insert(101, 5.0, 5.2), _Insert(102, 5.1, 5.15)]
    polls = [5.17 + 2.5 * i for i in range(20)]  # the first falls between the two commits
    assert _tail(rows, 10.0, polls) == [100, 101, 102]
    assert _tail(rows, 0.0, polls) == [100, 102], "without the horizon 101 is skipped"
