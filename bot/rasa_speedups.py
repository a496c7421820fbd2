"""Three costs Rasa 3.6 pays on every turn, removed (measured in docs/profiling.md).

- Every action-server response is checked against Rasa's response schema with
  ``jsonschema.validate``, which first re-checks that constant schema against the JSON
  Schema meta-schema: 36 of the 40 ms a check takes. :func:`compile_action_response_check`
  checks with a validator compiled once, and checks each event against the one event
  schema its name selects instead of trying all 23 (:func:`_surely_valid`).
- Every stored event is turned into an object by walking all ``Event`` subclasses to find
  its type name, for every event of the conversation on every turn.
  :func:`index_event_types` looks the class up in a table.

- Every graph run (the NLU pipeline once a message, the policies two or three times) goes
  through dask's local scheduler, whose bookkeeping (ordering, queues, callbacks) costs
  more than some of the components it runs. :func:`run_graphs_in_order` runs the same
  dask graph with dask's own plain executor, ``dask.core.get``.

Each replaces one Rasa function, keeps its behaviour (same checks, same errors, same
results) and is tied to Rasa 3.6 / jsonschema 4.17 / dask 2022.10:
tests/bot/test_rasa_speedups.py fails if a speed-up or Rasa's behaviour is lost on an
upgrade. Installed on import; ``bot.components``
imports this module, so Rasa installs it when it loads the model.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import dask.core
import jsonschema
from jsonschema.exceptions import best_match
from rasa.core.actions.action import RemoteAction
from rasa.engine.exceptions import GraphRunError
from rasa.engine.runner.dask import DaskGraphRunner
from rasa.shared.constants import DOCS_BASE_URL
from rasa.shared.core.events import Event

# ---- Rasa's check of action-server responses, compiled once --------------------------


@cache
def _action_response_validator() -> jsonschema.protocols.Validator:
    """A validator for Rasa's action-response schema; the schema itself is checked once."""
    schema = RemoteAction.action_response_format_spec()
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    return validator_class(schema)


@cache
def _checks_by_event_name() -> tuple[Any, Any, dict[str, Any]] | None:
    """Validators for the response without its events, for what every event shares, and
    for each event schema by the event name it requires; ``None`` if Rasa's schema is no
    longer shaped so that the name selects exactly one schema."""
    schema = RemoteAction.action_response_format_spec()
    validator_class = type(_action_response_validator())
    try:
        events = schema["properties"]["events"]
        shared = {key: value for key, value in events["items"].items() if key != "oneOf"}
        names = [one["properties"]["event"]["const"] for one in events["items"]["oneOf"]]
        if set(events) != {"type", "items"} or events["type"] != "array":
            return None
        if shared.get("required") != ["event"] or shared["properties"]["event"] != {
            "type": "string"
        }:
            return None
    except (KeyError, TypeError):
        return None
    if len(set(names)) != len(names) or not all(isinstance(name, str) for name in names):
        return None
    outer = {**schema, "properties": {**schema["properties"], "events": {"type": "array"}}}
    return (
        validator_class(outer),
        validator_class(shared),
        {
            name: validator_class(one)
            for name, one in zip(names, events["items"]["oneOf"], strict=True)
        },
    )


def _surely_valid(result: Any) -> bool:
    """True only if ``result`` is valid under Rasa's response schema; cheap.

    Each event must match exactly one of 23 event schemas (``oneOf``), and jsonschema
    tries all of them, building an error for each of the 22 that fail: most of a check's
    cost. Every one of them requires its own constant ``event`` name, which the shared
    part requires to be present, so at most one can match: the one its name selects.
    A response passes here only if it passes the shared part and that one schema, which
    is exactly what ``oneOf`` demands. False means "not sure": the full check decides
    (and words the error), so nothing it rejects is accepted.
    """
    checks = _checks_by_event_name()
    if checks is None:
        return False
    outer, shared, by_name = checks
    if not outer.is_valid(result):
        return False
    for event in result.get("events") or ():
        if not shared.is_valid(event):
            return False
        one = by_name.get(event["event"])
        if one is None or not one.is_valid(event):
            return False
    return True


