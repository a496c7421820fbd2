"""The conversation tests in bot/tests pass against a freshly trained model.

``rasa test`` exits 0 even when stories fail, so this runs it with
``--fail-on-prediction-errors``. Slow (trains a model: ~30 s with a warm
``.rasa/cache``, a few minutes cold).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from sportello.settings import PROJECT_ROOT

RASA = PROJECT_ROOT / ".venv-rasa" / "bin" / "rasa"

pytestmark = pytest.mark.skipif(not RASA.exists(), reason="no .venv-rasa environment")


def rasa(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(RASA), *args],
        cwd=PROJECT_ROOT,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
        capture_output=True,
        text=True,
        timeout=1200,
    )


def test_conversation_stories_pass(tmp_path: Path) -> None:
    trained = rasa("train", "--out", str(tmp_path / "models"))
    assert trained.returncode == 0, trained.stdout[-3000:] + trained.stderr[-3000:]
    tested = rasa(
        "test",
        "core",
        "--stories",
        "bot/tests",
        "--model",
        str(tmp_path / "models"),
        "--out",
        str(tmp_path / "results"),
        "--fail-on-prediction-errors",
        "--no-plot",
    )
    assert tested.returncode == 0, tested.stdout[-3000:] + tested.stderr[-3000:]
    failed = (tmp_path / "results" / "failed_test_stories.yml").read_text(encoding="utf-8")
    assert "None of the test stories failed" in failed
