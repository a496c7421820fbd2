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
        from bot.rasa_speedups import install_speedups
        outcome = install_speedups("response_check")
        assert outcome["response_check"] == "installed", outcome
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
        from bot.rasa_speedups import install_speedups
        outcome = install_speedups("event_types")
        assert outcome["event_types"] == "installed", outcome
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


# Where each speed-up shows: the Rasa attribute it replaces.
PATCHED = """
from rasa.core.actions.action import RemoteAction
from rasa.core.policies.rule_policy import RulePolicy
from rasa.engine.runner.dask import DaskGraphRunner
from rasa.shared.core.events import Event
from rasa.shared.nlu.training_data.features import Features
from rasa.utils.endpoints import EndpointConfig
from rasa.utils.tensorflow.models import RasaModel

def patched():
    where = {
        "response_check": RemoteAction._validate_action_result,
        "event_types": Event.resolve_by_type,
        "graph_runner": DaskGraphRunner.run,
        "compiled_predictions": RasaModel._rasa_predict,
        "rule_matching": RulePolicy._get_possible_keys,
        "endpoint_sessions": EndpointConfig.session,
        "sparse_join": Features._combine_sparse_features,
    }
    return sorted(name for name, f in where.items() if f.__module__ == "bot.rasa_speedups")
"""
EVERY = [
    "compiled_predictions",
    "endpoint_sessions",
    "event_types",
    "graph_runner",
    "response_check",
    "rule_matching",
    "sparse_join",
]


def test_loading_the_models_components_installs_the_speed_ups_importing_does_not(
    run_in_rasa: Callable[[str], object], tmp_path: Path
) -> None:
    result = run_in_rasa(
        PATCHED
        + f"""
import json, os
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
import bot.components  # what Rasa imports when it reads config.yml, training included
from bot import rasa_speedups

imported = patched()
os.environ["SPORTELLO_RASA_SPEEDUPS"] = "-graph_runner"  # read by the settings on load
installs = []
install = rasa_speedups.SPEEDUPS[0].install
rasa_speedups.SPEEDUPS = tuple(
    s if s.name != "response_check"
    else rasa_speedups.SpeedUp(s.name, lambda: (installs.append(1), install()), s.written_for)
    for s in rasa_speedups.SPEEDUPS
)
args = ({{}}, LocalModelStorage({str(tmp_path)!r}), Resource("x"),
        ExecutionContext(GraphSchema({{}}), "m"))
bot.components.LanguageDetector.load(*args)
bot.components.QuestionRouter.load(*args)  # a second component: installed once only
print(json.dumps({{"imported": imported, "loaded": patched(), "installs": len(installs)}}))
"""
    )
    assert result["imported"] == []
    assert result["loaded"] == [name for name in EVERY if name != "graph_runner"]
    assert result["installs"] == 1


def test_a_speed_up_on_versions_it_was_not_written_for_stays_off_and_says_so(
    run_in_rasa: Callable[[str], object],
) -> None:
    result = run_in_rasa(
        PATCHED
        + """
import json, logging
from bot import rasa_speedups
from bot.rasa_speedups import install_speedups, installed_version

records = []
handler = logging.Handler()
handler.emit = lambda record: records.append((record.levelname, record.getMessage()))
logging.getLogger("bot.rasa_speedups").addHandler(handler)
logging.getLogger("bot.rasa_speedups").setLevel(logging.INFO)

def newer_scipy(name):
    return "1.11.0" if name == "scipy" else installed_version(name)

scipy = install_speedups("all", found=newer_scipy)
scipy_patched = patched()
scipy_warnings = [m for level, m in records if level == "WARNING"]
records.clear()
rasa = install_speedups("all", found=lambda name: "3.7.0" if name == "rasa" else "0")
print(json.dumps({
    "scipy": scipy, "scipy_patched": scipy_patched, "scipy_warnings": scipy_warnings,
    "rasa": rasa, "warnings": [m for level, m in records if level == "WARNING"],
    "written_for": {s.name: s.written_for for s in rasa_speedups.SPEEDUPS},
    "found": {name: installed_version(name) for s in rasa_speedups.SPEEDUPS
              for name in s.written_for},
}))
"""
    )
    # The installed environment is the one every patch was written for: none is off here.
    for name, versions in result["written_for"].items():
        for library, version in versions.items():
            assert result["found"][library] == version, (name, library)
    assert result["scipy"]["sparse_join"] == "switched off: scipy 1.11.0 (written for 1.10.1)"
    assert [n for n, o in result["scipy"].items() if o != "installed"] == ["sparse_join"]
    assert result["scipy_patched"] == [name for name in EVERY if name != "sparse_join"]
    assert len(result["scipy_warnings"]) == 1
    assert "sparse_join switched off: scipy 1.11.0" in result["scipy_warnings"][0]
    # Every patch replaces Rasa's code: another Rasa switches every one off, loudly.
    assert sorted(result["rasa"]) == EVERY
    assert all("rasa 3.7.0 (written for 3.6.21)" in o for o in result["rasa"].values())
    assert len(result["warnings"]) == len(EVERY)
    for name in EVERY:
        assert any(
            w.startswith(f"Rasa speed-up {name} switched off: rasa 3.7.0")
            for w in result["warnings"]
        )


