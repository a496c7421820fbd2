"""Signed session cookies, the persisted signing key, and CSRF token comparison."""

from __future__ import annotations

import stat
import time
from pathlib import Path

import pytest

from desk.console.session import (
    SessionSigner,
    csrf_matches,
    load_secret_key,
    new_csrf_token,
)
from sportello.settings import Settings


def test_session_round_trips() -> None:
    signer = SessionSigner(b"k" * 32)
    value = signer.dumps({"user": "anna", "csrf": "t"})
    loaded = signer.loads(value)
    assert loaded["user"] == "anna" and loaded["csrf"] == "t"


@pytest.mark.parametrize("value", [None, "", "garbage", "a.b.c", "e30.AAAA", "!!!.???"])
def test_malformed_cookies_give_an_empty_session(value: str | None) -> None:
    assert SessionSigner(b"k" * 32).loads(value) == {}


def test_tampered_or_foreign_cookies_are_refused() -> None:
    signer = SessionSigner(b"k" * 32)
    signature = signer.dumps({"user": "anna"}).split(".")[1]
    forged = SessionSigner(b"x" * 32).dumps({"user": "sara"})
    assert signer.loads(forged) == {}
    other_payload = forged.split(".")[0]
    assert signer.loads(f"{other_payload}.{signature}") == {}


def test_old_sessions_expire() -> None:
    signer = SessionSigner(b"k" * 32, max_age=60)
    assert signer.loads(signer.dumps({"user": "anna", "iat": int(time.time()) - 61})) == {}
    assert signer.loads(signer.dumps({"user": "anna", "iat": int(time.time()) - 30})) != {}


def test_key_is_created_private_and_reused(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    key = load_secret_key(settings)
    path = tmp_path / "data" / "secret_key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(key) >= 32
    assert load_secret_key(settings) == key


def test_configured_key_wins(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, secret_key="from-the-environment-0123456789abcdef")
    assert load_secret_key(settings) == b"from-the-environment-0123456789abcdef"
    assert not (tmp_path / "secret_key").exists()


def test_unusable_key_file_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "secret_key").write_text("short\n")
    with pytest.raises(ValueError, match="secret_key"):
        load_secret_key(Settings(data_dir=tmp_path))


def test_key_is_loaded_lazily(tmp_path: Path) -> None:
    calls = []

    def source() -> bytes:
        calls.append(1)
        return b"k" * 32

    signer = SessionSigner(source)
    assert calls == []
    signer.loads(signer.dumps({"user": "anna"}))
    assert calls == [1]


def test_csrf_tokens_compare_exactly() -> None:
    token = new_csrf_token()
    assert token != new_csrf_token()
    assert csrf_matches({"csrf": token}, token)
    assert not csrf_matches({"csrf": token}, token[:-1])
    assert not csrf_matches({"csrf": token}, None)
    assert not csrf_matches({"csrf": token}, "")
    assert not csrf_matches({}, token)
    assert not csrf_matches({"csrf": ""}, "")
