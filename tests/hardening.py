"""The knobs ``python -m bench.hardening`` turns on the fuzzers and the fault injection.

``make test`` runs each hypothesis fuzzer with a fixed number of examples from a seed
derived from the test (``derandomize``), and kills the services once: the suite is quick
and repeatable. The hardening benchmark runs the same tests with thousands of examples
from a random seed it records, and the fault injection several rounds, through these
environment variables, named in :mod:`bench.hardening` (unset = the ``make test`` behaviour):

- ``SPORTELLO_FUZZ_EXAMPLES``: examples per fuzzed test, instead of the module's own count;
- ``SPORTELLO_FUZZ_SEED``: hypothesis seed (an integer), so that a failure is replayed by
  running the same test with the same seed and count;
- ``SPORTELLO_FAULT_ROUNDS``: how many times the fault injection kills every service.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, TypeVar

from hypothesis import seed, settings

from bench.hardening import EXAMPLES_ENV, FAULT_ROUNDS_ENV, SEED_ENV

__all__ = ["EXAMPLES_ENV", "FAULT_ROUNDS_ENV", "SEED_ENV", "fault_rounds", "fuzz"]

Test = TypeVar("Test", bound=Callable[..., Any])


def _env_int(name: str, default: int | None) -> int | None:
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


def fuzz(default_examples: int, **overrides: Any) -> Callable[[Test], Test]:
    """A decorator for a ``@given`` test: hypothesis settings, and the seed when one is set.

    Examples are never kept between runs (``database=None``): a finding is replayed from
    the seed, not from a local cache that CI does not have.
    """
    chosen = settings(
        max_examples=_env_int(EXAMPLES_ENV, default_examples),
        deadline=None,
        database=None,
        derandomize=True,
        **overrides,
    )
    fixed_seed = _env_int(SEED_ENV, None)

    def apply(test: Test) -> Test:
        test = chosen(test)
        return test if fixed_seed is None else seed(fixed_seed)(test)  # a seed beats derandomize

    return apply


def fault_rounds() -> range:
    """Round numbers of the fault injection (1 unless the benchmark asks for more)."""
    return range(1, _env_int(FAULT_ROUNDS_ENV, 1) + 1)
