"""Keyword retrieval with Italian and English stemming: SQLite FTS5 ranked by bm25().

Embeddings miss exact words that matter to a shop (product names, "IBAN", "Satispay",
opening hours): a stemmed keyword index catches them, and agreement between the two
kinds of retrieval is one of the best signals that an answer is right.

The index lives in an in-memory SQLite database owned by one searcher: it is derived
from the articles, takes well under a second to build for thousands of phrasings, and
being private to a process it never races with another process's writes. Texts are
stemmed in Python with snowballstemmer (FTS5 has no Italian stemmer), each phrasing
with the stemmer of its article's language; a query is stemmed with both, because the
customer's language is a guess.
"""

from __future__ import annotations

import re
import sqlite3
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

import snowballstemmer
import sqlite_utils

_WORD = re.compile(r"[^\W_]+", re.UNICODE)

# Function words that match almost every phrasing: dropped from queries so that bm25
# ranks on the words that carry meaning. Short on purpose; bm25's IDF does the rest.
_STOPWORD_TEXT = """
    a ad al alla alle allo ai agli c che chi ci col con come cosa d da dal dalla dalle dei del
    della delle dello di e ed gli ha hanno ho i il in io l la le li lo ma mi ne nei nel nella
    nelle o per però più se si sia sono su sul sulla tra tu un una uno vi voi è posso può
    puoi potete vorrei voglio essere avere fare
    about an and are as at be been but by can could do does for from had has have how i if
    in into is it its me my of on or our please so than that the their them then there
    these they this to was we were what when where which who why will with would you your
"""
STOPWORDS = frozenset(_STOPWORD_TEXT.split())

LANG_STEMMERS = {"it": "italian", "en": "english"}


@lru_cache(maxsize=4)
def _stemmer(lang: str):
    return snowballstemmer.stemmer(LANG_STEMMERS[lang])


def _fold(word: str) -> str:
    """Lower case without accents, so 'perché' and 'perche' meet."""
    decomposed = unicodedata.normalize("NFKD", word.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def tokens(text: str) -> list[str]:
    """Lower-cased words without stopwords, apostrophes split ("l'ordine" -> "ordine")."""
    words = _WORD.findall(unicodedata.normalize("NFC", text).casefold())
    return [w for w in words if (w not in STOPWORDS and len(w) > 1) or w.isdigit()]


@lru_cache(maxsize=100_000)
def _stem(word: str, lang: str) -> str:
    """``word``'s accent-folded stem, remembered: a shop's customers reuse the same words.

    Stemming each word of a query with two stemmers took 0.7 ms of every search
    (docs/profiling.md); bounded, so made-up words cannot grow it without limit.
    """
    return _fold(_stemmer(lang).stemWord(word))


def stem_text(text: str, lang: str) -> str:
    """The stemmed, accent-folded words of ``text`` joined by spaces (what FTS5 indexes)."""
    return " ".join(_stem(w, lang) for w in tokens(text))


def query_terms(text: str, langs: Iterable[str] = ("it", "en")) -> list[str]:
    """Distinct stems of ``text`` under every language's stemmer, in first-seen order."""
    terms: dict[str, None] = {}
    for word in tokens(text):
        for lang in langs:
            terms[_stem(word, lang)] = None
    return [t for t in terms if t]


@dataclass(frozen=True)
class LexicalHit:
    """One indexed phrasing matching a query; ``score`` is -bm25 (higher is better)."""

    vid: int
    score: float


class LexicalIndex:
    """An FTS5 table of stemmed phrasings keyed by the same ids as the vector index."""

    MAX_TERMS = 64

    def __init__(self) -> None:
        connection = sqlite3.connect(":memory:", check_same_thread=False)
        self.db = sqlite_utils.Database(connection)
        self.db["phrasings"].create({"vid": int, "stemmed": str}, pk="vid")
        self.db["phrasings"].enable_fts(
            ["stemmed"], tokenize="unicode61 remove_diacritics 2", create_triggers=True
        )

    def __len__(self) -> int:
        return self.db["phrasings"].count

    def add(self, rows: Iterable[tuple[int, str, str]]) -> None:
        """Index ``(vid, text, lang)`` rows."""
        records = [{"vid": vid, "stemmed": stem_text(text, lang)} for vid, text, lang in rows]
        if records:
            with self.db.atomic():
                self.db["phrasings"].insert_all(records, pk="vid", replace=True)

    def remove(self, vids: Iterable[int]) -> None:
        """Forget the phrasings with these ids."""
        ids = list(vids)
        if ids:
            with self.db.atomic():
                self.db["phrasings"].delete_where(f"vid IN ({','.join('?' * len(ids))})", ids)

    def search(self, text: str, k: int = 50) -> list[LexicalHit]:
        """The ``k`` best phrasings by bm25 over the query's stems (any term may match)."""
        terms = query_terms(text)[: self.MAX_TERMS]
        if not terms:
            return []
        match = " OR ".join(f'"{term}"' for term in terms)
        sql = (
            "SELECT rowid, bm25(phrasings_fts) AS rank FROM phrasings_fts "
            "WHERE phrasings_fts MATCH ? ORDER BY rank LIMIT ?"
        )
        rows = self.db.execute(sql, [match, k]).fetchall()
        return [LexicalHit(vid=int(vid), score=-float(rank)) for vid, rank in rows]
