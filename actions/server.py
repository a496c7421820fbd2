"""Start the action server: ``python -m actions.server --port 5055``.

rasa-sdk's own ``rasa_sdk`` command would work too; this entry point adds what
Sportello needs on a small machine:

- the database's schema migrated once at start-up (:func:`stack.database.prepare`);
- one thread for torch/OpenMP (on 2 cores, more threads make every query slower);
- one Sanic process instead of a manager plus a worker (half the memory; the searcher
  already serialises searches, so a second process would only duplicate the models);
- the knowledge base's models and index loaded right after start-up, in a thread, so
  the first customer does not wait for them and the server answers health checks
  meanwhile. (Loading them at import time breaks Sanic 25's start-up.)
"""

from __future__ import annotations

import os

# Before anything imports torch or numpy's BLAS.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import argparse
import asyncio
import logging

from rasa_sdk.endpoint import create_app
from rasa_sdk.executor import ActionExecutor
from sanic import Sanic

from sportello.heap import freeze_startup_objects
from sportello.settings import get_settings
from stack.database import prepare

logger = logging.getLogger(__name__)

ACTIONS_PACKAGE = "actions"


def limit_threads() -> None:
    """One torch thread per process: 2 cores serve concurrent queries better that way."""
    import torch

    torch.set_num_threads(1)


def warm_up_knowledge() -> None:
    """Load the searcher's models and index now; a failure is logged, not fatal.

    If it fails, each question fails the same way later and the customer gets the
    apology and the offer of a person, while the handoff keeps working.
    """
    try:
        from knowledge.search import get_searcher

        get_searcher().warm_up()
        logger.info("knowledge base ready")
    except Exception:
        logger.exception("could not load the knowledge base")
    freeze_startup_objects()  # the models and indexes: long pauses otherwise (heap.py)


async def _warm_up_after_start(app: Sanic) -> None:
    app.add_task(asyncio.to_thread(warm_up_knowledge), name="warm_up_knowledge")


def create_action_app(warm_up: bool = True) -> Sanic:
    """rasa-sdk's Sanic app serving the ``actions`` package, plus the warm-up."""
    executor = ActionExecutor()
    executor.register_package(ACTIONS_PACKAGE)
    app = create_app(executor, cors_origins=None)
    if warm_up:
        app.register_listener(_warm_up_after_start, "after_server_start")
    return app


def main(argv: list[str] | None = None) -> None:
    settings = get_settings()
    parser = argparse.ArgumentParser(description="Sportello's Rasa action server")
    parser.add_argument("--host", default=settings.action_host)
    parser.add_argument("--port", type=int, default=settings.action_port)
    parser.add_argument("--no-warm-up", action="store_true", help="load models on first use")
    args = parser.parse_args(argv)

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    limit_threads()
    prepare(settings.db_path).close()  # the schema, once, before the first action
    app = create_action_app(warm_up=not args.no_warm_up)
    app.prepare(host=args.host, port=args.port, single_process=True, access_log=False)
    Sanic.serve_single(primary=app)


if __name__ == "__main__":
    main()
