"""The services' log files are rotated and purged with the retention period."""

from __future__ import annotations

import os
import stat
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sportello import logfiles

NOW = datetime(2026, 12, 5, 3, 0, tzinfo=timezone.utc)


def test_a_log_is_rotated_once_a_day_and_keeps_being_written(tmp_path: Path) -> None:
    log = tmp_path / "rasa.log"
    with log.open("ab") as service:  # the service's open file, as sportello run opens it
        service.write(b"monday\n")
        service.flush()
        [rotated] = logfiles.rotate(tmp_path, NOW)
        assert rotated.read_bytes() == b"monday\n"
        assert stat.S_IMODE(rotated.stat().st_mode) == 0o600
        assert log.read_bytes() == b""
        service.write(b"still monday\n")
        service.flush()
        assert logfiles.rotate(tmp_path, NOW + timedelta(hours=1)) == []  # once a day
        assert log.read_bytes() == b"still monday\n"
        assert len(logfiles.rotate(tmp_path, NOW + timedelta(days=1))) == 1


def test_a_large_log_is_rotated_at_once(tmp_path: Path) -> None:
    log = tmp_path / "web.log"
    log.write_bytes(b"x")
    logfiles.rotate(tmp_path, NOW)
    log.write_bytes(b"x" * logfiles.MAX_LOG_BYTES)
    assert len(logfiles.rotate(tmp_path, NOW + timedelta(minutes=5))) == 1


def test_rotated_logs_older_than_the_retention_period_are_deleted(tmp_path: Path) -> None:
    old = tmp_path / "console.log.20250101T000000Z"
    recent = tmp_path / "console.log.20261201T000000Z"
    for path, when in [(old, NOW - timedelta(days=400)), (recent, NOW - timedelta(days=4))]:
        path.write_text("GET /")
        os.utime(path, (when.timestamp(), when.timestamp()))
    (tmp_path / "console.log").write_text("current")
    assert logfiles.purge(tmp_path, 365, NOW) == [old]
    assert recent.exists() and (tmp_path / "console.log").exists()
