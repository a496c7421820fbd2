"""Sportello's versions of Rasa's customer channels (REST, socket.io and callback).

``RestInput`` (name ``rest``): Rasa's REST channel answers a JSON array with a 500, and
a missing, null or non-text ``message`` with 200 and no reply (it logs an exception);
a missing ``sender`` silently puts every such customer in one shared conversation
called "default". This subclass refuses such requests with a 400 that says what is
wrong, before Rasa sees them.

``SocketIOInput`` (name ``socketio``): as shipped, Rasa 3.6's channel calls
``sio.enter_room(...)`` without ``await``; with python-socketio 5.10+ that is a
coroutine, so the browser's socket never joins the conversation's room and receives
``session_confirm`` but no ``bot_uttered`` (RasaHQ/rasa#13027). This subclass keeps
everything else and replaces only the ``session_request`` handler with one that awaits
the join. The channel keeps the name ``socketio`` so web widgets and
``output_channel=socketio`` keep working.

``CallbackInput`` (name ``callback``): Rasa's channel for server-to-server
integrations answers ``success`` and POSTs every bot message (triggered ones included,
so operators' answers are pushed) to the URL in its credentials. As shipped it reads
the body like Rasa's REST channel, so an empty body gives a 500 and a missing sender
the shared "default" conversation, and it drops the request's ``metadata`` (where an
integration sends the ``customer_id``). This subclass applies ``RestInput``'s checks
and passes the metadata on.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.callback import CallbackInput as RasaCallbackInput
from rasa.core.channels.channel import UserMessage
from rasa.core.channels.rest import RestInput as RasaRestInput
from rasa.core.channels.socketio import SocketIOInput as RasaSocketIOInput
from sanic import Blueprint, response
from sanic.exceptions import InvalidUsage
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.rasa_speedups import close_kept_sessions
from sportello.heap import freeze_startup_objects

logger = logging.getLogger(__name__)


def _payload(request: Request) -> dict[str, Any]:
    """The request's JSON object; 400 for anything else (Sanic already 400s bad JSON)."""
    body = request.json
    if not isinstance(body, dict):
        raise InvalidUsage('the body must be a JSON object: {"sender": "...", "message": "..."}')
    return body


class RestInput(RasaRestInput):
    """Rasa's REST channel that refuses malformed requests with a clear 400.

    Its blueprint also freezes the objects loaded at start-up once the server has
    started, i.e. after Rasa loaded the model (sportello/heap.py: no 200 ms pauses), and
    closes the kept connections to the action server when it stops (bot/rasa_speedups.py).
    """

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        custom_webhook = super().blueprint(on_new_message)
        custom_webhook.listener("after_server_start")(_freeze_after_start)
        custom_webhook.listener("after_server_stop")(close_kept_sessions)
        return custom_webhook

    async def _extract_sender(self, req: Request) -> str:
        sender = _payload(req).get("sender")
        if isinstance(sender, bool) or not isinstance(sender, str | int) or not str(sender).strip():
            raise InvalidUsage('"sender" must be a non-empty string identifying the conversation')
        return str(sender)

    def _extract_message(self, req: Request) -> str:
        message = _payload(req).get("message")
        if not isinstance(message, str):
            raise InvalidUsage('"message" must be a string')
        return message

    def get_metadata(self, request: Request) -> dict[str, Any] | None:
        metadata = _payload(request).get("metadata")
        if metadata is not None and not isinstance(metadata, dict):
            raise InvalidUsage('"metadata" must be a JSON object')
        return metadata


async def _freeze_after_start(app: Any, loop: Any) -> None:
    """Rasa loads the model in a ``before_server_start`` listener: it is loaded now."""
    freeze_startup_objects()


class SocketIOInput(RasaSocketIOInput):
    """socket.io input channel whose sessions survive page reloads."""

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        socketio_webhook = super().blueprint(on_new_message)
        sio = self.sio
        assert sio is not None, "the parent blueprint creates the socket.io server"

        async def session_request(sid: str, data: dict[str, Any] | None) -> None:
            data = data or {}
            if not data.get("session_id"):
                data["session_id"] = uuid.uuid4().hex
            if self.session_persistence:
                await sio.enter_room(sid, data["session_id"], namespace=self.namespace)
            await sio.emit(
                "session_confirm", data["session_id"], room=sid, namespace=self.namespace
            )
            logger.debug("socket %s joined session %s", sid, data["session_id"])

        sio.on("session_request", session_request, namespace=self.namespace)
        return socketio_webhook


class CallbackInput(RasaCallbackInput):
    """Rasa's callback channel with the REST channel's checks and the customer's metadata."""

    _extract_sender = RestInput._extract_sender
    _extract_message = RestInput._extract_message
    get_metadata = RestInput.get_metadata

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        callback_webhook = Blueprint("callback_webhook", __name__)

        @callback_webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @callback_webhook.route("/webhook", methods=["POST"])
        async def webhook(request: Request) -> HTTPResponse:
            message = UserMessage(
                self._extract_message(request),
                self.get_output_channel(),
                await self._extract_sender(request),
                input_channel=self.name(),
                metadata=self.get_metadata(request),
            )
            await on_new_message(message)
            return response.text("success")  # the answers go to the callback URL

        return callback_webhook
