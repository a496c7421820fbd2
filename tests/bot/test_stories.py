"""The conversation tests and the held-out NLU examples pass against the stack's model.

One ``rasa test`` run on the model :func:`stack.services.train_model` trains, the one
the integration tests start (Rasa retrains only when config, domain or data changed):
the stories of ``bot/tests/test_stories.yml`` end to end (each customer message through
the trained NLU, the LanguageDetector's entity included, then the policies), and the
intents of ``bot/tests/nlu_holdout.yml``, examples the model never saw. ``rasa test``
exits 0 whatever it finds, so its reports are read here.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from sportello.settings import PROJECT_ROOT
from stack.services import rasa_env, train_model

STORIES = "bot/tests/test_stories.yml"
HOLDOUT = "bot/tests/nlu_holdout.yml"
# Intent accuracy of the whole NLU pipeline on the held-out examples: 0.831 (59 of 71)
# with config.yml on Rasa 3.6.21, 2026-12-06. Of the 12 missed, 5 are small talk phrased
# as a question that bot.components.QuestionRouter sends to the knowledge base on
# purpose ("che tempo farà nel weekend?"). The floor sits about four examples below: a
# change of data or pipeline that loses more fails here, while DIET's small differences
# from one machine to another (TensorFlow's thread scheduling) do not.
HOLDOUT_FLOOR = 0.78


@pytest.fixture(scope="module")
def rasa_test(rasa_bin: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder of ``rasa test``'s reports."""
    model = train_model()
    out = tmp_path_factory.mktemp("rasa-test")
    done = subprocess.run(
        [
            str(rasa_bin), "test",
            "--model", str(model),
            "--stories", STORIES,
            "--nlu", HOLDOUT,
            "--out", str(out),
            "--no-plot",
        ],
        cwd=PROJECT_ROOT,
        env={**os.environ, **rasa_env()},
        capture_output=True,
        text=True,
        timeout=1200,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return out


def test_conversation_stories_pass(rasa_test: Path) -> None:
    failed = (rasa_test / "failed_test_stories.yml").read_text(encoding="utf-8")
    assert "None of the test stories failed" in failed, failed[:3000]


def test_held_out_intents_are_recognised_above_the_floor(rasa_test: Path) -> None:
    report = json.loads((rasa_test / "intent_report.json").read_text(encoding="utf-8"))
    errors = json.loads((rasa_test / "intent_errors.json").read_text(encoding="utf-8"))
    missed = [(e["text"], e["intent"], e["intent_prediction"]["name"]) for e in errors]
    assert report["accuracy"] >= HOLDOUT_FLOOR, missed
