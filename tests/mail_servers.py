"""Real mail servers on loopback for tests: an SMTP server (aiosmtpd) and IMAP (dovecot).

The SMTP server is aiosmtpd's, started in a thread on a free port; it keeps every mail
it accepts, can refuse chosen recipients (``550``/``450``), require a login, and offer
STARTTLS or implicit TLS with a throw-away self-signed certificate (made with the
``openssl`` command). Clients trust that certificate through ``SSL_CERT_FILE``, which
OpenSSL's default verify paths (and so ``ssl.create_default_context()``) read.

The IMAP server is Debian's dovecot (``dovecot-imapd``, installed by
``scripts/setup.sh --browser``), run in the foreground with a throw-away configuration:
one user, maildir under a temporary directory, plain IMAP on loopback.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.servers import free_port

REQUIRE_IMAP_ENV = "SPORTELLO_REQUIRE_IMAP"


@dataclass
class Received:
    """A mail the test server accepted."""

    sender: str
    recipients: list[str]
    raw: bytes

    @property
    def message(self) -> EmailMessage:
        return message_from_bytes(self.raw, policy=policy.default)  # type: ignore[return-value]


@dataclass
class SmtpHandler:
    """aiosmtpd's handler: keeps mails, refuses the recipients the test names."""

    received: list[Received] = field(default_factory=list)
    refuse: dict[str, str] = field(default_factory=dict)

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.received.append(
            Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content)
        )
        return "250 Message accepted"


