"""``bench/`` is packaged with ``sportello bench``: it must run where ``tests/`` is absent.

Every import in every benchmark module, at the top or inside a function, is read from
its source; one naming ``tests`` (or a module under it) fails here, with where it is.
"""

from __future__ import annotations

import ast
from pathlib import Path

from sportello.settings import PROJECT_ROOT

BENCH = PROJECT_ROOT / "bench"


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """(line, module) for every absolute import in the file."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
    return found


def is_test_module(name: str) -> bool:
    return name == "tests" or name.startswith("tests.")


def test_no_benchmark_module_imports_the_tests() -> None:
    modules = sorted(BENCH.rglob("*.py"))
    assert len(modules) > 10  # the walk sees the benchmarks
    offending = [
        f"{path.relative_to(PROJECT_ROOT)}:{line} imports {name}"
        for path in modules
        for line, name in imported_modules(path)
        if is_test_module(name)
    ]
    assert offending == []


def test_the_check_sees_imports_inside_functions(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "import os\n"
        "from bench import load\n"
        "def f():\n"
        "    from tests.servers import free_port\n"
        "    import tests.hardening as h\n",
        encoding="utf-8",
    )
    names = [name for _, name in imported_modules(sample) if is_test_module(name)]
    assert names == ["tests.servers", "tests.hardening"]
    assert not is_test_module("testsuite") and not is_test_module("bench.tests_helper")
