"""An isolated data directory and database for the insights tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlite_utils

from sportello.settings import get_settings
from tests.databases import open_db


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[sqlite_utils.Database]:
    monkeypatch.setenv("SPORTELLO_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("SPORTELLO_SLA_FILE", raising=False)
    get_settings.cache_clear()
    database = open_db(get_settings().db_path)
    yield database
    database.close()
    get_settings.cache_clear()
