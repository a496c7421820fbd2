"""bench.stacks: each benchmark stack gets its own ports, token and a seeded, indexed KB."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

import pytest

from bench import stacks
from knowledge.index import MANIFEST
from knowledge.store import Article, get_article


def test_two_stacks_never_share_ports_or_a_token(tmp_path: Path) -> None:
    one, two = stacks.new_settings(tmp_path / "a"), stacks.new_settings(tmp_path / "b")
    ports = [one.rasa_port, one.action_port, one.web_port, one.console_port]
    assert len(set(ports)) == 4
    assert one.rasa_token != two.rasa_token and len(one.rasa_token) >= 24
    assert one.data_dir == tmp_path / "a"


def test_the_articles_are_stored_and_indexed_before_the_stack_starts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: list[tuple[bool, bool]] = []

    @contextmanager
    def running_stack(settings, model):
        seen.append(((settings.index_dir / MANIFEST).exists(), model == Path("m.tar.gz")))
        yield []

    monkeypatch.setattr(stacks, "running_stack", running_stack)
    article = Article(id="orari", lang="it", question="Quando siete aperti?", answer="Sempre.")
    with stacks.seeded_stack(Path("m.tar.gz"), [article], "sportello-test-") as (settings, db):
        assert get_article(db, "orari", "it").answer == "Sempre."
        data_dir = settings.data_dir
    assert seen == [(True, True)]
    assert not data_dir.exists()  # the temporary directory goes with the stack
