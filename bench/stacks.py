"""Fresh stacks for the benchmarks: settings on free loopback ports, and a stack seeded
with a knowledge base as a company imports it.

Three benchmarks run a knowledge base of their own on a real stack (``bench.faq_bot``,
``bench.learning``, ``bench.speed``'s plain FAQ); they seed it here, the same way.
"""

from __future__ import annotations

import secrets
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlite_utils import Database

from bench.ports import free_port
from knowledge.search import Searcher
from knowledge.store import Article, upsert_articles
from sportello.settings import Settings
from stack.database import prepare
from stack.services import running_stack


def new_settings(data_dir: Path) -> Settings:
    """Settings for a stack of its own: ``data_dir``, free ports, a fresh Rasa token."""
    return Settings(
        data_dir=data_dir,
        rasa_port=free_port(),
        action_port=free_port(),
        web_port=free_port(),
        console_port=free_port(),
        rasa_token=secrets.token_hex(12),
    )


@contextmanager
def seeded_stack(
    model: Path, articles: list[Article], prefix: str
) -> Iterator[tuple[Settings, Database]]:
    """A running stack in a temporary directory whose knowledge base holds ``articles``.

    They are indexed before the stack starts, as ``sportello kb import`` does, so the
    action server loads the index instead of building it during the first questions.
    Yields the settings and the stack's database (to add users, read proposals).
    """
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        settings = new_settings(Path(tmp))
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        db = prepare(settings.db_path)
        upsert_articles(db, list(articles))
        Searcher(db_path=settings.db_path, index_dir=settings.index_dir).refresh()
        with running_stack(settings, model):
            yield settings, db
