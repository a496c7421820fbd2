"""Loading FAQ files into the store: JSONL, CSV and Markdown.

Companies already have their FAQs somewhere: a spreadsheet export, a help-centre page,
a JSON dump. Every row is validated on its own; bad rows are reported with their line
number and skipped, and the good ones are written in one transaction, so a failed
import never leaves half a file behind.

* JSONL / CSV fields: ``id, lang, question, answer``; optional ``alt_questions`` and
  ``tags`` (lists; in CSV a JSON list or ``|``-separated), ``source``, ``status``.
* Markdown: one ``## heading`` per question, the text below it is the answer. The
  language comes from a front matter / ``lang: it`` line at the top, else it is detected
  per question; the id is a slug of the heading.
"""

from __future__ import annotations

import csv
import json
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import sqlite_utils

from knowledge.language import detect_language
from knowledge.store import Article, ArticleError, upsert_articles, validate_article

FORMATS = ("jsonl", "csv", "md")


class ImportFormatError(ValueError):
    """The file's format cannot be told from its name, or it cannot be read at all."""


@dataclass
class RowError:
    """A skipped row: where it was and why."""

    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


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
            "errors": [{"line": e.line, "message": e.message} for e in self.errors],
        }


def slugify(text: str, max_length: int = 60) -> str:
    """A stable ASCII id from a heading.

    'Quanto costa la spedizione?' -> 'quanto-costa-la-spedizione'
    """
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug[:max_length].rstrip("-") or "article"


def _as_list(value: object, name: str) -> list[str]:
    """A list of strings from a JSON list, a JSON-list string, or a '|'-separated string."""
    if value is None or value == "":
        return []
    if isinstance(value, list):
        if not all(isinstance(v, str) for v in value):
            raise ArticleError(f"{name} must be a list of strings")
        return value
    if isinstance(value, str):
        stripped = value.strip()
        if stripped.startswith("["):
            try:
                parsed = json.loads(stripped)
            except json.JSONDecodeError as exc:
                raise ArticleError(f"{name} is not a valid JSON list: {exc.msg}") from exc
            return _as_list(parsed, name)
        return [part.strip() for part in stripped.split("|") if part.strip()]
    raise ArticleError(f"{name} must be a list of strings")


def article_from_record(record: dict, source: str) -> Article:
    """An :class:`Article` from one JSONL object or CSV row, validated."""
    if not isinstance(record, dict):
        raise ArticleError("expected an object with id, lang, question, answer")
    missing = [
        k for k in ("id", "lang", "question", "answer") if not str(record.get(k) or "").strip()
    ]
    if missing:
        raise ArticleError(f"missing or empty field(s): {', '.join(missing)}")
    article = Article(
        id=str(record["id"]),
        lang=str(record["lang"]),
        question=str(record["question"]),
        answer=str(record["answer"]),
        alt_questions=_as_list(record.get("alt_questions"), "alt_questions"),
        tags=_as_list(record.get("tags"), "tags"),
        source=str(record.get("source") or source),
        status=str(record.get("status") or "published"),
    )
    return validate_article(article)


def parse_jsonl(text: str, source: str) -> tuple[list[tuple[int, Article]], list[RowError]]:
    rows, errors = [], []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            rows.append((number, article_from_record(json.loads(line), source)))
        except json.JSONDecodeError as exc:
            errors.append(RowError(number, f"invalid JSON: {exc.msg}"))
        except ArticleError as exc:
            errors.append(RowError(number, str(exc)))
    return rows, errors


def parse_csv(text: str, source: str) -> tuple[list[tuple[int, Article]], list[RowError]]:
    rows, errors = [], []
    reader = csv.DictReader(text.splitlines(keepends=True))
    missing = {"id", "lang", "question", "answer"} - set(reader.fieldnames or [])
    if missing:
        raise ImportFormatError(f"CSV header lacks column(s): {', '.join(sorted(missing))}")
    for record in reader:
        number = reader.line_num  # physical line where this row ends (1 = header)
        if None in record:
            errors.append(RowError(number, "more values than header columns"))
            continue
        try:
            rows.append((number, article_from_record(record, source)))
        except ArticleError as exc:
            errors.append(RowError(number, str(exc)))
    return rows, errors


_FRONT_LANG = re.compile(r"^\s*lang(?:uage)?\s*:\s*([A-Za-z]{2})\s*$", re.IGNORECASE)


def parse_markdown(text: str, source: str) -> tuple[list[tuple[int, Article]], list[RowError]]:
    """One article per ``##`` heading; a ``lang:`` line above the headings sets the language."""
    lines = text.splitlines()
    file_lang = None
    for line in lines:
        if line.startswith("#"):
            break
        match = _FRONT_LANG.match(line)
        if match:
            file_lang = match.group(1).lower()
    sections: list[tuple[int, str, list[str]]] = []
    for number, line in enumerate(lines, start=1):
        if line.startswith("## "):
            sections.append((number, line[3:].strip(), []))
        elif sections:
            sections[-1][2].append(line)
    rows, errors, seen = [], [], set()
    for number, heading, body in sections:
        answer = "\n".join(body).strip()
        lang = file_lang or detect_language(f"{heading} {answer}") or ""
        article_id = slugify(heading)
        if (article_id, lang) in seen:
            errors.append(RowError(number, f"duplicate question (id {article_id!r})"))
            continue
        try:
            article = validate_article(
                Article(id=article_id, lang=lang, question=heading, answer=answer, source=source)
            )
        except ArticleError as exc:
            message = str(exc)
            if not lang:
                message = "cannot tell the language; add 'lang: it' or 'lang: en' at the top"
            errors.append(RowError(number, message))
            continue
        seen.add((article_id, lang))
        rows.append((number, article))
    return rows, errors


def detect_format(path: Path) -> str:
    suffix = path.suffix.lower().lstrip(".")
    if suffix in {"jsonl", "ndjson", "json"}:
        return "jsonl"
    if suffix in {"csv"}:
        return "csv"
    if suffix in {"md", "markdown"}:
        return "md"
    raise ImportFormatError(f"cannot tell the format of {path.name}: use .jsonl, .csv or .md")


def import_file(
    db: sqlite_utils.Database, path: Path | str, fmt: str | None = None
) -> ImportReport:
    """Validate every row of ``path`` and import the good ones in one transaction."""
    path = Path(path)
    fmt = fmt or detect_format(path)
    if fmt not in FORMATS:
        raise ImportFormatError(f"unknown format {fmt!r}: use one of {', '.join(FORMATS)}")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ImportFormatError(f"{path.name} is not UTF-8 text") from exc
    parser = {"jsonl": parse_jsonl, "csv": parse_csv, "md": parse_markdown}[fmt]
    rows, errors = parser(text, source=path.name)
    # The same (id, lang) twice in one file: keep the last, report the earlier ones.
    last: dict[tuple[str, str], tuple[int, Article]] = {}
    for number, article in rows:
        key = (article.id, article.lang)
        if key in last:
            errors.append(RowError(last[key][0], f"overridden by line {number} (same id and lang)"))
        last[key] = (number, article)
    articles = [article for _, article in sorted(last.values(), key=lambda r: r[0])]
    upsert_articles(db, articles)
    errors.sort(key=lambda e: e.line)
    return ImportReport(imported=len(articles), skipped=len(errors), errors=errors)
