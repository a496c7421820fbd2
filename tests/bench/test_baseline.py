"""The stock Rasa bot that bench.speed measures beside Sportello (bench.baseline)."""

from __future__ import annotations

import ast
import itertools
from pathlib import Path

import pytest
import yaml

from bench import baseline, load, speed


def _examples(project: Path) -> dict[str, set[str]]:
    nlu = yaml.safe_load((project / "data" / "nlu.yml").read_text(encoding="utf-8"))["nlu"]
    return {
        item["intent"]: {line[2:].strip() for line in item["examples"].splitlines() if line}
        for item in nlu
    }


def test_the_stock_project_is_rasas_template_plus_one_trivial_custom_action(
    tmp_path: Path,
) -> None:
    project = baseline.prepare_project(tmp_path / "bot")
    template = baseline.template_dir()
    for name in ("config.yml", "credentials.yml", "data/nlu.yml", "data/stories.yml"):
        assert (project / name).read_bytes() == (template / name).read_bytes()
    domain = yaml.safe_load((project / "domain.yml").read_text(encoding="utf-8"))
    assert domain["actions"] == ["action_hello_world"]
    assert domain["intents"] == yaml.safe_load((template / "domain.yml").read_text())["intents"]
    rules = yaml.safe_load((project / "data" / "rules.yml").read_text(encoding="utf-8"))
    [bot_rule] = [r for r in rules["rules"] if {"intent": "bot_challenge"} in r["steps"]]
    assert bot_rule["steps"][1:] == [
        {"action": "utter_iamabot"},
        {"action": "action_hello_world"},
    ]
    source = (project / "actions" / "actions.py").read_text(encoding="utf-8")
    ast.parse(source)
    assert '"action_hello_world"' in source and baseline.HELLO_WORDS in source


def test_stock_conversations_use_the_templates_own_examples_in_script_order() -> None:
    examples = _examples(baseline.template_dir())
    intent_of = {
        "greet": "greet", "mood": "mood_unhappy", "affirm": "affirm",
        "custom action": "bot_challenge", "goodbye": "goodbye",
    }  # fmt: skip
    for conversation in itertools.islice(baseline.conversations(), 12):
        assert [t.kind for t in conversation] == [kind for kind, _ in baseline.STOCK_SCRIPT]
        for turn in conversation:
            assert turn.text in examples[intent_of[turn.kind]], turn
    assert baseline.STOCK_SCRIPT[baseline.CUSTOM_TURN][0] == "custom action"


def _summary(throughput: float, p50_ms: float, errors: int = 0) -> load.Summary:
    return load.Summary(
        turns=100, errors=errors, wall_s=10.0, p50_ms=p50_ms, p95_ms=p50_ms * 2,
        p99_ms=p50_ms * 3, throughput=throughput, by_kind={},
    )  # fmt: skip


def test_the_report_divides_sportellos_throughput_by_the_stock_bots_under_the_same_load() -> None:
    stack = speed.StackResults(
        closed={1: _summary(46.0, 26), 4: _summary(86.9, 46), 16: _summary(120.8, 133)},
        stock={1: _summary(30.7, 28), 16: _summary(35.4, 323)},
    )
    text = "\n".join(speed._stock_lines(stack))
    assert "| closed loop, 1 customer back to back | 30.7 | 28 | 56 | 0 | 46.0 | 26 |" in text
    assert "×1.50 |" in text and "×3.41 |" in text
    assert "4 customers" not in text  # no stock run at that load: nothing to divide by
    assert "about 27 turns/s with 16 customers" in text
    [row] = speed._throughput_row(stack)
    assert "stock `rasa init` bot on this host: 35.4 turns/s (16 customers)" in row
    assert speed._stock_lines(speed.StackResults(closed=stack.closed)) == []
    assert "stock" not in speed._throughput_row(speed.StackResults(closed=stack.closed))[0]


def test_the_quick_plan_leaves_the_stock_bot_out() -> None:
    assert speed.Plan.for_mode(True).stock_closed == ()
    assert speed.Plan.for_mode(False).stock_closed == (1, 16)


@pytest.mark.integration
def test_the_stock_bot_is_trained_served_and_answers_every_turn(tmp_path: Path) -> None:
    """Real rasa train, rasa run and rasa run actions: measure() only returns once the
    custom action's words came back, and every process is gone afterwards."""
    results = baseline.measure(tmp_path, (1, 2), run_s=2.0, warm_up_s=0.5)
    assert set(results) == {1, 2}
    for summary in results.values():
        assert summary.turns >= 5 and summary.errors == 0 and summary.throughput > 0
        assert set(summary.by_kind) == {kind for kind, _ in baseline.STOCK_SCRIPT}
    assert (tmp_path / "stock-bot" / "models" / "stock.tar.gz").exists()
    log = (tmp_path / "stock-bot" / "logs" / "actions.log").read_text(errors="replace")
    assert "action_hello_world" in log
    assert _pids_mentioning(str(tmp_path)) == []


def _pids_mentioning(text: str) -> list[int]:
    """Processes whose command line or working directory mentions ``text``."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().decode(errors="replace")
            cwd = str((proc / "cwd").resolve())
        except OSError:
            continue
        if text in cmdline or text in cwd:
            found.append(int(proc.name))
    return found
