"""``sportello bench``: the benchmarks from the ``sportello`` command.

::

    sportello bench quality [--quick]     answer quality on ../shared/eval and the demo questions
    sportello bench faq_bot [--quick]     FAQ-shaped knowledge bases through the whole bot
    sportello bench learning [--quick]    plain FAQs before and after a week of customers
    sportello bench speed [--quick]       latency and throughput through the stack, cold start
    sportello bench soak [--quick]        many customers for minutes, everything accounted for
    sportello bench hardening [--quick]   fuzzing and kill -9, 0 server errors, nothing lost

Each one is ``python -m bench.<mode>`` run from the checkout, exactly as the Makefile runs
it, so that BENCHMARKS.md records the same command whichever way it was started. Only
this module is imported when ``sportello`` starts: the benchmarks load torch, pytest and
the test helpers, which would slow every other command down.
"""

from __future__ import annotations

import argparse
import os
import sys

MODES = {
    "quality": "answer quality on ../shared/eval and the demo questions (~11 min; quick: "
    "a subsampled smoke run)",
    "faq_bot": "FAQ-shaped knowledge bases through the whole bot: a REST conversation per "
    "question on the real stack, clarifications clicked (~15 min; quick ~5)",
    "learning": "plain FAQs before and after a simulated week in which customers and "
    "operators teach the bot their words (~10 min; quick ~3)",
    "speed": "turn latency and throughput through the real stack, beside a stock rasa init "
    "bot; cold start, article freshness, vector search at scale (~15-19 min; quick ~3)",
    "soak": "50 customers for 10 minutes, then every message, ticket and rating looked up "
    "(~12 min; quick: 10 customers for 45 s)",
    "hardening": "fuzz the REST channel and every console form, kill -9 the services: "
    "0 server errors, nothing lost (~15-20 min; quick 3-6)",
    "scaleout": "1 Rasa server vs 2 sharing PostgreSQL and Redis, vs the SQLite set-up "
    "(~17 min; quick ~4)",
}


def _run(args: argparse.Namespace) -> int:
    """Become ``python -m bench.<mode>``: Ctrl-C and the exit status are the benchmark's own."""
    from sportello.settings import PROJECT_ROOT

    argv = [sys.executable, "-m", f"bench.{args.mode}", *(["--quick"] if args.quick else [])]
    sys.stdout.flush()
    os.chdir(PROJECT_ROOT)  # `-m bench...` imports the checkout's bench/ and tests/
    os.execv(sys.executable, argv)
    return 0  # not reached: execv replaces this process


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``bench MODE [--quick]`` to the ``sportello`` command."""
    modes = "\n".join(f"  {name:<10} {what}" for name, what in MODES.items())
    parser = subparsers.add_parser(
        "bench",
        help="run a benchmark; the figures go to BENCHMARKS.md",
        description="Run one benchmark from the checkout; its figures replace its section "
        "of BENCHMARKS.md (date, machine, exact command).",
        epilog=f"modes:\n{modes}\n\nMore options: .venv/bin/python -m bench.MODE --help",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("mode", choices=MODES, help="which benchmark")
    parser.add_argument("--quick", action="store_true", help="the short mode a CI run can afford")
    parser.set_defaults(handler=_run)
