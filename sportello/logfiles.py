"""The services' log files: rotated daily (or when large) and purged with the retention
period, like the conversation logs they may mention.

``sportello run`` sends each service's output to ``data_dir/run/<service>.log``, opened
in append mode. A rotation copies the file to ``<service>.log.<UTC date-time>`` (0600)
and truncates it: the service keeps writing to the same open file, now from its start
(logrotate's ``copytruncate``; a line written during the copy may be lost). Rotated files
older than ``SPORTELLO_LOG_RETENTION_DAYS`` are deleted. The desk monitor does both once
an hour.
"""

from __future__ import annotations

import os
import shutil
from datetime import datetime, timedelta, timezone
from pathlib import Path

# A log larger than this is rotated at the next hourly pass, whatever its age.
MAX_LOG_BYTES = 20 * 1024 * 1024
STAMP = "%Y%m%dT%H%M%SZ"


def _rotated(log: Path) -> list[Path]:
    return sorted(log.parent.glob(log.name + ".*"))


def _rotated_at(path: Path) -> datetime | None:
    try:
        return datetime.strptime(path.name.rsplit(".", 1)[1], STAMP).replace(tzinfo=timezone.utc)
    except ValueError:
        return None


def rotate(run_dir: Path, now: datetime) -> list[Path]:
    """Rotate each non-empty ``*.log`` that is over :data:`MAX_LOG_BYTES` or was not
    rotated yet today (UTC); returns the new files."""
    made = []
    today = now.astimezone(timezone.utc)
    for log in sorted(run_dir.glob("*.log")):
        size = log.stat().st_size
        if not size:
            continue
        stamps = [at for path in log.parent.glob(log.name + ".*") if (at := _rotated_at(path))]
        if size < MAX_LOG_BYTES and stamps and max(stamps).date() == today.date():
            continue
        target = log.with_name(f"{log.name}.{today.strftime(STAMP)}")
        if target.exists():
            continue
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as copy, log.open("rb") as source:
            shutil.copyfileobj(source, copy)
        os.truncate(log, 0)
        made.append(target)
    return made


def purge(run_dir: Path, retention_days: int, now: datetime) -> list[Path]:
    """Delete rotated logs last written more than ``retention_days`` ago."""
    cutoff = (now - timedelta(days=retention_days)).timestamp()
    gone = []
    for path in sorted(run_dir.glob("*.log.*")):
        if path.is_file() and path.stat().st_mtime < cutoff:
            path.unlink()
            gone.append(path)
    return gone
