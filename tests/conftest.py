"""Fixtures shared by every test: the process environment, and the Rasa environment.

The app's tests run under Python 3.11, where Rasa cannot be installed; everything Rasa
runs in ``.venv-rasa`` (Python 3.10), which ``scripts/setup.sh`` creates. A test that
needs it asks for the ``rasa_bin`` fixture: where that environment is missing the test
is skipped, except under ``make test`` (``SPORTELLO_REQUIRE_RASA=1``), where that is a
failure, so that a run which never exercised Rasa cannot pass, as with the browser.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sportello.settings import PROJECT_ROOT

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REQUIRE_RASA_ENV = "SPORTELLO_REQUIRE_RASA"
RASA_BIN = PROJECT_ROOT / ".venv-rasa" / "bin" / "rasa"


def require_rasa() -> Path:
    """The Rasa environment's ``rasa`` executable (its ``python`` is beside it); skip the
    calling test without it, or fail it under ``SPORTELLO_REQUIRE_RASA=1``."""
    missing = [path.name for path in (RASA_BIN, RASA_BIN.with_name("python")) if not path.exists()]
    if not missing:
        return RASA_BIN
    reason = f"no .venv-rasa environment ({', '.join(missing)} missing): run scripts/setup.sh"
    if os.environ.get(REQUIRE_RASA_ENV) == "1":
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def rasa_bin() -> Path:
    """``.venv-rasa/bin/rasa``; tests that run Rasa (or its Python) take this fixture."""
    return require_rasa()
