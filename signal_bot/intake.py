"""Journal, then queue: how a webhook signal is accepted (the webhook's `submit` port).

For each valid signal, from any webhook thread, under one lock:
1. a full queue is QUEUE_FULL: 503, and nothing is journaled (nothing was accepted) -
   unless the id was seen before, which is a DUPLICATE whatever the queue;
2. otherwise the signal is journaled as `received` and committed with fsync (INSERT OR
   IGNORE: an id seen before is a DUPLICATE, answered 202 again with `"duplicate": true`,
   nothing queued, nothing changed), then queued for the order worker: ACCEPTED, answered
   202. The 202 goes out only after the commit.
A signal named by its body's hash (`dedupe`) is also a DUPLICATE when the same body's id
of the window before was journaled within the window (signal_bot/signal_ids.py).
A journal write that fails raises: the webhook answers 503 and nothing was accepted.

The lock serialises the webhook's threads on one SQLite connection (SQLite admits one
writer at a time anyway, and its busy handler would sleep); answers other than 202 never
take it, so a burst of bad requests is not slowed by the disk. The queue is a
`SimpleQueue` (the fastest hand-off to the waiting order worker); its bound is enforced here.
"""

from __future__ import annotations

import queue
import threading

from common.clock import Clock
from signal_bot.orders import Journaled, log_duplicate, received_fields
from signal_bot.signals import Signal
from signal_bot.state import StateStore
from signal_bot.webhook import ACCEPTED, DUPLICATE, QUEUE_FULL, Dedupe


class Intake:
    def __init__(self, store: StateStore, mode: str, capacity: int, clock: Clock) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self._store = store
        self._mode = mode
        self._capacity = capacity
        self._clock = clock
        self._lock = threading.Lock()
        self.queue: "queue.SimpleQueue[Journaled]" = queue.SimpleQueue()

    def submit(self, signal: Signal, dedupe: Dedupe | None = None) -> str:
        """ACCEPTED (journaled durably, queued), DUPLICATE or QUEUE_FULL; raises if the journal fails."""
        with self._lock:
            if dedupe is not None and self._seen_since(dedupe):
                pass
            elif self.queue.qsize() >= self._capacity:
                if not self._store.seen(self._mode, signal.client_order_id):
                    return QUEUE_FULL
            elif self._store.journal(self._mode, signal.client_order_id, received_fields(signal), self._clock.now_ms()):
                self.queue.put(Journaled(signal))
                return ACCEPTED
        log_duplicate(signal)
        return DUPLICATE

    def _seen_since(self, dedupe: Dedupe) -> bool:
        row = self._store.signal(self._mode, dedupe.previous_id)
        return row is not None and row.received_at >= self._clock.now_ms() - dedupe.window_seconds * 1000

    def close(self) -> None:
        with self._lock:
            self._store.close()