def test_the_setting_turns_speed_ups_off_all_or_one_by_one(
    run_in_rasa: Callable[[str], object],
) -> None:
    result = run_in_rasa(
        PATCHED
        + """
import json, logging
from bot.rasa_speedups import chosen_names

specs = ["all", "", "0", "none", "-graph_runner", "-graph_runner, -sparse_join",
         "rule_matching,event_types", "Event_Types", "-nope", "nope,rule_matching"]
chosen = {spec: sorted(chosen_names(spec)[0]) for spec in specs}
unknown = {spec: chosen_names(spec)[1] for spec in specs}

from bot.rasa_speedups import install_speedups
off = install_speedups("0")
print(json.dumps({"chosen": chosen, "unknown": unknown, "off": off, "patched": patched()}))
"""
    )
    chosen, unknown = result["chosen"], result["unknown"]
    assert chosen["all"] == chosen[""] == EVERY
    assert chosen["0"] == chosen["none"] == []
    assert chosen["-graph_runner"] == [n for n in EVERY if n != "graph_runner"]
    assert chosen["-graph_runner, -sparse_join"] == [
        n for n in EVERY if n not in ("graph_runner", "sparse_join")
    ]
    assert chosen["rule_matching,event_types"] == ["event_types", "rule_matching"]
    assert chosen["Event_Types"] == ["event_types"]
    assert chosen["-nope"] == EVERY and unknown["-nope"] == ["-nope"]
    assert chosen["nope,rule_matching"] == ["rule_matching"]
    assert unknown["nope,rule_matching"] == ["nope"] and unknown["all"] == []
    assert set(result["off"].values()) == {"switched off by SPORTELLO_RASA_SPEEDUPS"}
    assert result["patched"] == []


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
        from bot.rasa_speedups import install_speedups
        outcome = install_speedups("graph_runner")
        assert outcome["graph_runner"] == "installed", outcome

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
        outcome = speedups.install_speedups("compiled_predictions")
        assert outcome["compiled_predictions"] == "installed", outcome

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


