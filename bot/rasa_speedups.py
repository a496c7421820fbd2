"""Costs Rasa 3.6 pays on every turn, removed (measured in docs/profiling.md).

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

- RulePolicy checks every rule against every state of the conversation, and builds
  those states (replaying the conversation) twice a prediction.
  :func:`narrow_rule_matching` skips the checks that cannot fail and builds them once.

- Every call to the action server opens a new HTTP session and connection and writes
  the tracker with ``json.dumps``. :func:`keep_endpoint_connections` keeps one session
  per endpoint and writes the same JSON with ujson.

- DIET's input joins two one-row sparse matrices through scipy's general ``bmat``.
  :func:`join_sparse_features_directly` concatenates their arrays.

Each replaces one Rasa function (RulePolicy's: three) and keeps its behaviour (same
checks, same errors, same results); tests/bot/test_rasa_speedups.py compares each with
the original. Nothing is patched on import: :func:`install_speedups`, called when Rasa
loads a trained model, installs those that ``SPORTELLO_RASA_SPEEDUPS`` asks for (all by
default; ``0`` none, ``-name`` all but one, ``a,b`` only those) and only where the
libraries are the exact versions the patch was written for (``SPEEDUPS``); on any other
it stays off and says so in the log.
"""

from __future__ import annotations

import asyncio
import json
import logging
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import metadata
from typing import Any

import aiohttp
import dask.core
import jsonschema
import numpy as np
import rasa.utils.tensorflow.models as rasa_models
import tensorflow as tf
import ujson
from jsonschema.exceptions import best_match
from rasa.core.actions.action import RemoteAction
from rasa.core.constants import DEFAULT_REQUEST_TIMEOUT
from rasa.core.featurizers.tracker_featurizers import TrackerFeaturizer
from rasa.core.policies.rule_policy import RulePolicy
from rasa.engine.exceptions import GraphRunError
from rasa.engine.runner.dask import DaskGraphRunner
from rasa.shared.constants import DOCS_BASE_URL
from rasa.shared.core.constants import PREVIOUS_ACTION, SHOULD_NOT_BE_SET
from rasa.shared.core.events import Event
from rasa.shared.nlu.constants import ACTION_NAME
from rasa.shared.nlu.training_data.features import Features
from rasa.utils.endpoints import EndpointConfig
from scipy.sparse import coo_matrix
from scipy.sparse._sputils import get_index_dtype, upcast

from sportello.settings import get_settings

logger = logging.getLogger(__name__)

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
    if self._training is not False:  # Keras tracks every attribute set: 1% of the server
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


# ---- the two sparse featurizers' matrices, joined without bmat -----------------------

_rasa_combine_sparse = Features._combine_sparse_features


def _join_columns(left: coo_matrix, right: coo_matrix) -> coo_matrix:
    """``scipy.sparse.hstack([left, right])`` for two COO matrices with as many rows:
    the same arrays in the same order (bmat's general branch), without the object array
    of blocks and the conversions bmat makes first."""
    shape = (left.shape[0], left.shape[1] + right.shape[1])
    index_dtype = get_index_dtype(maxval=max(shape))
    data = np.empty(left.nnz + right.nnz, dtype=upcast(left.dtype, right.dtype))
    row = np.empty(len(data), dtype=index_dtype)
    col = np.empty(len(data), dtype=index_dtype)
    data[: left.nnz] = left.data
    data[left.nnz :] = right.data
    row[: left.nnz] = left.row
    row[left.nnz :] = right.row
    col[: left.nnz] = left.col
    col[left.nnz :] = right.col + left.shape[1]
    return coo_matrix((data, (row, col)), shape=shape)


def _combine_sparse_features(self: Features, additional_features: Features) -> None:
    """``Features._combine_sparse_features`` joining two COO matrices directly."""
    left, right = self.features, additional_features.features
    joinable = (
        type(left) is coo_matrix
        and type(right) is coo_matrix
        and left.shape[0] == right.shape[0] != 0
    )
    if not joinable:  # other formats, Rasa's row-mismatch error, bmat's empty case
        return _rasa_combine_sparse(self, additional_features)
    self.features = _join_columns(left, right)
    self._cached_fingerprint = None
    return None


def join_sparse_features_directly() -> None:
    """Make Rasa join the word and character count matrices of a message directly.

    DIET's input for every message is the two CountVectorsFeaturizers' matrices side by
    side, joined by ``scipy.sparse.hstack``, whose general ``bmat`` builds an object array
    of blocks and converts each block to COO first: 4.5% of the Rasa server's CPU for two
    one-row matrices. The matrix built here has the same shape, dtypes and arrays in the
    same order; anything but two COO matrices goes through Rasa's own method. Idempotent.
    """
    Features._combine_sparse_features = _combine_sparse_features


