"""HTML to the readable Markdown an answer is stored as, with the standard library's parser.

An answer keeps what a customer needs to read it: paragraph breaks, list items as
``- `` lines (nested ones indented), links as ``[text](url)``, bold as ``**text**``.
Everything else is dropped: scripts, styles, forms, images, inline handlers, tags. Only
http(s), mailto and tel links are kept (relative ones are resolved against the page's
address when the page says it: ``<base>``, its canonical link, or the "saved from url"
comment browsers write); any other link keeps its text alone.

The tree is built leniently, as browsers do: unclosed ``<p>`` and ``<li>`` end where the
next one starts, stray end tags are ignored.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

VOID = frozenset("area base br col embed hr img input link meta param source track wbr".split())
# Never part of an answer: their text is code, chrome or controls.
DROPPED = frozenset(
    "script style noscript template svg math iframe object embed canvas form button input "
    "select textarea img picture video audio head title".split()
)
BLOCKS = frozenset(
    "p div section article main aside header footer nav blockquote pre address figure "
    "figcaption details summary dl dt dd table thead tbody tfoot tr h1 h2 h3 h4 h5 h6 hr "
    "center fieldset".split()
)
HEADINGS = ("h1", "h2", "h3", "h4", "h5", "h6")
# Start tags that end an open <p>, and elements a same-named start tag implicitly ends.
_ENDS_P = BLOCKS | {"ul", "ol", "li"}
_IMPLIED_END = {"li": {"ul", "ol"}, "dt": {"dl"}, "dd": {"dl"}, "tr": {"table"}}
_IMPLIED_END |= {"td": {"tr"}, "th": {"tr"}, "option": {"select"}}
_LINK_SCHEMES = ("http", "https", "mailto", "tel")
_INDENT = "\x01"  # one level of list indentation until the text is cleaned
_SAVED_FROM = re.compile(r"saved from url=\(\d+\)(\S+)")
# Elements nested deeper than this are read as their parent's content: the tree is walked
# recursively, and a hostile page of endless <div>s must not exhaust Python's stack.
MAX_DEPTH = 100


@dataclass
class Node:
    """An element: its tag, attributes, children (nodes and text) and source line."""

    tag: str
    attrs: dict[str, str] = field(default_factory=dict)
    children: list[Node | str] = field(default_factory=list)
    line: int = 0

    def elements(self) -> list[Node]:
        """Every element below this one, in document order."""
        found = []
        for child in self.children:
            if isinstance(child, Node):
                found.append(child)
                found.extend(child.elements())
        return found

    def text(self) -> str:
        """The raw text below this element (for JSON-LD scripts)."""
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)


class _TreeBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#document")
        self.stack = [self.root]
        self.saved_from: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _ENDS_P:
            self._close_implied("p", {"div", "section", "article", "td", "li", "blockquote"})
        if tag in _IMPLIED_END:
            self._close_implied(tag, _IMPLIED_END[tag])
        if len(self.stack) > MAX_DEPTH:
            return
        node = Node(tag, {k: v or "" for k, v in attrs}, line=self.getpos()[0])
        self.stack[-1].children.append(node)
        if tag not in VOID:
            self.stack.append(node)

    def _close_implied(self, tag: str, scope: set[str]) -> None:
        """Close an open ``tag`` unless a ``scope`` element opened after it."""
        for index in range(len(self.stack) - 1, 0, -1):
            name = self.stack[index].tag
            if name == tag:
                del self.stack[index:]
                return
            if name in scope:
                return

    def handle_endtag(self, tag: str) -> None:
        for index in range(len(self.stack) - 1, 0, -1):
            if self.stack[index].tag == tag:
                del self.stack[index:]
                return

    def handle_data(self, data: str) -> None:
        self.stack[-1].children.append(data)

    def handle_comment(self, data: str) -> None:
        match = _SAVED_FROM.search(data)
        if match and self.saved_from is None:
            self.saved_from = match.group(1)


def parse_html(text: str) -> tuple[Node, str | None]:
    """The document tree of ``text`` and the address the page was saved from, if known."""
    builder = _TreeBuilder()
    builder.feed(text)
    builder.close()
    return builder.root, builder.saved_from


def looks_like_html(text: str) -> bool:
    return re.search(r"</?[A-Za-z][A-Za-z0-9]*(?:\s[^<>]*)?/?>", text) is not None


def fragment_to_markdown(text: str, base_url: str | None = None) -> str:
    """An answer given as an HTML fragment (JSON-LD) or plain text, as Markdown."""
    if not looks_like_html(text):
        return html.unescape(text).strip()
    root, _ = parse_html(text)
    return to_markdown(root.children, base_url)


def to_markdown(nodes: list[Node | str], base_url: str | None = None) -> str:
    """The readable Markdown of ``nodes`` (see the module docstring)."""
    return _clean(_render(nodes, base_url, depth=0))


def inline_text(node: Node) -> str:
    """The plain text of a heading or ``<summary>`` on one line (a question has no markup)."""
    return " ".join(_plain(node.children).split())


def fragment_to_text(text: str) -> str:
    """A question given as an HTML fragment or plain text, as plain text on one line."""
    if not looks_like_html(text):
        return " ".join(html.unescape(text).split())
    root, _ = parse_html(text)
    return inline_text(root)


def _plain(nodes: list[Node | str]) -> str:
    parts = []
    for node in nodes:
        if isinstance(node, str):
            parts.append(node)
        elif node.tag not in DROPPED:
            gap = " " if node.tag in BLOCKS or node.tag in ("br", "li") else ""
            parts.append(gap + _plain(node.children) + gap)
    return "".join(parts)


def _render(nodes: list[Node | str], base_url: str | None, depth: int) -> str:
    parts = []
    for node in nodes:
        if isinstance(node, str):
            parts.append(re.sub(r"\s+", " ", node.replace(_INDENT, "")))
        elif node.tag in DROPPED:
            continue
        elif node.tag == "br":
            parts.append("\n")
        elif node.tag in ("ul", "ol"):
            parts.append("\n\n" + _render_list(node, base_url, depth) + "\n\n")
        elif node.tag == "a":
            parts.append(_link(node, _render(node.children, base_url, depth), base_url))
        elif node.tag in ("strong", "b"):
            raw = _render(node.children, base_url, depth)
            parts.append(_spaced(raw, f"**{' '.join(raw.split())}**" if raw.strip() else ""))
        elif node.tag == "tr":
            cells = [
                " ".join(_render(cell.children, base_url, depth).split())
                for cell in node.children
                if isinstance(cell, Node) and cell.tag in ("td", "th")
            ]
            parts.append(" – ".join(c for c in cells if c) + "\n")
        elif node.tag in BLOCKS:
            parts.append("\n\n" + _render(node.children, base_url, depth) + "\n\n")
        else:
            parts.append(_render(node.children, base_url, depth))
    return "".join(parts)


def _spaced(raw: str, markdown: str) -> str:
    """``markdown`` with the spaces ``raw`` had around it (they separate it from its words)."""
    before = " " if raw[:1].isspace() else ""
    after = " " if raw[-1:].isspace() else ""
    return before + markdown + after if markdown else before or after


def _render_list(node: Node, base_url: str | None, depth: int) -> str:
    lines = []
    number = 0
    for item in node.children:
        if not isinstance(item, Node) or item.tag in DROPPED:
            continue
        number += 1
        marker = f"{number}. " if node.tag == "ol" else "- "
        body = _clean(_render(item.children, base_url, depth + 1), final=False)
        if not body:
            continue
        indent = _INDENT * depth
        body_lines = [line for line in body.split("\n") if line.strip()]
        first, rest = body_lines[0], body_lines[1:]
        lines.append(indent + marker + first)
        for line in rest:
            nested = line.startswith(_INDENT)
            lines.append(line if nested else indent + _INDENT + line)
    return "\n".join(lines)


def _link(node: Node, raw: str, base_url: str | None) -> str:
    """``[text](url)``, the bare address when the text is the address, or the text alone
    when the link goes nowhere a customer can follow (``javascript:``, a relative link on a
    page whose address is unknown, an anchor)."""
    text = " ".join(raw.split())
    href = node.attrs.get("href", "").strip()
    try:
        url = urljoin(base_url, href) if base_url and href else href
        parts = urlsplit(url)
    except ValueError:  # "http://[broken": a page's typo, not a reason to refuse it
        return raw
    if parts.scheme.lower() not in _LINK_SCHEMES or not (parts.netloc or parts.path):
        return raw
    url = url.replace(" ", "%20").replace("(", "%28").replace(")", "%29")
    plain = re.sub(r"^(?:mailto|tel):", "", url, flags=re.IGNORECASE)
    if not text or text in (url, plain):
        return _spaced(raw, plain)
    label = text.replace("[", "\\[").replace("]", "\\]")
    return _spaced(raw, f"[{label}]({url})")


def _clean(text: str, final: bool = True) -> str:
    """Trim every line, keep list indentation (as markers until ``final``), and leave at
    most one blank line in a row."""
    lines = []
    for line in text.split("\n"):
        line = " ".join(line.split())
        lines.append(line.replace(_INDENT, "  ") if final else line)
    cleaned = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
    # Inline markers meet punctuation without a space: "**5 €** ." -> "**5 €**."
    return re.sub(r" +([.,;:!?)])", r"\1", cleaned)
