"""Schema migrations: a database made by the last release upgrades with nothing lost, to
exactly the schema of a fresh one; migrating twice does nothing; processes starting
together do not race; a failing migration leaves the database as it was."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest
import sqlite_utils
from sqlite_utils import Migrations

from sportello import migrations
from sportello.db import open_db
from stack import database

RELEASE_DUMP = Path(__file__).parent / "data" / "sportello-6c15e6c.sql"
ALL_INITIAL = [
    "knowledge/0001_initial",
    "identity/0001_initial",
    "customerlog/0001_initial",
    "desk/0001_initial",
]


def _schema(db: sqlite_utils.Database) -> list[tuple]:
    return sorted(
        db.execute(
            "SELECT type, name, tbl_name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'"
        ).fetchall()
    )


def _contents(db: sqlite_utils.Database) -> dict[str, list[tuple]]:
    return {
        name: db.execute(f"SELECT * FROM [{name}] ORDER BY rowid").fetchall()
        for name in db.table_names()
        if name != "_sqlite_migrations"
    }


def _release_db(path: Path) -> sqlite_utils.Database:
    """A database as the last release (6c15e6c) left it, populated (data/dump_release.py)."""
    db = open_db(path)
    # The dump lists tables by name, some before the tables their foreign keys name.
    db.execute("PRAGMA foreign_keys=OFF")
    db.conn.executescript(RELEASE_DUMP.read_text(encoding="utf-8"))
    db.execute("PRAGMA foreign_keys=ON")
    return db


def test_a_release_database_upgrades_with_every_row_kept(tmp_path):
    db = _release_db(tmp_path / "old.db")
    before = _contents(db)
    assert all(before.values()), [name for name, rows in before.items() if not rows]

    assert database.migrate(db) == ALL_INITIAL

    assert _contents(db) == before
    counts = {name: len(rows) for name, rows in before.items()}
    assert counts["articles"] == 3 and counts["article_history"] == 4
    assert counts["tickets"] == 2 and counts["ticket_messages"] == 3
    assert counts["log_turns"] == 2 and counts["ratings"] == 2
    answer = db.execute("SELECT answer FROM articles WHERE id = 'resi' AND lang = 'it'")
    assert answer.fetchone()[0] == "Entro 30 giorni, dalla pagina «I miei ordini»."
    assert db.execute("SELECT version FROM kb_state").fetchone()[0] == 4
    ticket = db["tickets"].get(1)
    assert (ticket["priority"], ticket["customer_email"], ticket["resume_delivered"]) == (
        "high",
        "lucia@example.it",
        1,
    )
    assert db["identity_merges"].get(1)["moved"] == '["tg-7"]'
    timeline = db.execute("SELECT kind, text, reply FROM customer_log ORDER BY at").fetchall()
    assert ("operator_answer", "", "Lo ricontrolliamo subito.") in timeline


def test_an_upgraded_database_has_the_schema_of_a_fresh_one(tmp_path):
    old = _release_db(tmp_path / "old.db")
    database.migrate(old)
    fresh = database.prepare(tmp_path / "fresh.db")
    assert _schema(old) == _schema(fresh)


def test_the_triggers_still_work_after_the_upgrade(tmp_path):
    db = _release_db(tmp_path / "old.db")
    database.migrate(db)
    db.execute("UPDATE articles SET answer = 'Gratis.' WHERE id = 'spedizione' AND lang = 'en'")
    assert db.execute("SELECT version FROM kb_state").fetchone()[0] == 5
    history = db.execute(
        "SELECT MAX(version) FROM article_history WHERE id = 'spedizione' AND lang = 'en'"
    )
    assert history.fetchone()[0] == 2


def test_migrating_twice_does_nothing(tmp_path):
    db = database.prepare(tmp_path / "sportello.db")
    schema, contents = _schema(db), _contents(db)
    assert database.migrate(db) == []
    assert database.pending(db) == []
    assert _schema(db) == schema and _contents(db) == contents
    applied = db.execute("SELECT migration_set || '/' || name FROM _sqlite_migrations ORDER BY id")
    assert [row[0] for row in applied] == ALL_INITIAL


def test_pending_lists_what_would_run_and_writes_nothing(tmp_path):
    db = open_db(tmp_path / "sportello.db")
    assert database.pending(db) == ALL_INITIAL
    assert db.table_names() == []


def test_a_first_release_ticket_table_gains_the_later_columns_and_index(tmp_path):
    """The floor migration accepts databases older than the last release too: tickets
    without SLA columns and with the index that allowed one *open* ticket only."""
    db = open_db(tmp_path / "first.db")
    db.conn.executescript(
        """CREATE TABLE tickets (id INTEGER PRIMARY KEY, conversation_id TEXT NOT NULL,
               customer_id TEXT, channel TEXT, lang TEXT NOT NULL, reason TEXT NOT NULL,
               status TEXT NOT NULL, created_at TEXT NOT NULL,
               transcript TEXT NOT NULL DEFAULT '[]');
           CREATE UNIQUE INDEX tickets_one_open_per_conversation ON tickets(conversation_id)
               WHERE status = 'open';
           INSERT INTO tickets VALUES (1, 'conv-1', NULL, 'rest', 'it', 'asked_for_human',
               'claimed', '2025-01-01T10:00:00+00:00', '[]');"""
    )
    database.migrate(db)
    row = db["tickets"].get(1)
    assert (row["status"], row["priority"], row["escalation_level"], row["at_risk"]) == (
        "claimed",
        "normal",
        0,
        0,
    )
    assert row["assigned_to"] is None and row["resume_delivered"] == 0
    indexes = {index.name for index in db["tickets"].indexes}
    assert "tickets_one_open_per_conversation" not in indexes
    assert "tickets_one_active_per_conversation" in indexes
    with pytest.raises(sqlite3.IntegrityError):
        db.execute(
            "INSERT INTO tickets (conversation_id, lang, reason, status, created_at) "
            "VALUES ('conv-1', 'it', 'asked_for_human', 'open', '2025-01-02T10:00:00+00:00')"
        )


def test_processes_starting_together_migrate_once(tmp_path):
    path = tmp_path / "sportello.db"
    start = threading.Barrier(4)
    applied: list[list[str]] = []
    errors: list[BaseException] = []

    def start_up() -> None:
        db = open_db(path)
        start.wait()
        try:
            applied.append(database.migrate(db))
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)
        finally:
            db.close()

    threads = [threading.Thread(target=start_up) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(applied, key=len) == [[], [], [], ALL_INITIAL]
    db = open_db(path)
    assert db.execute("SELECT COUNT(*) FROM _sqlite_migrations").fetchone()[0] == 4


def test_a_failing_migration_leaves_the_database_as_it_was(tmp_path):
    broken = Migrations("broken")

    @broken(name="0001_initial")
    def create(db: sqlite_utils.Database) -> None:
        db.execute("CREATE TABLE first (id INTEGER PRIMARY KEY)")

    @broken(name="0002_fails")
    def fail(db: sqlite_utils.Database) -> None:
        db.execute("CREATE TABLE second (id INTEGER PRIMARY KEY)")
        raise RuntimeError("disk on fire")

    db = open_db(tmp_path / "sportello.db")
    with pytest.raises(RuntimeError, match="disk on fire"):
        migrations.apply(db, [*database.MIGRATIONS, broken])
    assert db.table_names() == []
    assert migrations.pending(db, [broken]) == ["broken/0001_initial", "broken/0002_fails"]


def test_every_migration_set_is_numbered_in_order():
    for migration_set in database.MIGRATIONS:
        migrations.check_numbering(migration_set)
    badly_named = Migrations("badly_named")
    badly_named(name="0001_initial")(lambda db: None)
    badly_named(name="0003_skips_one")(lambda db: None)
    with pytest.raises(migrations.MigrationOrderError, match="0002"):
        migrations.check_numbering(badly_named)


def test_sportello_migrate_lists_then_applies_then_has_nothing_pending(
    tmp_path, monkeypatch, capsys
):
    from cli.main import main
    from sportello.settings import get_settings

    monkeypatch.setenv("SPORTELLO_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    try:
        _release_db(tmp_path / "sportello.db").close()
        assert main(["migrate", "--pending"]) == 0
        assert capsys.readouterr().out.splitlines() == [
            f"pending / in sospeso: {name}" for name in ALL_INITIAL
        ]
        assert main(["migrate"]) == 0
        assert capsys.readouterr().out.splitlines() == [
            f"applied / applicata: {name}" for name in ALL_INITIAL
        ]
        assert main(["migrate", "--pending"]) == 0
        assert capsys.readouterr().out == "schema up to date / schema aggiornato\n"
    finally:
        get_settings.cache_clear()


def test_every_command_that_opens_the_database_migrates_it_first(tmp_path, monkeypatch, capsys):
    from cli.main import main
    from sportello.settings import get_settings

    monkeypatch.setenv("SPORTELLO_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    try:
        assert main(["tickets", "list"]) == 0
        assert database.pending(open_db(tmp_path / "sportello.db")) == []
    finally:
        get_settings.cache_clear()
