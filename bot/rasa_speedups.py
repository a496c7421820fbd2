"""Four costs Rasa 3.6 pays on every turn, removed (measured in docs/profiling.md).

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

- Every NLU prediction calls DIET's compiled graph through ``tf.function``'s dispatch,
  which derives a cache key from the 20-odd input arrays and re-checks them against the
  graph's fixed signature: twice the time of running the graph itself.
  :func:`call_compiled_predictions` calls the graph that dispatch would pick directly.

Each replaces one Rasa function, keeps its behaviour (same checks, same errors, same
results) and is tied to Rasa 3.6 / jsonschema 4.17 / dask 2022.10 / TensorFlow 2.12:
tests/bot/test_rasa_speedups.py fails if a speed-up or Rasa's behaviour is lost on an
upgrade. Installed on import; ``bot.components``
imports this module, so Rasa installs it when it loads the model.
"""

from __future__ import annotations

import weakref
from functools import cache
from typing import Any

import dask.core
import jsonschema
import numpy as np
import rasa.utils.tensorflow.models as rasa_models
import tensorflow as tf
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


# ---- DIET's compiled graph, called without tf.function's dispatch ----------------------

_predict_with_dispatch = rasa_models.RasaModel._rasa_predict
# model -> (its compiled prediction graph, the (dtype, shape) each input must have)
_compiled: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _graph_and_inputs(model: rasa_models.RasaModel) -> tuple[Any, list[tuple[Any, list]]]:
    found = _compiled.get(model)
    if found is None:
        # Rasa builds the tf.function with a fixed input signature, so it holds exactly
        # one concrete graph: the one its dispatch picks on every call.
        graph = model._tf_predict_step.get_concrete_function()
        specs = tf.nest.flatten(graph.structured_input_signature[0])
        found = _compiled[model] = (
            graph,
            [(spec.dtype.as_numpy_dtype, spec.shape.as_list()) for spec in specs],
        )
    return found


def _fits(batch_in: Any, inputs: list[tuple[Any, list]]) -> bool:
    """Whether each array has the dtype and shape the graph's signature asks for."""
    return len(batch_in) == len(inputs) and all(
        isinstance(array, np.ndarray)
        and array.dtype == dtype
        and array.ndim == len(shape)
        and all(want is None or want == got for want, got in zip(shape, array.shape, strict=True))
        for array, (dtype, shape) in zip(batch_in, inputs, strict=True)
    )


def _predict_with_compiled_graph(self: rasa_models.RasaModel, batch_in: Any) -> dict[str, Any]:
    """``RasaModel._rasa_predict`` running the compiled graph without tf.function's dispatch.

    The first call (which builds the graph), eager models and any input the signature
    would not accept go through Rasa's own method, so its errors stay the same.
    """
    if self._run_eagerly or self._tf_predict_step is None or not self.prepared_for_prediction:
        return _predict_with_dispatch(self, batch_in)
    graph, inputs = _graph_and_inputs(self)
    if not _fits(batch_in, inputs):
        return _predict_with_dispatch(self, batch_in)
    self._training = False
    tensors = [tf.constant(array) for array in batch_in]
    outputs = rasa_models.tf_utils.sync_to_numpy_or_python_type(
        graph._call_flat(tensors, graph.captured_inputs)
    )
    if rasa_models.DIAGNOSTIC_DATA in outputs:
        outputs[rasa_models.DIAGNOSTIC_DATA] = self._empty_lists_to_none_in_dict(
            outputs[rasa_models.DIAGNOSTIC_DATA]
        )
    return outputs


def call_compiled_predictions() -> None:
    """Make Rasa's TensorFlow models (DIET here) call their compiled graph directly.

    Rasa wraps ``predict_step`` in a ``tf.function`` with a fixed input signature. Each
    call through it computes a cache key over every input array and converts and checks
    them against that signature before running the one graph it has: about 0.65 ms of a
    5 ms parse. Here the arrays, once checked to match the signature's dtypes and
    shapes, become tensors and run that same graph (``_call_flat``, what the dispatch
    itself calls), so the outputs are bit-identical. Idempotent.
    """
    rasa_models.RasaModel._rasa_predict = _predict_with_compiled_graph


compile_action_response_check()
index_event_types()
run_graphs_in_order()
call_compiled_predictions()
