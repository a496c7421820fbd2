"""Measurements of one part of a running stack: start-up, NLU, the action server, freshness.

Each function takes the stack's settings and talks to it over loopback HTTP as Rasa or a
customer would, or (for the knowledge base alone) runs the same library in this
process against the stack's data directory. Times are in milliseconds unless named
``_s``.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from actions.handoff import SLOT_ARTICLE_ID
from bench.load import percentile
from sportello.keys import rasa_token
from sportello.settings import Settings
from stack.services import Service

RASA_VERSION = "3.6.21"


# ---- start-up -----------------------------------------------------------------------------
def health_urls(settings: Settings) -> dict[str, str]:
    """The URL that says each HTTP service is up (as stack.services checks them)."""
    base = f"http://{settings.host}"
    return {
        "action server": f"{base}:{settings.action_port}/health",
        "Rasa server": f"{base}:{settings.rasa_port}/",
        "chat page": f"{base}:{settings.web_port}/healthz",
        "operator console": f"{base}:{settings.console_port}/healthz",
    }


class StartWatch:
    """Polls every health URL from a thread and notes when each first answered 200.

    Started just before ``running_stack`` so that the per-service times come from the
    same clock as the whole stack's, without changing how the stack is started.
    """

    def __init__(self, settings: Settings, interval_s: float = 0.1) -> None:
        self.urls = health_urls(settings)
        self.interval_s = interval_s
        self.started = time.monotonic()
        self.ready_s: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="start-watch", daemon=True)

    def __enter__(self) -> StartWatch:
        self.started = time.monotonic()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        with httpx.Client(timeout=1, trust_env=False) as client:
            while not self._stop.is_set() and len(self.ready_s) < len(self.urls):
                for name, url in self.urls.items():
                    if name in self.ready_s:
                        continue
                    try:
                        if client.get(url).status_code == 200:
                            self.ready_s[name] = time.monotonic() - self.started
                    except httpx.HTTPError:
                        pass
                self._stop.wait(self.interval_s)


def first_answer_s(
    settings: Settings, question: str, expected: str, started: float, timeout_s: float = 180
) -> float:
    """Seconds from ``started`` until a fresh customer asking ``question`` gets ``expected``.

    Each try is a new conversation, so abstentions while the knowledge base is still
    loading never add up to a hand-over.
    """
    url = f"{settings.rasa_url}/webhooks/rest/webhook"
    deadline = time.monotonic() + timeout_s
    with httpx.Client(timeout=30, trust_env=False) as client:
        while time.monotonic() < deadline:
            sender = f"bench-probe-{uuid.uuid4().hex[:10]}"
            try:
                reply = client.post(url, json={"sender": sender, "message": question})
                if reply.status_code == 200 and expected in reply_texts(reply.json()):
                    return time.monotonic() - started
            except (httpx.HTTPError, ValueError):
                pass
            time.sleep(0.05)
    raise TimeoutError(f"no answer containing {expected!r} after {timeout_s:.0f} s")


def reply_texts(messages: list[dict]) -> str:
    """The texts of a REST channel reply's messages, one per line (none for an image)."""
    return "\n".join(m.get("text") or "" for m in messages)


