"""Personal data in operator answers, found and replaced with neutral placeholders.

An operator's answer to one customer can become a knowledge-base article that every
later customer reads, so the draft made from it must not carry that customer's e-mail
address, phone number, IBAN, tax code, card, order numbers, name or street address.
:func:`scrub` replaces them *before* anyone sees the draft; :func:`find_personal_data`
says what was found and where (the console can highlight it).

Placeholders are bracketed and language-independent (``[EMAIL]``, ``[PHONE]`` …, see
:data:`PLACEHOLDERS`; :data:`PLACEHOLDER_HELP` explains each one in Italian and
English), and only the data itself is replaced: "ordine n. [ORDER]", "Gentile
[NAME]", so the answer still reads well.

How it decides, in short:

- Numbers are personal only in a shape that identifies someone: a phone number has an
  Italian mobile or landline length or an international prefix, an IBAN, a codice
  fiscale, a partita IVA and a card number carry a check digit that is verified. Prices,
  dates, times, quantities, years, percentages and postcodes alone are left alone.
- Order, ticket, invoice and tracking numbers are recognised by the word before them
  ("ordine n.", "tracking:") or by an ID-like shape (``AUR-2025-004512``, ``#A12345``).
- Names: the customer's names passed by the caller (the desk knows them), and any
  capitalised name after a greeting or a form of address ("Gentile", "Sig.ra", "Dear
  Mrs", "mi chiamo"), which is then also removed wherever else it appears.
- When two detections overlap, the more specific kind wins (an e-mail address over the
  name inside it, an IBAN over the digits inside it). The text is then searched again
  with what was found replaced, until nothing new turns up, so scrubbing a scrubbed
  text changes nothing.

Not caught, by design (a reviewer still reads every draft): names with no cue that the
caller did not pass ("ho parlato con Giulia"); a lowercase name that is also a word
("rossi", "costa") standing alone; street addresses without a civic number ("in via
Roma"); codici fiscali and partite IVA written with spaces; foreign VAT numbers; IBANs
of countries missing from ``_IBAN_LENGTHS``; short order numbers with no cue
("il 123456 è partito"). Caught too eagerly: any capitalised word after a greeting
("Buongiorno Aurora", then every "Aurora"), and product codes with three digits or
more ("KIT-V60-02").

Every pattern is anchored at a token boundary and bounded, so the cost grows linearly
with the text: about 10 ms for 5,000 characters, well under a second for 100,000
characters built to make a regex backtrack.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from itertools import pairwise

import phonenumbers
from stdnum import luhn
from stdnum.iso7064 import mod_97_10
from stdnum.it import codicefiscale

EMAIL = "EMAIL"
PHONE = "PHONE"
IBAN = "IBAN"
CODICE_FISCALE = "CODICE_FISCALE"
PARTITA_IVA = "PARTITA_IVA"
CARD = "CARD"
ORDER = "ORDER"
NAME = "NAME"
ADDRESS = "ADDRESS"

KINDS = (EMAIL, PHONE, IBAN, CODICE_FISCALE, PARTITA_IVA, CARD, ORDER, NAME, ADDRESS)

# What replaces each kind of personal data in a scrubbed text.
PLACEHOLDERS: dict[str, str] = {kind: f"[{kind}]" for kind in KINDS}

# What each placeholder stands for, for the console (Italian and English).
PLACEHOLDER_HELP: dict[str, dict[str, str]] = {
    EMAIL: {"it": "indirizzo e-mail", "en": "e-mail address"},
    PHONE: {"it": "numero di telefono", "en": "phone number"},
    IBAN: {"it": "IBAN (conto bancario)", "en": "IBAN (bank account)"},
    CODICE_FISCALE: {"it": "codice fiscale", "en": "Italian tax code (codice fiscale)"},
    PARTITA_IVA: {"it": "partita IVA", "en": "VAT number (partita IVA)"},
    CARD: {"it": "numero di carta di pagamento", "en": "payment card number"},
    ORDER: {
        "it": "numero di ordine, pratica, ticket, fattura, spedizione o cliente",
        "en": "order, case, ticket, invoice, tracking or customer number",
    },
    NAME: {"it": "nome della persona", "en": "person's name"},
    ADDRESS: {"it": "indirizzo postale", "en": "street address"},
}


@dataclass(frozen=True)
class Finding:
    """One piece of personal data: ``text == original[start:end]``; ``kind`` is a key of
    :data:`PLACEHOLDERS`."""

    kind: str
    start: int
    end: int
    text: str


def scrub(text: str, names: Iterable[str] = ()) -> str:
    """``text`` with personal data replaced by placeholders such as ``[EMAIL]``.

    ``names`` are the customer's names known from the conversation ("Mario Rossi",
    "mario"); each part is removed wherever it appears as a whole word, in any case.
    Never raises on a string, and scrubbing a scrubbed text changes nothing.
    """
    return _replaced(text, find_personal_data(text, names))[0]


def find_personal_data(text: str, names: Iterable[str] = ()) -> list[Finding]:
    """The personal data in ``text``: sorted by position, never overlapping.

    ``names`` as for :func:`scrub`. Placeholders already in the text are not reported.
    Replacing data changes what surrounds the rest ("4111 1111 1111 1111/333 123 4567":
    the phone number glued to the card shows once the card is a placeholder), so the
    text is searched again, with what was found replaced, until nothing new turns up:
    that is what makes scrubbing a scrubbed text change nothing.
    """
    if not text:
        return []
    parts = _name_parts(names)
    findings: list[Finding] = []
    current, segments = text, [(0, 0, len(text))]
    for _ in range(_MAX_PASSES):
        new, learned = _find_once(current, parts)
        if not new:
            break
        parts |= learned
        findings.extend(_to_original(new, segments))
        findings.sort(key=lambda f: f.start)
        current, segments = _replaced(text, findings)
    return _merge_names(text, findings)


# Passes of find-and-replace; real texts settle after one or two.
_MAX_PASSES = 8


def _find_once(text: str, parts: set[str]) -> tuple[list[Finding], set[str]]:
    """One search of ``text``; also the names learned from greetings in it."""
    candidates: list[_Candidate] = [
        (_PROTECTED, m.start(), m.end(), "") for m in _PLACEHOLDER.finditer(text)
    ]
    for detector in _DETECTORS:
        candidates.extend(detector(text))
    cue_names, learned = _names_after_cues(text)
    candidates.extend(cue_names)
    candidates.extend(_known_names(text, parts | learned))
    return _resolve(candidates), learned


# A stretch of text that replacing left as it was: (start in the replaced text, start in
# the original, length).
_Segment = tuple[int, int, int]


def _replaced(text: str, findings: list[Finding]) -> tuple[str, list[_Segment]]:
    """``text`` with ``findings`` replaced, and where its unchanged stretches came from."""
    pieces: list[str] = []
    segments: list[_Segment] = []
    position = length = 0
    for f in findings:
        segments.append((length, position, f.start - position))
        pieces.append(text[position : f.start])
        length += f.start - position
        pieces.append(PLACEHOLDERS[f.kind])
        length += len(PLACEHOLDERS[f.kind])
        position = f.end
    segments.append((length, position, len(text) - position))
    pieces.append(text[position:])
    return "".join(pieces), segments


def _to_original(findings: list[Finding], segments: list[_Segment]) -> Iterator[Finding]:
    """Findings in a replaced text, at their place in the original one. A finding never
    overlaps a placeholder, so it lies within one unchanged stretch."""
    starts = [segment[0] for segment in segments]
    for f in findings:
        here, origin, length = segments[bisect.bisect_right(starts, f.start) - 1]
        if f.end <= here + length:
            yield Finding(f.kind, origin + f.start - here, origin + f.end - here, "")


# --- resolution ---------------------------------------------------------------------

# (priority, start, end, kind): a lower priority wins an overlap.
_Candidate = tuple[int, int, int, str]

_PROTECTED = -1  # a placeholder already in the text: nothing may overlap it
_P_EMAIL, _P_IBAN, _P_CF, _P_CARD, _P_PIVA_CUED, _P_ORDER_CUED = 0, 1, 2, 3, 4, 5
_P_PIVA, _P_PHONE, _P_ADDRESS, _P_ORDER_SHAPE, _P_NAME = 6, 7, 8, 9, 10

_PLACEHOLDER = re.compile(r"\[(?:" + "|".join(KINDS) + r")\]")


def _resolve(candidates: list[_Candidate]) -> list[Finding]:
    """Keep the best non-overlapping candidates: lower priority first, then longer."""
    starts: list[int] = []
    kept: list[_Candidate] = []
    for candidate in sorted(candidates, key=lambda c: (c[0], c[1] - c[2], c[1])):
        _, start, end, _ = candidate
        if start >= end:
            continue
        i = bisect.bisect_left(starts, start)
        if i > 0 and kept[i - 1][2] > start:
            continue
        if i < len(kept) and kept[i][1] < end:
            continue
        starts.insert(i, start)
        kept.insert(i, candidate)
    return [Finding(kind, s, e, "") for p, s, e, kind in kept if p != _PROTECTED]


_BETWEEN_NAME_PARTS = re.compile(r"[ \t\u00a0]+")


def _merge_names(text: str, findings: list[Finding]) -> list[Finding]:
    """One [NAME] for "Mario Rossi", not "[NAME] [NAME]"; fills in each ``text``."""
    merged: list[Finding] = []
    for f in findings:
        previous = merged[-1] if merged else None
        if (
            previous is not None
            and f.kind == NAME == previous.kind
            and _BETWEEN_NAME_PARTS.fullmatch(text, previous.end, f.start)
        ):
            merged[-1] = Finding(NAME, previous.start, f.end, "")
        else:
            merged.append(f)
    return [Finding(f.kind, f.start, f.end, text[f.start : f.end]) for f in merged]


# --- shared helpers -----------------------------------------------------------------

_S = r"[ \t\u00a0\u202f]"  # a space within one line, no-break spaces included
_DIGITS = re.compile(r"[0-9]")


def _digits(span: str) -> str:
    return "".join(_DIGITS.findall(span))


def _is_word_char(text: str, i: int) -> bool:
    return 0 <= i < len(text) and (text[i].isalnum() or text[i] == "_")


def _first_chars(words: Iterable[str]) -> str:
    """A look-ahead on the first characters of ``words``, in both cases.

    Python's regex engine tries a pattern at every position; a pattern that starts with
    a look-behind or a case-insensitive alternation is slow to reject a position, one
    that starts with a character class is fast (about 10x on a long text).
    """
    chars = {c for w in words for c in (w[0].lower(), w[0].upper())}
    return "(?=[" + "".join(re.escape(c) for c in sorted(chars)) + "])"


# Words after a number that make it an amount, a quantity or a duration, not an ID.
_UNITS_MONEY_MEASURE = (
    r"€|\$|£|%|‰|(?:euro|eur|usd|chf|gbp|kg|g|gr|hg|mg|ml|cl|dl|l|lt|cm|mm|km|m|mq|pz|pezzi"
    r"|pcs|x|w|kw|v|mah|gb|mb|tb)(?![^\W\d_'’])"
)
_UNITS_TIME_COUNT = (
    r"(?:giorni|giorno|gg|ore|ora|h|minuti|minuto|min|secondi|settimane|settimana|mesi|mese"
    r"|anni|anno|days?|hours?|hrs?|minutes?|mins?|weeks?|months?|years?|volte|times|items?"
    r"|pieces?|capsule|cialde|tazze|cups?|persone|people|posti)(?![^\W\d_'’])"
)
_AMOUNT_AFTER = re.compile(rf"{_S}*(?:{_UNITS_MONEY_MEASURE})", re.I)
_QUANTITY_AFTER = re.compile(rf"{_S}*(?:{_UNITS_MONEY_MEASURE}|{_UNITS_TIME_COUNT})", re.I)
_CURRENCY_BEFORE = re.compile(rf"(?:€|\$|£|(?<![\w])(?:eur|euro|usd|chf|gbp)){_S}*\Z", re.I)

# A date ("12/03", "01.02.2025", "01-02-2025") or a time ("09.30") inside a number.
_DATE_OR_TIME = re.compile(
    r"(?<![0-9])([0-9]{1,2})(?:[./]([0-9]{1,2})(?:[./]([0-9]{2}|[0-9]{4}))?"
    r"|-([0-9]{1,2})-([0-9]{2}|[0-9]{4}))(?![0-9])"
)


def _has_date_or_time(span: str) -> bool:
    for m in _DATE_OR_TIME.finditer(span):
        first, second = int(m[1]), int(m[2] or m[4])
        two_digit_minutes = m[2] is not None and len(m[2]) == 2 and m[3] is None
        if (1 <= first <= 31 and 1 <= second <= 12) or (1 <= first <= 12 and 1 <= second <= 31):
            return True
        if two_digit_minutes and first <= 23 and second <= 59:
            return True
    return False


def _group_spans(
    text: str,
    candidates: re.Pattern[str],
    groups: re.Pattern[str],
    accept: Callable[[str, int, int, list[str]], bool],
    min_digits: int,
    max_digits: int,
) -> Iterator[tuple[int, int]]:
    """Spans of consecutive digit groups that ``accept(text, start, end, groups)`` takes,
    longest first (``groups``: the digits of each group in the span).

    A run of digit groups ("tel. 333 123 4567 dalle 9") is cut into candidates by the
    regex; which groups belong together is decided here, in Python, so the regex never
    has to backtrack. A span starts and ends at the run's ends or at a plain space, never
    inside "01/03/2025"; a last group glued to a word ("2kg") is dropped.
    """
    for cand in candidates.finditer(text):
        run = cand.group()
        if len(run) < min_digits or sum(map(str.isdigit, run)) < min_digits:
            continue
        found = list(groups.finditer(run))
        if found and _is_word_char(text, cand.end()):
            found.pop()
        digits = [g.group() if g.group().isdigit() else _digits(g.group()) for g in found]
        counts = [0]
        for group in digits:
            counts.append(counts[-1] + len(group))
        # boundary[k]: may a span end with group k (and the next one start after it)?
        boundary = [not run[a.end() : b.start()].strip() for a, b in pairwise(found)]
        boundary.append(True)
        offset, i = cand.start(), 0
        while i < len(found):
            for j in range(len(found) - 1, i - 1, -1):
                if not boundary[j] or not min_digits <= counts[j + 1] - counts[i] <= max_digits:
                    continue
                start, end = offset + found[i].start(), offset + found[j].end()
                if accept(text, start, end, digits[i : j + 1]):
                    yield start, end
                    i = j
                    break
            i += 1
            while i < len(found) and not boundary[i - 1]:
                i += 1


# --- e-mail addresses ---------------------------------------------------------------

# The one e-mail address pattern of Sportello: what the scrubber removes, what the bot
# takes as the address a customer typed and what a contact detail must be (telling a
# text's language ignores anything e-mail-like: knowledge.language).
_EMAIL = re.compile(
    r"(?=[\w.%+-])(?<![\w.%+-])[\w.%+-]+@(?:[^\W_][\w-]*\.)+[^\W\d_]{2,24}(?![\w-])"
)
# Longest address (RFC 5321: 254 characters in all, 64 before the @).
MAX_EMAIL_CHARS = 254
MAX_EMAIL_LOCAL_CHARS = 64


def find_email(text: str | None) -> str | None:
    """The first e-mail address in ``text``, as written; None when there is none."""
    match = _EMAIL.search(text or "")
    return match.group(0) if match else None


def is_email(text: object) -> bool:
    """Is ``text``, whole, one e-mail address (within RFC 5321's lengths)?"""
    return (
        isinstance(text, str)
        and len(text) <= MAX_EMAIL_CHARS
        and _EMAIL.fullmatch(text) is not None
        and text.index("@") <= MAX_EMAIL_LOCAL_CHARS
    )


def without_emails(text: str, replacement: str = " ") -> str:
    """``text`` with every e-mail address replaced by ``replacement``."""
    return _EMAIL.sub(replacement, text)


_EMAIL_LIKE = re.compile(r"[^\s@<>()\[\],;:]+@+[^\s<>()\[\],;:]*")


def find_email_like(text: str | None) -> str | None:
    """Something meant as an e-mail address but that is not one ("mario@@x.it",
    "mario@gmail"), so the bot can ask the customer to check it; None when there is none.
    Call it after :func:`find_email` found nothing: a valid address is e-mail-like too."""
    match = _EMAIL_LIKE.search(text or "")
    return match.group(0).rstrip(".!?") if match else None


_TLDS = "com|it|net|org|eu|info|biz|io|me|de|fr|es|ch|at|uk|co\\.uk|us|nl|be|pt|sm|va"
_OBF_AT = (
    rf"(?:{_S}*[\[({{]{_S}*(?:at|chiocciola){_S}*[\])}}]{_S}*"
    rf"|{_S}+(?:at|chiocciola){_S}+|{_S}*@{_S}*)"
)
_OBF_DOT = rf"(?:{_S}*[\[({{]{_S}*(?:dot|punto){_S}*[\])}}]{_S}*|{_S}+(?:dot|punto){_S}+|\.)"
_OBFUSCATED_EMAIL = re.compile(
    rf"(?=[\w.%+-])(?<![\w.%+-])[\w.%+-]+{_OBF_AT}[^\W_][\w-]*(?:{_OBF_DOT}[^\W_][\w-]*)*?"
    rf"{_OBF_DOT}(?:{_TLDS})(?![\w-])",
    re.I,
)


def _emails(text: str) -> Iterator[_Candidate]:
    for pattern in (_EMAIL, _OBFUSCATED_EMAIL):
        for m in pattern.finditer(text):
            yield _P_EMAIL, m.start(), m.end(), EMAIL


# --- IBAN ---------------------------------------------------------------------------

# Length of the IBAN by country (ISO 13616 registry), for the countries customers of an
# Italian company are likely to bank in.
_IBAN_LENGTHS = {
    "AD": 24, "AT": 20, "BE": 16, "BG": 22, "CH": 21, "CY": 28, "CZ": 24, "DE": 22,
    "DK": 18, "EE": 20, "ES": 24, "FI": 18, "FR": 27, "GB": 22, "GI": 23, "GR": 27,
    "HR": 21, "HU": 28, "IE": 22, "IS": 26, "IT": 27, "LI": 21, "LT": 20, "LU": 20,
    "LV": 21, "MC": 27, "MT": 31, "NL": 18, "NO": 15, "PL": 28, "PT": 25, "RO": 24,
    "SE": 24, "SI": 19, "SK": 24, "SM": 27, "VA": 22, "AL": 28, "BA": 20, "ME": 22,
    "MK": 19, "RS": 22, "TR": 26, "UA": 29, "MD": 24, "BR": 29, "MA": 28, "TN": 24,
}  # fmt: skip
_IBAN_START = re.compile(r"(?=[A-Za-z])(?<![A-Za-z0-9])[A-Za-z]{2}[0-9]{2}(?=[ \t]?[A-Za-z0-9])")
_IBAN_ITALIAN = re.compile(r"IT[0-9]{2}[A-Z][0-9]{10}[A-Z0-9]{12}")


def _iban_checksum_ok(iban: str) -> bool:
    """The IBAN's ISO 7064 mod 97-10 check digits are right.

    This is the first check ``stdnum.iban.validate`` makes; its later ones (the BBAN
    structure of the country, national check digits) are left out on purpose: its
    registry has no Morocco (MA, in :data:`_IBAN_LENGTHS`), and a customer's account
    number with the right check digits is personal data whatever its bank's format.
    """
    return mod_97_10.is_valid(iban[4:] + iban[:4])


# The rest of an IBAN of each length: single spaces allowed between characters.
_IBAN_BODIES = {
    length: re.compile(rf"(?:[ \t]?[A-Za-z0-9]){{{length - 4}}}(?![\w])")
    for length in set(_IBAN_LENGTHS.values())
}
_SPACES = re.compile(r"[ \t]")


def _ibans(text: str) -> Iterator[_Candidate]:
    for m in _IBAN_START.finditer(text):
        length = _IBAN_LENGTHS.get(m.group()[:2].upper())
        body = _IBAN_BODIES[length].match(text, m.end()) if length else None
        if body is None:
            continue
        iban = (m.group() + _SPACES.sub("", body.group())).upper()
        # A mistyped Italian IBAN still has an unmistakable shape and is still personal.
        if _iban_checksum_ok(iban) or _IBAN_ITALIAN.fullmatch(iban):
            yield _P_IBAN, m.start(), body.end(), IBAN


# --- codice fiscale -----------------------------------------------------------------

_OMO = "0-9LMNPQRSTUV"  # digits, or the letters that replace them in omocodia
_CODICE_FISCALE = re.compile(
    rf"(?=[A-Za-z])(?<![A-Za-z0-9])"
    rf"[A-Z]{{6}}[{_OMO}]{{2}}[ABCDEHLMPRST][{_OMO}]{{2}}[A-Z][{_OMO}]{{3}}[A-Z]"
    r"(?![A-Za-z0-9])",
    re.I,
)


def codice_fiscale_check_char(first15: str) -> str:
    """The check letter of an Italian codice fiscale, from its first 15 characters.

    Only the check letter, not ``stdnum.it.codicefiscale.is_valid``, which also checks
    the birth date: the shape is already matched by :data:`_CODICE_FISCALE`, and a code
    with a wrong letter is still scrubbed, as an ID.
    """
    return codicefiscale.calc_check_digit(first15.upper())


def _codici_fiscali(text: str) -> Iterator[_Candidate]:
    for m in _CODICE_FISCALE.finditer(text):
        code = m.group().upper()
        # A real code has digits (full omocodia is vanishingly rare); this keeps long
        # all-letter words out. A code with a wrong check letter becomes an ID-like [ORDER].
        if any(c.isdigit() for c in code) and codice_fiscale_check_char(code[:15]) == code[15]:
            yield _P_CF, m.start(), m.end(), CODICE_FISCALE


# --- partita IVA --------------------------------------------------------------------

_PIVA = re.compile(
    r"(?=[cCpPvViI0-9])(?<![\w])"
    r"(?:(?P<cue>(?:c\.?\s?f\.?\s?(?:/|e)\s?)?(?:p\.?\s?iva|partita\s+iva|p\.?\s?i\."
    r"|vat(?:\s+(?:number|no\.?|id|reg(?:istration)?\.?(?:\s+no\.?)?))?|c\.\s?f\.)"
    r")\s*(?:(?:n|nr|no|numero|number)\.?|n°)?\s*[:.]?\s*)?"
    r"(?P<number>(?:IT[ \t]?)?[0-9]{11})(?![\w])",
    re.I,
)


def _partite_iva(text: str) -> Iterator[_Candidate]:
    """Cued numbers, and 11 digits passing the Luhn check the partita IVA uses.

    Not ``stdnum.it.iva.is_valid``: it also wants digits 8-10 to name a tax office
    (001-100, 120, 121, 888, 999), and rejects nine in ten of the Luhn-valid numbers
    this recogniser takes, among them the ones in its tests (12345678903). An uncued
    number a customer calls theirs is scrubbed either way; only its placeholder would
    change, so the wider check stays.
    """
    for m in _PIVA.finditer(text):
        digits = _digits(m["number"])
        if m["cue"]:  # "P.IVA 12345678901": the number is the customer's even if mistyped
            yield _P_PIVA_CUED, m.start("number"), m.end("number"), PARTITA_IVA
        elif luhn.is_valid(digits):
            yield _P_PIVA, m.start("number"), m.end("number"), PARTITA_IVA


# --- payment cards and other long numbers -------------------------------------------

_DIGIT_RUN = re.compile(
    r"(?=[0-9])(?<![\w+#&@])(?<![\w][-/_])(?<![0-9][.,:])"
    r"[0-9]{1,19}(?:[ \t\u00a0-][0-9]{1,19}){0,5}"
)
_DIGIT_GROUP = re.compile(r"[0-9]+")


def _is_card(text: str, start: int, end: int, groups: list[str]) -> bool:
    digits = "".join(groups)
    return digits[0] in "23456" and all(len(g) >= 3 for g in groups) and luhn.is_valid(digits)


def _is_long_number(text: str, start: int, end: int, groups: list[str]) -> bool:
    """A long number that no other rule explains: an order, tracking or card number."""
    if len(groups) == 1:
        return len(groups[0]) >= 10
    return len(groups) >= 3 and all(len(g) == 4 for g in groups[:-1]) and 1 <= len(groups[-1]) <= 4


def _cards(text: str) -> Iterator[_Candidate]:
    for start, end in _group_spans(text, _DIGIT_RUN, _DIGIT_GROUP, _is_card, 13, 19):
        yield _P_CARD, start, end, CARD


def _long_numbers(text: str) -> Iterator[_Candidate]:
    for start, end in _group_spans(text, _DIGIT_RUN, _DIGIT_GROUP, _is_long_number, 9, 99):
        yield _P_ORDER_SHAPE, start, end, ORDER


# --- phone numbers ------------------------------------------------------------------

_PHONE_RUN = re.compile(
    r"(?=[0-9+(])(?<![\w+#&@])(?<![\w][-/_])(?<![0-9][.,:])"
    r"(?:\(\+?[0-9]{1,4}\)|\+[ \t]?[0-9]{1,15}|\([0-9]{1,5}\)|[0-9]{1,12})"
    r"(?:(?:[ \t\u00a0]?[-./][ \t\u00a0]?|[ \t\u00a0]|(?<=\)))"
    r"(?:\([0-9]{1,5}\)|[0-9]{1,12})){0,6}"
)
_PHONE_GROUP = re.compile(r"\(?\+?[ \t]?[0-9]+\)?")
_THOUSANDS = re.compile(r"[0-9]{1,3}(?:\.[0-9]{3})+")
_NANP = re.compile(r"\(?[2-9][0-9]{2}\)?[-. \t]?[0-9]{3}[-. \t][0-9]{4}")


def _separators(span: str, groups: list[re.Match[str]], international: bool) -> set[str]:
    """The separators between groups ("-", ".", "/" or " "), except after a country code
    or a bracketed area code, where any is usual: +39 333-1234567, (555) 123-4567."""
    kinds: set[str] = set()
    for k, (a, b) in enumerate(pairwise(groups)):
        if (k == 0 and international) or a.group().endswith(")"):
            continue
        kinds.add(span[a.end() : b.start()].strip(" \t\u00a0") or " ")
    return kinds


def _is_phone(text: str, start: int, end: int, digit_groups: list[str]) -> bool:
    span, digits = text[start:end], "".join(digit_groups)
    n = len(digits)
    # Lengths first (cheap, and they settle most candidates), then the regexes.
    international = span.startswith(("+", "(+")) or (
        digits.startswith("00") and len(digit_groups[0]) <= 5
    )
    if international:  # +39 …, 0039 …, +44 …: up to 15 digits after the prefix
        plausible = 8 <= n - (0 if "+" in span else 2) <= 15
    elif min(map(len, digit_groups)) < 2:  # "0 0 0 0 0 0" is not a number
        plausible = False
    elif digits[0] == "3":  # Italian mobile: 3xx + 6 or 7 digits
        plausible = 9 <= n <= 10
    elif digits[0] == "0":  # Italian landline: area code with its 0, 6 to 11 digits in all
        plausible = n <= 11
    elif digits.startswith("80"):  # Italian toll-free: 800 / 803 …
        plausible = 9 <= n <= 10
    else:  # North American, also written by customers living there: (555) 123-4567
        plausible = n == 10 and _NANP.fullmatch(span) is not None
    if not plausible:
        return False
    # One style of separator per number: "05/03 - 10/03" is two dates, not a number.
    if len(_separators(span, list(_PHONE_GROUP.finditer(span)), international)) > 1:
        return False
    if international:
        return True
    if _has_date_or_time(span) or _THOUSANDS.fullmatch(span):
        return False
    return not (
        _AMOUNT_AFTER.match(text, end) or _CURRENCY_BEFORE.search(text, max(0, start - 8), start)
    )


def _phones(text: str) -> Iterator[_Candidate]:
    for start, end in _group_spans(text, _PHONE_RUN, _PHONE_GROUP, _is_phone, 6, 17):
        yield _P_PHONE, start, end, PHONE


_PHONE_NOISE = re.compile(r"[\s().\-/\u00a0]")
_PHONE_CHARS = re.compile(r"\+?[0-9]+")
# The country a number without a country code is dialled in.
PHONE_REGION = "IT"


def normalise_phone(text: object) -> str | None:
    """The number as ``+<country><number>`` (E.164), or None when it is not one.

    Numbers without a country code are Italian (``333 1234567`` → ``+393331234567``),
    and only Italian-shaped ones (starting with 0 or 3) are taken without it; ``00`` is
    the international prefix. ``phonenumbers`` parses and formats, and refuses unknown
    country codes; 8 to 15 digits in all, as E.164 allows.
    """
    if not isinstance(text, str | int) or isinstance(text, bool):
        return None
    value = _PHONE_NOISE.sub("", str(text).strip())
    if not _PHONE_CHARS.fullmatch(value):
        return None
    if not value.startswith(("+", "00", "0", "3")):
        return None
    try:
        number = phonenumbers.parse(value, PHONE_REGION)
    except phonenumbers.NumberParseException:
        return None
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return e164 if 8 <= len(e164) - 1 <= 15 else None


# --- order, ticket, invoice, tracking and customer numbers --------------------------

_ORDER_CUE = re.compile(
    r"(?=[abcdfilnoprstABCDFILNOPRST])(?<![\w])"
    r"(?:ordin[ei]|orders?|pratic(?:a|he)|tickets?|fattur[ae]|invoices?|tracking"
    r"|tracciamento|spedizion[ei]|shipments?|(?:codice|cod\.|numero|num\.|n\.|n°|id)\s*"
    r"(?:cliente|utente|client)|customer\s+(?:number|no\.?|id|code)|client\s+(?:number|id)"
    r"|account\s+(?:number|no\.?|id)|riferimento|rif\.|reference|ref\.|rma|resi|reso|returns?"
    r"|protocollo|case|contratto|contract|ddt|ldv|awb|lettera\s+di\s+vettura|ricevuta"
    r"|receipt|scontrino|richiesta|request|segnalazione|prenotazione|booking|parcel|pacco"
    r"|id)(?![\w])"
    r"(?P<conn>(?:\s*(?:n\.|n°|nr\.|num\.|no\.|(?:nr|n|no|num|numero|number|nummer|id|code"
    r"|codice|è|is|was|era)(?![\w])|e'|:|=|-|–))*)"
    r"[ \t]*(?:\r?\n[ \t]*)?",
    re.I,
)
_EXPLICIT_CONNECTOR = re.compile(r"n\.|n°|nr|num|no\.|numero|number|nummer|id|code|codice|:", re.I)
_ID = re.compile(r"#?[ \t]?[A-Za-z0-9](?:[A-Za-z0-9]|[-/._](?=[A-Za-z0-9]))*")
_NEXT_ID = re.compile(r"[ \t]*(?:,|/|&|\b(?:e|ed|and|o|or)\b)[ \t]*(?=#?[A-Za-z0-9])", re.I)
_YEAR = re.compile(r"(?:19|20)[0-9]{2}")
# "1000mAh", "24/48h", "2x100ml", "30x20x10": quantities and sizes, not IDs.
_NUMBER_WITH_UNIT = re.compile(
    r"[0-9.,x×/-]*[0-9][A-Za-z]{1,4}|[0-9]+(?:[.,][0-9]+)?(?:[x×][0-9]+(?:[.,][0-9]+)?)+"
)


def _is_cued_id(text: str, start: int, end: int, explicit: bool) -> bool:
    """Is text[start:end], right after "ordine n." or similar, an identifier?"""
    token = text[start:end]
    core = token.lstrip("# \t")
    alnum = [c for c in core if c.isalnum()]
    digits = sum(c.isdigit() for c in alnum)
    if digits == 0 or len(alnum) < 3 or _is_word_char(text, end):
        return False
    if _has_date_or_time(core) or _NUMBER_WITH_UNIT.fullmatch(core):
        return False
    if _QUANTITY_AFTER.match(text, end):
        return False
    if explicit or token.startswith("#"):
        return True
    if digits == len(alnum):  # bare number: long enough and not a year
        return digits >= 4 and not _YEAR.fullmatch(core)
    # letters and digits: a code ("C12345"), not a number and a word ("30-day")
    words = (b for b in _ALPHA_OR_DIGITS.findall(core) if len(b) >= 3 and b.islower())
    return digits >= 3 and len(alnum) >= 5 and not any(words)


def _cued_orders(text: str) -> Iterator[_Candidate]:
    for cue in _ORDER_CUE.finditer(text):
        explicit = bool(_EXPLICIT_CONNECTOR.search(cue["conn"]))
        position = cue.end()
        while (m := _ID.match(text, position)) and _is_cued_id(text, m.start(), m.end(), explicit):
            yield _P_ORDER_CUED, m.start(), m.end(), ORDER
            more = _NEXT_ID.match(text, m.end())
            if not more:
                break
            position = more.end()


# A token with a digit in it (the look-ahead skips plain words without leaving C).
_TOKEN = re.compile(
    r"(?=[#A-Za-z0-9])(?<![\w#&@.-])(?=[#A-Za-z0-9._/-]*[0-9])"
    r"#?[A-Za-z0-9]+(?:[-_/.][A-Za-z0-9]+)*(?![\w@])"
)
_ALPHA_OR_DIGITS = re.compile(r"[A-Za-z]+|[0-9]+")


def _looks_like_id(token: str) -> bool:
    """Does a token stand for a record? Yes: "AUR-2025-004512", "#A12345",
    "1Z999AA10123456784". No: "V60", "MP3", "24-month", "COVID-19", "ISO-9001", "1000mAh"."""
    core = token.lstrip("#")
    alnum = "".join(c for c in core if c.isalnum())
    digits = sum(c.isdigit() for c in alnum)
    if token.startswith("#"):
        return len(alnum) >= 4 and digits >= 3
    if digits < 3 or digits == len(alnum) or len(alnum) < 6:
        return False
    if _NUMBER_WITH_UNIT.fullmatch(core):
        return False
    blocks = _ALPHA_OR_DIGITS.findall(core)
    if any(len(b) >= 4 and b.islower() for b in blocks):  # a word: "5055/webhook"
        return False
    if len(blocks) == 2 and blocks[0].isalpha():  # a name and a model number: RTX4090
        return digits >= 5
    return True


def _id_shapes(text: str) -> Iterator[_Candidate]:
    for m in _TOKEN.finditer(text):
        if m.end() - m.start() >= 5 and _looks_like_id(m.group()):
            yield _P_ORDER_SHAPE, m.start(), m.end(), ORDER


# --- street addresses ---------------------------------------------------------------

_STREET_TYPES = (
    "via", "viale", "v.le", "piazza", "piazzale", "piazzetta", "p.zza", "p.za", "p.le",
    "corso", "c.so", "largo", "l.go", "vicolo", "vico", "strada", "str.", "contrada", "c.da",
    "località", "localita", "loc.", "frazione", "fraz.", "borgo", "lungomare", "lungotevere",
    "lungarno", "salita", "calle", "fondamenta", "rione", "traversa", "circonvallazione",
    "stradone",
)  # fmt: skip
_STREET_TYPE = "|".join(re.escape(t) for t in sorted(_STREET_TYPES, key=len, reverse=True))
_STREET_WORD = r"[^\W\d_][\w'’.-]*"
# A capitalised place name: "Milano", "L'Aquila", "Reggio-Emilia"; not "MI" or "NW".
_CITY_WORD = r"[A-ZÀ-ÖØ-Þ](?:['’][A-ZÀ-ÖØ-Þ])?[a-zß-öø-ÿ]+(?:-[A-ZÀ-ÖØ-Þ]?[a-zß-öø-ÿ]+)*"
_CAP_CITY = (
    rf"{_S}*(?:[,–-]{_S}*|\r?\n{_S}*)?\(?[0-9]{{5}}\)?(?![0-9])"
    rf"(?:{_S}+{_CITY_WORD}(?:{_S}+(?:(?:di|del|della|sul|in){_S}+)?{_CITY_WORD}){{0,3}}"
    rf"(?:{_S}*\([A-Za-z]{{2}}\)|{_S}+[A-Z]{{2}}(?![\w]))?)?"
)
_ADDRESS_IT = re.compile(
    rf"{_first_chars(_STREET_TYPES)}(?<![\w.])"
    rf"(?P<type>(?i:{_STREET_TYPE}))(?:\.?{_S}+|(?<=\.){_S}*)"
    rf"(?P<name>{_STREET_WORD}(?:{_S}+{_STREET_WORD}){{0,5}}?)"
    rf"{_S}*,?{_S}*(?:(?i:n|nr|n°)\.?{_S}*)?"
    r"(?P<civic>[0-9]{1,4}(?:[ \t]?/[ \t]?[A-Za-z0-9]{1,3}(?![\w])|[A-Za-z](?![\w])"
    r"|(?i:bis|ter)(?![\w]))?|(?i:snc)(?![\w]))"
    r"(?![0-9]|[.,][0-9])"
    rf"(?P<tail>{_CAP_CITY})?"
)
_EN_STREET_SUFFIXES = (
    "Street", "St", "Road", "Rd", "Avenue", "Ave", "Lane", "Ln", "Drive", "Dr", "Boulevard",
    "Blvd", "Court", "Ct", "Place", "Pl", "Square", "Sq", "Terrace", "Close", "Crescent", "Way",
    "Row", "Gardens", "Parkway", "Highway", "Hwy", "Mews", "Grove",
)  # fmt: skip
_ADDRESS_EN = re.compile(
    rf"(?=[0-9])(?<![\w.,/-])[0-9]{{1,5}}[A-Za-z]?{_S}+(?:{_CITY_WORD}{_S}+){{1,3}}"
    rf"(?:{'|'.join(_EN_STREET_SUFFIXES)})\.?(?![\w])"
    rf"(?:,{_S}*{_CITY_WORD}(?:{_S}+{_CITY_WORD})?)?"
    rf"(?:,?{_S}*(?:[A-Z]{{1,2}}[0-9][A-Z0-9]?{_S}*[0-9][A-Z]{{2}}|[A-Z]{{2}}{_S}+[0-9]{{5}}"
    r"(?:-[0-9]{4})?)(?![\w]))?"
)
# "via email", "via chat", "via corriere 3 giorni": "via" meaning "by", not a street.
_NOT_STREET_NAMES = frozenset(
    """
    email e-mail mail posta chat telefono telefonica telefonico sms whatsapp web internet app
    pec fax corriere bonifico paypal sito messaggio messaggi messenger facebook instagram
    social ticket modulo form portale satispay carta aerea mare terra libera uscita
    raccomandata poste online ufficio
    """.split()
)
# Lowercase words that cannot be part of a street name ("via Roma e poi 3 fermate").
_NOT_IN_STREET_NAMES = frozenset(
    """
    ti ci mi si vi ne che non per entro poi è e o ma se con tra fra il lo la le gli i un una
    uno the and or to within by your our we you it is a ad ho ha hai abbiamo sono
    """.split()
)
_STREET_CONNECTORS = frozenset(
    "di de del della dello dei degli delle d' da dal dalla dai in a al alla ai sul sulla".split()
)


def _is_street_name(name: str) -> bool:
    words = name.split()
    if not words or words[0].lower() in _NOT_STREET_NAMES:
        return False
    for i, word in enumerate(words):
        if word[0].isupper():
            continue
        if word in _NOT_IN_STREET_NAMES:
            return False
        # "via dei Mille": a connector needs a capitalised word after it.
        if word in _STREET_CONNECTORS and (i + 1 == len(words) or not words[i + 1][0].isupper()):
            return False
    return True


def _addresses(text: str) -> Iterator[_Candidate]:
    for m in _ADDRESS_IT.finditer(text):
        if not _is_street_name(m["name"]):
            continue
        if not m["tail"] and _QUANTITY_AFTER.match(text, m.end()):
            continue
        yield _P_ADDRESS, m.start(), m.end(), ADDRESS
    for m in _ADDRESS_EN.finditer(text):
        yield _P_ADDRESS, m.start(), m.end(), ADDRESS


# --- names --------------------------------------------------------------------------

_TITLES_IT = (
    "sig.ra", "sig.na", "sig", "sigg", "signora", "signorina", "signor", "dott.ssa", "dott",
    "dottor", "dottoressa", "ing", "avv", "prof.ssa", "prof", "geom", "rag",
)  # fmt: skip
# Case-sensitive, so that "MS Word" or "DR Congo" are not a form of address.
_TITLES_EN = ("Mr", "Mrs", "Ms", "Miss", "Mister", "Madam", "Madame", "Dr")
_GREETINGS = (
    "gentile", "gentilissimo", "gentilissima", "gentilissimi", "gent.mo", "gent.ma", "gent.mi",
    "gent.me", "gent.", "egregio", "egregia", "egr.", "caro", "cara", "cari", "care",
    "carissimo", "carissima", "buongiorno", "buonasera", "buon pomeriggio", "ciao", "salve",
    "grazie", "dear", "hi", "hello", "hey", "good morning", "good afternoon", "good evening",
    "thanks", "thank you", "intestato a", "intestata a", "a nome di", "destinatario",
    "destinataria", "addressed to", "on behalf of",
)  # fmt: skip
_SELF_INTRODUCTIONS = ("mi chiamo", "il mio nome è", "il mio nome e'", "my name is", "my name's")


def _alternation(words: Iterable[str]) -> str:
    escaped = (
        re.escape(w).replace("\\ ", " ").replace(" ", f"{_S}+")
        for w in sorted(words, key=len, reverse=True)
    )
    return "|".join(escaped)


_TITLE = rf"(?:(?i:{_alternation(_TITLES_IT)})|{_alternation(_TITLES_EN)})(?:\.{_S}*|{_S}+)"
_NAME_CUE = re.compile(
    _first_chars((*_GREETINGS, *_TITLES_IT, *_TITLES_EN, *_SELF_INTRODUCTIONS)) + rf"(?<![\w.])(?:"
    rf"(?i:{_alternation(_GREETINGS)})(?:{_S}*,{_S}*|{_S}+|(?<=\.){_S}*)(?:{_TITLE})?"
    rf"|{_TITLE}"
    rf"|(?P<intro>(?i:{_alternation(_SELF_INTRODUCTIONS)})){_S}+)"
)
_CAPITALISED_WORD = re.compile(r"[A-ZÀ-ÖØ-Þ][^\W\d_]*(?:['’-][^\W\d_]+)*(?![\w])")
_ANY_WORD = re.compile(r"[^\W\d_]+(?:['’-][^\W\d_]+)*(?![\w])")
_NAME_GAP = re.compile(rf"{_S}+(?:(?:de|di|da|del|della|van|von|der|den|du|dos|ten|ter){_S}+)?")
_POSSESSIVE = re.compile(r"['’]s\Z")
# Capitalised words that follow a greeting without being a name ("Gentile Cliente",
# "Buongiorno, La ringraziamo", "Dear Customer").
_NOT_NAMES = frozenset(
    """
    cliente clienti customer customers team staff tutti tutte all everyone everybody there
    signore signora signori signorina sir madam madame utente utenti user users amico amica
    amici friend friends la le lei sua suo sue suoi vi ti ci mi il lo gli i a e ed abbiamo ho
    grazie thank thanks your you the our we sono siamo come in per con purtroppo certo ecco
    sì si no non questo questa ok okay please sorry unfortunately here yes mille ancora again
    for of da di del buongiorno buonasera ciao salve dear hello hi good morning gentile caro
    cara supporto support assistenza servizio service ufficio office sig sig.ra dott mr mrs ms
    dr a an and or also anche it is this that what when
    """.split()
)
# Names that are also everyday words ("costa", "rosa", "massimo", "bruno"): removed when
# written capitalised or next to another part of the name, never as a plain word.
_NAMES_THAT_ARE_WORDS = frozenset(
    """
    costa rosa rosso rossi bianco bianca bianchi nero neri verde verdi russo greco romano
    bruno basso grande piccolo sole pace fortunato felice serena sereno marino marina conte
    villa porta fontana monti riva valle sala gallo leone lupo ferro colombo gatti ricci
    santi santo vita stella luce speranza gioia chiara franco massimo primo viola gemma perla
    regina angelo benedetto fedele vero will bill mark rose grace may june april hope joy
    faith dean frank rich young white black brown green king hill wood stone baker cook page
    summer art guy jack sue pat ray rob sandy penny amber ruby dawn eve iris lily daisy holly
    ivy violet olive sky river hunter mason fisher drew
    """.split()
)
_PARTICLES = frozenset("de di da del della van von der den du dos ten ter la le".split())


def _names_after_cues(text: str) -> tuple[list[_Candidate], set[str]]:
    """Names written after a greeting or a form of address, and their words (to remove
    them wherever else they appear)."""
    found: list[_Candidate] = []
    learned: set[str] = set()
    for cue in _NAME_CUE.finditer(text):
        position, start, end, words = cue.end(), cue.end(), cue.end(), 0
        word_pattern = _ANY_WORD if cue["intro"] else _CAPITALISED_WORD
        while words < 4 and (m := word_pattern.match(text, position)):
            word_end = m.end()
            if possessive := _POSSESSIVE.search(m.group()):
                word_end = m.start() + possessive.start()
            word = text[m.start() : word_end]
            if word.casefold() in _NOT_NAMES:
                break
            learned.add(_name_key(word))
            end, words = word_end, words + 1
            if word_end != m.end():
                break
            gap = _NAME_GAP.match(text, end)
            if not gap:
                break
            position, word_pattern = gap.end(), _CAPITALISED_WORD
        if end > start:
            found.append((_P_NAME, start, end, NAME))
    return found, learned


def _name_parts(names: Iterable[str]) -> set[str]:
    """The words of the customer's names, lowercased; titles ("Sig.") are not names."""
    parts: set[str] = set()
    for name in names:
        if not name:
            continue
        for word in map(_name_key, _ANY_WORD.findall(name)):
            if word in _NOT_NAMES:
                continue
            parts.add(word)
            if "-" in word:  # "Anna-Maria" is also written "Anna Maria"
                parts.update(p for p in word.split("-") if p)
    return parts


def _known_names(text: str, parts: set[str]) -> Iterator[_Candidate]:
    """Every occurrence of a part of a known name, as a whole word in any case.

    Particles, very short parts ("de", "Li") and names that are everyday words
    ("costa") count only next to another part of the name, or (everyday words only)
    when capitalised.
    """
    if not parts:
        return
    tokens = list(_name_tokens(text, parts))
    accepted: list[bool] = []
    for start, _, word in tokens:
        weak = word in _PARTICLES or len(word) < 3
        accepted.append(not (weak or (word in _NAMES_THAT_ARE_WORDS and text[start].islower())))
    for indices in (range(len(tokens)), range(len(tokens) - 1, -1, -1)):
        for i in indices:
            for j in (i - 1, i + 1):
                if not accepted[i] and 0 <= j < len(tokens) and accepted[j]:
                    first, second = tokens[min(i, j)], tokens[max(i, j)]
                    accepted[i] = bool(_BETWEEN_NAME_PARTS.fullmatch(text, first[1], second[0]))
    for (start, end, _), ok in zip(tokens, accepted, strict=True):
        if ok:
            yield _P_NAME, start, end, NAME


def _name_tokens(text: str, parts: set[str]) -> Iterator[tuple[int, int, str]]:
    """(start, end, casefolded word) of each word of ``text`` that is in ``parts``; also
    "Rossi" in "Rossi's" and in "Rossi-Bianchi"."""
    for m in _ANY_WORD.finditer(text):
        original = m.group()
        if _POSSESSIVE.search(original):
            original = original[:-2]
        word = _name_key(original)
        if word in parts:
            yield m.start(), m.start() + len(original), word
        elif "-" in original:
            offset = m.start()
            for piece in original.split("-"):
                if _name_key(piece) in parts:
                    yield offset, offset + len(piece), _name_key(piece)
                offset += len(piece) + 1


def _name_key(word: str) -> str:
    """How a name is compared: "D’Angelo", "d'angelo" and "D'ANGELO" are one name."""
    return word.casefold().replace("’", "'")


_DETECTORS: tuple[Callable[[str], Iterable[_Candidate]], ...] = (
    _emails,
    _ibans,
    _codici_fiscali,
    _cards,
    _partite_iva,
    _cued_orders,
    _phones,
    _addresses,
    _long_numbers,
    _id_shapes,
)
