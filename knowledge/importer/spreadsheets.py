"""FAQ sheets: CSV (as any Excel saves it) and Excel ``.xlsx`` workbooks.

Both are a grid of cells with a header row somewhere near the top (a title row or blank
rows may come first); the header's names are mapped by :mod:`knowledge.importer.columns`.
A CSV's separator is whichever of ``;``, ``,`` and tab makes a recognisable header: Italian
Excel uses ``;`` because ``,`` is the decimal separator.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Sequence
from pathlib import Path

from knowledge.importer.columns import find_header, unmapped_columns_error
from knowledge.importer.report import ImportFormatError, RowError
from knowledge.importer.rows import Parsed, Row

DELIMITERS = (";", ",", "\t")
# An .xlsx is a zip: refuse one that would unpack to more than this (a zip bomb).
MAX_XLSX_UNPACKED_BYTES = 200 * 1024 * 1024
# A FAQ sheet is a few columns and at most thousands of rows; a sheet's declared size (which
# openpyxl would pad every row to) is not trusted.
MAX_SHEET_ROWS = 50_000
MAX_SHEET_COLUMNS = 100


def _rows_from_grid(
    grid: Sequence[tuple[int, Sequence[object]]], where: str, unit: str, strict_width: bool
) -> Parsed:
    """Rows below the header of ``grid`` (pairs of line or row number and cells)."""
    found = find_header([cells for _, cells in grid])
    if found is None:
        first = next((cells for _, cells in grid if any(_cell(c) for c in cells)), [])
        raise unmapped_columns_error([_cell(c) for c in first], where)
    header_index, mapping = found
    width = len(grid[header_index][1])
    rows, errors = [], []
    for number, cells in grid[header_index + 1 :]:
        values = [_cell(c) for c in cells]
        if not any(values):
            continue
        if strict_width and any(values[width:]):
            errors.append(RowError(number, "more values than header columns", unit))
            continue
        fields = {
            name: values[index] if index < len(values) else "" for name, index in mapping.items()
        }
        rows.append(Row(number, fields))
    return rows, errors


def _cell(value: object) -> str:
    """A cell as text: 12.0 -> '12' (Excel stores every number as a float); line breaks
    inside a cell become plain newlines whichever system wrote them."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).replace("\r\n", "\n").replace("\r", "\n").strip()


def _csv_grid(text: str, delimiter: str) -> list[tuple[int, list[str]]]:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        return [(reader.line_num, row) for row in reader]
    except csv.Error as exc:
        raise ImportFormatError(f"line {reader.line_num}: {exc}") from exc


def parse_csv(text: str, source: str) -> Parsed:
    """Rows of a CSV separated by ``;``, ``,`` or tab, whichever makes a header."""
    grids: dict[str, list[tuple[int, list[str]]]] = {}
    failures: dict[str, ImportFormatError] = {}
    for delimiter in DELIMITERS:
        try:
            grids[delimiter] = _csv_grid(text, delimiter)
        except ImportFormatError as exc:  # a wrong separator can make a field too long
            failures[delimiter] = exc
            continue
        if find_header([cells for _, cells in grids[delimiter]]) is not None:
            return _rows_from_grid(grids[delimiter], source, "line", strict_width=True)
    if not grids:
        raise next(iter(failures.values()))
    # No separator gives a header: name the columns of the reading that splits most.
    widest = max(grids.values(), key=lambda g: len(g[0][1]) if g else 0)
    return _rows_from_grid(widest, source, "line", strict_width=True)


def parse_xlsx(path: Path) -> Parsed:
    """Rows of the first sheet of an Excel workbook that has a header row."""
    from openpyxl import load_workbook

    try:
        with zipfile.ZipFile(path) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, OSError) as exc:
        raise ImportFormatError(
            f"{path.name} is not an Excel .xlsx file / {path.name} non è un file Excel .xlsx"
        ) from exc
    if unpacked > MAX_XLSX_UNPACKED_BYTES:
        raise ImportFormatError(f"{path.name} is too large to import / troppo grande")
    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds on a damaged file; all mean this
        raise _unreadable(path, exc) from exc
    try:
        first_columns: list[object] = []
        for sheet in workbook.worksheets:
            grid = _sheet_grid(sheet, path.name)
            if find_header([cells for _, cells in grid]) is not None:
                return _rows_from_grid(
                    grid, f"{path.name} [{sheet.title}]", "row", strict_width=False
                )
            if not first_columns:
                first_columns = next((c for _, c in grid if any(_cell(v) for v in c)), [])
    except ImportFormatError:
        raise
    except Exception as exc:  # read-only sheets are parsed lazily, while iterating
        raise _unreadable(path, exc) from exc
    finally:
        workbook.close()
    raise unmapped_columns_error([_cell(c) for c in first_columns], path.name)


def _sheet_grid(sheet, name: str) -> list[tuple[int, Sequence[object]]]:
    """A sheet's rows, numbered as Excel numbers them, each cut to the first columns."""
    sheet.reset_dimensions()  # else every row is padded to the size the file claims
    grid = []
    for number, cells in enumerate(sheet.iter_rows(values_only=True), start=1):
        if number > MAX_SHEET_ROWS:
            raise ImportFormatError(
                f"{name} [{sheet.title}] has more than {MAX_SHEET_ROWS} rows / "
                f"ha più di {MAX_SHEET_ROWS} righe"
            )
        grid.append((number, cells[:MAX_SHEET_COLUMNS]))
    return grid


def _unreadable(path: Path, exc: Exception) -> ImportFormatError:
    return ImportFormatError(
        f"{path.name} is not a readable Excel .xlsx file ({type(exc).__name__}) / "
        f"{path.name} non è un file Excel .xlsx leggibile"
    )
