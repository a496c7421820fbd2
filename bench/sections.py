"""BENCHMARKS.md is shared: each benchmark rewrites only its own marked section.

A section is the text between ``<!-- NAME:start -->`` and ``<!-- NAME:end -->``;
everything outside it (the other benchmarks' sections, the title) is kept byte for
byte. A missing section is appended at the end of the file.
"""

from __future__ import annotations

import os
import platform
from pathlib import Path


def pct(value: float | None) -> str:
    """A rate as the tables print it: one decimal and a percent sign, "–" when unknown."""
    return "–" if value is None or value != value else f"{100 * value:.1f}%"


def markers(name: str) -> tuple[str, str]:
    return f"<!-- {name}:start -->", f"<!-- {name}:end -->"


def replace_section(current: str, name: str, body: str) -> str:
    """``current`` with section ``name`` holding ``body`` (markers added around it)."""
    start, end = markers(name)
    block = f"{start}\n{body.strip()}\n\n{end}"
    if start in current and end in current.split(start, 1)[1]:
        head, rest = current.split(start, 1)
        _, tail = rest.split(end, 1)
        return head + block + tail
    base = current.rstrip("\n") if current.strip() else "# Benchmarks"
    return base + "\n\n" + block + "\n"


def write_section(path: Path, name: str, body: str) -> None:
    current = path.read_text(encoding="utf-8") if path.exists() else ""
    path.write_text(replace_section(current, name, body), encoding="utf-8")


def machine() -> str:
    """Cores, CPU model, memory and Python: what a reader needs to compare figures."""
    memory = "?"
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                memory = f"{int(line.split()[1]) / 1024 / 1024:.1f} GB"
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} cores ({cpu}), {memory} RAM, Python {platform.python_version()}"


def load_average() -> str:
    """The 1/5/15-minute load average: how busy the machine was during the run."""
    try:
        return " / ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def run_info(command: str, began: float, load_before: str) -> dict:
    """When, where and how a benchmark ran: what every section opens with.

    ``began`` is the ``time.monotonic()`` of the start, ``load_before`` the
    :func:`load_average` then.
    """
    from time import monotonic

    from sportello.clock import utc_now

    return {
        "date": utc_now().strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(),
        "seconds": monotonic() - began,
        "command": command,
        "load_before": load_before,
        "load_after": load_average(),
    }


def measured(info: dict) -> list[str]:
    """The section's opening lines: date, machine, duration, load and exact command."""
    return [
        f"Measured {info['date']} on {info['machine']}; {info['seconds']:.0f} s in all"
        f" (load average {info['load_before']} before, {info['load_after']} after).",
        "",
        f"Command: `{info['command']}`",
        "",
    ]
