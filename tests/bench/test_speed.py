"""The pure parts of the speed benchmark: statistics, scenarios, the shared report file."""

from __future__ import annotations

import itertools
import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from bench import load, probes, scale, speed
from bench.load import TurnResult, percentile, summarise
from bench.sections import replace_section, write_section
from stack.services import Service


# ---- percentiles and summaries ----------------------------------------------------------------
@pytest.mark.parametrize("q", [0, 1, 25, 50, 90, 95, 99, 100])
def test_percentile_matches_numpy_linear_interpolation(q: float) -> None:
    values = [3.0, 1.0, 4.0, 1.5, 9.0, 2.6, 5.0, 35.0, 8.9, 7.0, 9.3]
    assert percentile(values, q) == pytest.approx(float(np.percentile(values, q)))


def test_percentile_of_one_value_and_of_nothing() -> None:
    assert percentile([7.0], 99) == 7.0
    assert math.isnan(percentile([], 50))


def test_percentile_refuses_out_of_range() -> None:
    with pytest.raises(ValueError):
        percentile([1.0], 101)


def test_summary_counts_errors_and_only_successful_turns_in_throughput() -> None:
    results = [TurnResult("kb", 0.010 * i, ok=i != 3, started=float(i)) for i in range(1, 11)]
    summary = summarise(results, wall_s=2.0)
    assert summary.turns == 10
    assert summary.errors == 1
    assert summary.throughput == pytest.approx(9 / 2.0)
    assert summary.p50_ms == pytest.approx(55.0)
    assert summary.by_kind == {"kb": pytest.approx(55.0)}


# ---- scenarios --------------------------------------------------------------------------------
def _pools() -> dict:
    return load.build_pools(
        {"it": ["quanto costa la spedizione?", "posso pagare a rate?", "dove siete?"],
         "en": ["how much is shipping?", "can I pay in instalments?"]}
    )  # fmt: skip


def test_conversations_follow_the_script_in_one_language() -> None:
    for conversation in itertools.islice(load.conversations(_pools(), seed=1), 50):
        assert [turn.kind for turn in conversation] == list(load.SCRIPT)
        assert len({turn.lang for turn in conversation}) == 1
        lang = conversation[0].lang
        for turn in conversation:
            assert turn.text in _pools()[lang][turn.kind]


def test_one_unknown_question_sits_between_two_different_kb_questions() -> None:
    # Two abstentions in a row would hand the conversation over (and silence the bot).
    for conversation in itertools.islice(load.conversations(_pools(), seed=2), 50):
        kinds = [turn.kind for turn in conversation]
        assert kinds.count("unknown") == 1
        i = kinds.index("unknown")
        assert kinds[i - 1] == kinds[i + 1] == "kb"
        kb_texts = [turn.text for turn in conversation if turn.kind == "kb"]
        assert len(set(kb_texts)) == len(kb_texts)


def test_conversations_are_reproducible_and_mix_languages() -> None:
    first = list(itertools.islice(load.conversations(_pools(), seed=3), 40))
    again = list(itertools.islice(load.conversations(_pools(), seed=3), 40))
    assert first == again
    assert {c[0].lang for c in first} == {"it", "en"}


def test_a_language_without_kb_phrasings_is_left_out() -> None:
    pools = load.build_pools({"it": ["quanto costa la spedizione?", "dove siete?"]})
    langs = {c[0].lang for c in itertools.islice(load.conversations(pools, seed=4), 30)}
    assert langs == {"it"}


