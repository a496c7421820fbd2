"""What an import says back: the file-level error and the rows it skipped."""

from __future__ import annotations

from dataclasses import dataclass, field


class ImportFormatError(ValueError):
    """The file cannot be read at all: unknown format, not text, no FAQ, columns not found."""


@dataclass
class RowError:
    """A skipped row: where it was (a line of a text file, a row of a sheet) and why."""

    line: int
    message: str
    unit: str = "line"

    def __str__(self) -> str:
        return f"{self.unit} {self.line}: {self.message}"


@dataclass
class ImportReport:
    """What an import did, for the command line and the operator console."""

    imported: int = 0
    skipped: int = 0
    errors: list[RowError] = field(default_factory=list)

    def to_json(self) -> dict:
        return {
            "imported": self.imported,
            "skipped": self.skipped,
            "errors": [{"line": e.line, "unit": e.unit, "message": e.message} for e in self.errors],
        }
