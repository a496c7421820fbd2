"""Loading FAQ files into the store: JSONL, CSV, Excel, Markdown and FAQ web pages.

Companies already have their FAQs somewhere: an Excel sheet, a CSV saved by Italian
Excel, a page of their web site, a JSON dump. Every row is validated on its own; bad rows
are reported with their line (or sheet row) and skipped, and the good ones are written in
one transaction, so a failed import never leaves half a file behind.

* JSONL, CSV (``;``, ``,`` or tab; UTF-8 or Windows-1252), Excel ``.xlsx``: a question and
  an answer per row, columns named as people name them (``columns.ACCEPTED``: "Domanda",
  "Risposta", "Lingua" as well as question, answer, lang); optional id, language,
  alternative questions and tags.
* Markdown: one ``## heading`` per question, the text below it is the answer; a
  ``lang: it`` line at the top sets the language.
* A FAQ web page (``.html``): see :mod:`knowledge.importer.webpage`.

Ids and languages a file lacks are derived the same way for all formats
(:mod:`knowledge.importer.rows`).
"""

from __future__ import annotations

from pathlib import Path

import sqlite_utils

from knowledge.importer.decoding import decode_text
from knowledge.importer.jsonl import parse_jsonl
from knowledge.importer.markdown import parse_markdown
from knowledge.importer.report import ImportFormatError, ImportReport, RowError
from knowledge.importer.rows import build_articles, slugify
from knowledge.importer.spreadsheets import parse_csv, parse_xlsx
from knowledge.importer.webpage import parse_webpage
from knowledge.store import Article, upsert_articles

__all__ = [
    "FORMATS",
    "ImportFormatError",
    "ImportReport",
    "RowError",
    "detect_format",
    "import_file",
    "slugify",
]

FORMATS = ("jsonl", "csv", "xlsx", "md", "html")
# A FAQ is a few megabytes at most; anything far larger is a mistake or an attack.
MAX_FILE_BYTES = 50 * 1024 * 1024
_SUFFIXES = {
    "jsonl": "jsonl", "ndjson": "jsonl", "json": "jsonl", "csv": "csv", "tsv": "csv",
    "xlsx": "xlsx", "xlsm": "xlsx", "md": "md", "markdown": "md",
    "html": "html", "htm": "html",
}  # fmt: skip


def detect_format(path: Path) -> str:
    """The format a file's name says; old binary ``.xls`` gets a hint to save as ``.xlsx``."""
    suffix = path.suffix.lower().lstrip(".")
    if suffix in ("xls", "ods", "numbers"):
        raise ImportFormatError(
            f"cannot read {path.name}: save it as Excel .xlsx or CSV / "
            f"impossibile leggere {path.name}: salvalo come Excel .xlsx o CSV"
        )
    fmt = _SUFFIXES.get(suffix)
    if fmt is None:
        raise ImportFormatError(
            f"cannot tell the format of {path.name}: use .jsonl, .csv, .xlsx, .md or .html / "
            f"formato di {path.name} non riconosciuto"
        )
    return fmt


def import_file(
    db: sqlite_utils.Database, path: Path | str, fmt: str | None = None
) -> ImportReport:
    """Validate every row of ``path`` and import the good ones in one transaction."""
    path = Path(path)
    fmt = fmt or detect_format(path)
    if fmt not in FORMATS:
        raise ImportFormatError(f"unknown format {fmt!r}: use one of {', '.join(FORMATS)}")
    size = path.stat().st_size
    if size == 0:
        raise ImportFormatError(f"{path.name} is empty / {path.name} è vuoto")
    if size > MAX_FILE_BYTES:
        raise ImportFormatError(
            f"{path.name} is larger than {MAX_FILE_BYTES // 2**20} MB / "
            f"{path.name} supera {MAX_FILE_BYTES // 2**20} MB"
        )
    errors: list[RowError] = []
    file_lang = page_lang = None
    unit = "line"
    if fmt == "xlsx":
        rows, errors = parse_xlsx(path)
        unit = "row"
    else:
        text = decode_text(path.read_bytes(), path.name)
        if fmt == "jsonl":
            rows, errors = parse_jsonl(text, path.name)
        elif fmt == "csv":
            rows, errors = parse_csv(text, path.name)
        elif fmt == "md":
            rows, file_lang = parse_markdown(text)
        else:
            rows, page_lang = parse_webpage(text, path.name)
    articles = build_articles(
        rows, errors, path.name, file_lang=file_lang, page_lang=page_lang, unit=unit
    )
    # The same (id, lang) twice in one file: keep the last, report the earlier ones.
    last: dict[tuple[str, str], tuple[int, Article]] = {}
    for number, article in articles:
        key = (article.id, article.lang)
        if key in last:
            errors.append(
                RowError(last[key][0], f"overridden by {unit} {number} (same id and lang)", unit)
            )
        last[key] = (number, article)
    kept = [article for _, article in sorted(last.values(), key=lambda r: r[0])]
    upsert_articles(db, kept)
    errors.sort(key=lambda e: e.line)
    return ImportReport(imported=len(kept), skipped=len(errors), errors=errors)