def self_signed_cert(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1/localhost and its key, made with ``openssl``."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            "-keyout", str(key), "-out", str(cert), "-subj", "/CN=localhost",
            "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


@dataclass
class SmtpServer:
    host: str
    port: int
    handler: SmtpHandler
    controller: Controller

    @property
    def received(self) -> list[Received]:
        return self.handler.received

    def url(self, scheme: str = "smtp", user: str | None = None, password: str = "") -> str:
        auth = f"{user}:{password}@" if user else ""
        return f"{scheme}://{auth}{self.host}:{self.port}"

    def wait_for(self, count: int, timeout: float = 30.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while len(self.received) < count:
            assert time.monotonic() < deadline, f"{len(self.received)} mails, wanted {count}"
            time.sleep(0.1)
        return self.received


@contextmanager
def smtp_server(
    *,
    users: dict[str, str] | None = None,
    tls: str | None = None,
    cert_dir: Path | None = None,
) -> Iterator[SmtpServer]:
    """An SMTP server on loopback. ``tls``: None, ``"starttls"`` or ``"implicit"``
    (needs ``cert_dir``); ``users``: logins it accepts (then a login is required)."""
    import ssl

    handler = SmtpHandler()
    kwargs: dict[str, Any] = {}
    context = None
    if tls:
        assert cert_dir is not None
        cert, key = self_signed_cert(cert_dir)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(str(cert), str(key))
    if tls == "starttls":
        kwargs.update(tls_context=context, require_starttls=True)
    if users is not None:

        def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any):
            ok = (
                isinstance(auth_data, LoginPassword)
                and users.get(auth_data.login.decode()) == auth_data.password.decode()
            )
            return AuthResult(success=ok, handled=False)

        kwargs.update(
            authenticator=authenticator, auth_required=True, auth_require_tls=tls == "starttls"
        )
    port = free_port()
    controller = Controller(
        handler,
        hostname="127.0.0.1",
        port=port,
        ssl_context=context if tls == "implicit" else None,
        server_hostname="localhost",
        ready_timeout=10,
        **kwargs,
    )
    controller.start()
    try:
        yield SmtpServer("127.0.0.1", port, handler, controller)
    finally:
        controller.stop()


def closed_port() -> int:
    """A loopback port nobody listens on (connection refused)."""
    return free_port()


@contextmanager
def silent_server() -> Iterator[int]:
    """A port that accepts connections and never says a word (a hung mail server)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    try:
        yield sock.getsockname()[1]
    finally:
        sock.close()


# ---- IMAP ----------------------------------------------------------------------------------

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"


def dovecot_missing() -> str | None:
    """Why the IMAP tests cannot run here, or None."""
    if not os.path.exists(DOVECOT):
        return "Debian's dovecot-imapd is needed (scripts/setup.sh --browser installs it)"
    return None


def require_dovecot() -> None:
    """Skip without dovecot, unless SPORTELLO_REQUIRE_IMAP=1 (then fail)."""
    missing = dovecot_missing()
    if missing:
        if os.environ.get(REQUIRE_IMAP_ENV) == "1":
            pytest.fail(missing)
        pytest.skip(missing)


@dataclass
class ImapServer:
    host: str
    port: int
    user: str
    password: str
    root: Path

    @property
    def url(self) -> str:
        return f"imap://{self.user}:{self.password}@{self.host}:{self.port}/INBOX"

    def append(self, raw: bytes | str) -> None:
        """Deliver a mail into the user's INBOX (as the company's mail server would)."""
        import imaplib

        data = raw.encode() if isinstance(raw, str) else raw
        client = imaplib.IMAP4(self.host, self.port, timeout=10)
        try:
            client.login(self.user, self.password)
            status, detail = client.append("INBOX", "", None, data)
            assert status == "OK", detail
        finally:
            client.logout()

    def unseen(self) -> int:
        import imaplib

        client = imaplib.IMAP4(self.host, self.port, timeout=10)
        try:
            client.login(self.user, self.password)
            client.select("INBOX")
            _, data = client.uid("SEARCH", "UNSEEN")
            return len((data[0] or b"").split())
        finally:
            client.logout()


DOVECOT_CONF = """\
base_dir = {root}/run
state_dir = {root}/state
instance_name = sportello-test-{port}
listen = 127.0.0.1
protocols = imap
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
log_path = {root}/dovecot.log
info_log_path = {root}/dovecot.log
default_login_user = {login_user}
default_internal_user = {internal_user}
default_internal_group = {internal_group}
mail_location = maildir:{mail_root}/mail/%u
mail_uid = {uid}
mail_gid = {gid}
first_valid_uid = 0
passdb {{
  driver = passwd-file
  args = scheme=PLAIN {root}/users
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={mail_root}/home/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  chroot =
}}
service imap-login {{
  chroot =
}}
service stats {{
  chroot =
}}
service auth {{
  user = {auth_user}
}}
service auth-worker {{
  user = {auth_user}
}}
"""


@contextmanager
def dovecot(
    root: Path, user: str = "assistenza", password: str = "imap-test-pw"
) -> Iterator[ImapServer]:
    """dovecot in the foreground on a free loopback port, all its files under ``root``."""
    import grp
    import pwd

    root.mkdir(parents=True, exist_ok=True)
    for sub in ("run", "state", "mail", "home"):
        (root / sub).mkdir(exist_ok=True)
    (root / "users").write_text(f"{user}:{{PLAIN}}{password}\n")
    port = free_port()
    me = pwd.getpwuid(os.getuid()).pw_name
    mail_root = root
    if os.getuid() == 0:
        # dovecot never keeps mail as root: the mail lives in a world-traversable
        # directory of its own, owned by the dovecot user.
        internal = pwd.getpwnam("dovecot")
        uid, gid = internal.pw_uid, internal.pw_gid
        login_user, internal_user = "dovenull", "dovecot"
        internal_group = grp.getgrgid(gid).gr_name
        mail_root = Path(tempfile.mkdtemp(prefix="sportello-dovecot-"))
        os.chmod(mail_root, 0o755)
        for sub in ("mail", "home"):
            (mail_root / sub).mkdir()
            os.chown(mail_root / sub, uid, gid)
    else:
        uid, gid = os.getuid(), os.getgid()
        login_user = internal_user = me
        internal_group = grp.getgrgid(gid).gr_name
    conf = root / "dovecot.conf"
    conf.write_text(
        DOVECOT_CONF.format(
            root=root, mail_root=mail_root, port=port, uid=uid, gid=gid,
            login_user=login_user, internal_user=internal_user,
            internal_group=internal_group,
            auth_user=me,  # reads the users file under the private temporary directory
        )
    )  # fmt: skip
    process = subprocess.Popen(
        [DOVECOT, "-F", "-c", str(conf)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                    if sock.recv(100).startswith(b"* OK"):
                        break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                output = process.stdout.read().decode() if process.stdout else ""
                log = (root / "dovecot.log").read_text() if (root / "dovecot.log").exists() else ""
                raise RuntimeError(f"dovecot did not start: {output}\n{log}")
            time.sleep(0.1)
        yield ImapServer("127.0.0.1", port, user, password, root)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if mail_root != root:
            shutil.rmtree(mail_root, ignore_errors=True)
