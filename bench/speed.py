"""Speed and scale of the whole assistant, measured by one command.

Run ``.venv/bin/python -m bench.speed`` (15-19 minutes on 2 cores, plus Rasa's
check that the model is up to date; ``--model PATH`` skips it) or ``--quick``
(about 3 minutes, what CI can afford: shorter runs, no 1M-vector index, one cold
start). It starts the real stack (Rasa server, action server, chat page, console,
SLA monitor) through :func:`stack.services.running_stack` on free loopback ports
with a temporary data directory holding the demo knowledge base, and measures:

1. cold start: seconds from launching the processes to every health URL answering,
   to Rasa's model being loaded, and to the first knowledge-base answer;
2. where a turn's time goes: Rasa's NLU alone (``/model/parse``), the action server
   alone (its webhook, with the request Rasa sends), the knowledge-base search alone
   (in this process), and whole REST turns per kind of turn;
3. turn latency (p50/p95/p99) and throughput with 1, 4, 8 and 16 customers back to back
   (closed loop) and at 5, 10, 20, 40 and 60 turns/s offered (open loop), errors counted;
4. seconds from publishing an article to a customer's paraphrase getting it;
4b. one customer on the FAQ a company imports as it is (the demo cut to each article's
   first question and answer), asking the demo customers' own questions: a plain FAQ's
   search also asks multilingual-e5-small, so its turns cost more (issue 17's target);
5. the same closed-loop load on a stock ``rasa init`` bot with a trivial custom action,
   on the same machine right after (:mod:`bench.baseline`; not in ``--quick``): the ratio
   carries from one host to another where absolute figures do not;
6. vector search latency, memory and recall at 10k-1M synthetic vectors
   (:mod:`bench.scale`).

The results replace the speed section of BENCHMARKS.md (between the ``speed`` markers;
the other sections are left alone). Everything listens on 127.0.0.1 only and every
process started is stopped at the end. Absolute times depend on how busy the machine
is; the load average at start and end is printed with the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench import baseline, load, probes, scale
from bench.sections import load_average, run_info, write_section
from bench.stacks import new_settings, seeded_stack
from sportello.settings import PROJECT_ROOT, Settings
from stack.services import app_env, running_stack, train_model

BENCHMARKS = PROJECT_ROOT / "BENCHMARKS.md"
SECTION = "speed"
DEMO_ARTICLES = PROJECT_ROOT / "knowledge" / "demo" / "articles.jsonl"
SEED = 20261123
# Intents after which this benchmark's script would hand the conversation over (and the
# bot would then rightly stay silent): knowledge-base phrasings Rasa reads this way are
# left out of the conversations.
HANDOFF_INTENTS = {"ask_human", "personal_case", "reject_answer", "affirm", "deny"}
# The question and the words of its answer used to tell that the stack answers.
PROBE_QUESTION = ("How much does shipping cost?", "€5.90")
# The same for the plain FAQ: its article's own first question.
PLAIN_PROBE = ("Quanto costa la spedizione?", "5,90 €")

# Issue 6's targets on this 2-core machine.
TARGET_ONE_P50_MS = 40
TARGET_ONE_P95_MS = 80
TARGET_THROUGHPUT = 60
TARGET_LOADED_P95_MS = 250
TARGET_FRESH_S = 1.0
FRESH_TIMEOUT_S = 20
TARGET_SEARCH_P95_MS = 10
TARGET_SEARCH_MB = 2048
# Not in issue 6's wording, but an approximate index that loses more than one right
# neighbour in ten is a different search, not a faster one: it must not count as met.
TARGET_SEARCH_RECALL = 0.9
# Issue 6's measurement of a stock `rasa init` bot on the machine it was written on.
ISSUE_STOCK_TURNS_S = 27


@dataclass(frozen=True)
class Plan:
    """How long and how many: the quick plan is what CI affords."""

    quick: bool
    closed: tuple[int, ...] = (1, 4, 8, 16)
    # Up to issue 6's 60 turns/s: whether the stack keeps up shows in the latency.
    open_rates: tuple[float, ...] = (5.0, 10.0, 20.0, 40.0, 60.0)
    run_s: float = 30.0
    think_s: float = 1.0
    cold_starts: int = 2
    fresh_articles: int = 5
    kb_phrasings_per_lang: int = 400
    profile_repeats: int = 60
    # Closed-loop runs of the stock Rasa bot (bench.baseline); none in the quick plan.
    stock_closed: tuple[int, ...] = (1, 16)

    @classmethod
    def for_mode(cls, quick: bool) -> Plan:
        if quick:
            return cls(
                quick=True, run_s=6.0, cold_starts=1, fresh_articles=3,
                kb_phrasings_per_lang=60, profile_repeats=25, stock_closed=(),
            )  # fmt: skip
        return cls(quick=False)


@dataclass
class StackResults:
    cold_start: dict = field(default_factory=dict)
    profile: dict = field(default_factory=dict)
    closed: dict[int, load.Summary] = field(default_factory=dict)
    open: dict[float, load.Summary] = field(default_factory=dict)
    fresh_s: list[float] = field(default_factory=list)
    fresh_missed: list[str] = field(default_factory=list)
    memory_mb: dict[str, float] = field(default_factory=dict)
    # closed-loop concurrency -> service -> CPU milliseconds per answered turn
    cpu_ms: dict[int, dict[str, float]] = field(default_factory=dict)
    screened: dict = field(default_factory=dict)
    stock: dict[int, load.Summary] = field(default_factory=dict)  # bench.baseline's runs
    # One customer on the demo cut to a plain FAQ (plain_faq): its closed loop, the search
    # alone and how many customer questions were used.
    plain_one: load.Summary | None = None
    plain_search: probes.Timings | None = None
    plain_screened: dict = field(default_factory=dict)


# ---- the stack ------------------------------------------------------------------------------
def seed_demo(settings: Settings) -> None:
    subprocess.run(
        [sys.executable, "-m", "cli", "kb", "seed-demo"],
        cwd=PROJECT_ROOT,
        env={**os.environ, **app_env(settings)},
        check=True,
        capture_output=True,
    )


def timed_start(settings: Settings, model: Path, body=None) -> tuple[dict, object]:
    """Start the stack, time its readiness, run ``body(settings, services)`` inside it."""
    seed_demo(settings)
    with probes.StartWatch(settings) as watch, running_stack(settings, model) as services:
        ready_s = time.monotonic() - watch.started
        question, expected = PROBE_QUESTION
        answer_s = probes.first_answer_s(settings, question, expected, watch.started)
        timing = {
            "services_s": dict(watch.ready_s),
            "all_ready_s": ready_s,
            "first_answer_s": answer_s,
        }
        print(f"  cold start: ready {ready_s:.1f} s, first answer {answer_s:.1f} s", flush=True)
        outcome = body(settings, services) if body is not None else None
    return timing, outcome


def screen_kb_phrasings(settings: Settings, plan: Plan, results: StackResults) -> dict:
    """Demo phrasings the bot sends to the knowledge base and the knowledge base answers.

    Also gives the NLU and search timings of the profile, as a side effect of asking.
    """
    from actions.wording import looks_like_personal_case

    phrasings = load.article_phrasings(DEMO_ARTICLES)
    sample: dict[str, list[str]] = {}
    for lang, texts in phrasings.items():
        texts = [t for t in texts if not looks_like_personal_case(t)]
        rng = random.Random(f"{SEED}-{lang}")
        sample[lang] = rng.sample(texts, min(plan.kb_phrasings_per_lang, len(texts)))
    kept, parse_timings, search_timings = screen(settings, sample)
    results.profile["nlu_parse"] = parse_timings
    results.profile["kb_search"] = search_timings
    results.screened = {
        "sampled": sum(len(v) for v in sample.values()),
        "kept": sum(len(v) for v in kept.values()),
    }
    return kept


def screen(
    settings: Settings, sample: dict[str, list[str]]
) -> tuple[dict[str, list[str]], probes.Timings, probes.Timings]:
    """The texts (per language) Rasa sends to the knowledge base and that it answers, with
    the NLU's and the search's own timings over every text."""
    every = [(text, lang) for lang, texts in sample.items() for text in texts]
    parsed = {p.text: p for p in probes.parse_all(settings, [t for t, _ in every])}
    kb = probes.kb_search(settings, every)
    kept = {
        lang: [t for t in texts if parsed[t].intent not in HANDOFF_INTENTS and kb.answered[t]]
        for lang, texts in sample.items()
    }
    return kept, probes.Timings.of([p.ms for p in parsed.values()]), kb.timings


def plain_faq(model: Path, plan: Plan, results: StackResults) -> None:
    """One customer, back to back, on the demo cut to a plain FAQ (first question and
    answer per article, as a company imports it), asking the demo customers' questions.

    A plain FAQ's search also asks multilingual-e5-small (search.OPTIONAL_ENCODERS), the
    slowest encoder, so its knowledge-base turns cost more than the rich demo's. The
    questions are the demo's test questions the bot sends to the knowledge base and
    answers outright; the others would be clarified or handed over, which a five-turn
    script cannot follow.
    """
    from bench import quality

    dataset = quality.load_demo_plain(plan.quick)
    if dataset is None:  # bench/data/demo_questions.jsonl is part of the repository
        raise FileNotFoundError(quality.DEMO_QUESTIONS)
    sample: dict[str, list[str]] = {}
    for query in dataset.report["test"]:
        if query.gold and query.lang:
            sample.setdefault(query.lang, []).append(query.text)
    with seeded_stack(model, dataset.articles, "sportello-speed-plain-") as (settings, _):
        # Not counted: the action server loads its models on its first search.
        probes.first_answer_s(settings, *PLAIN_PROBE, time.monotonic())
        kept, _, results.plain_search = screen(settings, sample)
        stream = load.conversations(load.build_pools(kept), SEED)
        run = asyncio.run(load.closed_loop(settings.rasa_url, stream, 1, plan.run_s, 10_000))
    results.plain_one = load.summarise(run.results, run.wall_s)
    results.plain_screened = {
        "sampled": sum(len(v) for v in sample.values()),
        "kept": sum(len(v) for v in kept.values()),
    }
    _print_summary("plain FAQ, 1 customer", results.plain_one)


def exercise(settings: Settings, services: list, plan: Plan) -> StackResults:
    """Everything measured on one running stack (the cold start is measured by the caller)."""
    results = StackResults()
    print("  screening and profiling", flush=True)
    kept = screen_kb_phrasings(settings, plan, results)
    pools = load.build_pools(kept)
    results.profile["action_webhook"] = probes.action_webhook(
        settings, PROBE_QUESTION[0], plan.profile_repeats
    )
    results.profile["action_follow_up"] = probes.action_webhook(
        settings, PROBE_QUESTION[0], plan.profile_repeats, follow_up=True
    )
    for name, timing in results.profile.items():
        print(f"  {name}: p50 {timing.p50_ms:.1f} ms, p95 {timing.p95_ms:.1f} ms", flush=True)
    stream = load.conversations(pools, SEED)
    for concurrency in plan.closed:
        cpu_before = probes.cpu_s(services)
        run = asyncio.run(
            load.closed_loop(settings.rasa_url, stream, concurrency, plan.run_s, 10_000)
        )
        cpu_after = probes.cpu_s(services)
        results.closed[concurrency] = summary = load.summarise(run.results, run.wall_s)
        answered = summary.turns - summary.errors
        results.cpu_ms[concurrency] = {
            name: 1000 * (cpu_after[name] - cpu_before[name]) / answered if answered else math.nan
            for name in cpu_after
        }
        _print_summary(f"closed {concurrency}", summary)
    for rate in plan.open_rates:
        run = asyncio.run(
            load.open_loop(settings.rasa_url, stream, rate, plan.run_s, plan.think_s, SEED)
        )
        results.open[rate] = load.summarise(run.results, plan.run_s)
        _print_summary(f"open {rate:g}/s", results.open[rate])
    results.memory_mb = probes.resident_mb(services)
    for fresh in probes.FRESH_ARTICLES[: plan.fresh_articles]:
        try:
            seconds = probes.article_to_answer_s(settings, fresh, FRESH_TIMEOUT_S)
        except TimeoutError:
            results.fresh_missed.append(fresh.id)
            print(f"  article {fresh.id}: no answer within {FRESH_TIMEOUT_S} s", flush=True)
            continue
        results.fresh_s.append(seconds)
        print(f"  article {fresh.id}: answered after {seconds:.2f} s", flush=True)
    return results


def _print_summary(name: str, s: load.Summary) -> None:
    print(
        f"  {name}: {s.turns} turns, {s.errors} errors, p50 {s.p50_ms:.0f} ms, "
        f"p95 {s.p95_ms:.0f} ms, p99 {s.p99_ms:.0f} ms, {s.throughput:.1f} turns/s",
        flush=True,
    )


# ---- the report -----------------------------------------------------------------------------
def _mark(ok: bool) -> str:
    return "✅" if ok else "❌"


def _ms(value: float) -> str:
    return "–" if value != value else f"{value:.0f}"  # NaN -> dash


def render(stack: StackResults, colds: list[dict], scale_rows: list[dict], info: dict) -> str:
    one = stack.closed.get(1)
    lines = [
        "## Speed and scale",
        "",
        f"Measured {info['date']} on {info['machine']}; {info['seconds']:.0f} s in all;"
        f" load average {info['load_before']} before, {info['load_after']} after"
        " (other work on the machine inflates every time below).",
        "",
        f"Command: `{info['command']}`",
        "",
        "The real stack (Rasa 3.6 server, action server, chat page, console, SLA monitor) on"
        " loopback, demo knowledge base, REST channel. A conversation is five turns: a greeting,"
        " a question phrased as in a demo article, a question the shop never wrote about, a"
        " second article question, thanks (IT or EN). Error = non-200, failed request or an"
        " empty reply.",
        "",
        "### Targets (issue 6)",
        "",
        "| target | measured | |",
        "|---|---|---|",
    ]
    if one is not None:
        lines.append(
            f"| one conversation: p50 ≤ {TARGET_ONE_P50_MS} ms, p95 ≤ {TARGET_ONE_P95_MS} ms"
            f" per turn | p50 {one.p50_ms:.1f} ms, p95 {one.p95_ms:.1f} ms |"  # 40.3 is not ≤ 40
            f" {_mark(one.p50_ms <= TARGET_ONE_P50_MS and one.p95_ms <= TARGET_ONE_P95_MS)} |"
        )
    plain = stack.plain_one
    if plain is not None:
        kb = plain.by_kind.get("kb", math.nan)
        lines.append(
            f"| one conversation on a plain FAQ (the demo cut to first questions, e5 searched):"
            f" p50 ≤ {TARGET_ONE_P50_MS} ms, p95 ≤ {TARGET_ONE_P95_MS} ms per turn (issue 17)"
            f" | p50 {plain.p50_ms:.1f} ms, p95 {plain.p95_ms:.1f} ms; knowledge-base turns"
            f" p50 {kb:.1f} ms |"
            f" {_mark(plain.p50_ms <= TARGET_ONE_P50_MS and plain.p95_ms <= TARGET_ONE_P95_MS)} |"
        )
    lines += _throughput_row(stack)
    if stack.fresh_missed:
        lines.append(
            f"| approved article answers within {TARGET_FRESH_S:g} s |"
            f" {len(stack.fresh_missed)} of"
            f" {len(stack.fresh_missed) + len(stack.fresh_s)} never answered | ❌ |"
        )
    elif stack.fresh_s:
        median = statistics.median(stack.fresh_s)
        lines.append(
            f"| approved article answers within {TARGET_FRESH_S:g} s | median {median:.2f} s"
            f" over {len(stack.fresh_s)} articles | {_mark(median <= TARGET_FRESH_S)} |"
        )
    million = [r for r in scale_rows if r.get("n") == 1_000_000 and "error" not in r]
    fast_small = [
        r
        for r in million
        if r["p95_ms"] <= TARGET_SEARCH_P95_MS and r["index_mb"] <= TARGET_SEARCH_MB
    ]
    fitting = [r for r in fast_small if r["recall_at_10"] >= TARGET_SEARCH_RECALL]

    def described(r: dict) -> str:
        return (
            f"{r['kind']} at {r['dim']} dims: p95 {r['p95_ms']:.1f} ms,"
            f" {r['index_mb']:.0f} MB, recall@10 {r['recall_at_10']:.2f}"
        )

    product = [r for r in million if r["kind"] == "product"]
    if product:  # the product holds one index per encoder: judged together
        worst_ms = max(r["p95_ms"] for r in product)
        total_mb = sum(r["index_mb"] for r in product)
        lowest = min(r["recall_at_10"] for r in product)
        met = (
            worst_ms <= TARGET_SEARCH_P95_MS
            and total_mb <= TARGET_SEARCH_MB
            and lowest >= TARGET_SEARCH_RECALL
        )
        dims = " + ".join(str(r["dim"]) for r in product)
        lines.append(
            f"| search at 1M vectors: p95 ≤ {TARGET_SEARCH_P95_MS} ms and ≤ 2 GB, recall@10 ≥"
            f" {TARGET_SEARCH_RECALL} | the product's index (`knowledge.ann`), every encoder"
            f" ({dims} dims): p95 ≤ {worst_ms:.1f} ms, {total_mb:.0f} MB together, recall@10"
            f" ≥ {lowest:.2f} | {_mark(met)} |"
        )
    elif million:
        if fitting:
            text = described(max(fitting, key=lambda r: (r["recall_at_10"], -r["index_mb"])))
        elif fast_small:
            closest = max(fast_small, key=lambda r: r["recall_at_10"])
            text = f"none with recall@10 ≥ {TARGET_SEARCH_RECALL}; closest {described(closest)}"
        else:
            text = "no index kind measured meets both"
        lines.append(
            f"| search at 1M vectors: p95 ≤ {TARGET_SEARCH_P95_MS} ms and ≤ 2 GB, recall@10 ≥"
            f" {TARGET_SEARCH_RECALL} | {text} | {_mark(bool(fitting))} |"
        )
    lines += _load_tables(stack)
    lines += _stock_lines(stack)
    lines += _profile_table(stack, one)
    lines += _cold_table(colds)
    lines += _fresh_lines(stack)
    lines += _scale_table(scale_rows)
    return "\n".join(lines)


def _throughput_row(stack: StackResults) -> list[str]:
    """The throughput target: the best run without errors, and what random arrivals at
    the target rate gave (a closed loop throttles itself; an open loop shows the queue)."""
    runs = [(f"{n} customers back to back", s) for n, s in stack.closed.items()]
    runs += [(f"{rate:g} turns/s offered at random", s) for rate, s in stack.open.items()]
    clean = [(name, s) for name, s in runs if s.errors == 0]
    if not clean:
        return []
    name, best = max(
        clean, key=lambda run: run[1].throughput if run[1].p95_ms <= TARGET_LOADED_P95_MS else -1
    )
    ok = best.throughput >= TARGET_THROUGHPUT and best.p95_ms <= TARGET_LOADED_P95_MS
    # The lowest rate offered at or above the target, if the plan has one.
    offered = next(
        (
            f"; {rate:g} turns/s offered at random: p95 {_ms(s.p95_ms)} ms, {s.errors} errors"
            for rate, s in sorted(stack.open.items())
            if rate >= TARGET_THROUGHPUT
        ),
        "",
    )
    # The host's own speed: the stock Rasa bot under the heaviest closed loop measured.
    stock = ""
    if stack.stock:
        most = max(stack.stock)
        stock = (
            f"; stock `rasa init` bot on this host: {stack.stock[most].throughput:.1f} turns/s"
            f" ({most} customers)"
        )
    return [
        f"| ≥ {TARGET_THROUGHPUT} turns/s with p95 ≤ {TARGET_LOADED_P95_MS} ms, 0 errors |"
        f" best run without errors: {best.throughput:.1f} turns/s at p95"
        f" {_ms(best.p95_ms)} ms ({name}){offered}{stock} | {_mark(ok)} |"
    ]


def _load_tables(stack: StackResults) -> list[str]:
    lines = [
        "",
        "### Turn latency through the stack",
        "",
        "| load | turns | errors | p50 ms | p95 ms | p99 ms | turns/s |",
        "|---|---|---|---|---|---|---|",
    ]
    for concurrency, s in stack.closed.items():
        lines.append(
            f"| closed loop, {concurrency} customer{'s' if concurrency > 1 else ''} back to back"
            f" | {s.turns} | {s.errors} | {_ms(s.p50_ms)} | {_ms(s.p95_ms)} | {_ms(s.p99_ms)}"
            f" | {s.throughput:.1f} |"
        )
    for rate, s in stack.open.items():
        lines.append(
            f"| open loop, {rate:g} turns/s offered | {s.turns} | {s.errors} | {_ms(s.p50_ms)}"
            f" | {_ms(s.p95_ms)} | {_ms(s.p99_ms)} | {s.throughput:.1f} |"
        )
    lines += [
        "",
        f"Closed loop: no think time. Open loop: conversations arrive at random (Poisson,"
        f" fixed seed) at rate/5 per second, customers think {Plan.think_s:g} s between turns;"
        " turns/s = answered turns of the conversations that arrived, per second of arrivals"
        " (whether the stack kept up shows in the latency). Of"
        f" {stack.screened.get('sampled', 0)} demo phrasings sampled,"
        f" {stack.screened.get('kept', 0)} are used: those Rasa sends to the knowledge base and"
        " it answers (the others would hand the conversation over, after which the bot is"
        " silent by design).",
    ]
    if stack.plain_one is not None:
        lines += [
            "",
            "Plain FAQ: a fresh stack holding the demo cut to each article's first question and"
            " its answer (what a company imports), one customer back to back with the same"
            " five-turn script; its knowledge-base questions are the demo customers' own test"
            f" questions ({stack.plain_screened.get('kept', 0)} of"
            f" {stack.plain_screened.get('sampled', 0)}: those Rasa sends to the knowledge base"
            " and it answers outright).",
        ]
    return lines


def _stock_lines(stack: StackResults) -> list[str]:
    """Sportello beside the stock ``rasa init`` bot under the same closed loop."""
    pairs = [(n, stack.closed[n], s) for n, s in stack.stock.items() if n in stack.closed]
    if not pairs:
        return []
    lines = [
        "",
        "### Against stock Rasa on the same machine",
        "",
        "| load | stock bot turns/s | p50 ms | p95 ms | errors | Sportello turns/s | p50 ms"
        " | p95 ms | Sportello ÷ stock turns/s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for n, ours, stock in pairs:
        lines.append(
            f"| closed loop, {n} customer{'s' if n > 1 else ''} back to back"
            f" | {stock.throughput:.1f} | {_ms(stock.p50_ms)} | {_ms(stock.p95_ms)}"
            f" | {stock.errors} | {ours.throughput:.1f} | {_ms(ours.p50_ms)}"
            f" | {_ms(ours.p95_ms)} | ×{ours.throughput / stock.throughput:.2f} |"
        )
    lines += [
        "",
        "The stock bot is `rasa init`'s mood bot from Rasa's own template, unchanged, plus"
        " the template's `ActionHelloWorld` as a trivial custom action (after `utter_iamabot`),"
        " served by `rasa run actions`; in-memory tracker store; five answered turns per"
        ' conversation (greeting, sad mood, yes, "are you a bot?", goodbye). It ran right'
        " after Sportello's runs, so both met the same host. Issue 6 measured this bot at"
        f" about {ISSUE_STOCK_TURNS_S} turns/s with 16 customers on the machine it was"
        " written on: the stock bot's rate says how fast this host is. The ratio holds for"
        " this CPU: the two projects run different code (Sportello's two sentence encoders"
        " and leaner Rasa pipeline, the template's models), so another CPU can shift it.",
    ]
    return lines


def _profile_table(stack: StackResults, one: load.Summary | None) -> list[str]:
    p = stack.profile
    lines = [
        "",
        "### Where a turn's time goes (one at a time)",
        "",
        "| step | p50 ms | p95 ms | n |",
        "|---|---|---|---|",
    ]
    names = {
        "nlu_parse": "Rasa NLU alone (`/model/parse`)",
        "action_webhook": "action server alone (`action_answer_from_kb` webhook, real tracker)",
        "action_follow_up": (
            "action server alone, the same question as a follow-up of the answer just given"
            " (searched alone and in its context: knowledge.followup)"
        ),
        "kb_search": "knowledge-base search alone (`get_searcher().search`, in process)",
    }
    for key, label in names.items():
        t = p.get(key)
        if t is not None:
            lines.append(f"| {label} | {_ms(t.p50_ms)} | {_ms(t.p95_ms)} | {t.count} |")
    if one is not None:
        for kind, median in one.by_kind.items():
            lines.append(f"| whole REST turn: {kind} (1 customer) | {_ms(median)} | | |")
    if stack.plain_search is not None:
        t = stack.plain_search
        lines.append(
            f"| plain FAQ: knowledge-base search alone (e5 searched) | {_ms(t.p50_ms)} |"
            f" {_ms(t.p95_ms)} | {t.count} |"
        )
    if stack.plain_one is not None:
        for kind, median in stack.plain_one.by_kind.items():
            lines.append(f"| plain FAQ: whole REST turn: {kind} (1 customer) | {_ms(median)} | | |")
    if one is not None and "kb" in one.by_kind and "action_webhook" in p and "nlu_parse" in p:
        kb_turn = one.by_kind["kb"]
        action = p["action_webhook"].p50_ms
        rest = kb_turn - action - p["nlu_parse"].p50_ms
        lines += [
            "",
            f"A knowledge-base turn (median {kb_turn:.0f} ms): the action server"
            f" {action:.0f} ms ({100 * action / kb_turn:.0f}%), of which the search"
            f" {p['kb_search'].p50_ms:.0f} ms; Rasa's NLU {p['nlu_parse'].p50_ms:.0f} ms;"
            f" the rest of Rasa (policies, tracker store, channel, HTTP) {rest:.0f} ms.",
        ]
    if stack.memory_mb:
        memory = ", ".join(f"{name} {mb:.0f} MB" for name, mb in stack.memory_mb.items())
        lines += ["", f"Resident memory after the load runs: {memory}."]
    if stack.cpu_ms:
        per_run = "; ".join(
            f"{n} customer{'s' if n > 1 else ''}: Rasa server {cpu['Rasa server']:.1f}, "
            f"action server {cpu['action server']:.1f}"
            for n, cpu in stack.cpu_ms.items()
        )
        lines += ["", f"CPU milliseconds per answered turn in the closed-loop runs: {per_run}."]
    return lines


def _cold_table(colds: list[dict]) -> list[str]:
    if not colds:
        return []
    lines = [
        "",
        f"### Cold start (median of {len(colds)} run{'s' if len(colds) > 1 else ''}, seconds)",
        "",
        "| step | s |",
        "|---|---|",
    ]
    names = sorted({name for c in colds for name in c["services_s"]})
    for name in names:
        values = [c["services_s"][name] for c in colds if name in c["services_s"]]
        lines.append(f"| {name} answers its health URL | {statistics.median(values):.1f} |")
    lines.append(
        "| every service up and Rasa's model loaded |"
        f" {statistics.median(c['all_ready_s'] for c in colds):.1f} |"
    )
    lines.append(
        "| first knowledge-base answer (index built from SQLite, models loaded) |"
        f" {statistics.median(c['first_answer_s'] for c in colds):.1f} |"
    )
    lines += ["", "Each run starts from a fresh data directory with the demo articles (no index)."]
    return lines


def _fresh_lines(stack: StackResults) -> list[str]:
    if not stack.fresh_s and not stack.fresh_missed:
        return []
    missed = (
        f" Not answered within {FRESH_TIMEOUT_S} s: {', '.join(stack.fresh_missed)}."
        if stack.fresh_missed
        else ""
    )
    values = ", ".join(f"{s:.2f}" for s in stack.fresh_s) or "none"
    return [
        "",
        "### From an approved article to its first answer",
        "",
        f"Median **{statistics.median(stack.fresh_s or [math.nan]):.2f} s** ({values} s): a new"
        " published"
        " article written with `knowledge.store.upsert_article` (as the console does) while the"
        " stack runs, then a paraphrase asked by new customers in a loop until the reply"
        f" carries the article's answer.{missed}",
    ]


def _scale_table(rows: list[dict]) -> list[str]:
    if not rows:
        return []
    lines = [
        "",
        "### Vector search at scale (synthetic vectors, one thread, k = 64)",
        "",
        "| vectors | dims | index | p50 ms | p95 ms | index MB | recall@10 | build s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['n']:,} | {r['dim']} | {r['kind']} | error: {r['error']} |")
            continue
        lines.append(
            f"| {r['n']:,} | {r['dim']} | {r['kind']} | {r['p50_ms']:.2f} | {r['p95_ms']:.2f}"
            f" | {r['index_mb']:.0f} | {r['recall_at_10']:.2f} | {r['build_s']:.1f} |"
        )
    lines += [
        "",
        "Encoding a million texts on this CPU would take hours, so the vectors are synthetic:"
        " unit vectors around random centres, queries near stored vectors; recall@10 is"
        " against exact search on the same data. Index MB = resident memory after building"
        " minus before, in a process of its own. 384 dims = MiniLM, 512 = USE-m; the product"
        " holds one index per encoder, so its memory is the sum of both rows. Up to"
        " `knowledge.ann.APPROX_FROM` phrasings the product is the `flat` rows; from there"
        " it is the `product` rows (fp16 flat vectors re-scoring IVF-PQ fast-scan"
        " candidates). The encoders'"
        " own cost per query is in the knowledge-base search line of the profile above.",
    ]
    return lines


# ---- command --------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.speed", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--quick", action="store_true", help="short runs for CI (about 3 min)")
    parser.add_argument("--model", type=Path, help="Rasa model to use (default: train if stale)")
    parser.add_argument("--no-stack", action="store_true", help="only the vector-search part")
    parser.add_argument("--no-scale", action="store_true", help="skip the vector-search part")
    parser.add_argument(
        "--no-baseline", action="store_true", help="skip the stock Rasa bot (about 3 min)"
    )
    parser.add_argument("--no-write", action="store_true", help="print, leave BENCHMARKS.md")
    parser.add_argument("--json", type=Path, help="also write the raw results here")
    args = parser.parse_args(argv)
    plan = Plan.for_mode(args.quick)
    began = time.monotonic()
    load_before = load_average()
    stack, colds = StackResults(), []
    if not args.no_stack:
        model = args.model or train_model()
        for run in range(plan.cold_starts):
            print(f"stack run {run + 1}/{plan.cold_starts}", flush=True)
            with tempfile.TemporaryDirectory(prefix="sportello-speed-") as tmp:
                body = (lambda s, services: exercise(s, services, plan)) if run == 0 else None
                timing, outcome = timed_start(new_settings(Path(tmp)), model, body)
            colds.append(timing)
            if outcome is not None:
                stack = outcome
        print("plain FAQ, one customer", flush=True)
        plain_faq(model, plan, stack)
        if plan.stock_closed and not args.no_baseline:
            print("stock rasa init bot on the same machine", flush=True)
            with tempfile.TemporaryDirectory(prefix="sportello-stock-") as tmp:
                stack.stock = baseline.measure(Path(tmp), plan.stock_closed, plan.run_s)
            for concurrency, summary in stack.stock.items():
                _print_summary(f"stock, {concurrency} customers", summary)
    scale_rows = []
    if not args.no_scale:
        print("vector search at scale", flush=True)
        for config in scale.configs(plan.quick):
            row = scale.run_child(config)
            scale_rows.append(row)
            print(f"  {json.dumps(row)}", flush=True)
    command = ".venv/bin/python -m bench.speed" + (" --quick" if args.quick else "")
    info = run_info(command, began, load_before)
    text = render(stack, colds, scale_rows, info)
    if args.json:
        args.json.write_text(json.dumps(_raw(stack, colds, scale_rows, info), indent=1))
    if args.no_write:
        print(text)
    else:
        write_section(BENCHMARKS, SECTION, text)
        print(f"wrote the {SECTION} section of {BENCHMARKS}")
    return 0


def _raw(stack: StackResults, colds: list[dict], scale_rows: list[dict], info: dict) -> dict:
    return {
        "info": info,
        "cold_starts": colds,
        "profile": {k: v.__dict__ for k, v in stack.profile.items()},
        "closed": {str(k): v.to_json() for k, v in stack.closed.items()},
        "open": {str(k): v.to_json() for k, v in stack.open.items()},
        "fresh_s": stack.fresh_s,
        "memory_mb": stack.memory_mb,
        "cpu_ms_per_turn": {str(k): v for k, v in stack.cpu_ms.items()},
        "scale": scale_rows,
        "stock": {str(k): v.to_json() for k, v in stack.stock.items()},
        "plain_one": stack.plain_one.to_json() if stack.plain_one else None,
        "plain_search": stack.plain_search.__dict__ if stack.plain_search else None,
        "plain_screened": stack.plain_screened,
    }


if __name__ == "__main__":
    raise SystemExit(main())
