"""An empty data directory with a fake tracker store beside the database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlite_utils

from sportello.settings import get_settings
from tests.customerlog.tracker import FakeTracker
from tests.databases import open_db
from tests.servers import free_port


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("SPORTELLO_DATA_DIR", str(tmp_path))
    # Nothing listens on this Rasa port: nothing reaches a real Rasa.
    monkeypatch.setenv("SPORTELLO_RASA_PORT", str(free_port()))
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


@pytest.fixture
def db(data_dir: Path) -> Iterator[sqlite_utils.Database]:
    database = open_db(data_dir / "sportello.db")
    yield database
    database.close()


@pytest.fixture
def tracker(data_dir: Path) -> FakeTracker:
    return FakeTracker(data_dir / "tracker.db")
