"""Settings read from the environment: where Rasa's tracker store is read."""

from __future__ import annotations

from pathlib import Path

import pytest

from sportello.services import app_env
from sportello.settings import Settings, load_settings

PG_URL = "postgresql://rasa:secret@db.internal:5432/rasa"


def test_the_tracker_store_is_the_sqlite_file_unless_a_url_is_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SPORTELLO_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("SPORTELLO_TRACKER_URL", "  ")
    settings = load_settings()
    assert settings.tracker_url is None
    assert settings.tracker_store == tmp_path / "tracker.db" == settings.tracker_db_path

    monkeypatch.setenv("SPORTELLO_TRACKER_URL", PG_URL)
    assert load_settings().tracker_store == PG_URL


def test_the_services_read_the_same_tracker_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What ``sportello run`` gives the action server, the console and the monitor."""
    monkeypatch.delenv("SPORTELLO_TRACKER_URL", raising=False)
    assert "SPORTELLO_TRACKER_URL" not in app_env(Settings(data_dir=tmp_path))

    env = app_env(Settings(data_dir=tmp_path, tracker_url=PG_URL))
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert load_settings().tracker_store == PG_URL
