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
everything else and replaces the ``session_request`` handler with one that awaits
the join. The channel keeps the name ``socketio`` so web widgets and
``output_channel=socketio`` keep working. Session ids (the conversation ids of the web
chat) are issued and signed by the server (:func:`new_session_id`, signing in
sportello/chatlinks.py, shared with the chat page and the mails' resume links): a socket that asks
for an id the server did not sign, another channel's conversation for instance, gets a
fresh one, and a message is always recorded in the session confirmed to its socket,
whatever ``session_id`` it carries.

``CallbackInput`` (name ``callback``): Rasa's channel for server-to-server
integrations answers ``success`` and POSTs every bot message (triggered ones included,
so operators' answers are pushed) to the URL in its credentials. As shipped it reads
the body like Rasa's REST channel, so an empty body gives a 500 and a missing sender
the shared "default" conversation, and it drops the request's ``metadata`` (where an
integration sends the ``customer_id``). This subclass applies ``RestInput``'s checks
and passes the metadata on.

``TelegramInput`` (name ``telegram``): Rasa's Telegram channel accepts any POST to its
webhook as an update from Telegram. This subclass registers the webhook with a secret
(``secret_token`` in the credentials, which Telegram sends back in every update's
``X-Telegram-Bot-Api-Secret-Token`` header) and answers 403 to a request without it, so
updates cannot be forged; its ``set_webhook`` route needs the secret too.

Limits (issue 20), the same on the three channels: a customer's text is cut to
``SPORTELLO_MAX_MESSAGE_CHARS`` before Rasa sees it (so a 100,000-character message costs
no NLU time and is not stored whole in the tracker); socket.io messages are capped at
``SPORTELLO_MAX_REQUEST_BYTES`` like the HTTP bodies (Sanic's own cap, set by
``sportello run``); new conversations and ratings are limited per client (bot/limits.py),
answered with a bilingual 429 on REST/callback and a bilingual bot message on socket.io.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from functools import lru_cache
from typing import Any

from aiogram.utils.exceptions import TelegramAPIError
from rasa.core.channels.callback import CallbackInput as RasaCallbackInput
from rasa.core.channels.channel import UserMessage
from rasa.core.channels.rest import RestInput as RasaRestInput
from rasa.core.channels.socketio import SocketIOInput as RasaSocketIOInput
from rasa.core.channels.telegram import TelegramInput as RasaTelegramInput
from rasa.core.channels.telegram import TelegramOutput
from rasa.shared.core.events import UserUttered
from rasa.shared.exceptions import RasaException
from sanic import Blueprint, response
from sanic.exceptions import InvalidUsage, SanicException
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.limits import (
    TOO_MANY_CONVERSATIONS,
    TOO_MANY_RATINGS,
    ClientLimits,
    client_address,
    is_rating,
)
from bot.rasa_speedups import close_kept_sessions
from sportello import chatlinks
from sportello.heap import freeze_startup_objects
from sportello.settings import get_settings

logger = logging.getLogger(__name__)

_LIMITS: ClientLimits | None = None


def limits() -> ClientLimits:
    """The Rasa process's one set of per-client counters (shared by every channel)."""
    global _LIMITS
    if _LIMITS is None:
        settings = get_settings()
        _LIMITS = ClientLimits(settings.new_conversations_per_hour, settings.ratings_per_hour)
    return _LIMITS


class TooManyRequests(SanicException):
    status_code = 429


class OtherChannelsConversation(SanicException):
    status_code = 409


ANOTHER_CHANNEL = (
    "Questa conversazione appartiene a un altro canale: usa un altro identificativo. / "
    "This conversation belongs to another channel: use another sender id."
)
# Conversation id -> the channel it started on, for conversations seen by this process.
_OWNERS: OrderedDict[str, str] = OrderedDict()
KNOWN_OWNERS = 100_000


async def conversation_channel(request: Request, conversation_id: str) -> str | None:
    """The channel a conversation started on (its first message that was not triggered
    by the desk), None for a new one. Read from the tracker once per conversation and
    process, then remembered."""
    if conversation_id in _OWNERS:
        _OWNERS.move_to_end(conversation_id)
        return _OWNERS[conversation_id]
    agent = getattr(request.app.ctx, "agent", None)
    store = getattr(agent, "tracker_store", None)
    tracker = await store.retrieve(conversation_id) if store is not None else None
    for event in tracker.events if tracker is not None else []:
        typed = isinstance(event, UserUttered) and not (event.metadata or {}).get(EXTERNAL_MARK)
        if typed and event.input_channel:
            remember_channel(conversation_id, event.input_channel)
            return event.input_channel
    return None


def remember_channel(conversation_id: str, channel: str) -> None:
    _OWNERS[conversation_id] = channel
    if len(_OWNERS) > KNOWN_OWNERS:
        _OWNERS.popitem(last=False)


def _request_client(request: Request) -> str:
    return client_address(request.ip, request.headers.get("x-forwarded-for"))


# Rasa's mark of an intent the desk triggered (UserUttered.create_external): a customer
# must not be able to send it in their metadata (customerlog/turns.py trusts it).
EXTERNAL_MARK = "is_external"


def cut_messages(
    on_new_message: Callable[[UserMessage], Awaitable[Any]],
) -> Callable[[UserMessage], Awaitable[Any]]:
    """``on_new_message`` that first cuts the text to ``SPORTELLO_MAX_MESSAGE_CHARS``
    (everything after, NLU, the tracker, the actions, sees the cut text only) and drops
    Rasa's ``is_external`` mark from the metadata the customer sent."""
    limit = get_settings().max_message_chars

    async def handler(message: UserMessage) -> Any:
        if isinstance(message.text, str) and len(message.text) > limit:
            message.text = message.text[:limit]
        if isinstance(message.metadata, dict) and EXTERNAL_MARK in message.metadata:
            message.metadata = {k: v for k, v in message.metadata.items() if k != EXTERNAL_MARK}
        return await on_new_message(message)

    return handler


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
        custom_webhook = super().blueprint(cut_messages(on_new_message))
        custom_webhook.listener("after_server_start")(_freeze_after_start)
        custom_webhook.listener("after_server_stop")(close_kept_sessions)
        return custom_webhook

    async def _extract_sender(self, req: Request) -> str:
        sender = _payload(req).get("sender")
        if isinstance(sender, bool) or not isinstance(sender, str | int) or not str(sender).strip():
            raise InvalidUsage('"sender" must be a non-empty string identifying the conversation')
        sender = str(sender)
        # A conversation stays on the channel it started on: a REST sender naming a web
        # chat's or an integration's conversation would otherwise write into it and
        # take its ticket (the answers would go to the new channel).
        owner = await conversation_channel(req, sender)
        if owner is not None and owner != self.name():
            raise OtherChannelsConversation(ANOTHER_CHANNEL)
        if not limits().allow_conversation(_request_client(req), sender):
            raise TooManyRequests(TOO_MANY_CONVERSATIONS)
        if owner is None:
            remember_channel(sender, self.name())
        return sender

    def _extract_message(self, req: Request) -> str:
        message = _payload(req).get("message")
        if not isinstance(message, str):
            raise InvalidUsage('"message" must be a string')
        if is_rating(message) and not limits().allow_rating(_request_client(req)):
            raise TooManyRequests(TOO_MANY_RATINGS)
        return message

    def get_metadata(self, request: Request) -> dict[str, Any] | None:
        metadata = _payload(request).get("metadata")
        if metadata is not None and not isinstance(metadata, dict):
            raise InvalidUsage('"metadata" must be a JSON object')
        return metadata


@lru_cache(maxsize=1)
def _session_key() -> bytes:
    """The key signing web-chat session ids (sportello/chatlinks.py), read once."""
    return chatlinks.session_key(get_settings())


def new_session_id() -> str:
    """A fresh signed session id (sportello/chatlinks.py)."""
    return chatlinks.new_session_id(_session_key())


def is_signed_session_id(value: object) -> bool:
    """Whether ``value`` is a session id this server issued."""
    return chatlinks.is_signed_session_id(value, _session_key())


async def _freeze_after_start(app: Any, loop: Any) -> None:
    """Rasa loads the model in a ``before_server_start`` listener: it is loaded now."""
    freeze_startup_objects()


class SocketIOInput(RasaSocketIOInput):
    """socket.io input channel whose sessions survive page reloads."""

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        socketio_webhook = super().blueprint(cut_messages(on_new_message))
        sio = self.sio
        assert sio is not None, "the parent blueprint creates the socket.io server"
        sio.eio.max_http_buffer_size = get_settings().max_request_bytes
        namespace = self.namespace or "/"
        parent_message = sio.handlers[namespace][self.user_message_evt]
        parent_disconnect = sio.handlers[namespace]["disconnect"]
        confirmed: dict[str, str] = {}  # socket id -> the session confirmed to it

        def client(sid: str) -> str:
            request = (sio.get_environ(sid, namespace=namespace) or {}).get("sanic.request")
            if request is None:
                return ""
            return _request_client(request)

        async def refuse(sid: str, text: str) -> None:
            await sio.emit(self.bot_message_evt, {"text": text}, room=sid, namespace=namespace)

        async def session_request(sid: str, data: dict[str, Any] | None) -> None:
            requested = data.get("session_id") if isinstance(data, dict) else None
            session_id = requested if is_signed_session_id(requested) else new_session_id()
            if not limits().allow_conversation(client(sid), session_id):
                await refuse(sid, TOO_MANY_CONVERSATIONS)
                return
            confirmed[sid] = session_id
            if self.session_persistence:
                await sio.enter_room(sid, session_id, namespace=self.namespace)
            await sio.emit("session_confirm", session_id, room=sid, namespace=self.namespace)
            logger.debug("socket %s joined session %s", sid, session_id)

        async def user_message(sid: str, data: dict[str, Any]) -> None:
            session_id = confirmed.get(sid)
            if session_id is None:
                logger.debug("socket %s sent a message before its session was confirmed", sid)
                return
            data = {**(data if isinstance(data, dict) else {}), "session_id": session_id}
            if is_rating(data.get("message")) and not limits().allow_rating(client(sid)):
                await refuse(sid, TOO_MANY_RATINGS)
                return
            await parent_message(sid, data)

        async def disconnect(sid: str, *args: Any) -> None:
            confirmed.pop(sid, None)
            await parent_disconnect(sid)

        sio.on("session_request", session_request, namespace=self.namespace)
        sio.on(self.user_message_evt, user_message, namespace=self.namespace)
        sio.on("disconnect", disconnect, namespace=self.namespace)
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

        on_new_message = cut_messages(on_new_message)

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


TELEGRAM_SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


class TelegramInput(RasaTelegramInput):
    """Rasa's Telegram channel that takes updates only from Telegram (its secret token)."""

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> TelegramInput:
        if not credentials:
            cls.raise_missing_credentials_exception()
        return cls(
            credentials.get("access_token"),
            credentials.get("verify"),
            credentials.get("webhook_url"),
            secret_token=credentials.get("secret_token"),
        )

    def __init__(
        self,
        access_token: str | None,
        verify: str | None,
        webhook_url: str | None,
        debug_mode: bool = True,
        secret_token: str | None = None,
    ) -> None:
        super().__init__(access_token, verify, webhook_url, debug_mode)
        if not secret_token:
            raise RasaException("the Telegram channel needs a secret_token in its credentials")
        self.secret_token = secret_token

    def get_output_channel(self) -> TelegramOutput:
        """The output channel, after registering the webhook with the secret token
        (aiogram 2.15's ``set_webhook`` does not know the parameter)."""
        channel = TelegramOutput(self.access_token)
        try:
            asyncio.run(
                channel.request(
                    "setWebhook", {"url": self.webhook_url, "secret_token": self.secret_token}
                )
            )
        except TelegramAPIError as error:
            raise RasaException("Failed to set channel webhook: " + str(error)) from error
        return channel

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        telegram_webhook = super().blueprint(cut_messages(on_new_message))

        @telegram_webhook.middleware("request")
        async def from_telegram_only(request: Request) -> HTTPResponse | None:
            if not request.path.rstrip("/").endswith(("/webhook", "/set_webhook")):
                return None
            given = request.headers.get(TELEGRAM_SECRET_HEADER, "")
            if hmac.compare_digest(given.encode(), self.secret_token.encode()):
                return None
            return response.text("forbidden", status=403)

        return telegram_webhook
