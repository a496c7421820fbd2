"""A loopback endpoint standing in for a messaging integration on Rasa's callback channel.

Rasa POSTs every bot message of a callback conversation to the configured URL, as JSON
``{"recipient_id": ..., "text": ..., "buttons": ...}``; this receiver records them per
conversation so tests can read what a customer was sent, pushed or not.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from fastapi import FastAPI, Request

from tests.servers import serving


class CallbackReceiver:
    """What Rasa's callback channel delivered, per conversation, read in arrival order."""

    def __init__(self) -> None:
        self.url = ""
        self._texts: dict[str, list[str]] = {}
        self._read: dict[str, int] = {}
        self._arrived = threading.Condition()
        self.app = FastAPI()
        self.app.add_api_route("/messages", self._record, methods=["POST"])

    async def _record(self, request: Request) -> dict[str, bool]:
        message = await request.json()
        with self._arrived:
            texts = self._texts.setdefault(str(message.get("recipient_id")), [])
            if message.get("text"):
                texts.append(message["text"])
            self._arrived.notify_all()
        return {"ok": True}

    def new_texts(self, recipient: str) -> list[str]:
        """Everything sent to ``recipient`` since the last read, without waiting."""
        with self._arrived:
            texts = self._texts.get(recipient, [])
            start = self._read.get(recipient, 0)
            self._read[recipient] = len(texts)
            return texts[start:]

    def next_texts(self, recipient: str, count: int, timeout: float = 60) -> list[str]:
        """The next ``count`` texts sent to ``recipient``, waiting for them to arrive."""
        deadline = time.monotonic() + timeout
        with self._arrived:
            start = self._read.get(recipient, 0)
            while len(self._texts.get(recipient, [])) < start + count:
                left = deadline - time.monotonic()
                assert left > 0, f"{recipient} got {self._texts.get(recipient, [])[start:]}"
                self._arrived.wait(left)
            self._read[recipient] = start + count
            return self._texts[recipient][start : start + count]


@contextmanager
def serving_callback_receiver() -> Iterator[CallbackReceiver]:
    """A receiver listening on a free loopback port; its ``url`` goes in the settings."""
    receiver = CallbackReceiver()
    with serving(receiver.app, "callback receiver") as base_url:
        receiver.url = f"{base_url}/messages"
        yield receiver
