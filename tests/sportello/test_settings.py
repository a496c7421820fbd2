"""Settings read from the environment: where Rasa's tracker store is read."""

from __future__ import annotations

from pathlib import Path

import pytest

from sportello.settings import Settings, load_settings
from stack.services import app_env

PG_URL = "postgresql://rasa:secret@db.internal:5432/rasa"


def test_the_tracker_store_is_the_sqlite_file_unless_a_url_is_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SPORTELLO_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("SPORTELLO_TRACKER_URL", "  ")
    settings = load_settings()
    assert settings.tracker_url is None
    assert settings.tracker_store == tmp_path / "tracker.db" == settings.tracker_db_path

    monkeypatch.setenv("SPORTELLO_TRACKER_URL", PG_URL)
    assert load_settings().tracker_store == PG_URL


def test_the_services_read_the_same_tracker_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What ``sportello run`` gives the action server, the console and the monitor."""
    monkeypatch.delenv("SPORTELLO_TRACKER_URL", raising=False)
    assert "SPORTELLO_TRACKER_URL" not in app_env(Settings(data_dir=tmp_path))

    env = app_env(Settings(data_dir=tmp_path, tracker_url=PG_URL))
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert load_settings().tracker_store == PG_URL


MAIL_VARIABLES = (
    "SPORTELLO_SMTP_URL",
    "SPORTELLO_MAIL_FROM",
    "SPORTELLO_IMAP_URL",
    "SPORTELLO_IMAP_POLL_SECONDS",
    "SPORTELLO_COMPANY_NAME",
    "SPORTELLO_ALERT_OPERATORS",
    "SPORTELLO_ALERT_SUPERVISORS",
)


def test_mail_is_off_until_both_server_and_sender_are_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SPORTELLO_DATA_DIR", str(tmp_path))
    for name in MAIL_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    off = load_settings()
    assert not off.mail_enabled and off.imap_url is None
    assert (off.imap_poll_seconds, off.company_name) == (30, "Caffè Aurora")
    assert off.alert_operators == off.alert_supervisors == ()
    monkeypatch.setenv("SPORTELLO_ALERT_OPERATORS", " turno@x.it, ,altro@x.it ")
    assert load_settings().alert_operators == ("turno@x.it", "altro@x.it")
    monkeypatch.setenv("SPORTELLO_SMTP_URL", "smtp://relay:25")
    assert not load_settings().mail_enabled  # a sender is needed too
    monkeypatch.setenv("SPORTELLO_MAIL_FROM", "Negozio <help@negozio.example>")
    monkeypatch.setenv("SPORTELLO_IMAP_URL", "imaps://u:p@imap.negozio.example/INBOX")
    monkeypatch.setenv("SPORTELLO_IMAP_POLL_SECONDS", "60")
    monkeypatch.setenv("SPORTELLO_COMPANY_NAME", "Negozio")
    on = load_settings()
    assert on.mail_enabled and on.imap_poll_seconds == 60 and on.company_name == "Negozio"
    monkeypatch.setenv("SPORTELLO_IMAP_POLL_SECONDS", "often")
    with pytest.raises(ValueError, match="SPORTELLO_IMAP_POLL_SECONDS must be a whole number"):
        load_settings()


def test_the_services_read_the_same_mail_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The action server (what the bot promises), the console and the monitor agree."""
    settings = Settings(
        data_dir=tmp_path,
        smtp_url="smtps://u:p@smtp.example:465",
        mail_from="help@example.com",
        imap_url="imaps://u:p@imap.example/INBOX",
        imap_poll_seconds=5,
        company_name="Negozio",
        alert_operators=("a@example.com", "b@example.com"),
        alert_supervisors=("c@example.com",),
    )
    for name in MAIL_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    for name, value in app_env(settings).items():
        monkeypatch.setenv(name, value)
    read = load_settings()
    assert (read.smtp_url, read.mail_from, read.imap_url, read.imap_poll_seconds) == (
        settings.smtp_url, settings.mail_from, settings.imap_url, 5,
    )  # fmt: skip
    assert read.company_name == "Negozio" and read.mail_enabled
    assert read.alert_operators == ("a@example.com", "b@example.com")
    assert read.alert_supervisors == ("c@example.com",)


def test_the_chat_page_and_the_monitor_read_the_same_keep_days(tmp_path: Path) -> None:
    """The page tells the browser how long to keep the chat; the monitor's mail links
    live as long (sportello/chatlinks.py)."""
    env = app_env(Settings(data_dir=tmp_path, webchat_keep_days=30))
    assert env["SPORTELLO_WEBCHAT_KEEP_DAYS"] == "30"
