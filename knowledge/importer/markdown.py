"""Markdown FAQs: one ``## heading`` per question, the text below it is the answer.

A ``lang: it`` line (front matter or plain) above the first heading sets the language of
the whole file; without it each question's language is detected.
"""

from __future__ import annotations

import re

from knowledge.importer.rows import Row

_FRONT_LANG = re.compile(r"^\s*lang(?:uage)?\s*:\s*([A-Za-z]{2})\s*$", re.IGNORECASE)


def parse_markdown(text: str) -> tuple[list[Row], str | None]:
    """The rows of a Markdown FAQ, and the language its top declares (or ``None``)."""
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
    rows = [
        Row(number, {"question": heading, "answer": "\n".join(body).strip()})
        for number, heading, body in sections
    ]
    return rows, file_lang
