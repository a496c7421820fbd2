"""``sportello bench MODE [--quick]``: lists the modes, becomes the benchmark, starts light."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench import cli as bench_cli
from cli.main import main
from sportello.settings import PROJECT_ROOT

MODES = ("quality", "faq_bot", "learning", "speed", "soak", "hardening")


def test_help_lists_every_mode_and_the_quick_switch(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["bench", "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    for mode in MODES:
        assert f"  {mode} " in out  # one line per mode in the list, with what it measures
    assert "--quick" in out


def test_an_unknown_mode_is_refused(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["bench", "load"])
    assert exit_.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


@pytest.mark.parametrize(("args", "expected"), [
    (["bench", "hardening", "--quick"], ["-m", "bench.hardening", "--quick"]),
    (["bench", "quality"], ["-m", "bench.quality"]),
])  # fmt: skip
def test_a_mode_becomes_its_python_module_in_the_checkout(
    monkeypatch: pytest.MonkeyPatch, args: list[str], expected: list[str]
) -> None:
    calls: list[tuple] = []
    monkeypatch.setattr(bench_cli.os, "chdir", lambda path: calls.append(("chdir", path)))
    monkeypatch.setattr(bench_cli.os, "execv", lambda exe, argv: calls.append((exe, argv)))
    main(args)
    assert calls == [("chdir", PROJECT_ROOT), (sys.executable, [sys.executable, *expected])]


def test_the_command_starts_without_loading_any_benchmark() -> None:
    code = (
        "import sys; from cli.main import build_parser; build_parser(); "
        "print(' '.join(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('bench', 'pytest', 'hypothesis', 'torch'))))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    assert loaded == ["bench", "bench.cli"]


def test_the_installed_command_has_it(tmp_path: Path) -> None:
    """The console script, run from anywhere: ``bench`` must be importable by the install."""
    script = Path(sys.executable).with_name("sportello")
    reply = subprocess.run(
        [str(script), "bench", "--help"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PYTHONPATH": ""},
    )
    assert reply.returncode == 0, reply.stderr[-500:]
    assert all(mode in reply.stdout for mode in MODES)
