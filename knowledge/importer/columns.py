"""The one place that says what a FAQ file's columns (and JSONL keys) may be called.

People name their columns as they please: "Domanda", "domanda frequente", "Question",
"LINGUA", "Altre domande". Names are compared without case, accents, spaces or
punctuation, so "Alt-Questions" and "alt_questions" are the same column. The language
column's values are as free: "it", "ITA", "Italiano", "it-IT" all mean Italian.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

from knowledge.importer.report import ImportFormatError

# Canonical field -> the names people give it, already normalised (see normalise_name).
ACCEPTED: dict[str, tuple[str, ...]] = {
    "id": ("id", "codice", "code", "key", "chiave", "slug"),
    "question": (
        "question", "domanda", "domanda frequente", "domande frequenti", "titolo", "title",
        "faq", "quesito",
    ),
    "answer": ("answer", "risposta", "response", "reply"),
    "lang": ("lang", "language", "lingua", "idioma", "locale"),
    "alt_questions": (
        "alt questions", "alternative questions", "other questions", "altre domande",
        "domande alternative", "varianti", "variants", "sinonimi", "parafrasi",
    ),
    "tags": ("tags", "tag", "categoria", "categorie", "category", "categories", "argomento"),
    "source": ("source", "fonte"),
    "status": ("status", "stato"),
}  # fmt: skip
REQUIRED = ("question", "answer")

_LANG_VALUES = {
    "it": ("it", "ita", "italiano", "italian", "italiana"),
    "en": ("en", "eng", "english", "inglese"),
}
# How many rows above the header a sheet may have (a title, blank rows, a note).
HEADER_SCAN_ROWS = 20


def normalise_name(name: object) -> str:
    """'Domanda Frequente ' -> 'domanda frequente'; 'alt_questions' -> 'alt questions'."""
    text = unicodedata.normalize("NFKD", str(name or "")).encode("ascii", "ignore").decode()
    return " ".join(re.sub(r"[^a-z0-9]+", " ", text.casefold()).split())


_FIELD_OF = {alias: field for field, aliases in ACCEPTED.items() for alias in aliases}


def field_for(name: object) -> str | None:
    """The canonical field a column or key name means, or ``None``."""
    return _FIELD_OF.get(normalise_name(name))


def normalise_lang(value: object) -> str:
    """'Italiano', 'ITA', 'it-IT' -> 'it'; 'English' -> 'en'; anything else lower-cased as is
    (so the store can say it is an unknown language); '' when empty."""
    name = normalise_name(value)
    for code, names in _LANG_VALUES.items():
        if name in names or name.split(" ")[0] in names:
            return code
    return str(value or "").strip().lower()


def map_header(cells: Sequence[object]) -> dict[str, int] | None:
    """Field -> column index when ``cells`` look like a header (question and answer found).

    Two columns meaning the same field (a "Domanda" and a "Question" column) is an error,
    not a guess: the file's author must say which one holds the questions.
    """
    mapping: dict[str, int] = {}
    for index, cell in enumerate(cells):
        field = field_for(cell)
        if field is None:
            continue
        if field in mapping:
            raise ImportFormatError(
                f"two columns mean {field!r}: {cells[mapping[field]]!r} and {cell!r}; keep one / "
                f"due colonne indicano {field!r}: {cells[mapping[field]]!r} e {cell!r}"
            )
        mapping[field] = index
    if all(field in mapping for field in REQUIRED):
        return mapping
    return None


def find_header(rows: Sequence[Sequence[object]]) -> tuple[int, dict[str, int]] | None:
    """The first row (within the first rows) that is a header, and its column mapping."""
    for index, cells in enumerate(rows[:HEADER_SCAN_ROWS]):
        mapping = map_header(cells)
        if mapping is not None:
            return index, mapping
    return None


def accepted_names() -> str:
    """The accepted names, one field per clause, for error messages."""
    return "; ".join(f"{field}: {', '.join(names)}" for field, names in ACCEPTED.items())


def unmapped_columns_error(found: Sequence[object], where: str) -> ImportFormatError:
    """The error naming the columns found and the names accepted, in English and Italian."""
    shown = ", ".join(repr(str(c)) for c in found if str(c or "").strip()) or "none / nessuna"
    return ImportFormatError(
        f"{where}: cannot find the question and answer columns / colonne domanda e risposta "
        f"non trovate. Columns found / colonne trovate: {shown}. Accepted names / nomi "
        f"accettati: {accepted_names()}"
    )
