"""Two Rasa servers sharing PostgreSQL and Redis: one conversation, either server.

The smoke test of docs/scaling.md: a real PostgreSQL cluster and a real redis-server
on loopback (started here, in a temporary folder), one action server, and two Rasa
servers whose endpoints name Rasa's SQL tracker store on PostgreSQL and its Redis lock
store. A customer's messages go alternately to one server and the other over the REST
channel; each server must carry on where the other stopped (language, the knowledge
base's answer, the hand-over to a person and the operator's answer), and messages sent
to both at once must be processed one after the other with nothing lost. The customer
log, export and erasure, pointed at that PostgreSQL, must read and delete its events.

Skipped when PostgreSQL's or Redis's programs are missing, except under
``SPORTELLO_REQUIRE_SCALE_OUT=1``, where that is a failure.
"""

from __future__ import annotations

import os
import signal
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from bench.scaleout_stack import (
    LOCK_KEY,
    LOCK_STORE,
    REQUIRE_ENV,
    ScaleOut,
    lock_writes,
    missing_binaries,
    parse_commandstats,
    running_scale_out,
)
from customerlog import schema, turns
from customerlog.tracker import POSTGRES_HORIZON_S
from desk.monitor import run_once
from desk.sla import SlaPolicy
from desk.tickets import (
    REASON_ASKED_FOR_HUMAN,
    answer_ticket,
    list_tickets,
    ticket_messages,
)
from knowledge.store import get_article
from privacy import customers
from sportello.clock import utc_now
from sportello.settings import Settings, get_settings
from stack.services import train_model
from tests.databases import open_db
from tests.integration.rest import texts

pytestmark = pytest.mark.integration

SHIPPING_Q = "ciao, quanto costa la spedizione?"
KB_QUESTIONS = (
    "quanto costa la spedizione?",
    "posso pagare con paypal?",
    "how long does delivery take?",
    "can I pay with PayPal?",
)
# Pairs of messages sent at the same instant. With Rasa's own Redis lock store and two
# servers about one pair in eight lost a message here (7 of 60): 20 pairs catch that
# nine times in ten. Each pair takes a second (Rasa polls a held lock once a second).
TWO_SERVER_PAIRS = 20
ONE_SERVER_PAIRS = 10


def require_scale_out() -> None:
    """Skip (or, with SPORTELLO_REQUIRE_SCALE_OUT=1, fail) without PostgreSQL or Redis."""
    missing = missing_binaries()
    if not missing:
        return
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail("scale-out smoke test cannot run: " + "; ".join(missing))
    pytest.skip("scale-out smoke test needs PostgreSQL and Redis: " + "; ".join(missing))


@pytest.fixture(scope="module")
def scale_out(tmp_path_factory: pytest.TempPathFactory, rasa_bin: Path) -> Iterator[ScaleOut]:
    require_scale_out()
    model = train_model()
    with running_scale_out(tmp_path_factory.mktemp("scale-out"), model) as running:
        yield running


def say(url: str, sender: str, message: str) -> list[dict]:
    """One REST customer turn on the Rasa server at ``url``."""
    reply = httpx.post(
        f"{url}/webhooks/rest/webhook", json={"sender": sender, "message": message}, timeout=60
    )
    reply.raise_for_status()
    return reply.json()


def slots(settings: Settings, sender: str) -> dict:
    """The conversation's slots as this Rasa server sees them (HTTP API, token)."""
    reply = httpx.get(
        f"{settings.rasa_url}/conversations/{sender}/tracker",
        params={"token": settings.rasa_token},
        timeout=30,
    )
    reply.raise_for_status()
    return reply.json()["slots"]


def user_texts(events: list[dict]) -> list[str]:
    return [e.get("text") or "" for e in events if e.get("event") == "user"]


def broken_turns(events: list[dict]) -> list[str]:
    """Turns that do not read "a customer message, the bot's actions, then listening":
    what two servers writing one conversation at the same time leave behind."""
    problems, turn = [], []
    for event in events:
        if event.get("event") == "user":
            if turn and not _listened(turn):
                problems.append(f"turn {user_texts(turn)} interrupted")
            turn = []
        turn.append(event)
    if turn and not _listened(turn):
        problems.append(f"last turn {user_texts(turn)} unfinished")
    return problems


