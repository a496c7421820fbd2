"""``sportello insights`` and ``sportello insights demo-data`` through the parser."""

from __future__ import annotations

import argparse
import csv
import io
import json

import pytest
import sqlite_utils

from cli.insights import register
from sportello.errors import CommandError


def run(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="sportello")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(list(argv))
    return args.handler(args)


def test_demo_data_then_csv_json_and_table(
    db: sqlite_utils.Database, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run("insights", "demo-data", "--conversations", "40") == 0
    assert "simulated" in capsys.readouterr().out
    assert run("insights", "demo-data") == 0
    assert "already present" in capsys.readouterr().out

    assert run("insights", "--format", "csv", "--table", "summary", "--since", "2026-01-01") == 0
    rows = {r["figure"]: r["value"] for r in csv.DictReader(io.StringIO(capsys.readouterr().out))}
    assert int(rows["conversations"]) > 0

    assert run("insights", "--format", "json", "--no-gaps") == 0
    report = json.loads(capsys.readouterr().out)
    assert report["simulated_conversations"] > 0 and "gaps" not in report
    assert {"summary", "trend", "channels", "languages", "articles"} <= set(report)

    assert run("insights", "--format", "table", "--source", "real", "--no-gaps") == 0
    assert "== trend ==" in capsys.readouterr().out


def test_a_bad_date_is_a_one_line_error(db: sqlite_utils.Database) -> None:
    with pytest.raises(CommandError, match="YYYY-MM-DD"):
        run("insights", "--since", "2026-13-01")
