"""A web-chat customer over Rasa's socket.io channel, as the rasa-webchat widget talks.

Run with the Rasa environment's Python (it has python-socketio and aiohttp; the test
environment has neither)::

    .venv-rasa/bin/python tests/integration/socketio_client.py URL SESSION < messages.jsonl

Each stdin line is ``{"message": "...", "customData": {...}}``; for each, every
``bot_uttered`` text that arrives within the wait is printed as one JSON line
``{"sent": "...", "replies": [...], "messages": [...], "session": "..."}`` (``messages``:
each ``bot_uttered`` whole, with its ``quick_replies`` buttons; ``session``: the session
id the server confirmed, which is the conversation id). The same protocol as the
widget: connect, ``session_request`` with the session id (the server keeps it only if it
signed it, otherwise it issues a new one), wait for ``session_confirm``, then
``user_uttered`` with ``message``, ``customData`` and the confirmed ``session_id``.
"""

from __future__ import annotations

import asyncio
import json
import sys

import socketio

QUIET_S = 1.5  # a reply is complete when nothing more came for this long
FIRST_REPLY_S = 90.0  # the first answer may wait for the action server's warm-up


async def main(url: str, session_id: str) -> None:
    client = socketio.AsyncClient(reconnection=False)
    replies: asyncio.Queue[dict] = asyncio.Queue()
    confirmed = asyncio.Event()
    session: dict[str, str] = {}

    @client.on("session_confirm")
    async def on_confirm(data: object) -> None:
        session["id"] = str(data)
        confirmed.set()

    @client.on("bot_uttered")
    async def on_bot(data: dict) -> None:
        await replies.put(data if isinstance(data, dict) else {"text": str(data)})

    # Long-polling: the Rasa environment's aiohttp is too old for engineio's websocket client.
    await client.connect(url, socketio_path="/socket.io/", transports=["polling"])
    await client.emit("session_request", {"session_id": session_id})
    await asyncio.wait_for(confirmed.wait(), 10)
    session_id = session["id"]
    for line in sys.stdin:
        if not line.strip():
            continue
        payload = json.loads(line)
        await client.emit(
            "user_uttered",
            {
                "message": payload["message"],
                "customData": payload.get("customData") or {},
                "session_id": session_id,
            },
        )
        got: list[dict] = []
        wait = FIRST_REPLY_S
        while True:
            try:
                got.append(await asyncio.wait_for(replies.get(), wait))
            except asyncio.TimeoutError:
                break
            wait = QUIET_S
        texts = [str(message.get("text") or "") for message in got]
        line = {
            "sent": payload["message"],
            "replies": texts,
            "messages": got,
            "session": session_id,
        }
        print(json.dumps(line), flush=True)
    await client.disconnect()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
