"""Fault injection: kill -9 the action server, the Rasa server and the console mid-run.

The supervisor that ``sportello run`` uses starts each one again; the conversation goes
on from Rasa's SQL tracker store, and nothing written before the crashes is lost: the
ticket and its SLA deadlines, the customer's rating, the operator's answer waiting to
be delivered.
"""

from __future__ import annotations

import os
import signal
import threading
import time
import uuid

import httpx
import pytest

from customerlog import ratings, schema
from desk.tickets import answer_ticket, get_open_ticket, get_ticket
from sportello.settings import Settings
from stack.services import Service, supervise
from tests.databases import open_db
from tests.hardening import fault_rounds
from tests.integration.rest import say, texts

pytestmark = pytest.mark.integration

KILLED = ("action server", "Rasa server", "operator console")


def _helpful_payload(messages: list[dict]) -> str:
    for message in messages:
        for button in message.get("buttons") or []:
            if button["payload"].startswith("/answer_helpful"):
                return button["payload"]
    raise AssertionError(f"no 👍 button in {messages}")


@pytest.mark.parametrize("round_", fault_rounds(), ids=lambda n: f"round{n}")
def test_killed_services_come_back_and_nothing_is_lost(
    stack: Settings, stack_services: list[Service], round_: int
) -> None:
    """One round; ``python -m bench.hardening`` repeats it on the same, ever older, data."""
    db = open_db(stack.db_path)
    customer = f"fault-{round_}-{uuid.uuid4().hex[:8]}"
    answer = say(stack, customer, "quanto costa la spedizione?")
    say(stack, customer, _helpful_payload(answer))
    say(stack, customer, "voglio parlare con un operatore")
    ticket = get_open_ticket(db, customer)
    assert ticket is not None
    answer_ticket(db, ticket.id, "anna", "Risposta scritta prima dei crash.")
    ticket = get_ticket(db, ticket.id)  # claimed by the answer, deadlines fixed
    votes_before = ratings.ratings_for(db, schema.TARGET_ARTICLE, "spedizione-costi")

    services = {service.name: service for service in stack_services}
    stop, failures, restarted = threading.Event(), [], []

    def watch() -> None:
        try:
            supervise(stack_services, stop, poll_s=0.2, on_restart=restarted.append)
        except Exception as exc:  # reported by the test below
            failures.append(exc)

    watcher = threading.Thread(target=watch, name="supervisor", daemon=True)
    watcher.start()
    try:
        for name in KILLED:
            service = services[name]
            assert service.process is not None
            old_pid = service.process.pid
            os.killpg(old_pid, signal.SIGKILL)
            deadline = time.monotonic() + 300
            while service not in restarted and time.monotonic() < deadline and not failures:
                time.sleep(0.5)
            assert not failures, failures
            assert service in restarted, f"{name} did not come back"
            assert service.running and service.process.pid != old_pid
            restarted.clear()
    finally:
        stop.set()
        watcher.join(timeout=30)

    after = get_ticket(db, ticket.id)
    assert after.status == ticket.status
    assert (after.first_response_due, after.resolution_due) == (
        ticket.first_response_due,
        ticket.resolution_due,
    )
    assert ratings.ratings_for(db, schema.TARGET_ARTICLE, "spedizione-costi") == votes_before
    assert any(v["conversation_id"] == customer for v in votes_before)
    # Rasa kept the handoff in its tracker store: the bot stays silent for the operator and
    # hands over the answer written before the crashes.
    reply = texts(say(stack, customer, "ci siete ancora?"))
    assert "Risposta scritta prima dei crash." in reply
    console = httpx.get(f"http://{stack.host}:{stack.console_port}/healthz", timeout=10)
    assert console.status_code == 200
