"""The shipped nginx configuration in front of the real stack (issue 20, part 2).

Debian's nginx runs on a loopback port with ``deploy/nginx/sportello.conf`` (its
``@NAME@`` placeholders filled in, a self-signed certificate): the chat page, the widget
and the web chat's socket.io work through it; Rasa's API, the action server and the
console's paths are not reachable on the chat's name; a 1 MB body gets 413 and a burst
from one client 429; the console has its own name, HSTS and ``Secure`` cookies.

Needs ``nginx`` and ``openssl`` (``scripts/setup.sh --browser`` installs nginx-light):
without them the tests skip, or fail under ``make test`` (``SPORTELLO_REQUIRE_PROXY=1``).
"""

from __future__ import annotations

import json
import os
import shutil
import ssl
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
from websockets.sync.client import connect

from knowledge.store import get_article
from sportello.keys import rasa_token
from sportello.settings import PROJECT_ROOT, Settings
from tests.browser import chromium
from tests.databases import open_db
from tests.servers import free_port, serving
from webchat.app import create_app

pytestmark = pytest.mark.integration

TEMPLATE = PROJECT_ROOT / "deploy" / "nginx" / "sportello.conf"
CHAT, DESK = "chat.sportello.test", "desk.sportello.test"


@pytest.fixture(scope="module")
def nginx(stack: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """nginx on a free loopback port in front of the stack; yields its https URL and
    its folder (configuration, logs)."""
    missing = [tool for tool in ("nginx", "openssl") if shutil.which(tool) is None]
    if missing:
        why = f"{', '.join(missing)} not installed: run scripts/setup.sh --browser"
        if os.environ.get("SPORTELLO_REQUIRE_PROXY") == "1":
            pytest.fail(why)
        pytest.skip(why)
    root = tmp_path_factory.mktemp("nginx")
    cert, key = root / "cert.pem", root / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", f"/CN={CHAT}", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    port = free_port()
    # The chat page as a company runs it behind the proxy: the widget's socket goes to
    # the proxy's https address (SPORTELLO_PUBLIC_SOCKET_URL), so wss:// through nginx.
    behind = replace(stack, public_socket_url=f"https://127.0.0.1:{port}")
    page_server = ExitStack()
    page_url = page_server.enter_context(serving(create_app(behind), "chat page behind nginx"))
    values = {
        "LISTEN": f"127.0.0.1:{port}",
        "CHAT_HOST": CHAT,
        "CONSOLE_HOST": DESK,
        "CERT": str(cert),
        "KEY": str(key),
        "WEB_PORT": page_url.rsplit(":", 1)[1],
        "RASA_PORT": str(stack.rasa_port),
        "CONSOLE_PORT": str(stack.console_port),
        "LOGS": str(root),
    }
    site = TEMPLATE.read_text(encoding="utf-8")
    for name, value in values.items():
        site = site.replace(f"@{name}@", value)
    assert "@" not in "".join(line.split("#")[0] for line in site.splitlines())
    (root / "sportello.conf").write_text(site, encoding="utf-8")
    temp = "".join(
        f"    {kind}_temp_path {root / kind};\n"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    (root / "nginx.conf").write_text(
        ("user root;\n" if os.geteuid() == 0 else "")
        + f"pid {root / 'nginx.pid'};\nerror_log {root / 'error.log'};\n"
        + "events {}\nhttp {\n"
        + temp
        + f"    include {root / 'sportello.conf'};\n}}\n",
        encoding="utf-8",
    )
    check = subprocess.run(
        ["nginx", "-t", "-p", str(root), "-c", str(root / "nginx.conf")],
        capture_output=True, text=True,
    )  # fmt: skip
    assert check.returncode == 0, check.stderr
    process = subprocess.Popen(
        ["nginx", "-p", str(root), "-c", str(root / "nginx.conf"), "-g", "daemon off;"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"https://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                httpx.get(f"{url}/", verify=False, timeout=2)
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline, (root / "error.log").read_text()
                time.sleep(0.2)
        yield url, root
    finally:
        process.terminate()
        process.wait(timeout=20)
        page_server.close()


@pytest.fixture
def proxy(nginx: tuple[str, Path]) -> str:
    return nginx[0]


def get(url: str, host: str = CHAT, **kwargs: object) -> httpx.Response:
    return httpx.get(url, headers={"Host": host}, verify=False, timeout=30, **kwargs)


def test_the_chat_page_and_widget_are_served_over_https(proxy: str) -> None:
    page = get(f"{proxy}/?lang=it")
    assert page.status_code == 200 and "widget.js" in page.text
    assert page.headers["strict-transport-security"].startswith("max-age=")
    assert get(f"{proxy}/widget.js").status_code == 200
    assert get(f"{proxy}/chat.css").status_code == 200
    assert get(f"{proxy}/chat.js").status_code == 200
    # A returning customer's conversation (webchat/conversation.py) passes through too.
    resume = httpx.post(
        f"{proxy}/conversation", json={}, headers={"Host": CHAT}, verify=False, timeout=30
    )
    assert resume.status_code == 400 and "session_id" in resume.json()["error"]


@pytest.mark.browser
def test_a_customer_chats_in_the_browser_through_the_proxy(
    proxy: str, stack: Settings, artifacts_dir: Path
) -> None:
    """Headless Chromium on https://…: page, widget and socket.io all through nginx."""
    expected = get_article(open_db(stack.db_path), "spedizione-costi", "it")
    assert expected is not None
    with chromium() as browser:
        page = browser.new_page(ignore_https_errors=True)
        page.goto(f"{proxy}/?lang=it", wait_until="load")
        widget = page.locator("#webchat .rw-widget-embedded")
        widget.locator(".rw-response", has_text="Ciao!").wait_for(timeout=60_000)
        field = widget.locator("textarea.rw-new-message")
        field.fill("quanto costa la spedizione?")
        field.press("Enter")
        widget.locator(".rw-response", has_text=expected.answer[:60]).wait_for(timeout=60_000)
        page.screenshot(path=str(artifacts_dir / "webchat-through-nginx.png"), full_page=True)


def test_the_web_chat_talks_through_the_proxy(proxy: str, stack: Settings) -> None:
    """socket.io over wss:// through nginx, as rasa-webchat does, to a real answer."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    address = proxy.replace("https://", "wss://")
    ws = connect(f"{address}/socket.io/?EIO=4&transport=websocket", ssl=context, open_timeout=30)
    try:

        def events() -> Iterator[list]:
            while True:
                packet = str(ws.recv(timeout=90))
                if packet == "2":
                    ws.send("3")
                elif packet.startswith("42"):
                    yield json.loads(packet[2:])

        assert str(ws.recv(timeout=30)).startswith("0")
        ws.send("40")
        assert str(ws.recv(timeout=30)).startswith("40")
        ws.send("42" + json.dumps(["session_request", {"session_id": None}]))
        stream = events()
        event, session = next(stream)[:2]
        assert event == "session_confirm"
        question = {"message": "quanto costa la spedizione?", "session_id": session}
        ws.send("42" + json.dumps(["user_uttered", question]))
        expected = get_article(open_db(stack.db_path), "spedizione-costi", "it")
        assert expected is not None
        for event, *data in stream:
            if event == "bot_uttered" and data and data[0].get("text"):
                assert data[0]["text"] == expected.answer
                break
    finally:
        ws.close()


def test_nothing_else_is_reachable_on_the_chats_name(proxy: str, stack: Settings) -> None:
    token = {"token": rasa_token(stack)}  # even with the token
    for path in [
        "/conversations/anyone/tracker",
        "/status",
        "/version",
        "/model",
        "/webhook",  # the action server's path
        "/health",
        "/webhooks/callback/webhook",  # not switched on in the proxy
        "/login",  # the console's
        "/queue",
        "/healthz",
        "/docs",
    ]:
        assert get(f"{proxy}{path}", params=token).status_code == 404, path
    put = httpx.put(
        f"{proxy}/model", params=token, json={}, headers={"Host": CHAT}, verify=False, timeout=30
    )
    assert put.status_code == 404


def test_a_megabyte_body_gets_413(proxy: str) -> None:
    body = b'{"sender": "big", "message": "' + b"x" * 1024 * 1024 + b'"}'
    reply = httpx.post(
        f"{proxy}/webhooks/rest/webhook",
        content=body,
        headers={"Host": CHAT, "Content-Type": "application/json"},
        verify=False,
        timeout=30,
    )
    assert reply.status_code == 413


def test_the_console_has_its_own_name_hsts_and_secure_cookies(proxy: str) -> None:
    page = get(f"{proxy}/login", host=DESK)
    assert page.status_code == 200
    assert page.headers["strict-transport-security"].startswith("max-age=")
    cookies = page.headers.get_list("set-cookie")
    assert cookies and all("secure" in c.lower() for c in cookies)


def test_access_logs_carry_no_query_string(nginx: tuple[str, Path]) -> None:
    proxy, root = nginx
    marker = f"anna.{uuid.uuid4().hex[:6]}@example.com"
    assert get(f"{proxy}/", params={"lang": "it", "q": marker}).status_code == 200
    time.sleep(0.5)
    logs = list(root.glob("sportello-*.access.log"))
    assert any("GET /" in path.read_text() for path in logs)
    assert all(marker not in path.read_text() for path in logs)


def test_a_burst_from_one_client_gets_429(proxy: str) -> None:
    codes = [get(f"{proxy}/").status_code for _ in range(40)]
    assert 429 in codes and codes[0] == 200
