"""The `sportello users` and `sportello tickets` commands: thin layers over desk/."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pytest

from cli.main import TICKET_FIELDS, main
from desk.tickets import open_ticket
from desk.users import authenticate
from tests.databases import open_db


def test_users_add_creates_a_user_who_can_log_in(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("a-long-secret-42\n"))
    assert main(["users", "add", "giulia", "--role", "supervisor", "--password-stdin"]) == 0
    user = authenticate(open_db(), "giulia", "a-long-secret-42")
    assert user is not None and user.role == "supervisor"
    assert authenticate(open_db(), "giulia", "wrong-password-00") is None


def test_users_add_refuses_a_weak_password_in_one_line(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("short\n"))
    assert main(["users", "add", "marco", "--role", "operator", "--password-stdin"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error / errore:") and "Traceback" not in err


def test_tickets_list_json_has_the_documented_fields(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = open_db()
    first, _ = open_ticket(db, "conv-1", lang="it", channel="rest")
    second, _ = open_ticket(db, "conv-2", lang="en", channel="socketio")
    capsys.readouterr()
    assert main(["tickets", "list", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [row["id"] for row in rows] == [first.id, second.id]
    assert all(set(row) == set(TICKET_FIELDS) for row in rows)
    assert rows[0]["status"] == "open" and rows[0]["breached"] is False
    assert rows[0]["first_response_due"] is not None
