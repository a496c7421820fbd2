"""Customer conversations for the speed benchmark, and the load generator that sends them.

A conversation is what a real customer of the demo shop does in a few turns: greet, ask
a question the knowledge base covers (phrasings taken from the demo articles in
``knowledge/demo/articles.jsonl``, never from the evaluation questions), ask something
the shop never wrote about, ask a second covered question, and thank the bot. The
order matters for the bot: one unknown question between two answered ones never
triggers the automatic hand-over (two abstentions in a row would), and after a
hand-over the bot is silent on purpose, which this benchmark would count as an error.

Two ways to drive the REST channel, both bounded in time and count, loopback only:

- **closed loop**: ``concurrency`` customers, each starting its next conversation as
  soon as the previous one ends (no think time): the highest rate the stack sustains;
- **open loop**: conversations arrive at random (Poisson) so that customers send
  ``rate`` turns per second on average whatever the stack's speed, each customer
  thinking ``think_s`` between turns: the latency a given traffic meets.

A turn is an error when the HTTP status is not 200, the request fails or times out, or
the bot says nothing (an empty list of messages).
"""

from __future__ import annotations

import asyncio
import json
import math
import random
import time
import uuid
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from sportello.heap import freeze_startup_objects

LANGS = ("it", "en")
GREETINGS = {
    "it": ["ciao", "buongiorno", "salve, buongiorno", "ciao, ho una domanda", "buonasera"],
    "en": ["hi", "hello", "good morning", "hi there", "hello, anyone there?"],
}
THANKS = {
    "it": ["grazie", "grazie mille", "perfetto grazie", "ok grazie", "ti ringrazio"],
    "en": ["thanks", "thank you", "thanks a lot", "great, thanks", "many thanks"],
}
# Questions a coffee shop's knowledge base does not cover: the bot must say so politely.
UNKNOWN = {
    "it": [
        "avete un programma di affiliazione per blogger?",
        "posso portare il mio cane nel vostro negozio di Bologna?",
        "organizzate corsi per diventare baristi?",
        "vendete anche macchine da caffè usate?",
        "avete posizioni di lavoro aperte?",
        "fate catering per matrimoni?",
    ],
    "en": [
        "do you have an affiliate programme for bloggers?",
        "can I bring my dog into your Bologna shop?",
        "do you run barista training courses?",
        "do you sell second-hand coffee machines?",
        "are you hiring at the moment?",
        "do you do catering for weddings?",
    ],
}
# The order of a conversation's turns (see the module docstring for why).
SCRIPT = ("greet", "kb", "unknown", "kb", "thanks")
TURN_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class Turn:
    kind: str  # greet | kb | unknown | thanks
    lang: str
    text: str


@dataclass
class TurnResult:
    kind: str
    latency_s: float
    ok: bool
    started: float  # monotonic time the request was sent


@dataclass
class Run:
    """Every turn of one load run; ``started`` is the monotonic time of the first send."""

    results: list[TurnResult]
    started: float
    wall_s: float


@dataclass
class Summary:
    """Latency percentiles in milliseconds and throughput in turns per second."""

    turns: int
    errors: int
    wall_s: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    throughput: float
    by_kind: dict[str, float] = field(default_factory=dict)  # kind -> p50 ms

    def to_json(self) -> dict:
        return self.__dict__.copy()


