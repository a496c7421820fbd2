"""Stock Rasa on the same machine: the yardstick that makes ``bench.speed`` comparable.

This shared machine's speed changes from one run to the next (the same Python loop has
taken from 0.65 s to 1.6 s), so an absolute turns/s says as much about the host as about
Sportello. Issue 6 quotes its targets against a stock ``rasa init`` bot with a trivial
custom action (about 27 turns/s and p50 555 ms with 16 customers, 33 ms per turn alone,
on the machine it was written on). This module builds that bot, from Rasa's own project
template, trains it, runs it with Rasa's own action server, and drives it with the same
load generator as Sportello, right after Sportello's runs: the ratio between the two is
what carries from one host to another.

The bot: ``rasa init``'s mood bot unchanged (its NLU data, stories, rules, config and
in-memory tracker store), plus Rasa's commented-out ``ActionHelloWorld`` as the trivial
custom action, run after ``utter_iamabot`` by the bot-challenge rule. A conversation is
five turns, each with an answer: a greeting, a sad mood (cheer-up and "did that help?"),
yes, "are you a bot?" (the custom action), goodbye. Everything listens on 127.0.0.1
(``SANIC_HOST`` for rasa-sdk's server); the processes get the same environment as
Sportello's Rasa server (TensorFlow one thread per op), so only the projects differ.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

from bench import load
from bench.ports import free_port
from bench.probes import reply_texts
from stack.services import RASA_BIN, Service, rasa_env

STOCK_LANG = "en"
# Kind of turn -> phrasings from the mood bot's own NLU examples, used in turn.
STOCK_SCRIPT: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("greet", ("hi", "hello", "hey there", "good morning")),
    ("mood", ("I am sad", "my day was horrible", "very sad", "I don't feel very well")),
    ("affirm", ("yes", "of course", "that sounds good", "indeed")),
    ("custom action", ("are you a bot?", "am I talking to a bot?", "are you a human?")),
    ("goodbye", ("bye", "goodbye", "see you later", "have a nice day")),
)
HELLO_WORDS = "Hello World!"
CUSTOM_TURN = [kind for kind, _ in STOCK_SCRIPT].index("custom action")
HELLO_ACTION = '''"""The trivial custom action of Rasa's template, uncommented."""

from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher


class ActionHelloWorld(Action):
    def name(self) -> Text:
        return "action_hello_world"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        dispatcher.utter_message(text="{HELLO_WORDS}")
        return []
