"""An isolated data directory (and its database) for each command-line test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlite_utils

from sportello.settings import get_settings
from tests.databases import open_db


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh data folder, apart from the files a test writes to import."""
    monkeypatch.setenv("SPORTELLO_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("SPORTELLO_SLA_FILE", raising=False)
    get_settings.cache_clear()
    yield tmp_path / "data"
    get_settings.cache_clear()


@pytest.fixture
def db(data_dir: Path) -> Iterator[sqlite_utils.Database]:
    """The database the commands open, for a test to fill or read."""
    database = open_db(get_settings().db_path)
    yield database
    database.close()
