"""Rasa's Redis lock store, with every change of a lock made atomically in Redis.

Rasa 3.6's ``RedisLockStore`` reads a conversation's lock, changes it in Python and
writes it back. Two Rasa servers that receive messages of one conversation at the same
instant both read "no lock", both take ticket 0 and process the conversation together;
the tracker store then keeps only the faster server's events (RasaHQ/rasa#9213; Rasa's
``ConcurrentRedisLockStore`` was reverted from Rasa Open Source, RasaHQ/rasa#11428).
Here each read-change-write is one optimistic Redis transaction (WATCH/MULTI/EXEC,
retried when another server changed the lock in between). Keys, values and waiting are
Rasa's own, so servers with this store and with the stock one read each other's locks.

In endpoints.yml (the other keys as for Rasa's ``redis`` lock store)::

    lock_store:
      type: bot.lock_store.AtomicRedisLockStore
      url: redis.internal
      port: 6379
      db: 1
      key_prefix: sportello
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TypeVar

import redis
from rasa.core.lock import TicketLock
from rasa.core.lock_store import LOCK_LIFETIME, LockError, RedisLockStore
from rasa.utils.endpoints import EndpointConfig

T = TypeVar("T")
KEEP = object()  # what a change returns to leave the stored lock as it is
# A change gets the stored lock (None: there is none) and returns the lock to store
# (None: delete it; KEEP: leave it) and the value for its caller.
Change = Callable[[TicketLock | None], tuple[object, T]]


class AtomicRedisLockStore(RedisLockStore):
    """``RedisLockStore`` whose ticket issuing and releasing cannot interleave."""

    def __init__(self, endpoint_config: EndpointConfig) -> None:
        super().__init__(host=endpoint_config.url, **endpoint_config.kwargs)

    def _change(self, conversation_id: str, change: Change[T]) -> T:
        """Apply ``change`` to the stored lock atomically, retrying on a concurrent write."""
        key = self.key_prefix + conversation_id
        with self.red.pipeline() as pipe:
            while True:
                try:
                    pipe.watch(key)
                    raw = pipe.get(key)
                    lock = TicketLock.from_dict(json.loads(raw)) if raw else None
                    new, result = change(lock)
                    if new is KEEP:
                        pipe.unwatch()
                        return result
                    pipe.multi()
                    if new is None:
                        pipe.delete(key)
                    else:
                        pipe.set(key, new.dumps())
                    pipe.execute()
                    return result
                except redis.WatchError:
                    continue  # another server changed the lock meanwhile: read it again

    def issue_ticket(self, conversation_id: str, lock_lifetime: float = LOCK_LIFETIME) -> int:
        def change(lock: TicketLock | None) -> tuple[object, int]:
            lock = lock or self.create_lock(conversation_id)
            return lock, lock.issue_ticket(lock_lifetime)

        try:
            return self._change(conversation_id, change)
        except Exception as exc:  # the base class's contract: a LockError
            raise LockError(f"Error while acquiring lock. Error:\n{exc}") from exc

    def update_lock(self, conversation_id: str) -> None:
        def change(lock: TicketLock | None) -> tuple[object, None]:
            if lock is None:
                return KEEP, None
            lock.remove_expired_tickets()
            return lock, None

        self._change(conversation_id, change)

    def cleanup(self, conversation_id: str, ticket_number: int) -> None:
        """Give the ticket back; delete the lock when nobody else waits (one step)."""

        def change(lock: TicketLock | None) -> tuple[object, None]:
            if lock is None:
                return KEEP, None
            lock.remove_ticket_for(ticket_number)
            return (lock if lock.is_someone_waiting() else None), None

        self._change(conversation_id, change)