'''.replace("{HELLO_WORDS}", HELLO_WORDS)
BOT_RULE = "  - action: utter_iamabot\n"
READY_TIMEOUT_S = 120


def template_dir() -> Path:
    """Rasa's ``rasa init`` template inside the Rasa environment."""
    found = sorted(
        RASA_BIN.parent.parent.glob("lib/python3*/site-packages/rasa/cli/initial_project")
    )
    if not found:
        raise FileNotFoundError(f"no rasa/cli/initial_project beside {RASA_BIN}")
    return found[0]


def prepare_project(dest: Path) -> Path:
    """``rasa init``'s project in ``dest``, with the trivial custom action wired in."""
    shutil.copytree(template_dir(), dest, dirs_exist_ok=True)
    (dest / "actions" / "actions.py").write_text(HELLO_ACTION, encoding="utf-8")
    domain = dest / "domain.yml"
    domain.write_text(
        domain.read_text(encoding="utf-8") + "\nactions:\n  - action_hello_world\n",
        encoding="utf-8",
    )
    rules = dest / "data" / "rules.yml"
    text = rules.read_text(encoding="utf-8")
    if text.count(BOT_RULE) != 1:
        raise ValueError("Rasa's template changed: its bot-challenge rule was not found")
    rules.write_text(
        text.replace(BOT_RULE, BOT_RULE + "  - action: action_hello_world\n"), encoding="utf-8"
    )
    return dest


def write_endpoints(project: Path, action_port: int) -> Path:
    path = project / "endpoints.yml"
    path.write_text(
        f'action_endpoint:\n  url: "http://127.0.0.1:{action_port}/webhook"\n', encoding="utf-8"
    )
    return path


def train(project: Path) -> Path:
    """``rasa train`` in the project, as its README says; the model's path."""
    subprocess.run(
        [str(RASA_BIN), "train", "--fixed-model-name", "stock"],
        cwd=project,
        env={**os.environ, **rasa_env()},
        check=True,
        capture_output=True,
    )
    return project / "models" / "stock.tar.gz"


def conversations() -> Iterator[list[load.Turn]]:
    """Endless five-turn mood-bot conversations, phrasings taken in turn."""
    for i in itertools.count():
        yield [
            load.Turn(kind, STOCK_LANG, options[i % len(options)]) for kind, options in STOCK_SCRIPT
        ]


def services(project: Path, model: Path, rasa_port: int, action_port: int) -> list[Service]:
    """Rasa's own action server and Rasa server for the stock project, loopback only."""
    logs = project / "logs"
    env = {**rasa_env(), "SANIC_HOST": "127.0.0.1"}
    return [
        Service(
            name="stock action server",
            argv=[str(RASA_BIN), "run", "actions", "--port", str(action_port),
                  "--actions", "actions"],
            health_url=f"http://127.0.0.1:{action_port}/health",
            log_path=logs / "actions.log",
            env=env,
            cwd=project,
        ),
        Service(
            name="stock Rasa server",
            argv=[str(RASA_BIN), "run", "--model", str(model),
                  "--endpoints", str(write_endpoints(project, action_port)),
                  "--credentials", "credentials.yml",
                  "--interface", "127.0.0.1", "--port", str(rasa_port)],
            health_url=f"http://127.0.0.1:{rasa_port}/",
            log_path=logs / "rasa.log",
            env=env,
            cwd=project,
        ),
    ]  # fmt: skip


def wait_answering(rasa_url: str, timeout: float = READY_TIMEOUT_S) -> None:
    """Until one conversation gets an answer at every turn and the custom action's
    words (the model is loaded and the action server reachable); TimeoutError if not."""
    url = load.rest_url(rasa_url)
    turns = next(conversations())
    end = time.monotonic() + timeout
    with httpx.Client(timeout=10, trust_env=False) as client:
        while time.monotonic() < end:
            try:
                said = [
                    reply_texts(client.post(url, json={"sender": "stock-warm-up",
                                                       "message": turn.text}).json())
                    for turn in turns
                ]  # fmt: skip
                if all(said) and HELLO_WORDS in said[CUSTOM_TURN]:
                    return
            except (httpx.HTTPError, ValueError, AttributeError, TypeError):
                pass  # not up yet, or a reply that is not a list of messages
            time.sleep(0.5)
    raise TimeoutError(f"the stock bot at {rasa_url} did not answer in {timeout:.0f} s")


def measure(
    workdir: Path, concurrencies: tuple[int, ...], run_s: float, warm_up_s: float = 5.0
) -> dict[int, load.Summary]:
    """Build, train and run the stock bot under ``workdir``; one closed-loop run per
    concurrency. Every process started is stopped before returning."""
    project = prepare_project(workdir / "stock-bot")
    model = train(project)
    rasa_port, action_port = free_port(), free_port()
    started = services(project, model, rasa_port, action_port)
    rasa_url = f"http://127.0.0.1:{rasa_port}"
    results: dict[int, load.Summary] = {}
    try:
        for service in started:
            service.start()
            service.wait_ready(READY_TIMEOUT_S)
        wait_answering(rasa_url)
        stream = conversations()
        asyncio.run(load.closed_loop(rasa_url, stream, max(concurrencies), warm_up_s, 10**6))
        for concurrency in concurrencies:
            run = asyncio.run(load.closed_loop(rasa_url, stream, concurrency, run_s, 10**6))
            results[concurrency] = load.summarise(run.results, run.wall_s)
    finally:
        for service in reversed(started):
            service.stop()
    return results
