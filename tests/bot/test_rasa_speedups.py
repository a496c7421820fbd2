"""Rasa 3.6's per-turn costs removed by bot.rasa_speedups, with Rasa's behaviour kept."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path


def test_rasa_checks_action_responses_with_its_schema_checked_only_once(
    run_in_rasa: Callable[[str], object],
) -> None:
    result = run_in_rasa(
        """
        import json
        import jsonschema
        import bot.rasa_speedups  # noqa: F401  (importing it compiles the check)
        from rasa.core.actions.action import RemoteAction

        schema = RemoteAction.action_response_format_spec()
        validator_class = jsonschema.validators.validator_for(schema)
        check_schema = validator_class.check_schema.__func__
        checks = []

        def counting_check_schema(cls, *args, **kwargs):
            checks.append(1)
            return check_schema(cls, *args, **kwargs)

        validator_class.check_schema = classmethod(counting_check_schema)
        action = RemoteAction("action_answer_from_kb", None)
        good = {
            "events": [{"event": "slot", "name": "language", "value": "it"}],
            "responses": [{"text": "Ciao", "buttons": []}],
        }
        accepted = [action._validate_action_result(good) for _ in range(3)]
        try:
            action._validate_action_result({"events": [{"event": "slot", "name": 5}]})
            error = ""
        except jsonschema.ValidationError as exc:
            error = exc.message
        print(json.dumps({"accepted": accepted, "checks": len(checks), "error": error}))
        """
    )
    assert result["accepted"] == [True, True, True]
    # Rasa's own code re-checks the schema on every response (4 here): the cost removed.
    assert result["checks"] <= 1
    assert "is not valid under any of the given schemas" in result["error"]
    assert "Failed to validate Action server response" in result["error"]


def test_rasa_finds_event_classes_by_name_without_walking_every_subclass(
    run_in_rasa: Callable[[str], object],
) -> None:
    result = run_in_rasa(
        """
        import json
        import bot.rasa_speedups  # noqa: F401  (importing it installs the lookup table)
        import rasa.shared.utils.common as common
        from rasa.shared.core import events

        stored = [
            {"event": "action", "name": "action_listen", "timestamp": 1.0},
            {"event": "user", "text": "ciao", "parse_data": {"intent": {"name": "greet"}}},
            {"event": "slot", "name": "language", "value": "it"},
            {"event": "bot", "text": "Ciao!", "data": {}, "metadata": {}},
        ]
        events.deserialise_events(stored)  # every type seen once
        walks = []
        walk = common.all_subclasses

        def counting_walk(cls):
            walks.append(1)
            return walk(cls)

        common.all_subclasses = counting_walk
        again = events.deserialise_events(stored * 10)
        known_walks = len(walks)
        try:
            events.Event.resolve_by_type("no_such_event")
            unknown = ""
        except ValueError as exc:
            unknown = str(exc)
        print(json.dumps({
            "classes": [type(e).__name__ for e in again[:4]],
            "round_trip": [e.as_dict()["event"] for e in again[:4]],
            "walks": known_walks,
            "topic": repr(events.Event.resolve_by_type("topic")),
            "default": events.Event.resolve_by_type("no_such_event", events.SlotSet).__name__,
            "unknown": unknown,
        }))
        """
    )
    assert result["classes"] == ["ActionExecuted", "UserUttered", "SlotSet", "BotUttered"]
    assert result["round_trip"] == ["action", "user", "slot", "bot"]
    assert result["walks"] == 0  # Rasa's own lookup walks the subclasses for all 40 events
    assert result["topic"] == "None" and result["default"] == "SlotSet"
    assert result["unknown"] == "Unknown event name 'no_such_event'."


def test_loading_the_models_components_installs_the_speed_ups(
    run_in_rasa: Callable[[str], object],
) -> None:
    result = run_in_rasa(
        """
        import json
        from rasa.core.actions.action import RemoteAction
        from rasa.engine.runner.dask import DaskGraphRunner
        from rasa.shared.core.events import Event

        before = RemoteAction._validate_action_result.__module__
        import bot.components  # noqa: F401  (what Rasa imports when it loads the model)

        from rasa.utils.tensorflow.models import RasaModel

        print(json.dumps({
            "before": before,
            "check": RemoteAction._validate_action_result.__module__,
            "events": Event.resolve_by_type.__module__,
            "graphs": DaskGraphRunner.run.__module__,
            "predictions": RasaModel._rasa_predict.__module__,
        }))
        """
    )
    assert result == {
        "before": "rasa.core.actions.action",
        "check": "bot.rasa_speedups",
        "events": "bot.rasa_speedups",
        "graphs": "bot.rasa_speedups",
        "predictions": "bot.rasa_speedups",
    }


def test_the_check_by_event_name_accepts_only_what_rasas_schema_accepts(
    run_in_rasa: Callable[[str], object],
) -> None:
    """Valid responses of every event type take the cheap path; nothing invalid does."""
    result = run_in_rasa(
        """
        import copy, json
        from bot import rasa_speedups
        from rasa.core.actions.action import RemoteAction

        full = rasa_speedups._action_response_validator()
        schema = RemoteAction.action_response_format_spec()
        names = [one["properties"]["event"]["const"]
                 for one in schema["properties"]["events"]["items"]["oneOf"]]
        needs = {
            "slot": {"name": "language", "value": "it"},
            "entities": {"entities": [{"entity": "language", "value": "it"}]},
            "user": {"text": "ciao", "parse_data": {
                "intent": {"name": "greet", "confidence": 0.9},
                "entities": [{"entity": "language", "value": "it", "start": 0, "end": 4}],
                "intent_ranking": [{"name": "greet", "confidence": 0.9}],
            }},
            "action": {"name": "action_listen", "policy": None, "confidence": None},
            "bot": {"text": "<b>Ciao</b>", "data": {}, "metadata": {}},
        }
        valid = [{"events": [{"event": n, "timestamp": 1.5, **needs.get(n, {})}]} for n in names]
        valid += [
            {}, {"events": []}, {"responses": [{"text": "ciao", "buttons": []}]},
            {"events": [{"event": "slot", "name": "x", "value": None, "metadata": None}]},
            {"events": [dict(e["events"][0]) for e in valid], "responses": [{}]},
        ]
        event = {"event": "slot", "name": "language", "value": "it"}
        invalid = [
            None, [], "events", {"events": None}, {"events": {}}, {"events": [None]},
            {"events": [{}]}, {"events": [{"event": 5}]}, {"events": [{"event": "nope"}]},
            {"events": [{**event, "timestamp": "now"}]},
            {"events": [{**event, "metadata": []}]},
            {"events": [{"event": "slot", "name": 5, "value": 1}]},
            {"events": [{"event": "slot", "value": 1}]},
            {"events": [{"event": "user", "parse_data": {"intent": {"name": 5}}}]},
            {"events": [{"event": "user", "parse_data": {"entities": [{"value": 1}]}}]},
            {"events": [{"event": "entities"}]},
            {"events": [{"event": "action", "hide_rule_turn": "yes"}]},
            {"events": [event, {"event": "undo", "timestamp": []}]},
            {"responses": [5]}, {"responses": {}},
        ]
        # Every valid case with one field turned into something of the wrong type.
        for case in valid:
            for i, e in enumerate(case.get("events", [])):
                for key in e:
                    if key != "event":
                        broken = copy.deepcopy(case)
                        broken["events"][i][key] = {"not": ["the", "right", "type"]}
                        invalid.append(broken)
        rows = [{"fast": rasa_speedups._surely_valid(case), "full": full.is_valid(case)}
                for case in valid + invalid]
        print(json.dumps({"valid": len(valid), "names": len(names), "rows": rows}))
        """
    )
    rows, valid = result["rows"], result["valid"]
    assert result["names"] == 23
    assert all(row["full"] for row in rows[:valid])  # the corpus is what it says
    assert all(row["fast"] for row in rows[:valid])  # valid responses skip the full check
    assert any(not row["full"] for row in rows[valid:])
    # Never accepted here when Rasa's schema rejects it.
    assert [row for row in rows if row["fast"] and not row["full"]] == []


def test_rasa_runs_its_graphs_without_dasks_scheduler_and_gets_the_same_results(
    run_in_rasa: Callable[[str], object], tmp_path: Path
) -> None:
    result = run_in_rasa(
        f"""
        import json
        import dask.local
        from rasa.engine.graph import ExecutionContext, GraphComponent, GraphSchema, SchemaNode
        from rasa.engine.runner.dask import DaskGraphRunner
        from rasa.engine.storage.local_model_storage import LocalModelStorage

        rasa_run = DaskGraphRunner.run
        import bot.rasa_speedups  # noqa: F401  (importing it installs the runner)

        calls = []

        class Step(GraphComponent):
            def __init__(self, name):
                self.name = name

            @classmethod
            def create(cls, config, model_storage, resource, execution_context):
                return cls(config["name"])

            def run(self, **inputs):
                calls.append(self.name)
                if inputs.get("text") == "boom" and self.name == "b":
                    raise ValueError("component failed")
                return self.name + "(" + ",".join(str(v) for _, v in sorted(inputs.items())) + ")"

        def node(name, needs, target=False):
            return SchemaNode(needs=needs, uses=Step, constructor_name="create", fn="run",
                              config={{"name": name}}, is_target=target)

        schema = GraphSchema({{
            "a": node("a", {{"text": "__message__"}}),
            "b": node("b", {{"x": "a", "text": "__message__"}}),
            "c": node("c", {{"x": "a", "y": "b"}}, target=True),
            "unused": node("unused", {{"x": "a"}}),
        }})
        storage = LocalModelStorage({str(tmp_path / "storage")!r})
        runner = DaskGraphRunner(schema, storage, ExecutionContext(schema, "m"))

        scheduled = []
        scheduler = dask.local.get_async
        def counting(*args, **kwargs):
            scheduled.append(1)
            return scheduler(*args, **kwargs)
        dask.local.get_async = counting

        out = {{}}
        for name, run in (("rasa", rasa_run), ("ours", DaskGraphRunner.run)):
            calls.clear()
            scheduled.clear()
            got = run(runner, inputs={{"__message__": "ciao"}}, targets=["c", "b"])
            try:
                run(runner, inputs={{"__message__": "boom"}}, targets=["c"])
                error = None
            except Exception as exc:
                error = type(exc).__name__ + ": " + str(exc)
            out[name] = {{"got": got, "calls": sorted(calls), "error": error,
                         "scheduled": len(scheduled)}}
        print(json.dumps(out))
        """
    )
    rasa, ours = result["rasa"], result["ours"]
    assert rasa["scheduled"] > 0 and ours["scheduled"] == 0
    assert ours["got"] == rasa["got"]
    assert ours["got"] == {"c": "c(a(ciao),b(ciao,a(ciao)))", "b": "b(ciao,a(ciao))"}
    assert ours["calls"] == rasa["calls"]  # each needed node once, "unused" never
    assert ours["error"] == rasa["error"]
    assert ours["error"] == "GraphComponentException: Error running graph component for node b."


def test_diet_runs_its_compiled_graph_without_dispatch_and_predicts_the_same(
    run_in_rasa: Callable[[str], object], tmp_path: Path
) -> None:
    result = run_in_rasa(
        f"""
        import json
        from pathlib import Path
        import numpy as np
        from rasa.engine.graph import ExecutionContext, GraphSchema
        from rasa.engine.storage.local_model_storage import LocalModelStorage
        from rasa.engine.storage.resource import Resource
        from rasa.nlu.classifiers.diet_classifier import DIETClassifier
        from rasa.nlu.featurizers.sparse_featurizer.count_vectors_featurizer import (
            CountVectorsFeaturizer,
        )
        from rasa.nlu.tokenizers.whitespace_tokenizer import WhitespaceTokenizer
        from rasa.shared.nlu.training_data.message import Message
        from rasa.shared.nlu.training_data.training_data import TrainingData
        import bot.rasa_speedups as speedups

        model_dir = Path({str(tmp_path)!r}) / "model"
        model_dir.mkdir()
        storage = LocalModelStorage(model_dir)
        context = ExecutionContext(GraphSchema({{}}), "check")
        tokenizer = WhitespaceTokenizer(WhitespaceTokenizer.get_default_config())
        words = CountVectorsFeaturizer.create(
            CountVectorsFeaturizer.get_default_config(), storage, Resource("words"), context
        )
        config = {{**DIETClassifier.get_default_config(), "epochs": 2, "random_seed": 1,
                   "entity_recognition": False, "number_of_transformer_layers": 0}}
        diet = DIETClassifier.create(config, storage, Resource("diet"), context)
        examples = [("ciao", "greet"), ("buongiorno", "greet"), ("grazie mille", "thanks"),
                    ("grazie", "thanks"), ("quanto costa la spedizione?", "ask"),
                    ("spedite in Sardegna?", "ask"), ("voglio una persona", "human"),
                    ("parlare con un operatore", "human")]
        data = TrainingData([Message.build(text=t, intent=i) for t, i in examples])
        tokenizer.process_training_data(data)
        words.train(data)
        words.process_training_data(data)
        diet.train(data)

        texts = ["ciao", "grazie!", "spedizione in Sardegna quanto costa", "operatore",
                 "x", "<script>alert(1)</script>", "'; DROP TABLE events; --",
                 "👍" * 50, " ".join(["parola"] * 300)]

        def parse(predict):
            speedups.rasa_models.RasaModel._rasa_predict = predict
            out = []
            for text in texts:
                message = Message.build(text=text)
                tokenizer.process([message])
                words.process([message])
                diet.process([message])
                out.append([message.get("intent")["name"], message.get("intent_ranking")])
            return out

        rasas_own = speedups._predict_with_dispatch
        dispatched = []

        def counting(model, batch_in):
            dispatched.append(1)
            return rasas_own(model, batch_in)

        speedups._predict_with_dispatch = counting
        with_dispatch = parse(rasas_own)  # the first call builds the graph
        compiled = parse(speedups._predict_with_compiled_graph)
        dispatched_while_compiled = len(dispatched)

        # Arrays the signature refuses go through Rasa's own call, and its error.
        _, inputs = speedups._graph_and_inputs(diet.model)
        wrong = [np.zeros([1] * len(shape), dtype=np.float64) for _, shape in inputs]
        try:
            speedups._predict_with_compiled_graph(diet.model, wrong)
            refused = ""
        except ValueError as exc:
            refused = str(exc)
        print(json.dumps({{
            "same": with_dispatch == compiled,
            "intents": sorted({{intent for intent, _ in compiled}}),
            "dispatched_while_compiled": dispatched_while_compiled,
            "dispatched_when_refused": len(dispatched) - dispatched_while_compiled,
            "refused": refused[:300],
        }}))
        """
    )
    # Bit-identical intents and rankings (every confidence) for every message.
    assert result["same"] is True
    assert set(result["intents"]) <= {"greet", "thanks", "ask", "human"}
    assert result["dispatched_while_compiled"] == 0
    assert result["dispatched_when_refused"] == 1 and result["refused"]
