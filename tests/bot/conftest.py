"""Running Rasa-side code from the test suite.

The tests run under the app environment (Python 3.11), where Rasa cannot be installed,
so Rasa-side checks run a small script with ``.venv-rasa/bin/python`` from the
repository root (as ``rasa train`` does) and read the JSON it prints last.
"""

from __future__ import annotations

import json
import subprocess
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from sportello.settings import PROJECT_ROOT


@pytest.fixture
def run_in_rasa(tmp_path: Path, rasa_bin: Path) -> Callable[[str], object]:
    """A function running a script in the Rasa environment; returns its JSON output."""

    def run(script: str) -> object:
        path = tmp_path / "check.py"
        path.write_text(textwrap.dedent(script), encoding="utf-8")
        done = subprocess.run(
            [str(rasa_bin.with_name("python")), str(path)],
            cwd=PROJECT_ROOT,
            env={"PYTHONPATH": str(PROJECT_ROOT), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        return json.loads(done.stdout.strip().splitlines()[-1])

    return run
