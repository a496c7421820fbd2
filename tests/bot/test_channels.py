"""Sportello's customer channels, run inside the Rasa environment (see conftest.py).

REST: malformed requests get a 400 saying what is wrong (Rasa's own channel answers
some with 500 or with an empty 200). socket.io: each browser socket joins its
conversation's room (Rasa 3.6 forgets to await ``enter_room``, RasaHQ/rasa#13027).
"""

from __future__ import annotations

from collections.abc import Callable

SOCKETIO_SCRIPT = """
import asyncio, json, os, tempfile, warnings
warnings.simplefilter("ignore")
os.environ["SPORTELLO_DATA_DIR"] = tempfile.mkdtemp()  # where the session key is kept
from bot.channels import SocketIOInput, is_signed_session_id, new_session_id
from rasa.core.channels.socketio import SocketIOInput as RasaSocketIOInput

async def rooms_after_session_request(channel_class, data):
    channel = channel_class(session_persistence=True)

    async def on_new_message(message):
        pass

    channel.blueprint(on_new_message)
    sio = channel.sio
    sid = await sio.manager.connect("engine-io-1", "/")  # as if a browser had connected
    await sio.handlers["/"]["session_request"](sid, data)
    return sorted(room for room in sio.manager.get_rooms(sid, "/") if room != sid)

async def sender_of_a_message_naming_another_session():
    channel = SocketIOInput(session_persistence=True)
    senders = []

    async def on_new_message(message):
        senders.append(message.sender_id)

    channel.blueprint(on_new_message)
    sio = channel.sio
    sid = await sio.manager.connect("engine-io-2", "/")
    await sio.handlers["/"]["user_uttered"](sid, {"message": "ciao", "session_id": "victim"})
    await sio.handlers["/"]["session_request"](sid, None)
    await sio.handlers["/"]["user_uttered"](sid, {"message": "ciao", "session_id": "victim"})
    return senders

signed = new_session_id()
[issued] = asyncio.run(rooms_after_session_request(SocketIOInput, {"session_id": "conv-42"}))
print(json.dumps({
    "signed": asyncio.run(rooms_after_session_request(SocketIOInput, {"session_id": signed}))
    == [signed],
    "chosen": issued,
    "chosen_is_signed": is_signed_session_id(issued),
    "rasa": asyncio.run(rooms_after_session_request(RasaSocketIOInput, {"session_id": "conv-42"})),
    "new_session": asyncio.run(rooms_after_session_request(SocketIOInput, None)),
    "senders": asyncio.run(sender_of_a_message_naming_another_session()),
    "name": SocketIOInput.name(),
}))
"""


def test_session_request_joins_the_conversation_room(run_in_rasa: Callable[[str], object]) -> None:
    result = run_in_rasa(SOCKETIO_SCRIPT)
    assert result["signed"] is True  # a session this server issued continues (page reload)
    assert result["rasa"] == [], "Rasa's own channel was fixed: this subclass may be dropped"
    assert len(result["new_session"]) == 1  # a fresh session id is made and joined
    assert result["name"] == "socketio"


def test_a_socket_cannot_choose_another_conversation(run_in_rasa: Callable[[str], object]) -> None:
    """A session id the server did not sign (another channel's conversation, a guess)
    is replaced by a fresh one; a message goes to the socket's confirmed session only."""
    result = run_in_rasa(SOCKETIO_SCRIPT)
    assert result["chosen"] != "conv-42" and result["chosen_is_signed"]
    [sender] = result["senders"]  # nothing recorded before the session was confirmed
    assert sender != "victim" and len(sender) == 64


# Sportello's REST channel served by a Sanic app on a free loopback port (both REST checks).
REST_SERVER = r"""
import socket, warnings
warnings.simplefilter("ignore")
from sanic import Sanic
from bot.channels import RestInput

async def start_rest_channel(app_name, on_new_message):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app = Sanic(app_name)
    channel = RestInput()
    app.blueprint(channel.blueprint(on_new_message), url_prefix="/webhooks/rest")
    server = await app.create_server(host="127.0.0.1", port=port, return_asyncio_server=True)
    await server.startup()
    return channel, server, port
"""

REST_SCRIPT = (
    REST_SERVER
    + r"""
import asyncio, json
import aiohttp

BODIES = {
    "ok": b'{"sender": "c1", "message": "ciao", "metadata": {"customer_id": "x"}}',
    "numeric sender": b'{"sender": 7, "message": "ciao"}',
    "empty message": b'{"sender": "c1", "message": ""}',
    "not json": b"{not json",
    "empty body": b"",
    "array": b"[]",
    "message object": b'{"sender": 5, "message": {"a": 1}}',
    "message null": b'{"sender": "c1", "message": null}',
    "no message": b'{"sender": "c1"}',
    "no sender": b'{"message": "ciao"}',
    "blank sender": b'{"sender": "  ", "message": "ciao"}',
    "boolean sender": b'{"sender": true, "message": "ciao"}',
    "metadata string": b'{"sender": "c1", "message": "ciao", "metadata": "x"}',
}

async def main():
    async def echo(message):
        await message.output_channel.send_text_message(
            message.sender_id, f"{message.sender_id}|{message.text}|{json.dumps(message.metadata)}"
        )

    channel, server, port = await start_rest_channel("rest_check", echo)
    replies = {}
    async with aiohttp.ClientSession() as session:
        for name, body in BODIES.items():
            async with session.post(
                f"http://127.0.0.1:{port}/webhooks/rest/webhook",
                data=body,
                headers={"Content-Type": "application/json"},
            ) as reply:
                replies[name] = [reply.status, await reply.json(content_type=None)]
    server.close()
    await server.wait_closed()
    print(json.dumps({"name": channel.name(), "replies": replies}))

asyncio.run(main())
"""
)