# ---- RulePolicy's rule matching, narrowed before it starts ---------------------------


@lru_cache(maxsize=64)
def _rules_by_last_action(
    keys: tuple[str, ...],
) -> tuple[frozenset[str], dict[str, frozenset[str]]]:
    """The rules split by the previous action their last state requires: those requiring
    none, and for each action name those requiring it."""
    free: set[str] = set()
    by_action: dict[str, set[str]] = {}
    for key in keys:
        last = RulePolicy._rule_key_to_state(key)[-1]
        name = (last.get(PREVIOUS_ACTION) or {}).get(ACTION_NAME)
        if name and name != SHOULD_NOT_BE_SET:
            by_action.setdefault(name, set()).add(key)
        else:
            free.add(key)
    return frozenset(free), {name: frozenset(found) for name, found in by_action.items()}


def _get_possible_keys(self: RulePolicy, lookup: dict[str, str], states: list[Any]) -> set[str]:
    """``RulePolicy._get_possible_keys`` on fewer rules and fewer states, same keys returned.

    Rasa checks every rule against every state of the conversation, newest first. Two
    shortcuts decide nothing differently:

    - a rule whose last state requires a previous action other than the conversation's
      (or requires one at the conversation's start) fails ``_is_rule_applicable`` on the
      newest state: ``_does_rule_match_state`` compares that name first of all;
    - at a turn further back than a rule's length ``_is_rule_applicable`` returns True
      without looking, so states older than the longest rule left remove nothing.

    Every rule left is checked by Rasa's own ``_is_rule_applicable``.
    """
    if not states:
        return set(lookup)
    free, by_action = _rules_by_last_action(tuple(lookup))
    current = (states[-1].get(PREVIOUS_ACTION) or {}).get(ACTION_NAME)
    possible_keys = free | by_action.get(current, frozenset()) if current else set(free)
    longest = max((len(self._rule_key_to_state(key)) for key in possible_keys), default=0)
    for turn, state in enumerate(reversed(states[-longest:] if longest else ())):
        possible_keys = {key for key in possible_keys if self._is_rule_applicable(key, turn, state)}
    return possible_keys


# One RulePolicy prediction's conversation states, while it runs: the tracker they belong
# to and, per set of arguments, the states as Rasa built them. Emptied when it returns.
_RULE_STATES: dict[str, Any] = {}
_rasa_create_states = TrackerFeaturizer._create_states
_rasa_rule_predict = RulePolicy._predict


