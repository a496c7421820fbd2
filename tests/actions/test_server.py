"""The action server as Rasa talks to it: a real process on a free loopback port."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from desk import sla
from sportello import clock
from sportello.settings import PROJECT_ROOT
from tests.databases import open_db
from tests.servers import free_port


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """``python -m actions.server`` on an empty data directory; yields (url, data dir)."""
    data_dir = tmp_path_factory.mktemp("actions-server")
    port = free_port()
    log = (data_dir / "server.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "actions.server", "--port", str(port)],
        cwd=PROJECT_ROOT,
        env={**os.environ, "SPORTELLO_DATA_DIR": str(data_dir)},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None, (data_dir / "server.log").read_text()
            assert time.monotonic() < deadline, "action server did not start"
            time.sleep(0.3)
        yield url, data_dir
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


def action_call(action: str, text: str, slots: dict | None = None) -> dict:
    """The request body Rasa sends to run ``action`` after the customer said ``text``."""
    return {
        "next_action": action,
        "sender_id": "conv-server",
        "version": "3.6.21",
        "domain": {},
        "tracker": {
            "sender_id": "conv-server",
            "slots": {"language": "en", "handoff_offered": False, **(slots or {})},
            "latest_message": {"text": text, "intent": {"name": "ask_human"}, "entities": []},
            "events": [
                {"event": "user", "text": text, "timestamp": 1.0, "input_channel": "socketio"}
            ],
            "paused": False,
            "followup_action": None,
            "active_loop": {},
            "latest_action_name": "action_listen",
        },
    }


def test_serves_the_handoff_action(server: tuple[str, Path]) -> None:
    url, data_dir = server
    reply = httpx.post(f"{url}/webhook", json=action_call("action_request_human", "human please"))
    assert reply.status_code == 200
    body = reply.json()
    responses = [r["response"] for r in body["responses"]]
    [ticket] = open_db(data_dir / "sportello.db")["tickets"].rows
    # Outside business hours the customer also learns when the desk opens (judged at
    # the ticket's opening, the clock reading the action used).
    desk_open = sla.is_open(sla.load_policy(None), clock.parse_time(ticket["created_at"]))
    assert responses == ["utter_handoff_recorded"] + ([] if desk_open else ["utter_desk_closed"])
    assert body["responses"][0]["due"].startswith("by ")
    assert {"event": "slot", "name": "handoff_offered", "value": False} in [
        {k: e[k] for k in ("event", "name", "value")} for e in body["events"]
    ]
    assert ticket["channel"] == "socketio"
    assert ticket["lang"] == "en"


def test_unknown_actions_are_refused(server: tuple[str, Path]) -> None:
    url, _ = server
    reply = httpx.post(f"{url}/webhook", json=action_call("action_does_not_exist", "hi"))
    assert reply.status_code == 404


def test_warms_up_the_knowledge_base_after_start(server: tuple[str, Path]) -> None:
    _, data_dir = server
    log = data_dir / "server.log"
    deadline = time.monotonic() + 180
    while "knowledge base ready" not in log.read_text():
        assert "could not load the knowledge base" not in log.read_text(), log.read_text()
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.5)
