"""Per-client limits on the customer channels: new conversations and ratings.

Every new conversation costs a tracker, a customer-log entry and NLU time, and every
rating moves an article's score; one client opening thousands of either would fill the
databases or bend the scores. So each client address may open at most
``SPORTELLO_NEW_CONVERSATIONS_PER_HOUR`` new conversations and give at most
``SPORTELLO_RATINGS_PER_HOUR`` rating answers (button payloads) per hour.

Who the client is: the peer address of the request; when the peer is this machine and
the request carries ``X-Forwarded-For`` (a reverse proxy on this machine, the only one
that can reach a Rasa server bound to loopback), the address the proxy appended last.
Requests from this machine that no proxy forwarded (the desk, the tests, a company's
own local integration) are not limited. Counts live in the Rasa process's memory.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable

HOUR_SECONDS = 3600.0
LOOPBACK = frozenset({"127.0.0.1", "::1", "::ffff:127.0.0.1", "localhost"})
# Conversation ids remembered as already started (beyond this, the oldest are forgotten
# and count as new once more if they come back, which is harmless).
KNOWN_CONVERSATIONS = 200_000
# Clients tracked; beyond this, those with nothing in the window are dropped.
PRUNE_ABOVE = 10_000

TOO_MANY_CONVERSATIONS = (
    "Troppe nuove conversazioni da questo indirizzo: riprova tra un po'. / "
    "Too many new conversations from this address: please try again later."
)
TOO_MANY_RATINGS = (
    "Troppe valutazioni da questo indirizzo: riprova tra un po'. / "
    "Too many ratings from this address: please try again later."
)
# Button payloads that record a rating (bot/domain.yml, actions/ratings.py).
RATING_INTENTS = ("answer_helpful", "give_rating")


def client_address(peer: str | None, forwarded_for: str | None) -> str:
    """The client's address (see the module docstring for why a proxy is trusted only
    when it runs on this machine)."""
    peer = (peer or "").strip()
    if peer in LOOPBACK and forwarded_for:
        last = forwarded_for.split(",")[-1].strip()
        if last:
            return last
    return peer


def is_rating(text: object) -> bool:
    """Whether a message is a rating button's payload (``/give_rating{"rating": "4"}``)."""
    if not isinstance(text, str) or not text.startswith("/"):
        return False
    intent = text[1:].split("{", 1)[0].strip()
    return intent in RATING_INTENTS


class ClientLimits:
    """Sliding one-hour windows of new conversations and ratings per client; thread-safe."""

    def __init__(
        self,
        conversations_per_hour: int,
        ratings_per_hour: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.conversations_per_hour = conversations_per_hour
        self.ratings_per_hour = ratings_per_hour
        self._clock = clock
        self._known: OrderedDict[str, None] = OrderedDict()
        self._windows: dict[tuple[str, str], deque[float]] = {}
        self._lock = threading.Lock()

    def _take(self, kind: str, client: str, limit: int, now: float) -> bool:
        window = self._windows.setdefault((kind, client), deque())
        while window and now - window[0] >= HOUR_SECONDS:
            window.popleft()
        if len(window) >= limit:
            return False
        window.append(now)
        if len(self._windows) > PRUNE_ABOVE:
            for key, other in list(self._windows.items()):
                if not other or now - other[-1] >= HOUR_SECONDS:
                    del self._windows[key]
        return True

    def allow_conversation(self, client: str, conversation_id: str) -> bool:
        """False when ``conversation_id`` is new and ``client`` has opened its hour's
        share; a conversation already started always continues."""
        if client in LOOPBACK or not client:
            return True
        with self._lock:
            if conversation_id in self._known:
                self._known.move_to_end(conversation_id)
                return True
            if not self._take("conversation", client, self.conversations_per_hour, self._clock()):
                return False
            self._known[conversation_id] = None
            if len(self._known) > KNOWN_CONVERSATIONS:
                self._known.popitem(last=False)
            return True

    def allow_rating(self, client: str) -> bool:
        if client in LOOPBACK or not client:
            return True
        with self._lock:
            return self._take("rating", client, self.ratings_per_hour, self._clock())
