"""Soak: many concurrent conversations for minutes, then every message accounted for.

``python -m bench.soak`` starts the real stack on loopback (demo knowledge base), runs
``--conversations`` customers at once (default 50) for ``--seconds`` (default 600), each
going through conversation after conversation: a greeting, a knowledge-base question,
sometimes a 👍 on the answer, then either a request for a person (and one more message
for the operator) or thanks followed by the CSAT question's answer and a skipped NPS.

Afterwards the customer log is synchronised and everything the generator sent is looked
up: every message must be a logged turn of its conversation, every request for a person
a ticket, every message to the operator a line of that ticket, every 👍 and CSAT answer
a rating against the right target. The figures go to BENCHMARKS.md (section ``soak``);
``--quick`` (10 customers, 45 s) is what a CI run can afford.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from bench import load
from bench.sections import load_average, machine, write_section
from bench.speed import seed_demo
from bench.stacks import new_settings
from customerlog import schema, turns
from sportello.settings import PROJECT_ROOT
from stack.database import prepare
from stack.services import running_stack, train_model

BENCHMARKS = PROJECT_ROOT / "BENCHMARKS.md"
SECTION = "soak"
HUMAN = {"it": "voglio parlare con un operatore", "en": "I want to talk to a person"}
WAITING = {"it": "grazie, aspetto la risposta", "en": "thanks, I'll wait for the answer"}
THANKS = {"it": "grazie mille", "en": "thank you very much"}
SKIP = {"it": "salta", "en": "skip"}
ESCALATE_SHARE = 0.3
HELPFUL_SHARE = 0.5


@dataclass
class Ledger:
    """What the generator sent, to be found again in the databases afterwards."""

    messages: Counter[str] = field(default_factory=Counter)  # sender -> messages sent
    escalated: set[str] = field(default_factory=set)
    for_operator: dict[str, str] = field(default_factory=dict)  # sender -> text
    helpful: dict[str, str] = field(default_factory=dict)  # sender -> article id
    csat: set[str] = field(default_factory=set)
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    conversations: int = 0


def _buttons(messages: list[dict]) -> list[dict]:
    return [button for message in messages for button in message.get("buttons") or []]


async def _say(
    client: httpx.AsyncClient, url: str, ledger: Ledger, sender: str, text: str, silent_ok=False
) -> list[dict]:
    ledger.messages[sender] += 1
    started = time.monotonic()
    try:
        reply = await client.post(
            url, json={"sender": sender, "message": text}, timeout=load.TURN_TIMEOUT_S
        )
        body = reply.json() if reply.status_code == 200 else None
    except (httpx.HTTPError, ValueError):
        body = None
    ledger.latencies.append(time.monotonic() - started)
    if body is None or (not body and not silent_ok):
        ledger.errors += 1
        return []
    return body


async def _conversation(
    client: httpx.AsyncClient, url: str, ledger: Ledger, rng: random.Random, pools: dict
) -> None:
    lang = rng.choice(sorted(pools))
    sender = f"soak-{uuid.uuid4().hex[:12]}"
    ledger.conversations += 1
    await _say(client, url, ledger, sender, rng.choice(pools[lang]["greet"]))
    answer = await _say(client, url, ledger, sender, rng.choice(pools[lang]["kb"]))
    thumbs = [b for b in _buttons(answer) if b["payload"].startswith("/answer_helpful")]
    if not thumbs:
        return  # not answered (a phrasing Rasa hands over, or an abstention): next customer
    if rng.random() < HELPFUL_SHARE:
        payload = thumbs[0]["payload"]
        ledger.helpful[sender] = json.loads(payload[len("/answer_helpful") :])["article"]
        await _say(client, url, ledger, sender, payload)
    if rng.random() < ESCALATE_SHARE:
        ledger.escalated.add(sender)
        await _say(client, url, ledger, sender, HUMAN[lang])
        ledger.for_operator[sender] = f"{WAITING[lang]} ({sender[-6:]})"
        await _say(client, url, ledger, sender, ledger.for_operator[sender], silent_ok=True)
        return
    closing = await _say(client, url, ledger, sender, THANKS[lang])
    if any(b["payload"].startswith("/give_rating") for b in _buttons(closing)):
        ledger.csat.add(sender)
        after = await _say(client, url, ledger, sender, "4")
        if any(b["payload"].startswith("/give_rating") for b in _buttons(after)):
            await _say(client, url, ledger, sender, SKIP[lang])


async def drive(rasa_url: str, customers: int, seconds: float, pools: dict, seed: int) -> Ledger:
    """``customers`` concurrent customers, each starting conversations until time is up."""
    ledger = Ledger()
    url = load.rest_url(rasa_url)
    deadline = time.monotonic() + seconds

    async def customer(index: int) -> None:
        rng = random.Random(seed + index)
        while time.monotonic() < deadline:
            await _conversation(client, url, ledger, rng, pools)

    limits = httpx.Limits(max_connections=customers, max_keepalive_connections=customers)
    async with httpx.AsyncClient(limits=limits, trust_env=False) as client:
        await asyncio.gather(*(customer(i) for i in range(customers)))
    return ledger


def account(db_path: Path, tracker_path: Path, ledger: Ledger) -> dict[str, tuple[int, int]]:
    """(expected, found) per kind of thing the generator sent."""
    db = prepare(db_path)
    turns.sync(db, tracker_path)
    logged = Counter(
        dict(
            db.execute(
                f"SELECT conversation_id, COUNT(*) FROM {schema.TURNS} WHERE kind = ? "
                "AND conversation_id LIKE 'soak-%' GROUP BY conversation_id",
                [schema.KIND_CUSTOMER],
            ).fetchall()
        )
    )
    tickets = {row[0] for row in db.execute("SELECT conversation_id FROM tickets").fetchall()}
    operator_lines = {
        (row[0], row[1])
        for row in db.execute(
            "SELECT t.conversation_id, m.text FROM ticket_messages m "
            "JOIN tickets t ON t.id = m.ticket_id WHERE m.role = 'customer'"
        ).fetchall()
    }
    helpful = {
        (row[0], row[1])
        for row in db.execute(
            f"SELECT conversation_id, target_id FROM {schema.RATINGS} WHERE kind = ?",
            [schema.RATING_HELPFUL],
        ).fetchall()
    }
    csat = {
        row[0]
        for row in db.execute(
            f"SELECT conversation_id FROM {schema.RATINGS} WHERE kind = ?", [schema.RATING_CSAT]
        ).fetchall()
    }
    return {
        "messages logged as turns": (
            sum(ledger.messages.values()),
            sum(min(n, logged[s]) for s, n in ledger.messages.items()),
        ),
        "requests for a person → tickets": (len(ledger.escalated), len(ledger.escalated & tickets)),
        "messages for the operator → ticket lines": (
            len(ledger.for_operator),
            sum((s, text) in operator_lines for s, text in ledger.for_operator.items()),
        ),
        "👍 → helpful ratings on the right article": (
            len(ledger.helpful),
            sum((s, a) in helpful for s, a in ledger.helpful.items()),
        ),
        "CSAT answers → ratings": (len(ledger.csat), len(ledger.csat & csat)),
    }


def render(ledger: Ledger, found: dict, info: dict) -> str:
    """The BENCHMARKS.md section: load, latency and the accounting table."""
    summary = load.percentile
    lat = ledger.latencies
    lines = [
        "## Soak: nothing lost under load",
        "",
        f"Measured {info['when']} on {machine()}; load average {info['load_before']} before, "
        f"{info['load_after']} after (other work on the machine inflates latencies).",
        "",
        f"Command: `{info['command']}`",
        "",
        f"{info['customers']} customers at once for {info['seconds']:.0f} s through the REST "
        "channel of the real stack: greeting, a knowledge-base question, a 👍 on half of the "
        f"answers, then a request for a person ({ESCALATE_SHARE:.0%}) with one more message "
        "for the operator, or thanks, the CSAT answer and a skipped NPS. Afterwards the "
        "customer log is synchronised and everything sent is looked up.",
        "",
        "| conversations | messages | errors | p50 ms | p95 ms | p99 ms | messages/s |",
        "|---|---|---|---|---|---|---|",
        f"| {ledger.conversations} | {len(lat)} | {ledger.errors} | "
        f"{summary(lat, 50) * 1000:.0f} | {summary(lat, 95) * 1000:.0f} | "
        f"{summary(lat, 99) * 1000:.0f} | {len(lat) / info['seconds']:.1f} |",
        "",
        "| sent | expected | found | |",
        "|---|---|---|---|",
    ]
    for name, (expected, got) in found.items():
        lines.append(f"| {name} | {expected} | {got} | {'✅' if got == expected else '❌'} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Soak the real stack and account for everything")
    parser.add_argument("--quick", action="store_true", help="10 customers for 45 s")
    parser.add_argument("--customers", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=600)
    parser.add_argument("--seed", type=int, default=20261123)
    parser.add_argument("--no-write", action="store_true", help="do not touch BENCHMARKS.md")
    args = parser.parse_args(argv)
    customers, seconds = (10, 45.0) if args.quick else (args.customers, args.seconds)
    command = ".venv/bin/python -m bench.soak" + (" --quick" if args.quick else "")
    pools = load.build_pools(load.article_phrasings(PROJECT_ROOT / "knowledge/demo/articles.jsonl"))
    info = {
        "command": command,
        "customers": customers,
        "seconds": seconds,
        "load_before": load_average(),
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }
    model = train_model()
    with tempfile.TemporaryDirectory(prefix="sportello-soak-") as tmp:
        settings = new_settings(Path(tmp))
        seed_demo(settings)
        with running_stack(settings, model):
            print(f"soak: {customers} customers for {seconds:.0f} s", flush=True)
            ledger = asyncio.run(drive(settings.rasa_url, customers, seconds, pools, args.seed))
            found = account(settings.db_path, settings.tracker_db_path, ledger)
    info["load_after"] = load_average()
    text = render(ledger, found, info)
    print(text)
    if not args.no_write:
        write_section(BENCHMARKS, SECTION, text)
    lost = any(got != expected for expected, got in found.values())
    return 1 if lost or ledger.errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