def _validate_action_result(self: RemoteAction, result: dict[str, Any]) -> bool:
    """What ``RemoteAction._validate_action_result`` does, without re-checking the schema."""
    if _surely_valid(result):
        return True
    error = best_match(_action_response_validator().iter_errors(result))
    if error is None:
        return True
    error.message += (
        ". Failed to validate Action server response from API, "
        "make sure your response from the Action endpoint is valid. "
        f"For more information about the format visit {DOCS_BASE_URL}/custom-actions"
    )
    raise error


def compile_action_response_check() -> None:
    """Make Rasa validate action-server responses with a validator compiled once.

    Rasa 3.6 checks every response of the action server with ``jsonschema.validate``,
    which first re-validates Rasa's own, constant response schema against the JSON
    Schema 2020-12 meta-schema: 36 ms of the 40 ms a check takes on this machine, paid
    on every turn that runs a custom action (docs/profiling.md). The response is still
    checked against the same schema and a bad one raises the same ``ValidationError``
    with Rasa's message; only the meta-schema check happens once. Idempotent.
    """
    RemoteAction._validate_action_result = _validate_action_result


# ---- event classes by type name ------------------------------------------------------

_EVENT_TYPES: dict[str, type[Event]] = {}
_resolve_by_walking_subclasses = Event.resolve_by_type


def _resolve_event_type(type_name: str, default: type[Event] | None = None) -> type[Event] | None:
    """``Event.resolve_by_type`` remembering each class it found (misses are not cached)."""
    event_class = _EVENT_TYPES.get(type_name)
    if event_class is None:
        event_class = _resolve_by_walking_subclasses(type_name, default)
        if event_class is not None and event_class.type_name == type_name:
            _EVENT_TYPES[type_name] = event_class
    return event_class


def index_event_types() -> None:
    """Make Rasa find an event's class by its type name in a table.

    Rasa 3.6 turns every stored or returned event into an object by walking all ~25
    ``Event`` subclasses (``inspect.isabstract`` on each) to find the one with that
    ``type_name``: 0.06 ms per event, every event of the conversation on every turn
    (the tracker is rebuilt from the tracker store), so 2-3 ms a turn in a five-turn
    conversation and tens of milliseconds in a long one. The class found first is
    remembered and returned for that name from then on; unknown names still go through
    Rasa's own lookup (its default, ``None`` for "topic", or its ``ValueError``).
    """
    Event.resolve_by_type = staticmethod(_resolve_event_type)


# ---- graph runs without dask's scheduler ----------------------------------------------


def _run_graph(
    self: DaskGraphRunner,
    inputs: dict[str, Any] | None = None,
    targets: list[str] | None = None,
) -> dict[str, Any]:
    """``DaskGraphRunner.run`` with ``dask.core.get`` in place of ``dask.get``."""
    run_targets = targets if targets else self._graph_schema.target_names
    minimal_schema = self._graph_schema.minimal_graph_schema(run_targets)
    run_graph = self._build_dask_graph(minimal_schema)
    if inputs:
        self._add_inputs_to_graph(inputs, run_graph)
    try:
        return dict(dask.core.get(run_graph, run_targets))
    except RuntimeError as e:
        raise GraphRunError("Error running runner.") from e


def run_graphs_in_order() -> None:
    """Make Rasa run its graphs with dask's plain executor instead of its local scheduler.

    ``dask.get`` (the synchronous local scheduler) orders the tasks, queues them and
    calls hooks around each: bookkeeping that, for graphs of 3-12 small nodes run three
    times a turn, cost about a tenth of the Rasa server's CPU. ``dask.core.get`` runs
    the same graph (tasks in dependency order, each once, results cached by key) with
    the same task execution (``dask.core._execute_task``, which the scheduler also
    uses), so every component gets the same inputs; an error in a component propagates
    as the same exception, wrapped as Rasa wraps it. Idempotent.
    """
    DaskGraphRunner.run = _run_graph


compile_action_response_check()
index_event_types()
run_graphs_in_order()
