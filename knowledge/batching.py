"""Questions that arrive together are searched together.

Encoding one question with MiniLM streams all of the model's weights through the CPU
for a handful of word pieces; encoding three at once streams them once. On this
2-core machine a batch of three costs 9 ms of CPU per question instead of 14, and
USE-m's cost halves the same way (docs/profiling.md). Under load the action server has
several searches waiting for the searcher's lock anyway, so instead of taking turns
they are combined: whoever finds nobody searching takes every question waiting (its
own included), runs them as one batch and hands each caller its own result. With one
customer at a time nothing waits, every batch is a single question and nothing changes.

The pattern is "flat combining": no extra thread, no timer, no added latency; a caller
waits only while an earlier batch runs, which it would have waited for the lock anyway.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

Q = TypeVar("Q")
R = TypeVar("R")


@dataclass
class _Waiting(Generic[Q, R]):
    query: Q
    done: bool = False
    answered: bool = False
    result: R | None = None
    error: BaseException | None = None


@dataclass
class Combiner(Generic[Q, R]):
    """Runs ``run_many`` over the queries that are waiting together, one batch at a time.

    ``group`` splits a batch into runs of queries that may share one call (queries with
    different ``k`` are run apart). When a batch of several fails, each of its queries
    is run alone, so one query's error never becomes another caller's.
    """

    run_many: Callable[[list[Q]], Sequence[R]]
    group: Callable[[Q], Hashable] = lambda query: None
    batches: int = 0  # batches run so far (for tests and benchmarks)
    largest: int = 0  # the largest batch so far
    _queue: list[_Waiting[Q, R]] = field(default_factory=list)
    _busy: bool = False
    _changed: threading.Condition = field(default_factory=threading.Condition)

    def run(self, query: Q) -> R:
        """``run_many([query])[0]``, possibly computed in a batch with other callers'."""
        mine: _Waiting[Q, R] = _Waiting(query)
        with self._changed:
            self._queue.append(mine)
            while self._busy and not mine.done:
                self._changed.wait()
            if not mine.done:
                self._busy = True
                batch, self._queue = self._queue, []
        if not mine.done:
            try:
                self._run_batch(batch)
            except BaseException as error:  # handed to every caller left without an answer
                for waiting in batch:
                    if waiting.error is None and not waiting.answered:
                        waiting.error = error
            finally:
                with self._changed:
                    self._busy = False
                    for waiting in batch:
                        waiting.done = True
                    self._changed.notify_all()
        if mine.error is not None:
            raise mine.error
        return mine.result  # type: ignore[return-value]

    def _run_batch(self, batch: list[_Waiting[Q, R]]) -> None:
        self.batches += 1
        self.largest = max(self.largest, len(batch))
        groups: dict[Hashable, list[_Waiting[Q, R]]] = {}
        for waiting in batch:
            groups.setdefault(self.group(waiting.query), []).append(waiting)
        for members in groups.values():
            try:
                results = self.run_many([w.query for w in members])
            except BaseException as error:  # handed to its caller
                if len(members) == 1:
                    members[0].error = error
                    continue
                for waiting in members:
                    self._run_alone(waiting)
                continue
            for waiting, result in zip(members, results, strict=True):
                waiting.result, waiting.answered = result, True

    def _run_alone(self, waiting: _Waiting[Q, R]) -> None:
        try:
            (waiting.result,) = self.run_many([waiting.query])
            waiting.answered = True
        except BaseException as error:  # handed to its caller
            waiting.error = error
