"""A FAQ web page, as a browser saves it: questions and answers from its HTML.

Three ways a page marks its FAQ, tried in this order, the first that finds any wins:

1. schema.org ``FAQPage`` JSON-LD (what sites add for search engines): each ``Question``'s
   ``name`` and its ``acceptedAnswer`` text, also inside ``@graph`` or a list;
2. ``<details><summary>question</summary>answer</details>`` (and ``<dt>``/``<dd>`` pairs);
3. ``h2``/``h3``/``h4`` headings followed by their answer, up to the next heading.

Site chrome (navigation, header, footer, sidebars, forms) is never read as a question.
The page's ``<html lang>`` is only a fallback for questions whose text does not show
their language: templates often declare the wrong one.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from itertools import pairwise

from knowledge.importer.columns import normalise_lang
from knowledge.importer.html_text import (
    DROPPED,
    HEADINGS,
    Node,
    fragment_to_markdown,
    fragment_to_text,
    inline_text,
    parse_html,
    to_markdown,
)
from knowledge.importer.report import ImportFormatError
from knowledge.importer.rows import Row

_CHROME = frozenset({"nav", "aside", "form"}) | DROPPED
_PAGE_CHROME = frozenset({"header", "footer"})
_SECTIONS = frozenset({"article", "section", "main"})
QUESTION_HEADINGS = ("h2", "h3", "h4")

NO_FAQ = (
    "no FAQ found in {name}: the page needs schema.org FAQPage JSON-LD, <details><summary> "
    "questions, or h2/h3/h4 headings followed by their answers / nessuna FAQ trovata in {name}"
)


def parse_webpage(text: str, name: str) -> tuple[list[Row], str | None]:
    """The questions of a FAQ page, and the language the page declares (or ``None``)."""
    root, saved_from = parse_html(text)
    html_node = next((n for n in root.elements() if n.tag == "html"), None)
    page_lang = normalise_lang(html_node.attrs.get("lang", "")) if html_node else ""
    base_url = _base_url(root) or saved_from
    for strategy in (_from_json_ld, _from_details, _from_headings):
        rows = list(strategy(root, base_url))
        if rows:
            return rows, page_lang if page_lang in ("it", "en") else None
    raise ImportFormatError(NO_FAQ.format(name=name))


def _base_url(root: Node) -> str | None:
    for node in root.elements():
        if node.tag == "base" and node.attrs.get("href"):
            return node.attrs["href"]
    for node in root.elements():
        if node.tag == "link" and "canonical" in node.attrs.get("rel", "").split():
            return node.attrs.get("href") or None
    return None


def _content(node: Node, in_section: bool = False) -> Iterator[Node]:
    """The elements below ``node`` outside site chrome, in document order. A ``<header>``
    or ``<footer>`` inside an article or section is that item's, not the site's."""
    for child in node.children:
        if not isinstance(child, Node) or child.tag in _CHROME:
            continue
        if child.tag in _PAGE_CHROME and not in_section:
            continue
        yield child
        yield from _content(child, in_section or child.tag in _SECTIONS)


# ---- 1. schema.org FAQPage JSON-LD ---------------------------------------------------------
def _types(item: dict) -> set[str]:
    kind = item.get("@type", [])
    return {str(k).rsplit("/", 1)[-1] for k in (kind if isinstance(kind, list) else [kind])}


def _faq_pages(data: object) -> Iterator[dict]:
    if isinstance(data, list):
        for item in data:
            yield from _faq_pages(item)
    elif isinstance(data, dict):
        if "FAQPage" in _types(data):
            yield data
            return
        for value in data.values():
            yield from _faq_pages(value)


def _as_items(value: object) -> list[dict]:
    items = value if isinstance(value, list) else [value]
    return [item for item in items if isinstance(item, dict)]


def _from_json_ld(root: Node, base_url: str | None) -> Iterator[Row]:
    for script in root.elements():
        if script.tag != "script" or "ld+json" not in script.attrs.get("type", "").lower():
            continue
        try:
            data = json.loads(script.text())
            pages = list(_faq_pages(data))
        except (json.JSONDecodeError, RecursionError):
            continue  # a broken block: the page's other markings may still hold the FAQ
        for page in pages:
            for question in _as_items(page.get("mainEntity") or page.get("hasPart")):
                answers = _as_items(question.get("acceptedAnswer")) or _as_items(
                    question.get("suggestedAnswer")
                )
                name = question.get("name") or question.get("text") or ""
                answer = answers[0].get("text", "") if answers else ""
                yield Row(
                    script.line,
                    {
                        "question": fragment_to_text(str(name)),
                        "answer": fragment_to_markdown(str(answer), base_url),
                        "lang": normalise_lang(page.get("inLanguage") or ""),
                    },
                )


# ---- 2. <details><summary> and <dl> --------------------------------------------------------
def _from_details(root: Node, base_url: str | None) -> Iterator[Row]:
    for node in _content(root):
        if node.tag == "details":
            summary = next(
                (c for c in node.children if isinstance(c, Node) and c.tag == "summary"), None
            )
            if summary is None:
                continue
            rest = [c for c in node.children if c is not summary]
            yield Row(
                node.line,
                {"question": inline_text(summary), "answer": to_markdown(rest, base_url)},
            )
        elif node.tag == "dl":
            terms = [c for c in node.children if isinstance(c, Node) and c.tag in ("dt", "dd")]
            for term, definition in pairwise(terms):
                if term.tag == "dt" and definition.tag == "dd":
                    yield Row(
                        term.line,
                        {
                            "question": inline_text(term),
                            "answer": to_markdown(definition.children, base_url),
                        },
                    )


# ---- 3. headings and the text after them ---------------------------------------------------
def _has_heading(node: Node | str) -> bool:
    return isinstance(node, Node) and (
        node.tag in HEADINGS or any(n.tag in HEADINGS for n in node.elements())
    )


def _following(node: Node, parent: Node) -> list[Node | str]:
    index = next(i for i, c in enumerate(parent.children) if c is node)
    after = []
    for sibling in parent.children[index + 1 :]:
        if _has_heading(sibling):
            break
        if not (isinstance(sibling, Node) and sibling.tag in _CHROME | _PAGE_CHROME):
            after.append(sibling)
    return after


def _from_headings(root: Node, base_url: str | None) -> Iterator[Row]:
    nodes = [root, *root.elements()]
    parents = {id(c): n for n in nodes for c in n.children if isinstance(c, Node)}
    for heading in _content(root):
        if heading.tag not in QUESTION_HEADINGS:
            continue
        question = inline_text(heading)
        parent = parents[id(heading)]
        after = _following(heading, parent)
        # <div class="q"><h3>…</h3></div><div class="a">…</div>: the answer is the wrapper's.
        grandparent = parents.get(id(parent))
        alone = all(c is heading or isinstance(c, str) for c in parent.children)
        if not to_markdown(after) and grandparent is not None and alone:
            after = _following(parent, grandparent)
        answer = to_markdown(after, base_url)
        if question and answer and not re.fullmatch(r"[\W\d_]*", question):
            yield Row(heading.line, {"question": question, "answer": answer})
