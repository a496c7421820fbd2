"""The shipped service unit passes ``systemd-analyze verify`` (deploy/systemd/)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from sportello.settings import PROJECT_ROOT

UNIT = PROJECT_ROOT / "deploy" / "systemd" / "sportello.service"


def verify(text: str, folder: Path) -> subprocess.CompletedProcess[str]:
    if shutil.which("systemd-analyze") is None:
        why = "systemd-analyze not installed (apt install systemd)"
        if os.environ.get("SPORTELLO_REQUIRE_PROXY") == "1":  # make test
            pytest.fail(why)
        pytest.skip(why)
    path = folder / "sportello.service"
    path.write_text(text, encoding="utf-8")
    return subprocess.run(
        ["systemd-analyze", "verify", str(path)], capture_output=True, text=True, timeout=60
    )


def test_the_service_unit_verifies(tmp_path: Path) -> None:
    """Installed in /opt/sportello; checked here with this checkout in its place (the
    command it starts must exist)."""
    unit = UNIT.read_text(encoding="utf-8").replace("/opt/sportello", str(PROJECT_ROOT))
    done = verify(unit, tmp_path)
    assert done.returncode == 0, done.stderr
    assert "UMask=0077" in unit and "python -m cli run" in unit


def test_the_check_can_fail(tmp_path: Path) -> None:
    broken = UNIT.read_text(encoding="utf-8").replace(
        "/opt/sportello/.venv/bin/python", "/nonexistent/python"
    )
    assert verify(broken, tmp_path).returncode != 0