def _listened(turn: list[dict]) -> bool:
    actions = [e.get("name") for e in turn if e.get("event") == "action"]
    return bool(actions) and actions[-1] == "action_listen"


def at_once(calls: list[tuple[str, str, str]]) -> list[list[dict]]:
    """Send (url, sender, text) messages at the same instant; the replies, in order."""
    barrier = threading.Barrier(len(calls))
    replies: list[list[dict] | BaseException] = [[] for _ in calls]

    def send(index: int, url: str, sender: str, text: str) -> None:
        barrier.wait(timeout=30)
        try:
            replies[index] = say(url, sender, text)
        except BaseException as exc:  # re-raised below, in the test's thread
            replies[index] = exc

    threads = [threading.Thread(target=send, args=(i, *c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    for reply in replies:
        if isinstance(reply, BaseException):
            raise reply
    return replies  # type: ignore[return-value]


def lost_messages(scale_out: ScaleOut, urls: tuple[str, str], pairs: int) -> list[str]:
    """Send ``pairs`` pairs of messages of one conversation at the same instant to
    ``urls``; returns what went missing from the tracker store."""
    problems = []
    for i in range(pairs):
        sender = f"together-{uuid.uuid4().hex[:8]}"
        say(urls[0], sender, "ciao")
        sent = [KB_QUESTIONS[i % 2], KB_QUESTIONS[2 + i % 2]]
        replies = at_once([(urls[0], sender, sent[0]), (urls[1], sender, sent[1])])
        assert all(replies), f"a message got no reply: {replies}"
        events = scale_out.postgres.events(sender)
        stored = user_texts(events)[1:]
        if sorted(stored) != sorted(sent):
            problems.append(f"pair {i}: sent {sent}, stored {stored}")
        problems += [f"pair {i}: {p}" for p in broken_turns(events)]
    return problems


def test_one_conversation_goes_on_across_both_servers(scale_out: ScaleOut, tmp_path: Path) -> None:
    first, second = scale_out.rasa
    db = open_db(scale_out.settings.db_path)
    customer = f"scale-{uuid.uuid4().hex[:8]}"
    shipping = get_article(db, "spedizione-costi", "it")
    assert shipping is not None

    with scale_out.redis.monitoring(tmp_path / "monitor.log") as monitor:
        # Server 1 answers from the knowledge base...
        assert shipping.answer in texts(say(first.rasa_url, customer, SHIPPING_Q))
        # ...and server 2 knows it: the language and the article are in its tracker.
        seen = slots(second, customer)
        assert (seen["language"], seen["kb_article_id"]) == ("it", "spedizione-costi")

        # Server 2 hands the conversation over: one ticket, in Italian.
        handed_over = texts(say(second.rasa_url, customer, "voglio parlare con un operatore"))
        tickets = [t for t in list_tickets(db) if t.conversation_id == customer]
        assert [(t.status, t.lang, t.reason) for t in tickets] == [
            ("open", "it", REASON_ASKED_FOR_HUMAN)
        ]
        assert "operatore" in handed_over

        # Server 1 sees the hand-over: silent, and the message goes to the ticket.
        assert say(first.rasa_url, customer, "ciao, ci siete?") == []
        assert slots(first, customer)["handoff_active"] is True
        assert [m.text for m in ticket_messages(db, tickets[0].id)][-1] == "ciao, ci siete?"

        # The operator answers; server 2 delivers it with the customer's next message.
        operator = "Buongiorno, sono Anna: la spedizione per lei è gratuita."
        answer_ticket(db, tickets[0].id, "anna", operator)
        assert operator in texts(say(second.rasa_url, customer, "grazie, attendo"))

    # Every turn is in PostgreSQL, once, in order, each one whole.
    events = scale_out.postgres.events(customer)
    assert user_texts(events) == [
        SHIPPING_Q,
        "voglio parlare con un operatore",
        "ciao, ci siete?",
        "grazie, attendo",
    ]
    assert broken_turns(events) == []
    # Both servers took the conversation's lock in Redis for each message and let it go.
    writes = lock_writes(monitor.read_text(encoding="utf-8", errors="replace"), customer)
    assert sum(1 for command, _ in writes if command == "set") >= 4, writes
    assert sum(1 for command, _ in writes if command == "del") >= 4, writes
    assert scale_out.redis.cli("-n", "1", "EXISTS", LOCK_KEY + customer) == "0"
    # And nothing went to the single-machine SQLite tracker store.
    assert not scale_out.settings.tracker_db_path.exists()
    assert not any(Path(s.tracker_db_path).exists() for s in scale_out.rasa)


def test_the_customer_log_export_and_erasure_read_postgresql(
    scale_out: ScaleOut, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With SPORTELLO_TRACKER_URL naming the servers' PostgreSQL, the monitor logs the
    turns (behind its safe horizon), export includes them and erasure deletes the
    conversation's events from PostgreSQL."""
    first, second = scale_out.rasa_urls
    tag = uuid.uuid4().hex[:8]
    customer, other = f"log-{tag}", f"other-{tag}"
    say(first, customer, SHIPPING_Q)
    say(second, customer, KB_QUESTIONS[3])
    say(second, other, KB_QUESTIONS[2])
    stored = len(scale_out.postgres.events(customer))

    url = scale_out.postgres.url
    monkeypatch.setenv("SPORTELLO_DATA_DIR", str(scale_out.settings.data_dir))
    monkeypatch.setenv("SPORTELLO_TRACKER_URL", url)
    get_settings.cache_clear()
    try:
        settings = get_settings()
        assert settings.tracker_store == url
        db = open_db(settings.db_path)
        # The monitor's passes: the first only sets the horizon's fence...
        assert run_once(db, SlaPolicy(), settings, utc_now()).logged == 0
        assert turns.conversation_turns(db, customer) == []
        # ...a pass after the horizon logs everything committed before the first.
        time.sleep(POSTGRES_HORIZON_S + 0.5)
        assert run_once(db, SlaPolicy(), settings, utc_now()).logged >= 3
        logged = turns.conversation_turns(db, customer)
        assert [(t["text"], t["decision"], t["article_id"]) for t in logged] == [
            (SHIPPING_Q, schema.DECISION_ANSWERED, "spedizione-costi"),
            (KB_QUESTIONS[3], schema.DECISION_ANSWERED, "pagamento-metodi"),
        ]

        exported = customers.export(db, customer)
        assert [t["text"] for t in exported["turns"]] == [SHIPPING_Q, KB_QUESTIONS[3]]
        assert len(exported["tracker_events"]) == stored > 0
        assert {e["conversation_id"] for e in exported["tracker_events"]} == {customer}

        left = customers.erase(db, customer)
        assert not any(left.values()), left
        assert scale_out.postgres.events(customer) == []
        assert scale_out.postgres.events(other) != [], "only the customer's events go"
        assert turns.conversation_turns(db, other) != []
    finally:
        get_settings.cache_clear()


def test_a_message_arriving_while_the_other_server_works_waits_its_turn(
    scale_out: ScaleOut, tmp_path: Path
) -> None:
    """The second server queues behind the first (two tickets in the Redis lock) and
    the turns are stored one after the other.

    A turn takes a few tens of milliseconds, too short to land a second message inside
    it by timing alone; so the action server is paused (SIGSTOP) while server 1 holds
    the lock and waits for it, server 2 gets its message, and only once server 2's
    ticket is in the lock does the action server carry on.
    """
    first, second = scale_out.rasa_urls
    action = scale_out.service("action server").process
    assert action is not None
    customer = f"overlap-{uuid.uuid4().hex[:8]}"
    say(first, customer, "ciao")
    replies: dict[str, list[dict]] = {}
    log = tmp_path / "monitor.log"

    def send(url: str, text: str) -> None:
        replies[text] = say(url, customer, text)

    def tickets_held() -> int:
        writes = lock_writes(log.read_text(encoding="utf-8", errors="replace"), customer)
        return max((n for _, n in writes), default=0)

    def wait_for(condition: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + 20
        while not condition():
            assert time.monotonic() < deadline, f"timed out waiting until {what}"
            time.sleep(0.01)

    workers = [
        threading.Thread(target=send, args=(first, KB_QUESTIONS[0])),
        threading.Thread(target=send, args=(second, KB_QUESTIONS[2])),
    ]
    with scale_out.redis.monitoring(log):
        os.killpg(action.pid, signal.SIGSTOP)
        try:
            workers[0].start()
            wait_for(lambda: tickets_held() >= 1, "server 1 holds the lock")
            workers[1].start()
            wait_for(lambda: tickets_held() >= 2, "server 2 queues behind server 1")
            assert KB_QUESTIONS[2] not in replies, "server 2 answered while server 1 held the lock"
        finally:
            os.killpg(action.pid, signal.SIGCONT)
        for worker in workers:
            worker.join(timeout=60)
    assert all(replies.get(q) for q in (KB_QUESTIONS[0], KB_QUESTIONS[2])), replies
    events = scale_out.postgres.events(customer)
    assert user_texts(events) == ["ciao", KB_QUESTIONS[0], KB_QUESTIONS[2]]
    assert broken_turns(events) == []
    assert scale_out.redis.cli("-n", "1", "EXISTS", LOCK_KEY + customer) == "0"


def test_simultaneous_messages_on_one_server_lose_nothing(scale_out: ScaleOut) -> None:
    """What sticky routing (one conversation, one server) guarantees with Rasa's
    Redis lock store: messages that arrive together are processed one by one."""
    first = scale_out.rasa_urls[0]
    assert lost_messages(scale_out, (first, first), ONE_SERVER_PAIRS) == []


@pytest.mark.xfail(
    LOCK_STORE == "redis",
    reason="RasaHQ/rasa#9213: Rasa 3.6's RedisLockStore issues tickets by a non-atomic "
    "read-change-write, so two servers can both take the lock; measured here, 7 of 60 "
    "simultaneous pairs lost a message (docs/scaling.md)",
    strict=False,
)
def test_simultaneous_messages_on_two_servers_lose_nothing(scale_out: ScaleOut) -> None:
    first, second = scale_out.rasa_urls
    assert lost_messages(scale_out, (first, second), TWO_SERVER_PAIRS) == []


# ---- the set-up's own logic (no servers) ------------------------------------------------------
def test_missing_programs_skip_the_smoke_test_or_fail_it_when_required(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # nothing on the PATH
    missing = missing_binaries()
    assert "redis-server not found (Debian: apt-get install redis-server)" in missing
    monkeypatch.delenv(REQUIRE_ENV, raising=False)
    with pytest.raises(pytest.skip.Exception, match="redis-server not found"):
        require_scale_out()
    monkeypatch.setenv(REQUIRE_ENV, "1")
    with pytest.raises(pytest.fail.Exception, match="redis-server not found"):
        require_scale_out()


def test_lock_writes_are_read_from_redis_monitor_output() -> None:
    key = LOCK_KEY + "abc"
    two_tickets = (
        r'"{\"conversation_id\": \"abc\", \"tickets\": [\"{\\\"number\\\": 0, '
        r'\\\"expires\\\": 1.5}\", \"{\\\"number\\\": 1, \\\"expires\\\": 2.5}\"]}"'
    )
    log = "\n".join(
        [
            '1795422117.580 [1 127.0.0.1:50242] "SELECT" "1"',
            f'1795422117.581 [1 127.0.0.1:50242] "GET" "{key}"',
            f'1795422117.582 [1 127.0.0.1:50242] "SET" "{key}" {two_tickets}',
            f'1795422117.583 [1 127.0.0.1:50248] "set" "{key}x" {two_tickets}',  # other id
            f'1795422117.587 [1 127.0.0.1:50248] "DEL" "{key}"',
        ]
    )
    assert lock_writes(log, "abc") == [("set", 2), ("del", 0)]


def test_commandstats_give_calls_per_command() -> None:
    info = (
        "# Commandstats\r\n"
        "cmdstat_set:calls=12,usec=80,usec_per_call=6.67,rejected_calls=0,failed_calls=0\r\n"
        "cmdstat_get:calls=30,usec=60,usec_per_call=2.00,rejected_calls=0,failed_calls=0\r\n"
    )
    assert parse_commandstats(info) == {"set": 12, "get": 30}