# ---- numbers --------------------------------------------------------------------------------
def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100) with linear interpolation between ranks (numpy's default).

    NaN for no values, so an empty run cannot pass for a fast one.
    """
    if not 0 <= q <= 100:
        raise ValueError(f"percentile out of range: {q}")
    ordered = sorted(values)
    if not ordered:
        return math.nan
    position = (len(ordered) - 1) * q / 100
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def summarise(results: Sequence[TurnResult], wall_s: float) -> Summary:
    """Percentiles over every sent turn (errors included: a slow failure is still slow).

    Throughput is successful turns per second of ``wall_s``. For the open loop pass the
    arrival period: every conversation that arrived in it is counted whole, so the tail
    of conversations finishing after the arrivals stopped does not dilute the rate (and
    the latency columns say whether the stack kept up).
    """
    latencies = [r.latency_s * 1000 for r in results]
    by_kind: dict[str, list[float]] = defaultdict(list)
    for r in results:
        by_kind[r.kind].append(r.latency_s * 1000)
    return Summary(
        turns=len(results),
        errors=sum(1 for r in results if not r.ok),
        wall_s=wall_s,
        p50_ms=percentile(latencies, 50),
        p95_ms=percentile(latencies, 95),
        p99_ms=percentile(latencies, 99),
        throughput=sum(1 for r in results if r.ok) / wall_s if wall_s > 0 else math.nan,
        by_kind={kind: percentile(values, 50) for kind, values in sorted(by_kind.items())},
    )


# ---- scenarios ------------------------------------------------------------------------------
def article_phrasings(path: Path) -> dict[str, list[str]]:
    """Every question and alternative phrasing of the demo articles, per language."""
    out: dict[str, list[str]] = defaultdict(list)
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                row = json.loads(line)
                out[row["lang"]] += [row["question"], *(row.get("alt_questions") or [])]
    return dict(out)


def build_pools(kb_phrasings: dict[str, list[str]]) -> dict[str, dict[str, list[str]]]:
    """Texts per language and turn kind, the knowledge-base ones supplied by the caller."""
    return {
        lang: {
            "greet": GREETINGS[lang],
            "kb": list(kb_phrasings.get(lang, [])),
            "unknown": UNKNOWN[lang],
            "thanks": THANKS[lang],
        }
        for lang in LANGS
    }


def conversations(
    pools: dict[str, dict[str, list[str]]], seed: int, script: Sequence[str] = SCRIPT
) -> Iterator[list[Turn]]:
    """An endless, reproducible stream of conversations, half Italian, half English.

    The two knowledge-base questions of one conversation are different phrasings.
    """
    rng = random.Random(seed)
    langs = [lang for lang in LANGS if all(pools[lang][kind] for kind in script)]
    if not langs:
        raise ValueError("no language has texts for every turn of the script")
    while True:
        lang = rng.choice(langs)
        picked: dict[str, list[str]] = {
            kind: rng.sample(pools[lang][kind], min(script.count(kind), len(pools[lang][kind])))
            for kind in set(script)
        }
        used: dict[str, int] = defaultdict(int)
        turns = []
        for kind in script:
            options = picked[kind]
            turns.append(Turn(kind, lang, options[used[kind] % len(options)]))
            used[kind] += 1
        yield turns


# ---- sending --------------------------------------------------------------------------------
def rest_url(rasa_url: str) -> str:
    return f"{rasa_url}/webhooks/rest/webhook"


async def send_turn(client: httpx.AsyncClient, url: str, sender: str, turn: Turn) -> TurnResult:
    """One customer message; ok only for a 200 with at least one bot message."""
    started = time.monotonic()
    try:
        reply = await client.post(
            url, json={"sender": sender, "message": turn.text}, timeout=TURN_TIMEOUT_S
        )
        ok = reply.status_code == 200 and bool(reply.json())
    except (httpx.HTTPError, ValueError):
        ok = False
    return TurnResult(turn.kind, time.monotonic() - started, ok, started)


async def _conversation(
    client: httpx.AsyncClient, url: str, turns: Iterable[Turn], think_s: float = 0.0
) -> list[TurnResult]:
    sender = f"bench-{uuid.uuid4().hex[:12]}"
    results = []
    for i, turn in enumerate(turns):
        if i and think_s:
            await asyncio.sleep(think_s)
        results.append(await send_turn(client, url, sender, turn))
    return results


def _client(connections: int) -> httpx.AsyncClient:
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    return httpx.AsyncClient(limits=limits, trust_env=False)


async def closed_loop(
    rasa_url: str,
    stream: Iterator[list[Turn]],
    concurrency: int,
    duration_s: float,
    max_conversations: int,
) -> Run:
    """``concurrency`` customers back to back for ``duration_s`` (conversations in flight end)."""
    url = rest_url(rasa_url)
    freeze_startup_objects()  # the generator's own collector pauses would count as latency
    started = time.monotonic()
    deadline = started + duration_s
    budget = [max_conversations]
    results: list[TurnResult] = []

    async def customer() -> None:
        while time.monotonic() < deadline and budget[0] > 0:
            budget[0] -= 1
            results.extend(await _conversation(client, url, next(stream)))

    async with _client(concurrency) as client:
        await asyncio.gather(*(customer() for _ in range(concurrency)))
    return Run(results, started, time.monotonic() - started)


async def open_loop(
    rasa_url: str,
    stream: Iterator[list[Turn]],
    rate: float,
    duration_s: float,
    think_s: float,
    seed: int,
    max_in_flight: int = 256,
) -> Run:
    """Conversations arriving at random so that ``rate`` turns/s are offered on average.

    New conversations start for ``duration_s``; the ones in flight then finish. Turns
    that could not start because ``max_in_flight`` conversations were already open are
    not sent and count as errors (the stack fell behind the offered traffic).
    """
    url = rest_url(rasa_url)
    freeze_startup_objects()
    rng = random.Random(seed)
    conversation_rate = rate / len(SCRIPT)
    results: list[TurnResult] = []
    tasks: set[asyncio.Task] = set()
    started = time.monotonic()
    next_arrival = started

    def collect(task: asyncio.Task) -> None:
        tasks.discard(task)
        results.extend(task.result())

    async with _client(max_in_flight) as client:
        while next_arrival < started + duration_s:
            await asyncio.sleep(max(0.0, next_arrival - time.monotonic()))
            turns = next(stream)
            if len(tasks) >= max_in_flight:
                results += [TurnResult(t.kind, 0.0, False, time.monotonic()) for t in turns]
            else:
                task = asyncio.create_task(_conversation(client, url, turns, think_s))
                tasks.add(task)
                task.add_done_callback(collect)
            next_arrival += rng.expovariate(conversation_rate)
        while tasks:
            await asyncio.sleep(0.05)
    return Run(results, started, time.monotonic() - started)
