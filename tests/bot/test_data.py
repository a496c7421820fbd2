"""The bot's training data and domain are consistent (``rasa data validate``)."""

from __future__ import annotations

import os
import subprocess

import pytest

from sportello.settings import PROJECT_ROOT

RASA = PROJECT_ROOT / ".venv-rasa" / "bin" / "rasa"


@pytest.mark.skipif(not RASA.exists(), reason="no .venv-rasa environment")
def test_rasa_data_validate_passes() -> None:
    done = subprocess.run(
        [str(RASA), "data", "validate", "--fail-on-warnings"],
        cwd=PROJECT_ROOT,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
