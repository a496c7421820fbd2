"""From the rows any FAQ file yields to validated articles: languages, ids, errors.

Every format (JSONL, CSV, Excel, Markdown, a web page) is read into :class:`Row` objects
holding canonical fields (``question``, ``answer`` and, when the file has them, ``id``,
``lang``, ``alt_questions``, ``tags``, ``source``, ``status``). This module turns them into
articles the same way for all of them:

* the language comes from the row, else the file (a Markdown ``lang:`` line), else it is
  detected on the question and answer with links and e-mail addresses removed (an
  Italian answer made of links must not read as English); a row that gives no clue takes
  the page's declared language or, when every row that did give one agrees, that one;
* an id missing from the file is the slug of the question; two different questions whose
  slugs clash (they share their first 60 characters) get ``-2``, ``-3``... in file order,
  so importing the same file again updates the same articles.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass

from knowledge.importer.columns import normalise_lang
from knowledge.importer.report import RowError
from knowledge.language import detect_language
from knowledge.store import Article, ArticleError, validate_article


@dataclass
class Row:
    """One question of a file, with canonical field names (see ``columns.ACCEPTED``)."""

    line: int
    fields: dict[str, object]


Parsed = tuple[list[Row], list[RowError]]


def slugify(text: str, max_length: int = 60) -> str:
    """A stable ASCII id from a heading.

    'Quanto costa la spedizione?' -> 'quanto-costa-la-spedizione'
    """
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug[:max_length].rstrip("-") or "article"


_LINK_TARGET = re.compile(r"\]\([^)\s]*(?:\s+\"[^\"]*\")?\)")
_ANGLE_LINK = re.compile(r"<(?:https?|mailto|tel):[^>\s]*>", re.IGNORECASE)


def without_links(text: str) -> str:
    """``text`` without Markdown link targets and angle-bracket links.

    What is left is the prose a language can be told from: ``[resi](/returns)`` keeps
    "resi", and a link target full of English path words says nothing of the answer.
    Web and e-mail addresses elsewhere in the text knowledge.language ignores itself.
    """
    text = _LINK_TARGET.sub("]", text)
    return _ANGLE_LINK.sub(" ", text)


def as_list(value: object, name: str) -> list[str]:
    """A list of strings from a JSON list, a JSON-list string, or text separated by '|' or
    line breaks (a spreadsheet cell with Alt+Enter); tags may also be separated by commas."""
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
            return as_list(parsed, name)
        separators = r"[|\n,;]" if name == "tags" else r"[|\n]"
        return [part.strip() for part in re.split(separators, stripped) if part.strip()]
    raise ArticleError(f"{name} must be a list of strings")


def _text(value: object) -> str:
    return "" if value is None else str(value).strip()


def _same_question(text: str) -> str:
    return " ".join(text.casefold().split())


EMPTY = {
    "question": "question is empty / domanda vuota",
    "answer": "answer is empty / risposta vuota",
}
NO_LANGUAGE = (
    "cannot tell the language: add a language column (lang / lingua) or a 'lang: it' line / "
    "lingua non riconoscibile: aggiungi una colonna lingua (lang / lingua) o una riga 'lang: it'"
)


def build_articles(
    rows: list[Row],
    errors: list[RowError],
    source: str,
    *,
    file_lang: str | None = None,
    page_lang: str | None = None,
    unit: str = "line",
) -> list[tuple[int, Article]]:
    """Validated articles from ``rows``; a row that cannot become one is added to ``errors``.

    ``file_lang`` is a language the author declared for the whole file (it wins over
    detection); ``page_lang`` one a template may have declared (used only for rows whose
    own text does not say).
    """
    langs: list[str | None] = []
    for row in rows:
        lang = normalise_lang(row.fields.get("lang")) or file_lang
        if not lang:
            text = f"{_text(row.fields.get('question'))} {_text(row.fields.get('answer'))}"
            lang = detect_language(without_links(text))
        langs.append(lang)
    detected = {lang for lang in langs if lang}
    fallback = page_lang or (detected.pop() if len(detected) == 1 else None)

    taken: dict[str, set[str]] = {}  # lang -> ids used by the file
    for row, lang in zip(rows, langs, strict=True):
        if row.fields.get("id") not in (None, "") and lang:
            taken.setdefault(lang, set()).add(_text(row.fields["id"]))
    derived: dict[tuple[str, str], str] = {}  # (lang, question) -> the id it was given

    articles = []
    for row, lang in zip(rows, langs, strict=True):
        lang = lang or fallback
        question = _text(row.fields.get("question"))
        if not lang:
            # An empty question or answer is the row's real problem, not its language.
            empty = [EMPTY[name] for name in EMPTY if not _text(row.fields.get(name))]
            errors.append(RowError(row.line, "; ".join(empty) or NO_LANGUAGE, unit))
            continue
        article_id = _text(row.fields.get("id"))
        if not article_id and question:
            key = (lang, _same_question(question))
            if key not in derived:
                used = taken.setdefault(lang, set())
                base = candidate = slugify(question)
                suffix = 2
                while candidate in used:
                    candidate, suffix = f"{base}-{suffix}", suffix + 1
                used.add(candidate)
                derived[key] = candidate
            # The same question twice gets the same id: the later row wins, and says so.
            article_id = derived[key]
        try:
            article = validate_article(
                Article(
                    id=article_id,
                    lang=lang,
                    question=question,
                    answer=_text(row.fields.get("answer")),
                    alt_questions=as_list(row.fields.get("alt_questions"), "alt_questions"),
                    tags=as_list(row.fields.get("tags"), "tags"),
                    source=_text(row.fields.get("source")) or source,
                    status=_text(row.fields.get("status")) or "published",
                )
            )
        except ArticleError as exc:
            errors.append(RowError(row.line, str(exc), unit))
            continue
        articles.append((row.line, article))
    return articles
