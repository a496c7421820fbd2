"""Searches that arrive together run as one batch; each caller still gets its own answer."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from knowledge.batching import Combiner
from knowledge.search import Searcher


def _wait_until(condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


class Gate:
    """A ``run_many`` whose first batch waits until the test opens the gate."""

    def __init__(self, fail_on: str | None = None) -> None:
        self.open = threading.Event()
        self.started = threading.Event()
        self.calls: list[list[str]] = []
        self.fail_on = fail_on

    def __call__(self, queries: list[str]) -> list[str]:
        self.calls.append(list(queries))
        self.started.set()
        self.open.wait(10)
        if self.fail_on in queries:
            raise ValueError(f"cannot answer {self.fail_on}")
        return [query.upper() for query in queries]


def _queue_behind_a_running_batch(combiner: Combiner, first: str, others: list[str]):
    """Start ``first`` (it runs alone and blocks), queue ``others`` behind it."""
    pool = ThreadPoolExecutor(len(others) + 1)
    futures = {first: pool.submit(combiner.run, first)}
    combiner.run_many.started.wait(10)
    for query in others:
        futures[query] = pool.submit(combiner.run, query)
    _wait_until(lambda: len(combiner._queue) == len(others))
    return pool, futures


def test_one_caller_at_a_time_runs_one_query_per_batch() -> None:
    combiner = Combiner(run_many=lambda queries: [q.upper() for q in queries])
    assert [combiner.run(q) for q in ("a", "b", "c")] == ["A", "B", "C"]
    assert combiner.batches == 3 and combiner.largest == 1


def test_callers_waiting_behind_a_search_are_served_by_one_batch() -> None:
    gate = Gate()
    combiner = Combiner(run_many=gate)
    pool, futures = _queue_behind_a_running_batch(combiner, "first", ["b", "c", "d"])
    gate.open.set()
    assert {q: f.result(10) for q, f in futures.items()} == {
        "first": "FIRST",
        "b": "B",
        "c": "C",
        "d": "D",
    }
    pool.shutdown()
    assert gate.calls[0] == ["first"]
    assert sorted(gate.calls[1]) == ["b", "c", "d"] and len(gate.calls) == 2
    assert combiner.batches == 2 and combiner.largest == 3


def test_queries_of_different_groups_never_share_a_call() -> None:
    gate = Gate()
    combiner = Combiner(run_many=gate, group=lambda query: query[0])
    pool, futures = _queue_behind_a_running_batch(combiner, "first", ["x1", "y1", "x2"])
    gate.open.set()
    assert futures["x2"].result(10) == "X2" and futures["y1"].result(10) == "Y1"
    pool.shutdown()
    assert sorted(map(sorted, gate.calls[1:])) == [["x1", "x2"], ["y1"]]


def test_one_querys_error_reaches_only_its_caller() -> None:
    gate = Gate(fail_on="bad")
    combiner = Combiner(run_many=gate)
    pool, futures = _queue_behind_a_running_batch(combiner, "first", ["good", "bad", "fine"])
    gate.open.set()
    assert futures["good"].result(10) == "GOOD" and futures["fine"].result(10) == "FINE"
    with pytest.raises(ValueError, match="cannot answer bad"):
        futures["bad"].result(10)
    pool.shutdown()
    # Nothing is left waiting and the combiner still serves new callers.
    assert combiner.run("after") == "AFTER"


def test_concurrent_searches_find_what_searches_one_at_a_time_find(
    shared_searcher: Searcher,
) -> None:
    questions = [
        ("Quanto costa la spedizione?", "it"),
        ("how much is shipping?", None),
        ("Posso pagare con PayPal?", "it"),
        ("can I return an item?", "en"),
        ("", None),
        ("<script>alert(1)</script>", None),
    ] * 3
    alone = [shared_searcher.search(text, lang) for text, lang in questions]
    batches_before = shared_searcher._combiner.batches
    with shared_searcher._lock:  # hold the searcher so that the questions queue up
        pool = ThreadPoolExecutor(len(questions))
        futures = [pool.submit(shared_searcher.search, text, lang) for text, lang in questions]
        time.sleep(0.2)
    together = [f.result(60) for f in futures]
    pool.shutdown()
    assert shared_searcher._combiner.batches - batches_before < len(questions)
    for one, other in zip(alone, together, strict=True):
        assert [h.id for h in one.results] == [h.id for h in other.results]
        assert [h.lang for h in one.results] == [h.lang for h in other.results]
        # A batched forward pass may round the last bit of a vector differently.
        assert [h.score for h in one.results] == pytest.approx(
            [h.score for h in other.results], abs=1e-5
        )
        assert one.abstain == other.abstain


def test_a_failure_outside_the_queries_reaches_every_caller_of_the_batch() -> None:
    gate = Gate()

    def group(query: str) -> str:
        if query == "unsortable":
            raise TypeError("cannot group")
        return ""

    combiner = Combiner(run_many=gate, group=group)
    pool, futures = _queue_behind_a_running_batch(combiner, "first", ["b", "unsortable"])
    gate.open.set()
    assert futures["first"].result(10) == "FIRST"
    for query in ("b", "unsortable"):  # never a silent None
        with pytest.raises(TypeError, match="cannot group"):
            futures[query].result(10)
    pool.shutdown()
    assert combiner.run("after") == "AFTER"