def resident_mb(services: list[Service]) -> dict[str, float]:
    """Resident memory of each service with its worker processes (its process group), MiB."""
    groups = {s.process.pid: s.name for s in services if s.process is not None}
    totals = dict.fromkeys(groups.values(), 0.0)
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            stat = (proc / "stat").read_text()
            pgrp = int(stat.rsplit(")", 1)[1].split()[2])
            if pgrp not in groups:
                continue
            for line in (proc / "status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    totals[groups[pgrp]] += int(line.split()[1]) / 1024
        except (OSError, ValueError, IndexError):
            continue
    return totals


def cpu_s(services: list[Service]) -> dict[str, float]:
    """CPU seconds (user + system) used so far by each service's live processes (its
    process group), with their children that have ended. Unlike latency, CPU per turn
    moves little when other work shares the machine: the figure to compare two versions
    of a server on a busy host."""
    groups = {s.process.pid: s.name for s in services if s.process is not None}
    ticks = dict.fromkeys(groups.values(), 0)
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            # After the command name: state(0) ppid(1) pgrp(2) ... utime(11) stime(12),
            # then cutime(13) cstime(14): its children that ended and were waited for.
            fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
            if int(fields[2]) in groups:
                ticks[groups[int(fields[2])]] += sum(int(f) for f in fields[11:15])
        except (OSError, ValueError, IndexError):
            continue
    hertz = os.sysconf("SC_CLK_TCK")
    return {name: count / hertz for name, count in ticks.items()}


# ---- where a turn's time goes ---------------------------------------------------------------
@dataclass
class Timings:
    """Medians and 95th percentiles of one probe, in milliseconds."""

    count: int
    p50_ms: float
    p95_ms: float

    @classmethod
    def of(cls, values_ms: list[float]) -> Timings:
        return cls(len(values_ms), percentile(values_ms, 50), percentile(values_ms, 95))


@dataclass
class Parsed:
    text: str
    intent: str
    ms: float


def parse_all(settings: Settings, texts: list[str]) -> list[Parsed]:
    """Rasa's NLU alone (``/model/parse``) for each text: the intent and the time it took."""
    url = f"{settings.rasa_url}/model/parse"
    out = []
    with httpx.Client(timeout=30, trust_env=False) as client:
        for text in texts:
            started = time.perf_counter()
            reply = client.post(url, params={"token": rasa_token(settings)}, json={"text": text})
            elapsed = (time.perf_counter() - started) * 1000
            reply.raise_for_status()
            out.append(Parsed(text, (reply.json().get("intent") or {}).get("name") or "", elapsed))
    return out


def action_webhook(
    settings: Settings, question: str, repeats: int, follow_up: bool = False
) -> Timings:
    """The action server alone answering ``question`` with ``action_answer_from_kb``.

    The request is the one Rasa sends: the real tracker (a conversation that has just
    asked the question) and the real domain, fetched from Rasa's API, posted
    ``repeats`` times to the action server's webhook. The tracker fetched after the turn
    names the article just answered, which makes a short question a follow-up (searched
    twice: knowledge.followup); unless ``follow_up``, that slot is emptied, as when a
    conversation's first question arrives.
    """
    api = settings.rasa_url
    token = {"token": rasa_token(settings)}
    sender = f"bench-webhook-{uuid.uuid4().hex[:10]}"
    with httpx.Client(timeout=30, trust_env=False) as client:
        client.post(
            f"{api}/webhooks/rest/webhook", json={"sender": sender, "message": question}
        ).raise_for_status()
        tracker = client.get(f"{api}/conversations/{sender}/tracker", params=token)
        domain = client.get(f"{api}/domain", params=token, headers={"Accept": "application/json"})
        tracker_json = tracker.raise_for_status().json()
        if not follow_up:
            tracker_json["slots"][SLOT_ARTICLE_ID] = None
        payload = {
            "next_action": "action_answer_from_kb",
            "sender_id": sender,
            "tracker": tracker_json,
            "domain": domain.raise_for_status().json(),
            "version": RASA_VERSION,
        }
        times = []
        for _ in range(repeats):
            started = time.perf_counter()
            reply = client.post(settings.action_url, json=payload)
            times.append((time.perf_counter() - started) * 1000)
            reply.raise_for_status()
    return Timings.of(times)


@dataclass
class KbProbe:
    """The knowledge base searched in this process, as the action server does."""

    timings: Timings
    answered: dict[str, bool] = field(default_factory=dict)  # text -> not abstained


def kb_search(settings: Settings, texts: list[tuple[str, str]]) -> KbProbe:
    """``get_searcher().search`` alone for each (text, lang), one at a time, one thread.

    Points this process's settings at the stack's data directory first; the searcher
    reads the index the action server wrote (it writes nothing when nothing changed).
    """
    from sportello.settings import get_settings
    from stack.services import app_env

    os.environ.update(app_env(settings))
    get_settings.cache_clear()
    import torch

    torch.set_num_threads(1)
    from knowledge.search import get_searcher

    searcher = get_searcher()
    searcher.warm_up()
    searcher.wait_for_classifier()
    times, answered = [], {}
    for text, lang in texts:
        started = time.perf_counter()
        result = searcher.search(text, lang)
        times.append((time.perf_counter() - started) * 1000)
        answered[text] = not result.abstain
    return KbProbe(Timings.of(times), answered)


# ---- from an approved article to its first answer ---------------------------------------------
@dataclass(frozen=True)
class FreshArticle:
    """A new article and a customer's paraphrase of it; ``marker`` is only in its answer."""

    id: str
    lang: str
    question: str
    alt_questions: tuple[str, ...]
    answer: str
    paraphrase: str
    marker: str


FRESH_ARTICLES = (
    FreshArticle(
        "bench-tazzine-porcellana", "it", "Vendete tazzine da espresso in porcellana?",
        ("avete tazzine per il caffè?", "set di tazzine da espresso"),
        "Sì: il set di sei tazzine in porcellana di Deruta costa 36 € (codice TZ-DERUTA).",
        "avete in vendita delle tazzine in porcellana per l'espresso?", "TZ-DERUTA",
    ),
    FreshArticle(
        "bench-coffee-tasting", "en", "Do you hold coffee tasting events?",
        ("are there cupping sessions at the shop?", "coffee tasting evenings"),
        "Yes: a tasting evening is held at the Bologna shop on the first Thursday of every"
        " month (booking code CUP-01).",
        "is there a coffee tasting I can book?", "CUP-01",
    ),
    FreshArticle(
        "bench-latte-avena", "it", "Vendete latte vegetale per il cappuccino?",
        ("avete latte di avena?", "latte vegetale da montare"),
        "Sì: il latte di avena da barista è in vendita a 2,90 € al litro (codice LV-AVENA).",
        "avete del latte di avena per fare il cappuccino?", "LV-AVENA",
    ),
    FreshArticle(
        "bench-mobile-app", "en", "Is there a Caffè Aurora app for iPhone and Android?",
        ("do you have a mobile app?", "can I order from my phone with an app?"),
        "Yes: search for AURORA-APP in the App Store or on Google Play.",
        "is there an app I can download on my phone?", "AURORA-APP",
    ),
    FreshArticle(
        "bench-parcheggio", "it", "C'è un parcheggio vicino al negozio di Bologna?",
        ("dove posso parcheggiare?", "c'è posto per l'auto vicino al negozio?"),
        "Il parcheggio convenzionato PK-MAZZINI è a 100 metri dal negozio: un'ora gratis.",
        "c'è un parcheggio vicino al vostro negozio?", "PK-MAZZINI",
    ),
)  # fmt: skip


def article_to_answer_s(settings: Settings, fresh: FreshArticle, timeout_s: float = 60) -> float:
    """Seconds from publishing ``fresh`` (as the console does) to a customer getting it.

    The paraphrase is asked again and again, each time by a new customer, until the
    reply contains the article's marker.
    """
    from knowledge.store import Article, upsert_article
    from stack.database import prepare

    article = Article(
        id=fresh.id,
        lang=fresh.lang,
        question=fresh.question,
        answer=fresh.answer,
        alt_questions=list(fresh.alt_questions),
        source="bench.speed",
        status="published",
    )
    db = prepare(settings.db_path)
    started = time.monotonic()
    upsert_article(db, article)
    db.conn.close()
    return first_answer_s(settings, fresh.paraphrase, fresh.marker, started, timeout_s)
