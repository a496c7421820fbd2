from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlite_utils

from sportello.settings import get_settings
from tests.databases import open_db


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("SPORTELLO_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("SPORTELLO_IDENTITY_SECRET", "test-identity-secret-0123456789abcdef")
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


@pytest.fixture
def db(data_dir: Path) -> Iterator[sqlite_utils.Database]:
    database = open_db(data_dir / "sportello.db")
    yield database
    database.close()
