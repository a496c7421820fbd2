"""Signed web-chat session ids and the resume links of answer mails (sportello/chatlinks.py)."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from sportello import chatlinks
from sportello.settings import Settings, load_settings

KEY = b"k" * 43
OTHER_KEY = b"o" * 43
NOW = datetime(2026, 12, 5, 22, 30, tzinfo=timezone.utc)


def test_a_session_id_is_random_and_signed() -> None:
    first, second = chatlinks.new_session_id(KEY), chatlinks.new_session_id(KEY)
    assert first != second and len(first) == 64
    assert chatlinks.is_signed_session_id(first, KEY)
    assert not chatlinks.is_signed_session_id(first, OTHER_KEY)


def test_session_ids_issued_before_the_move_stay_valid() -> None:
    """The first release signed the raw id itself; the format must not change."""
    raw = "0123456789abcdef0123456789abcdef"
    old = raw + hmac.new(KEY, raw.encode(), hashlib.sha256).hexdigest()[:32]
    assert chatlinks.is_signed_session_id(old, KEY)


@pytest.mark.parametrize(
    "value",
    [None, 42, "", "conv-42", "0" * 64, "A" * 64, "g" * 64],
)
def test_anything_else_is_not_a_session_id(value: object) -> None:
    assert not chatlinks.is_signed_session_id(value, KEY)


def test_a_changed_character_breaks_the_signature() -> None:
    session = chatlinks.new_session_id(KEY)
    flipped = ("1" if session[0] == "0" else "0") + session[1:]
    assert not chatlinks.is_signed_session_id(flipped, KEY)


def test_a_resume_token_names_its_ticket_until_it_expires() -> None:
    token = chatlinks.resume_token(12, NOW + timedelta(days=7), KEY)
    assert chatlinks.read_resume_token(token, KEY, NOW) == 12
    assert chatlinks.read_resume_token(token, KEY, NOW + timedelta(days=6, hours=23)) == 12
    with pytest.raises(chatlinks.ExpiredToken):
        chatlinks.read_resume_token(token, KEY, NOW + timedelta(days=7))


def test_a_resume_token_cannot_be_forged_or_stretched() -> None:
    token = chatlinks.resume_token(12, NOW + timedelta(days=7), KEY)
    ticket, expires, signature = token.split(".")
    later = str(int(expires) + 86400 * 365)
    for forged in (
        f"13.{expires}.{signature}",  # another ticket
        f"{ticket}.{later}.{signature}",  # a longer life
        f"{ticket}.{expires}.{'0' * 32}",  # a guessed signature
        chatlinks.resume_token(12, NOW + timedelta(days=7), OTHER_KEY),  # another server
    ):
        with pytest.raises(chatlinks.ForgedToken):
            chatlinks.read_resume_token(forged, KEY, NOW)


def test_a_forged_token_is_refused_even_when_its_expiry_has_passed() -> None:
    """The signature is checked first: an expired forgery is a forgery, not "expired"."""
    forged = f"12.{int((NOW - timedelta(days=1)).timestamp())}.{'a' * 32}"
    with pytest.raises(chatlinks.ForgedToken):
        chatlinks.read_resume_token(forged, KEY, NOW)


def test_a_session_id_is_not_a_resume_token_nor_the_other_way_round() -> None:
    """The two signatures cover different messages: one cannot stand for the other."""
    session = chatlinks.new_session_id(KEY)
    token = chatlinks.resume_token(12, NOW + timedelta(days=7), KEY)
    with pytest.raises(chatlinks.ForgedToken):
        chatlinks.read_resume_token(session, KEY, NOW)
    assert not chatlinks.is_signed_session_id(token, KEY)


@pytest.mark.parametrize("value", [None, 12, "", "12", "12.1.x", "0.99999999999.", " " * 80])
def test_malformed_tokens_are_forged(value: object) -> None:
    with pytest.raises(chatlinks.ForgedToken):
        chatlinks.read_resume_token(value, KEY, NOW)  # type: ignore[arg-type]


def test_timezone_naive_expiry_is_refused() -> None:
    with pytest.raises(ValueError):
        chatlinks.resume_token(12, datetime(2026, 12, 12), KEY)


def test_the_key_is_kept_in_the_data_folder_and_shared(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    key = chatlinks.session_key(settings)
    assert (tmp_path / chatlinks.SESSION_KEY_FILE).read_text().strip().encode() == key
    assert chatlinks.session_key(Settings(data_dir=tmp_path)) == key


def test_the_resume_url_points_at_the_public_chat_page(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, public_chat_url="https://chat.example.it")
    url = chatlinks.resume_url(settings, 12, "en", NOW)
    assert url is not None
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path) == ("https", "chat.example.it", "/")
    assert parse_qs(parts.query) == {"lang": ["en"]}
    name, _, token = parts.fragment.partition("=")
    assert name == chatlinks.RESUME_FRAGMENT
    key = chatlinks.session_key(settings)
    assert chatlinks.read_resume_token(token, key, NOW + timedelta(days=6)) == 12
    with pytest.raises(chatlinks.ExpiredToken):
        chatlinks.read_resume_token(token, key, NOW + timedelta(days=7))


def test_no_resume_url_without_a_public_address_or_with_resuming_off(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    assert chatlinks.resume_url(settings, 12, "it", NOW) is None
    public = replace(settings, public_chat_url="https://chat.example.it")
    assert chatlinks.resume_url(replace(public, webchat_keep_days=0), 12, "it", NOW) is None


def test_keep_days_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SPORTELLO_WEBCHAT_KEEP_DAYS", raising=False)
    assert load_settings().webchat_keep_days == 7
    monkeypatch.setenv("SPORTELLO_WEBCHAT_KEEP_DAYS", "30")
    assert load_settings().webchat_keep_days == 30
    monkeypatch.setenv("SPORTELLO_WEBCHAT_KEEP_DAYS", "-1")
    with pytest.raises(ValueError, match="SPORTELLO_WEBCHAT_KEEP_DAYS"):
        load_settings()
