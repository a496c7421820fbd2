"""JSONL FAQ files: one JSON object per line, keys named like spreadsheet columns."""

from __future__ import annotations

import json

from knowledge.importer.columns import field_for
from knowledge.importer.report import RowError
from knowledge.importer.rows import Parsed, Row


def parse_jsonl(text: str, source: str) -> Parsed:
    """One :class:`Row` per object; unknown keys are ignored, bad lines reported."""
    rows, errors = [], []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            errors.append(RowError(number, f"invalid JSON: {exc.msg}"))
            continue
        if not isinstance(record, dict):
            errors.append(RowError(number, "expected an object with question and answer"))
            continue
        fields = {}
        for key, value in record.items():
            name = field_for(key)
            if name and name not in fields:
                fields[name] = value
        rows.append(Row(number, fields))
    return rows, errors
