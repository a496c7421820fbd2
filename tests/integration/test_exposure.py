"""What the running assistant exposes out of the box (issue 20, "secure by default").

The stack here runs with the settings ``make run`` uses apart from its ports: no Rasa
token configured, every service on its default bind address.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx

from sportello.keys import KNOWN_RASA_TOKENS, rasa_token
from sportello.settings import PROJECT_ROOT, Settings
from stack.services import Service


def test_rasa_api_does_not_take_the_published_default_token(stack: Settings) -> None:
    """With the old default anyone could read a transcript or push a message to a live
    customer; now the token is random and only the data directory holds it."""
    for token in KNOWN_RASA_TOKENS:
        reply = httpx.get(
            f"{stack.rasa_url}/conversations/anyone/tracker", params={"token": token}, timeout=10
        )
        assert reply.status_code == 401, token
    token = rasa_token(stack)
    assert token not in KNOWN_RASA_TOKENS and len(token) >= 32
    ok = httpx.get(f"{stack.rasa_url}/status", params={"token": token}, timeout=10)
    assert ok.status_code == 200


def _command_lines(services: list[Service]) -> list[str]:
    """Every process of the stack as ``ps`` shows it (workers included)."""
    groups = {os.getpgid(s.process.pid) for s in services if s.process is not None}
    lines = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if os.getpgid(int(proc.name)) not in groups:
                continue
            lines.append((proc / "cmdline").read_bytes().replace(b"\0", b" ").decode())
        except (ProcessLookupError, FileNotFoundError, PermissionError):
            continue
    return lines


def test_the_rasa_token_is_on_no_command_line(
    stack: Settings, stack_services: list[Service]
) -> None:
    lines = _command_lines(stack_services)
    assert any("bot.rasa_main" in line for line in lines)
    token = rasa_token(stack)
    assert all(token not in line for line in lines)
    assert all("--auth-token" not in line for line in lines)


def _listening_addresses(port: int) -> set[str]:
    """Local addresses listening on ``port`` (from /proc/net/tcp and tcp6)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for row in Path(table).read_text().splitlines()[1:]:
            local, state = row.split()[1], row.split()[3]
            address, port_hex = local.split(":")
            if state == "0A" and int(port_hex, 16) == port:  # 0A: LISTEN
                found.add(address)
    return found


def test_every_service_listens_on_loopback_only(stack: Settings) -> None:
    loopback = {"0100007F", "00000000000000000000000001000000"}
    for port in (stack.rasa_port, stack.action_port, stack.web_port, stack.console_port):
        addresses = _listening_addresses(port)
        assert addresses and addresses <= loopback, (port, addresses)


def test_only_the_chat_page_may_call_rasa_from_a_browser(stack: Settings) -> None:
    """No ``--cors *``: a page on another origin gets no CORS permission."""
    url = f"{stack.rasa_url}/webhooks/rest/webhook"
    preflight = {"Access-Control-Request-Method": "POST"}
    page = f"http://127.0.0.1:{stack.web_port}"
    allowed = httpx.options(url, headers={"Origin": page, **preflight}, timeout=10)
    assert allowed.headers.get("access-control-allow-origin") == page
    evil = httpx.options(url, headers={"Origin": "http://evil.example", **preflight}, timeout=10)
    assert "access-control-allow-origin" not in evil.headers
    tracker = httpx.get(
        f"{stack.rasa_url}/conversations/anyone/tracker",
        headers={"Origin": "http://evil.example"},
        timeout=10,
    )
    assert "access-control-allow-origin" not in tracker.headers


def test_sportello_run_refuses_the_old_default_token(tmp_path: Path) -> None:
    """The command line itself, as a company runs it, stops before starting anything."""
    done = subprocess.run(
        [sys.executable, "-m", "cli", "run"],
        cwd=PROJECT_ROOT,
        env={
            **os.environ,
            "SPORTELLO_DATA_DIR": str(tmp_path),
            "SPORTELLO_RASA_TOKEN": "change-me-sportello",
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0
    assert "SPORTELLO_RASA_TOKEN" in done.stderr + done.stdout
    assert not (tmp_path / "run").exists() or not list((tmp_path / "run").glob("*.log"))


def test_data_is_readable_by_its_owner_only(stack: Settings) -> None:
    assert stat.S_IMODE(stack.data_dir.stat().st_mode) == 0o700
    for folder, folders, files in os.walk(stack.data_dir):
        for name in folders:
            assert stat.S_IMODE((Path(folder) / name).stat().st_mode) == 0o700, name
        for name in files:
            path = Path(folder) / name
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


def test_access_logs_hold_no_query_strings_nor_the_token(stack: Settings) -> None:
    marker = "mario.rossi.querystring@example.com"
    httpx.get(f"{stack.web_url}/", params={"lang": "en", "q": marker}, timeout=10)
    httpx.get(f"{stack.console_url}/login", params={"next": f"/customers?q={marker}"}, timeout=10)
    httpx.get(f"{stack.rasa_url}/status", params={"token": rasa_token(stack)}, timeout=10)
    time.sleep(1)  # uvicorn writes its access line after the response
    logs = sorted((stack.data_dir / "run").glob("*.log"))
    assert any("GET / HTTP" in path.read_text(errors="replace") for path in logs)
    for path in logs:
        text = path.read_text(errors="replace")
        assert marker not in text and "mario.rossi.querystring" not in text, path.name
        assert rasa_token(stack) not in text, path.name