def test_article_phrasings_reads_questions_and_alternatives(tmp_path: Path) -> None:
    path = tmp_path / "articles.jsonl"
    rows = [
        {"id": "a", "lang": "it", "question": "Q1?", "answer": "A", "alt_questions": ["Q2?"]},
        {"id": "a", "lang": "en", "question": "E1?", "answer": "A"},
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    assert load.article_phrasings(path) == {"it": ["Q1?", "Q2?"], "en": ["E1?"]}


def test_demo_phrasings_are_not_the_evaluation_questions() -> None:
    demo = load.article_phrasings(Path("knowledge/demo/articles.jsonl"))
    questions = Path("bench/data/demo_questions.jsonl")
    if not questions.exists():
        pytest.skip("no demo evaluation questions in this checkout")
    asked = {json.loads(line).get("text") for line in questions.open(encoding="utf-8")}
    overlap = {t for texts in demo.values() for t in texts} & asked
    assert not overlap


# ---- the report file --------------------------------------------------------------------------
OTHER = "<!-- quality:start -->\n## Answer quality\n\nfigures\n\n<!-- quality:end -->"


def test_section_is_appended_after_the_other_sections() -> None:
    current = f"# Benchmarks\n\n{OTHER}\n"
    updated = replace_section(current, "speed", "## Speed\n\nfast")
    assert updated.startswith(current.rstrip("\n"))
    assert updated.endswith("<!-- speed:start -->\n## Speed\n\nfast\n\n<!-- speed:end -->\n")


def test_rewriting_a_section_keeps_everything_else_byte_for_byte() -> None:
    current = replace_section(f"# Benchmarks\n\n{OTHER}\n", "speed", "old")
    current += "\ntrailing notes\n"
    updated = replace_section(current, "speed", "new")
    assert "old" not in updated
    assert updated.count("<!-- speed:start -->") == 1
    assert updated.replace("new", "old") == current


def test_a_section_is_written_into_a_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "BENCHMARKS.md"
    write_section(path, "speed", "## Speed")
    write_section(path, "speed", "## Speed again")
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# Benchmarks\n")
    assert text.count("## Speed") == 1 and "again" in text


# ---- scale plan -------------------------------------------------------------------------------
def test_quick_scale_plan_stops_at_100k_and_full_reaches_a_million() -> None:
    assert max(c.n for c in scale.configs(quick=True)) == 100_000
    full = scale.configs(quick=False)
    assert {(c.dim, c.kind) for c in full if c.n == 1_000_000} >= {(384, "flat"), (512, "ivf-sq8")}
    product = {c.dim for c in full if c.kind == "product"}
    assert product == {384, 512} and {c.n for c in full if c.kind == "product"} == {1_000_000}


def test_synthetic_vectors_are_unit_length_and_reproducible() -> None:
    first = list(scale.synthetic_chunks(1_000, 32))
    again = list(scale.synthetic_chunks(1_000, 32))
    vectors = np.vstack([chunk for _, chunk in first])
    assert vectors.shape == (1_000, 32)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(first, again, strict=True))


def _million(kind: str, p95_ms: float, index_mb: float, recall: float, dim: int = 384) -> dict:
    return {
        "n": 1_000_000, "dim": dim, "kind": kind, "queries": 200, "build_s": 1.0,
        "index_mb": index_mb, "rss_mb": index_mb, "p50_ms": p95_ms, "p95_ms": p95_ms,
        "recall_at_10": recall,
    }  # fmt: skip


def _search_target(scale_rows: list[dict]) -> str:
    info = {
        "date": "today", "machine": "2 cores", "seconds": 1, "load_before": "0",
        "load_after": "0", "command": "bench",
    }  # fmt: skip
    text = speed.render(speed.StackResults(), [], scale_rows, info)
    [row] = [line for line in text.splitlines() if line.startswith("| search at 1M")]
    return row


def test_a_fast_index_that_loses_right_neighbours_does_not_meet_the_search_target() -> None:
    exact = _million("flat", 93.0, 1515, 1.0)
    lossy = _million("ivf-sq8", 4.9, 447, 0.72)
    row = _search_target([exact, lossy])
    assert row.endswith("❌ |") and "closest ivf-sq8" in row and "0.72" in row
    good = _million("ivf-sq8", 8.0, 600, 0.93)
    assert _search_target([exact, lossy, good]).endswith("✅ |")


def test_the_product_index_is_judged_on_both_encoders_together() -> None:
    """Memory adds up over the encoders' indexes; the slowest and least accurate count."""
    exact = _million("flat", 93.0, 1515, 1.0)
    fits = [_million("product", 3.3, 841, 0.98), _million("product", 4.0, 1101, 0.98, dim=512)]
    row = _search_target([exact, *fits])
    assert row.endswith("✅ |") and "1942 MB together" in row and "384 + 512" in row
    too_big = [fits[0], _million("product", 4.0, 1300, 0.98, dim=512)]
    assert _search_target([exact, *too_big]).endswith("❌ |")  # 2141 MB > 2 GB
    lossy = [fits[0], _million("product", 4.0, 1101, 0.85, dim=512)]
    assert _search_target([exact, *lossy]).endswith("❌ |")