def test_rule_policy_does_less_work_and_predicts_the_same(
    run_in_rasa: Callable[[str], object], tmp_path: Path
) -> None:
    result = run_in_rasa(
        f"""
        import json
        from pathlib import Path
        from rasa.core.featurizers.tracker_featurizers import TrackerFeaturizer
        from rasa.core.policies.rule_policy import RulePolicy, RULES, RULES_FOR_LOOP_UNHAPPY_PATH
        rasa_parts = (RulePolicy._get_possible_keys, RulePolicy._predict,
                      TrackerFeaturizer._create_states)
        from bot.rasa_speedups import install_speedups
        outcome = install_speedups("rule_matching")
        assert outcome["rule_matching"] == "installed", outcome
        from rasa.core.training import load_data
        from rasa.engine.graph import ExecutionContext, GraphSchema
        from rasa.engine.storage.local_model_storage import LocalModelStorage
        from rasa.engine.storage.resource import Resource
        from rasa.shared.core.trackers import DialogueStateTracker
        from rasa.shared.importers.importer import TrainingDataImporter

        our_parts = (RulePolicy._get_possible_keys, RulePolicy._predict,
                     TrackerFeaturizer._create_states)
        importer = TrainingDataImporter.load_from_dict(
            domain_path="bot/domain.yml",
            training_data_paths=["bot/data", "bot/tests/test_stories.yml"],
        )
        domain = importer.get_domain()
        trackers = load_data(importer, domain, augmentation_factor=0)
        policy = RulePolicy.create(
            RulePolicy.get_default_config(),
            LocalModelStorage(Path({str(tmp_path)!r})),
            Resource("rules"),
            ExecutionContext(GraphSchema({{}}), "check"),
        )
        policy.train([t for t in trackers if t.is_rule_tracker], domain)
        stories = [list(t.events) for t in trackers if not t.is_rule_tracker]
        # every story, plus one long conversation made of all of them in a row
        conversations = stories + [[event for story in stories for event in story]]

        checks = []
        is_applicable = RulePolicy._is_rule_applicable
        def counting(self, *args):
            checks.append("rule")
            return is_applicable(self, *args)
        RulePolicy._is_rule_applicable = counting
        past_states = DialogueStateTracker.past_states
        def counting_states(self, *args, **kwargs):
            checks.append("states")
            return past_states(self, *args, **kwargs)
        DialogueStateTracker.past_states = counting_states

        def install(parts):
            keys, predict, create_states = parts
            RulePolicy._get_possible_keys = keys
            RulePolicy._predict = predict
            TrackerFeaturizer._create_states = staticmethod(create_states)

        compared = same_keys = same_predictions = 0
        calls = {{"rasa": {{"rule": 0, "states": 0}}, "ours": {{"rule": 0, "states": 0}}}}
        for events in conversations:
            for end in range(1, len(events) + 1):
                tracker = DialogueStateTracker.from_events("c", events[:end], domain.slots)
                results = {{}}
                for name, parts in (("rasa", rasa_parts), ("ours", our_parts)):
                    install(parts)
                    found = []
                    for use_text in (True, False):
                        states = policy._prediction_states(
                            tracker, domain, use_text, rule_only_data=policy._get_rule_only_data()
                        )
                        for lookup in (RULES, RULES_FOR_LOOP_UNHAPPY_PATH):
                            found.append(sorted(parts[0](policy, policy.lookup[lookup], states)))
                    checks.clear()
                    prediction = policy.predict_action_probabilities(tracker, domain)
                    for kind in ("rule", "states"):
                        calls[name][kind] += checks.count(kind)
                    results[name] = (found, prediction.probabilities, prediction.events,
                                     prediction.policy_name, prediction.action_metadata)
                compared += 1
                same_keys += results["rasa"][0] == results["ours"][0]
                same_predictions += results["rasa"][1:] == results["ours"][1:]
        print(json.dumps({{"compared": compared, "same_keys": same_keys,
                          "same_predictions": same_predictions, "calls": calls,
                          "rules": len(policy.lookup[RULES])}}))
        """
    )
    assert result["rules"] > 20
    assert result["compared"] > 300
    assert result["same_keys"] == result["compared"]
    assert result["same_predictions"] == result["compared"]
    rasa, ours = result["calls"]["rasa"], result["calls"]["ours"]
    # Rasa checks every rule against the newest state and the survivors back to the start
    assert ours["rule"] * 2 < rasa["rule"]
    # and builds the states for the text, then again for the intent, of each message
    assert ours["states"] < rasa["states"]


def test_rasa_keeps_one_connection_per_endpoint_and_gives_up_idle_ones_first(
    run_in_rasa: Callable[[str], object],
) -> None:
    result = run_in_rasa(
        """
        import asyncio
        import json
        import aiohttp
        from aiohttp import web
        from rasa.utils.endpoints import ClientResponseError, EndpointConfig
        rasa_session = EndpointConfig.session
        import bot.rasa_speedups as speedups
        outcome = speedups.install_speedups("endpoint_sessions")
        assert outcome["endpoint_sessions"] == "installed", outcome
        assert EndpointConfig.session is not rasa_session

        speedups.KEEP_IDLE_S = 0.5  # the server below drops idle connections after 1 s

        async def main():
            peers = []

            async def action(request):
                peers.append(request.transport.get_extra_info("peername")[1])
                body = await request.json()
                if body.get("fail"):
                    return web.json_response({"error": "no"}, status=400)
                return web.json_response({"echo": body, "auth": request.headers.get("X-Key")})

            app = web.Application()
            app.router.add_post("/webhook", action)

            async def serve():
                runner = web.AppRunner(app, keepalive_timeout=1.0)
                await runner.setup()
                await web.TCPSite(runner, "127.0.0.1", port).start()
                return runner

            import socket
            with socket.socket() as probe:
                probe.bind(("127.0.0.1", 0))
                port = probe.getsockname()[1]
            runner = await serve()
            endpoint = EndpointConfig(f"http://127.0.0.1:{port}/webhook", headers={"X-Key": "k"})
            out = {}

            async def call(**body):
                return await endpoint.request(json=body, method="post")

            # back to back: one connection; Rasa's own session opens one per call
            replies = [await call(n=n) for n in range(5)]
            # the body reaches the server as the same JSON, whatever it holds
            odd = {"text": "è </script> \\u0000 ' -- ", "big": 2**70, "x": 0.1 + 0.2,
                   "nested": [{"a": None, "b": True}, []], "emoji": "🙂" * 3}
            out["odd"] = (await call(**odd))["echo"] == odd
            out["replies"] = replies
            out["kept_peers"] = len(set(peers))
            peers.clear()
            EndpointConfig.session = rasa_session
            for n in range(3):
                await call(n=n)
            out["rasa_peers"] = len(set(peers))
            EndpointConfig.session = speedups._kept_session
            # idle around the client's and the server's limits: never a failed call
            peers.clear()
            ok = 0
            for pause in (0.3, 0.45, 0.55, 0.8, 0.95, 1.05, 1.3):
                await asyncio.sleep(pause)
                ok += (await call(pause=pause))["echo"] == {"pause": pause}
            out["after_pauses_ok"] = ok
            out["after_pauses_peers"] = len(set(peers))
            # Rasa's errors are unchanged
            try:
                await call(fail=True)
                out["status"] = None
            except ClientResponseError as exc:
                out["status"] = exc.status
            # the server restarts: the next call gets a new connection and its answer
            await runner.cleanup()
            try:
                await call(n="down")
                out["down"] = None
            except aiohttp.ClientConnectionError as exc:
                out["down"] = type(exc).__name__
            runner = await serve()
            out["after_restart"] = (await call(n="back"))["echo"]
            session = endpoint._sportello_session[1]
            await speedups.close_kept_sessions()
            out["closed"] = session.closed
            await runner.cleanup()
            print(json.dumps(out))

        asyncio.run(main())
        """
    )
    assert result["replies"] == [{"echo": {"n": n}, "auth": "k"} for n in range(5)]
    assert result["odd"] is True
    assert result["kept_peers"] == 1
    assert result["rasa_peers"] == 3  # what the speed-up removes
    assert result["after_pauses_ok"] == 7
    assert 1 < result["after_pauses_peers"] < 7  # idle connections were given up, not all
    assert result["status"] == 400
    assert result["down"] == "ClientConnectorError"
    assert result["after_restart"] == {"n": "back"}
    assert result["closed"] is True