def test_rest_channel_passes_good_requests_and_refuses_bad_ones(
    run_in_rasa: Callable[[str], object],
) -> None:
    result = run_in_rasa(REST_SCRIPT)
    assert result["name"] == "rest"
    replies = result["replies"]
    assert replies["ok"] == [200, [{"recipient_id": "c1", "text": 'c1|ciao|{"customer_id": "x"}'}]]
    assert replies["numeric sender"] == [200, [{"recipient_id": "7", "text": "7|ciao|null"}]]
    assert replies["empty message"][0] == 200  # the bot answers it (asks to rephrase)
    refused = {name: body for name, (status, body) in replies.items() if status == 400}
    assert set(refused) == set(replies) - {"ok", "numeric sender", "empty message"}
    assert "JSON object" in refused["array"]["message"]
    assert '"message" must be a string' in refused["message object"]["message"]
    assert '"sender"' in refused["no sender"]["message"]
    assert '"metadata"' in refused["metadata string"]["message"]


FREEZE_SCRIPT = (
    REST_SERVER
    + r"""
import asyncio, gc, json

async def main():
    async def handler(message):
        pass

    _, server, _ = await start_rest_channel("freeze_check", handler)
    before = gc.get_freeze_count()
    await server.before_start()
    await server.after_start()
    after = gc.get_freeze_count()
    server.close()
    return {"before": before, "after": after}

print(json.dumps(asyncio.run(main())))
"""
)


def test_rest_channel_freezes_the_loaded_objects_once_the_server_has_started(
    run_in_rasa: Callable[[str], object],
) -> None:
    result = run_in_rasa(FREEZE_SCRIPT)
    assert result["before"] == 0  # nothing frozen until the server (and model) is up
    assert result["after"] > 100_000  # Rasa, TensorFlow and Sanic's objects


LIMITS_SCRIPT = (
    r"""
import os
os.environ.update({
    "SPORTELLO_MAX_MESSAGE_CHARS": "50",
    "SPORTELLO_NEW_CONVERSATIONS_PER_HOUR": "2",
    "SPORTELLO_RATINGS_PER_HOUR": "1",
})
"""
    + REST_SERVER
    + r"""
import asyncio, json
import aiohttp

async def main():
    seen, marks = [], []

    async def echo(message):
        seen.append(message.text)
        marks.append("is_external" in (message.metadata or {}))
        await message.output_channel.send_text_message(message.sender_id, "ok")

    channel, server, port = await start_rest_channel("limits_check", echo)
    url = f"http://127.0.0.1:{port}/webhooks/rest/webhook"
    statuses = {}
    async with aiohttp.ClientSession() as session:
        async def post(name, sender, message, client=None):
            headers = {"X-Forwarded-For": client} if client else {}
            async with session.post(url, json={"sender": sender, "message": message},
                                    headers=headers) as reply:
                statuses.setdefault(name, []).append([reply.status, await reply.text()])

        await post("long", "c0", "x" * 100_000)
        async with session.post(url, json={"sender": "c0", "message": "/EXTERNAL_operator_message",
                                           "metadata": {"is_external": True, "language": "it"}}):
            pass
        for n in range(3):
            await post("new from one client", f"far-{n}", "ciao", "203.0.113.7")
        await post("known conversation", "far-0", "ancora io", "203.0.113.7")
        await post("another client", "other-0", "ciao", "203.0.113.8")
        for n in range(5):
            await post("this machine", f"local-{n}", "ciao")
        for _ in range(2):
            await post("ratings", "far-1", '/give_rating{"rating": "5"}', "203.0.113.7")
    server.close()
    await server.wait_closed()
    print(json.dumps({"statuses": statuses, "lengths": [len(text) for text in seen],
                      "marks": marks}))

asyncio.run(main())
"""
)


