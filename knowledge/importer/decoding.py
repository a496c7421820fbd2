"""Bytes to text for the text formats, the way companies' files are really encoded.

Excel on an Italian Windows saves "CSV (delimitato dal separatore di elenco)" as
Windows-1252 with ``;`` and CRLF; "CSV UTF-8" adds a BOM; "Testo Unicode" is UTF-16 with
a BOM. UTF-8 is tried first because a Windows-1252 reading of UTF-8 bytes never fails and
would turn "è" into "Ã¨"; the reverse cannot happen, since Windows-1252 text with accented
letters is almost never valid UTF-8.
"""

from __future__ import annotations

import codecs

from knowledge.importer.report import ImportFormatError


def decode_text(data: bytes, name: str) -> str:
    """The text of a file, or :class:`ImportFormatError` when it is not text at all."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise ImportFormatError(f"{name} is not valid UTF-16 text") from exc
    if b"\x00" in data:
        raise ImportFormatError(f"{name} is not a text file / {name} non è un file di testo")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError as exc:
        raise ImportFormatError(
            f"{name} is neither UTF-8 nor Windows-1252 text / "
            f"{name} non è testo UTF-8 né Windows-1252"
        ) from exc