def test_sparse_features_are_joined_into_the_same_matrix_as_scipys_hstack(
    run_in_rasa: Callable[[str], object],
) -> None:
    result = run_in_rasa(
        """
        import json
        import numpy as np
        from scipy.sparse import coo_matrix, csr_matrix, hstack, random as sparse_random
        from rasa.shared.nlu.training_data.features import Features
        rasa_combine = Features._combine_sparse_features
        from bot.rasa_speedups import install_speedups
        outcome = install_speedups("sparse_join")
        assert outcome["sparse_join"] == "installed", outcome

        def features(matrix):
            return Features(matrix, "sentence", "text", "check")

        def same(a, b):
            return (type(a) is type(b) and a.shape == b.shape and a.dtype == b.dtype
                    and a.row.dtype == b.row.dtype and a.col.dtype == b.col.dtype
                    and np.array_equal(a.row, b.row) and np.array_equal(a.col, b.col)
                    and np.array_equal(a.data, b.data))

        rng = np.random.default_rng(7)
        pairs = []
        for rows, left_cols, right_cols, left_type, right_type in (
            (1, 300, 5000, np.int64, np.int64),  # a message: words then characters
            (7, 40, 90, np.float32, np.int64),
            (3, 0, 12, np.int64, np.float64),
            (1, 5, 5, np.int32, np.int32),
        ):
            left = sparse_random(rows, left_cols, density=0.1, format="coo", random_state=rng)
            right = sparse_random(rows, right_cols, density=0.05, format="coo", random_state=rng)
            pairs.append((left.astype(left_type), right.astype(right_type)))
        pairs.append((coo_matrix((1, 4)), coo_matrix((1, 3))))  # nothing set

        out = {"same": []}
        for left, right in pairs:
            ours = features(left)
            ours.combine_with_features(features(right))
            out["same"].append(same(ours.features, hstack([left, right])))
        # what the shortcut does not handle goes through Rasa's own method
        mixed = features(csr_matrix(np.eye(2)))
        mixed.combine_with_features(features(coo_matrix(np.ones((2, 2)))))
        out["mixed"] = same(mixed.features, hstack([csr_matrix(np.eye(2)), np.ones((2, 2))]))
        try:
            features(coo_matrix((1, 2))).combine_with_features(features(coo_matrix((2, 2))))
            out["error"] = ""
        except ValueError as exc:
            out["error"] = str(exc)
        out["installed"] = Features._combine_sparse_features is not rasa_combine
        print(json.dumps(out))
        """
    )
    assert result["same"] == [True] * 5
    assert result["mixed"] is True
    assert result["error"].startswith("Cannot combine sparse features as sequence dimensions")
    assert result["installed"] is True
