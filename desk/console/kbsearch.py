"""The console's use of the bot's searcher: suggested articles and the weak-spot report.

**Suggested articles.** The articles likeliest to answer a ticket's question.

Most tickets the bot could not answer still have an article that does: the operator
sends it with one click (editable first), and the customer's wording becomes a
proposed phrasing of it (knowledge.phrasings), so the next customer who asks that way
gets the answer from the bot.

The console searches with the bot's own searcher (knowledge.search). Loading its
models takes seconds, so it is loaded in the background when the console starts (and
on the first ticket page otherwise); a page never waits more than a moment for it and
shows no suggestions until it is ready.

**Weak spots** (knowledge.check) take seconds to compute (the check indexes a copy of
the knowledge base): computed in the background when the Articles page asks, kept
until an article changes.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path

from knowledge import check
from knowledge.search import Hit, Searcher, clean_query, get_searcher
from knowledge.store import kb_version
from sportello.db import open_db
from sportello.settings import get_settings

logger = logging.getLogger(__name__)

SHOWN = 3
# How long a ticket page waits for the searcher still loading.
WAIT_SECONDS = 2.0
_loader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kb-suggestions")
_loading: dict[tuple[Path, Path], Future[Searcher]] = {}
_lock = threading.Lock()


def _warm() -> Searcher:
    searcher = get_searcher()
    searcher.warm_up()
    return searcher


def start_loading() -> Future[Searcher]:
    """Load the configured knowledge base's searcher in the background (once)."""
    settings = get_settings()
    searcher_key = (settings.db_path, settings.index_dir)  # as get_searcher keys them
    with _lock:
        future = _loading.get(searcher_key)
        if future is None or (future.done() and future.exception() is not None):
            future = _loader.submit(_warm)
            _loading[searcher_key] = future
        return future


def likeliest(question: str, lang: str, max_chars: int = 1000) -> list[Hit]:
    """Up to three articles for ``question``, best first; [] while the searcher loads
    or when the search fails (logged: a ticket page must always open)."""
    query = clean_query(question, max_chars)
    if not query:
        return []
    try:
        searcher = start_loading().result(timeout=WAIT_SECONDS)
        return searcher.search(query, lang, k=SHOWN).results[:SHOWN]
    except FutureTimeout:
        return []
    except Exception:
        logger.exception("could not search the knowledge base for a ticket")
        return []


_reports: dict[tuple[Path, int], Future[check.Report]] = {}


def _report() -> check.Report:
    db = open_db()
    try:
        return check.check(db, _warm())
    finally:
        db.close()


def weak_spots() -> check.Report | None:
    """The weak-spot report of the knowledge base as it is now; None while it is being
    computed (the page says so) or when it failed (logged)."""
    settings = get_settings()
    db = open_db(settings.db_path)
    try:
        key = (settings.db_path, kb_version(db))
    finally:
        db.close()
    with _lock:
        future = _reports.get(key)
        if future is None or (future.done() and future.exception() is not None):
            for old in [k for k in _reports if k[0] == key[0]]:
                del _reports[old]
            future = _reports[key] = _loader.submit(_report)
    try:
        return future.result(timeout=WAIT_SECONDS)
    except FutureTimeout:
        return None
    except Exception:
        logger.exception("could not check the knowledge base")
        return None
