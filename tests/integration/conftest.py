"""The real assistant on loopback ports: Rasa server, action server and chat page.

Started once per test session through the same code as ``sportello run``
(:mod:`stack.services`), on free ports and an empty data directory loaded with the
demo knowledge base. Nothing is mocked: messages go over HTTP to Rasa, which calls the
action server, which searches the real FAISS/SQLite knowledge base.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from sportello.settings import PROJECT_ROOT, Settings
from stack.services import Service, app_env, running_stack, train_model
from tests.integration.callback import CallbackReceiver, serving_callback_receiver
from tests.mail_servers import ImapServer, SmtpServer, dovecot, dovecot_missing, smtp_server
from tests.servers import free_port

MAIL_FROM = "Caffè Aurora <assistenza@aurora.example>"
ALERT_OPERATORS = "turno@aurora.example"
ALERT_SUPERVISORS = "capo@aurora.example"


OPEN_AS_USUAL = "# The default policy (desk/sla.py); closed_desk() closes it for a while.\n"


@contextmanager
def closed_desk(settings: Settings) -> Iterator[None]:
    """The desk is closed today and tomorrow (national holidays, say) while inside: a
    customer who escalates now does so out of hours, whatever the real clock says."""
    assert settings.sla_file is not None
    today = datetime.now(ZoneInfo("Europe/Rome")).date()
    days = [today.isoformat(), (today + timedelta(days=1)).isoformat()]
    _replace(settings.sla_file, f"extra_holidays = {days!r}\n".replace("'", '"'))
    try:
        yield
    finally:
        _replace(settings.sla_file, OPEN_AS_USUAL)


def _replace(path: Path, text: str) -> None:
    """Write ``path`` in one step: a service reading it meanwhile sees old or new. It lies
    in the data folder, where every file is its owner's only (test_exposure)."""
    draft = path.with_suffix(".draft")
    draft.write_text(text, encoding="utf-8")
    draft.chmod(0o600)
    draft.replace(path)


@pytest.fixture(scope="session")
def callback_receiver() -> Iterator[CallbackReceiver]:
    """Where the stack's callback channel (SPORTELLO_CALLBACK_URL) delivers bot messages."""
    with serving_callback_receiver() as receiver:
        yield receiver


@pytest.fixture(scope="session")
def mail_server() -> Iterator[SmtpServer]:
    """The company's SMTP server (aiosmtpd on loopback): the stack mails customers there."""
    with smtp_server() as server:
        yield server


@pytest.fixture(scope="session")
def imap_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ImapServer | None]:
    """The company's mailbox (dovecot on loopback) the monitor reads replies from; None
    where dovecot is not installed (the tests that need it skip or, with
    SPORTELLO_REQUIRE_IMAP=1, fail)."""
    if dovecot_missing():
        yield None
        return
    with dovecot(tmp_path_factory.mktemp("dovecot")) as server:
        yield server


@pytest.fixture(scope="session")
def stack_settings(
    tmp_path_factory: pytest.TempPathFactory,
    callback_receiver: CallbackReceiver,
    mail_server: SmtpServer,
    imap_server: ImapServer | None,
) -> Settings:
    web_port = free_port()
    data_dir = tmp_path_factory.mktemp("sportello-data")
    # The default SLA policy, from a file that a test may rewrite for a while (the
    # services read it at every use): see closed_desk().
    sla_file = data_dir / "sla.toml"
    _replace(sla_file, OPEN_AS_USUAL)
    return Settings(
        data_dir=data_dir,
        rasa_port=free_port(),
        action_port=free_port(),
        web_port=web_port,
        console_port=free_port(),
        callback_url=callback_receiver.url,
        smtp_url=mail_server.url(),
        mail_from=MAIL_FROM,
        imap_url=imap_server.url if imap_server else None,
        imap_poll_seconds=2,
        # Where answer mails' "continue the conversation" links point.
        public_chat_url=f"http://127.0.0.1:{web_port}",
        sla_file=sla_file,
        alert_operators=(ALERT_OPERATORS,),
        alert_supervisors=(ALERT_SUPERVISORS,),
        # Small so that test_limits can reach them; other tests talk from this machine,
        # which no limit applies to (bot/limits.py).
        new_conversations_per_hour=4,
        ratings_per_hour=2,
    )


@pytest.fixture(scope="session")
def stack_services(stack_settings: Settings, rasa_bin: Path) -> Iterator[list[Service]]:
    """The running assistant's processes (the fault-injection tests kill them); needs the
    Rasa environment (``rasa_bin``): without it every test on the stack skips, or fails
    under ``make test``."""
    subprocess.run(
        [sys.executable, "-m", "cli", "kb", "seed-demo", "--quiet"],  # indexes it too
        cwd=PROJECT_ROOT,
        env={**os.environ, **app_env(stack_settings)},
        check=True,
    )
    model = train_model()
    with running_stack(stack_settings, model) as services:
        yield services


@pytest.fixture(scope="session")
def stack(stack_settings: Settings, stack_services: list[Service]) -> Settings:
    """The running assistant; its settings (ports, data directory)."""
    return stack_settings


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    path = PROJECT_ROOT / "test-artifacts"
    path.mkdir(exist_ok=True)
    return path
