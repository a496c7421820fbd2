"""Rasa 3.6's per-turn costs removed by bot.rasa_speedups, with Rasa's behaviour kept."""

from __future__ import annotations

from collections.abc import Callable


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
        from rasa.shared.core.events import Event

        before = RemoteAction._validate_action_result.__module__
        import bot.components  # noqa: F401  (what Rasa imports when it loads the model)

        print(json.dumps({
            "before": before,
            "check": RemoteAction._validate_action_result.__module__,
            "events": Event.resolve_by_type.__module__,
        }))
        """
    )
    assert result == {
        "before": "rasa.core.actions.action",
        "check": "bot.rasa_speedups",
        "events": "bot.rasa_speedups",
    }