def _copy_states(states: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """States to hand out: callers delete keys from the sub-states (the last user input,
    text beside intent), whose values (strings, tuples) are never changed in place."""
    return [{kind: dict(sub_state) for kind, sub_state in state.items()} for state in states]


def _create_states_once(
    tracker: Any,
    domain: Any,
    omit_unset_slots: bool = False,
    ignore_rule_only_turns: bool = False,
    rule_only_data: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """``TrackerFeaturizer._create_states``, built once per RulePolicy prediction."""
    if _RULE_STATES.get("tracker") is not tracker:
        return _rasa_create_states(
            tracker, domain, omit_unset_slots, ignore_rule_only_turns, rule_only_data
        )
    key = (len(tracker.events), id(domain), omit_unset_slots, ignore_rule_only_turns)
    built = _RULE_STATES.setdefault("built", {}).get(key)
    if built is None or built[0] != rule_only_data:
        states = _rasa_create_states(
            tracker, domain, omit_unset_slots, ignore_rule_only_turns, rule_only_data
        )
        built = _RULE_STATES["built"][key] = (rule_only_data, _copy_states(states))
        return states
    return _copy_states(built[1])


def _predict_building_states_once(self: RulePolicy, tracker: Any, domain: Any) -> Any:
    """``RulePolicy._predict`` with the conversation's states built once, not twice."""
    _RULE_STATES.clear()
    _RULE_STATES["tracker"] = tracker
    try:
        return _rasa_rule_predict(self, tracker, domain)
    finally:
        _RULE_STATES.clear()


def narrow_rule_matching() -> None:
    """Make RulePolicy check only the rules and states that can still change its answer.

    RulePolicy matches its rules two or three times a turn: every rule (79 here) against
    the newest state, the survivors against older states, back to the conversation's
    start. Most rules end on a previous action other than the conversation's, and past a
    rule's length every state passes: about 5% of the Rasa server's CPU decided nothing.
    Its prediction also builds the conversation's states (one per action run, replaying
    the whole conversation) twice, once to match the rules on the message's text and once
    on its intent: they are now built once and copied. Same keys returned, so the same
    prediction. Idempotent.
    """
    RulePolicy._get_possible_keys = _get_possible_keys
    RulePolicy._predict = _predict_building_states_once
    TrackerFeaturizer._create_states = staticmethod(_create_states_once)


# ---- one kept HTTP session per endpoint ----------------------------------------------

# Seconds an idle connection to the action server is kept. Below the server's own idle
# limit (120 s for rasa-sdk's Sanic 25, 5 s for older Sanic) so the client always gives
# up on a connection first: a request is never sent on one the server is closing.
KEEP_IDLE_S = 4.0


class _KeptSession:
    """What ``async with endpoint.session()`` enters: a shared session, left open on exit."""

    def __init__(self, session: aiohttp.ClientSession) -> None:
        self._session = session

    async def __aenter__(self) -> aiohttp.ClientSession:
        return self._session

    async def __aexit__(self, *exc_info: object) -> None:
        return None


def _kept_session(self: EndpointConfig) -> _KeptSession | aiohttp.ClientSession:
    """``EndpointConfig.session`` handing out one session per endpoint and event loop.

    The session is Rasa's (same headers, authentication and timeout) with a connector
    that keeps idle connections ``KEEP_IDLE_S`` seconds. Outside an event loop, Rasa's
    own method.
    """
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return _new_session(self)
    kept = self.__dict__.get("_sportello_session")
    if kept is None or kept[0] is not loop or kept[1].closed:
        auth = (
            aiohttp.BasicAuth(self.basic_auth["username"], self.basic_auth["password"])
            if self.basic_auth
            else None
        )
        session = aiohttp.ClientSession(
            headers=self.headers,
            auth=auth,
            timeout=aiohttp.ClientTimeout(total=DEFAULT_REQUEST_TIMEOUT),
            connector=aiohttp.TCPConnector(limit=0, keepalive_timeout=KEEP_IDLE_S),
            json_serialize=_to_json,
        )
        kept = self.__dict__["_sportello_session"] = (loop, session)
        _KEPT.append(kept)
    return _KeptSession(kept[1])


def _to_json(body: Any) -> str:
    """The request body as JSON: ujson (twice as fast on a tracker with its domain, half a
    millisecond with json) and ``json.dumps`` for anything ujson refuses."""
    try:
        return ujson.dumps(body, escape_forward_slashes=False)
    except (TypeError, ValueError, OverflowError):
        return json.dumps(body)


_new_session = EndpointConfig.session
_KEPT: list[tuple[asyncio.AbstractEventLoop, aiohttp.ClientSession]] = []


async def close_kept_sessions(*_: object) -> None:
    """Close the kept sessions of the running event loop (a Sanic ``after_server_stop``
    listener of the REST channel); those of other loops can no longer be closed from here
    and are forgotten."""
    loop = asyncio.get_running_loop()
    while _KEPT:
        session_loop, session = _KEPT.pop()
        if session_loop is loop:
            await session.close()


def keep_endpoint_connections() -> None:
    """Make Rasa reuse one HTTP session, and its connections, for each endpoint.

    Rasa 3.6 opens a new aiohttp session for every call to the action server, so every
    custom action pays a new TCP connection and a session's set-up and teardown, and
    its body (the tracker and the domain) is written by ``json.dumps``: together about
    0.6 ms of the Rasa server's CPU a call (docs/profiling.md). Requests, headers,
    authentication, timeouts and errors are Rasa's; the connection is reused while it is
    idle less than ``KEEP_IDLE_S`` and the body is the same JSON, written by ujson.
    Idempotent.
    """
    EndpointConfig.session = _kept_session


# ---- which speed-ups run ----------------------------------------------------------------

# Rasa 3.6.21 as pinned in requirements/rasa.lock: every patch replaces some of its code.
RASA = {"rasa": "3.6.21"}


@dataclass(frozen=True)
class SpeedUp:
    """One patch: its name in ``SPORTELLO_RASA_SPEEDUPS``, what installs it, and the
    exact versions of the libraries whose internals it replaces, as it was written and
    tested against (requirements/rasa.lock). Any other version switches it off: its
    differential test in tests/bot/test_rasa_speedups.py must pass on the new one before
    ``written_for`` is moved on."""

    name: str
    install: Callable[[], None]
    written_for: Mapping[str, str]


SPEEDUPS: tuple[SpeedUp, ...] = (
    SpeedUp("response_check", compile_action_response_check, {**RASA, "jsonschema": "4.17.3"}),
    SpeedUp("event_types", index_event_types, RASA),
    SpeedUp("graph_runner", run_graphs_in_order, {**RASA, "dask": "2022.10.2"}),
    SpeedUp(
        "compiled_predictions",
        call_compiled_predictions,
        {**RASA, "tensorflow": "2.12.0", "keras": "2.12.0"},
    ),
    SpeedUp("rule_matching", narrow_rule_matching, RASA),
    SpeedUp(
        "endpoint_sessions",
        keep_endpoint_connections,
        {**RASA, "aiohttp": "3.9.5", "ujson": "5.13.0"},
    ),
    SpeedUp("sparse_join", join_sparse_features_directly, {**RASA, "scipy": "1.10.1"}),
)
NAMES = tuple(speedup.name for speedup in SPEEDUPS)
INSTALLED = "installed"
SWITCHED_OFF = "switched off by SPORTELLO_RASA_SPEEDUPS"


def chosen_names(spec: str) -> tuple[set[str], list[str]]:
    """The speed-ups ``SPORTELLO_RASA_SPEEDUPS`` asks for, and the names in it that are not
    speed-ups: ``all`` (the default) every one, ``0`` none, ``-a,-b`` all but those,
    ``a,b`` only those. Unknown names are returned so the caller can say so; a mix of
    kept and dropped names keeps the named ones only."""
    spec = spec.strip().lower()
    if spec in ("", "all", "1"):
        return set(NAMES), []
    if spec in ("0", "none", "off"):
        return set(), []
    items = [item.strip() for item in spec.split(",") if item.strip()]
    unknown = [item for item in items if item.lstrip("-") not in NAMES]
    kept = {item for item in items if item in NAMES}
    dropped = {item[1:] for item in items if item.startswith("-") and item[1:] in NAMES}
    if kept:
        return kept, unknown
    return set(NAMES) - dropped, unknown


def installed_version(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def version_mismatches(
    speedup: SpeedUp, found: Callable[[str], str | None] = installed_version
) -> list[str]:
    """``"rasa 3.7.0 (written for 3.6.21)"`` for each library not at its written-for version."""
    return [
        f"{name} {found(name) or 'not installed'} (written for {wanted})"
        for name, wanted in speedup.written_for.items()
        if found(name) != wanted
    ]


def install_speedups(
    spec: str | None = None, found: Callable[[str], str | None] = installed_version
) -> dict[str, str]:
    """Install the speed-ups ``spec`` (default: the ``SPORTELLO_RASA_SPEEDUPS`` setting)
    asks for whose libraries are the versions they were written for; each one on other
    versions stays off with a warning naming it and the version found. Returns each
    speed-up's outcome (``INSTALLED``, ``SWITCHED_OFF`` or the mismatch), also logged.

    Called when Rasa loads a trained model (``bot.components``' ``load``), so ``rasa
    run``, ``rasa shell`` and ``rasa test`` get them and ``rasa train`` does not; nothing
    is patched by importing this module.
    """
    if spec is None:
        spec = get_settings().rasa_speedups
    wanted, unknown = chosen_names(spec)
    if unknown:
        logger.warning(
            "SPORTELLO_RASA_SPEEDUPS=%s names no speed-up: %s (known: %s)",
            spec, ", ".join(unknown), ", ".join(NAMES),
        )  # fmt: skip
    outcome: dict[str, str] = {}
    for speedup in SPEEDUPS:
        mismatches = version_mismatches(speedup, found)
        if speedup.name not in wanted:
            outcome[speedup.name] = SWITCHED_OFF
        elif mismatches:
            outcome[speedup.name] = "switched off: " + ", ".join(mismatches)
            logger.warning(
                "Rasa speed-up %s switched off: %s. Rasa runs its own code for it; "
                "check the patch against this version (tests/bot/test_rasa_speedups.py) "
                "before moving its versions on in bot/rasa_speedups.py.",
                speedup.name, ", ".join(mismatches),
            )  # fmt: skip
        else:
            speedup.install()
            outcome[speedup.name] = INSTALLED
    logger.info(
        "Rasa speed-ups installed: %s; off: %s",
        ", ".join(n for n, o in outcome.items() if o == INSTALLED) or "none",
        ", ".join(n for n, o in outcome.items() if o != INSTALLED) or "none",
    )
    return outcome
