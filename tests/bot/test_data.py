"""The bot's training data and domain are consistent (``rasa data validate``)."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path

from sportello.settings import PROJECT_ROOT


def test_rasa_data_validate_passes(rasa_bin: Path) -> None:
    done = subprocess.run(
        [str(rasa_bin), "data", "validate", "--fail-on-warnings"],
        cwd=PROJECT_ROOT,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


def test_rating_buttons_reach_the_customer_with_their_entity_and_no_error(
    run_in_rasa: Callable[[str], object],
) -> None:
    result = run_in_rasa(
        """
        import asyncio, json, logging
        from rasa.core.nlg import TemplatedNaturalLanguageGenerator
        from rasa.shared.core.domain import Domain
        from rasa.shared.core.events import SlotSet
        from rasa.shared.core.trackers import DialogueStateTracker

        errors = []

        class Collect(logging.Handler):
            def emit(self, record):
                if record.levelno >= logging.ERROR:
                    errors.append(record.getMessage())

        logging.getLogger().addHandler(Collect())
        import structlog
        structlog.configure(
            processors=[lambda _, level, event: errors.append(str(event)) or event
                        if level in ("error", "exception") else event,
                        structlog.processors.JSONRenderer()],
        )
        domain = Domain.load("bot/domain.yml")
        nlg = TemplatedNaturalLanguageGenerator(domain.responses)
        out = {}
        for lang in ("it", "en"):
            events = [SlotSet("language", lang)]
            tracker = DialogueStateTracker.from_events("c", events, domain.slots)
            for name in ("utter_ask_csat", "utter_ask_nps"):
                message = asyncio.run(nlg.generate(name, tracker, "rest"))
                out[f"{name}-{lang}"] = [b["payload"] for b in message["buttons"]]
        print(json.dumps({"payloads": out, "errors": errors}))
        """
    )
    assert result["errors"] == []
    for name, payloads in result["payloads"].items():
        scored = [p for p in payloads if p != "/skip_rating"]
        assert scored, name
        for payload in scored:
            intent, entity = payload.split("{", 1)
            assert intent == "/give_rating", payload
            assert list(json.loads("{" + entity)) == ["rating"], payload