def _summary(throughput: float, p95_ms: float, errors: int = 0) -> load.Summary:
    return load.Summary(
        turns=100, errors=errors, wall_s=10.0, p50_ms=p95_ms / 2, p95_ms=p95_ms,
        p99_ms=p95_ms * 1.2, throughput=throughput, by_kind={},
    )  # fmt: skip


def test_the_throughput_row_names_the_run_and_what_random_arrivals_gave() -> None:
    stack = speed.StackResults(
        closed={8: _summary(63.3, 185), 16: _summary(67.3, 317)},
        open={40.0: _summary(41.0, 173), 60.0: _summary(62.8, 547)},
    )
    [row] = speed._throughput_row(stack)
    assert "63.3 turns/s at p95 185 ms (8 customers back to back)" in row
    assert "60 turns/s offered at random: p95 547 ms" in row
    assert row.endswith("✅ |")
    slow = speed.StackResults(closed={16: _summary(67.3, 317)}, open={40.0: _summary(41.0, 173)})
    [row] = speed._throughput_row(slow)
    assert "41.0 turns/s at p95 173 ms (40 turns/s offered at random)" in row
    assert row.endswith("❌ |")
    failing = speed.StackResults(closed={8: _summary(70.0, 100, errors=3)})
    assert speed._throughput_row(failing) == []


def test_cpu_seconds_are_counted_per_service_with_its_workers(tmp_path: Path) -> None:
    """A service's CPU is its whole process group's: a worker's busy loop counts for it."""
    spin = "import time\nend = time.process_time() + 0.4\nwhile time.process_time() < end: pass"
    busy = f"import subprocess, sys, time\nsubprocess.run([sys.executable, '-c', {spin!r}])\n"
    busy += "time.sleep(30)\n"
    sleep = [sys.executable, "-c", "import time; time.sleep(30)"]
    process = subprocess.Popen([sys.executable, "-c", busy], start_new_session=True)
    idle = subprocess.Popen(sleep, start_new_session=True)
    services = [
        Service("busy", [], None, tmp_path / "busy.log", process=process),
        Service("idle", [], None, tmp_path / "idle.log", process=idle),
    ]
    try:
        deadline = time.monotonic() + 20
        while probes.cpu_s(services)["busy"] < 0.4 and time.monotonic() < deadline:
            time.sleep(0.1)
        used = probes.cpu_s(services)
    finally:
        for started in (process, idle):
            os.killpg(started.pid, signal.SIGKILL)
            started.wait()
    assert 0.4 <= used["busy"] < 5
    assert used["idle"] < 0.3


def _one(p50_ms: float, p95_ms: float, kb_ms: float) -> load.Summary:
    return load.Summary(
        turns=50, errors=0, wall_s=5.0, p50_ms=p50_ms, p95_ms=p95_ms, p99_ms=p95_ms,
        throughput=10.0, by_kind={"kb": kb_ms, "greet": 9.0},
    )  # fmt: skip


@pytest.mark.parametrize(
    ("p50_ms", "p95_ms", "met"), [(24.0, 37.0, True), (41.0, 60.0, False), (30.0, 81.0, False)]
)
def test_the_plain_faq_turn_is_judged_against_issue_17s_latency_target(
    p50_ms: float, p95_ms: float, met: bool
) -> None:
    stack = speed.StackResults(
        plain_one=_one(p50_ms, p95_ms, 27.0),
        plain_search=probes.Timings(110, 17.0, 22.0),
        plain_screened={"sampled": 110, "kept": 54},
    )
    info = {"date": "d", "machine": "m", "seconds": 1.0, "load_before": "", "load_after": ""}
    info["command"] = "c"
    text = speed.render(stack, [], [], info)
    [row] = [line for line in text.splitlines() if line.startswith("| one conversation on a plain")]
    assert f"p50 {p50_ms:.1f} ms, p95 {p95_ms:.1f} ms; knowledge-base turns p50 27.0 ms" in row
    assert row.endswith("✅ |" if met else "❌ |")
    assert "| plain FAQ: knowledge-base search alone (e5 searched) | 17 | 22 | 110 |" in text
    assert "(54 of 110:" in text
