"""The Rasa environment is required under ``make test``, as the browser is."""

from __future__ import annotations

from pathlib import Path

import pytest

from sportello.settings import PROJECT_ROOT
from tests import conftest


def test_make_test_requires_the_rasa_environment() -> None:
    makefile = (PROJECT_ROOT / "Makefile").read_text(encoding="utf-8")
    test_line = next(line for line in makefile.splitlines() if "-m pytest" in line)
    assert f"{conftest.REQUIRE_RASA_ENV}=1" in test_line


def test_a_missing_rasa_environment_fails_when_required(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(conftest, "RASA_BIN", tmp_path / "bin" / "rasa")
    monkeypatch.setenv(conftest.REQUIRE_RASA_ENV, "1")
    with pytest.raises(pytest.fail.Exception, match=r"no \.venv-rasa environment"):
        conftest.require_rasa()
    monkeypatch.delenv(conftest.REQUIRE_RASA_ENV)
    with pytest.raises(pytest.skip.Exception, match=r"no \.venv-rasa environment"):
        conftest.require_rasa()


def test_an_installed_rasa_environment_is_found(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "rasa").touch()
    monkeypatch.setattr(conftest, "RASA_BIN", bin_dir / "rasa")
    monkeypatch.setenv(conftest.REQUIRE_RASA_ENV, "1")
    with pytest.raises(pytest.fail.Exception, match="python missing"):
        conftest.require_rasa()  # rasa alone is not the environment
    (bin_dir / "python").touch()
    assert conftest.require_rasa() == bin_dir / "rasa"