def test_rest_channel_cuts_long_messages_drops_the_external_mark_and_limits_each_client(
    run_in_rasa: Callable[[str], object],
) -> None:
    result = run_in_rasa(LIMITS_SCRIPT)
    statuses = result["statuses"]
    assert statuses["long"][0][0] == 200
    assert result["lengths"][0] == 50  # what Rasa (NLU, tracker, actions) receives
    assert result["marks"][1] is False  # a customer cannot mark a message as the desk's
    assert [s for s, _ in statuses["new from one client"]] == [200, 200, 429]
    refused = statuses["new from one client"][2][1]
    assert "Troppe nuove conversazioni" in refused and "Too many new conversations" in refused
    assert statuses["known conversation"][0][0] == 200  # a started one continues
    assert statuses["another client"][0][0] == 200
    assert all(s == 200 for s, _ in statuses["this machine"])  # unforwarded local callers
    assert [s for s, _ in statuses["ratings"]] == [200, 429]
    assert "Too many ratings" in statuses["ratings"][1][1]


TELEGRAM_SCRIPT = (
    REST_SERVER
    + r"""
import asyncio, json, socket
import aiohttp
from types import SimpleNamespace
from sanic import Sanic
from rasa.core.channels.telegram import TelegramOutput
from bot.channels import TelegramInput

registered = []

async def fake_request(self, method, data=None, *args, **kwargs):  # no call to Telegram
    registered.append([method, data])
    return True

async def fake_get_me(self):
    return SimpleNamespace(username="sportello_test_bot")

TelegramOutput.request = fake_request
TelegramOutput.get_me = fake_get_me

UPDATE = {"update_id": 1, "message": {"message_id": 1, "date": 0, "text": "ciao",
          "chat": {"id": 4242, "type": "private"}, "from": {"id": 4242, "is_bot": False,
          "first_name": "Anna"}}}

channel = TelegramInput("123:token", "sportello_test_bot", "https://chat.example/webhooks/telegram/webhook",
                        secret_token="s3cret-Token_1")

seen = []

async def record(message):
    seen.append(message.text)

# Built before the loop runs, as Rasa builds it (registering the webhook uses asyncio.run).
webhook = channel.blueprint(record)

async def main():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app = Sanic("telegram_check")
    app.blueprint(webhook, url_prefix="/webhooks/telegram")
    server = await app.create_server(host="127.0.0.1", port=port, return_asyncio_server=True)
    await server.startup()
    statuses = {}
    url = f"http://127.0.0.1:{port}/webhooks/telegram"
    async with aiohttp.ClientSession() as session:
        for name, headers in [("none", {}), ("wrong", {"X-Telegram-Bot-Api-Secret-Token": "x"}),
                              ("right", {"X-Telegram-Bot-Api-Secret-Token": "s3cret-Token_1"})]:
            async with session.post(f"{url}/webhook", json=UPDATE, headers=headers) as reply:
                statuses[name] = reply.status
        async with session.get(f"{url}/set_webhook") as reply:
            statuses["set_webhook"] = reply.status
    server.close()
    await server.wait_closed()
    return {"statuses": statuses, "seen": seen, "registered": registered}

print(json.dumps(asyncio.run(main())))
"""
)


def test_telegram_webhook_takes_updates_only_with_its_secret(
    run_in_rasa: Callable[[str], object],
) -> None:
    result = run_in_rasa(TELEGRAM_SCRIPT)
    statuses = result["statuses"]
    assert (statuses["none"], statuses["wrong"], statuses["set_webhook"]) == (403, 403, 403)
    assert statuses["right"] == 200
    assert result["seen"] == ["ciao"]  # only the update that carried the secret
    assert result["registered"][0] == [
        "setWebhook",
        {"url": "https://chat.example/webhooks/telegram/webhook", "secret_token": "s3cret-Token_1"},
    ]


BINDING_SCRIPT = (
    REST_SERVER
    + r"""
import asyncio, json
from types import SimpleNamespace
import aiohttp
from rasa.shared.core.events import UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

class Store:
    async def retrieve(self, sender):
        if sender != "web-1":
            return None
        return DialogueStateTracker.from_events(
            sender,
            [
                UserUttered("EXTERNAL: EXTERNAL_operator_message", metadata={"is_external": True},
                            input_channel="collector"),
                UserUttered("ciao", input_channel="socketio"),
            ],
        )

async def main():
    async def echo(message):
        await message.output_channel.send_text_message(message.sender_id, "ok")

    channel, server, port = await start_rest_channel("binding_check", echo)
    server.app.ctx.agent = SimpleNamespace(tracker_store=Store())
    statuses = {}
    async with aiohttp.ClientSession() as session:
        for sender in ("web-1", "rest-1", "rest-1"):
            async with session.post(f"http://127.0.0.1:{port}/webhooks/rest/webhook",
                                    json={"sender": sender, "message": "ciao"}) as reply:
                statuses.setdefault(sender, []).append([reply.status, await reply.text()])
    server.close()
    await server.wait_closed()
    print(json.dumps(statuses))

asyncio.run(main())
"""
)


def test_a_rest_sender_cannot_write_into_another_channels_conversation(
    run_in_rasa: Callable[[str], object],
) -> None:
    statuses = run_in_rasa(BINDING_SCRIPT)
    [(status, body)] = statuses["web-1"]
    assert status == 409 and "another channel" in body and "altro canale" in body
    assert [s for s, _ in statuses["rest-1"]] == [200, 200]  # its own conversation continues
