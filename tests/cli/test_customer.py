"""`sportello customer show|merge|unmerge|sign`: identity work from the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cli.main import main
from identity import contacts, profiles
from tests.databases import open_db


def test_sign_prints_metadata_the_bot_accepts(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["customer", "sign", "--email", "Anna@Example.com", "--customer-id", "crm-1"]) == 0
    metadata = json.loads(capsys.readouterr().out)
    secret = contacts.identity_secret()
    assert contacts.verified_customer_id(metadata, secret) == "crm-1"
    assert contacts.from_metadata(metadata, secret)[0].verified
    assert main(["customer", "sign", "--phone", "nope"]) == 1
    assert main(["customer", "sign"]) == 1


def test_show_merge_and_unmerge(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = open_db()
    for conversation in ("web-1", "tg-1"):
        profiles.record(db, conversation_id=conversation, channel_id=conversation, channel="x")
    assert main(["customer", "merge", "web-1", "tg-1", "--by", "marta"]) == 0
    assert "customer unmerge 1" in capsys.readouterr().out
    assert main(["customer", "show", "tg-1"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert {c["channel_id"] for c in shown["channels"]} == {"web-1", "tg-1"}
    assert shown["merges"][0]["actor"] == "marta"
    assert main(["customer", "unmerge", "1"]) == 0
    assert profiles.resolve(db, "web-1") != profiles.resolve(db, "tg-1")
    assert main(["customer", "unmerge", "1"]) == 1  # already undone: a clear error
    assert main(["customer", "show", "nobody"]) == 1
