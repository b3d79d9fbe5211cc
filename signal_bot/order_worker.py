"""The order worker: recovers what an earlier process left unfinished, then trades the queued signals.

It owns the order desk (built once, by signal_bot/bootstrap.py) and the lock under which
exactly one thread at a time places orders: this worker's thread while it recovers, then
whichever of it and the webhook threads takes the lock first. `recover_all` is the start's
recovery, also used by replay on its own thread.
"""

from __future__ import annotations

import queue
import threading
from typing import Callable

from common.clock import Clock
from common.logs import get_logger
from signal_bot.errors import StartupError
from signal_bot.orders import Handled, Journaled, OrderDesk, Retry
from signal_bot.state import StateStore
from signal_bot.state_schema import SignalRow

log = get_logger("signal.app")

RECONCILE_EVERY_SECONDS = 30.0


class OrderWorker:
    """Places the orders: recovers what an earlier run left, then trades the queued signals.

    Trading happens under one lock (the desk's) by whichever thread takes it: usually the
    webhook thread that has just answered 202 (`run_queued`: the order goes out with no
    hand-off to another thread to wake), otherwise this worker's own thread, which drains
    the queue every POLL_SECONDS, runs the periodic reconciliation, and holds the lock
    through the start-up recovery. Signals leave the queue only in the lock holder's hands,
    so they trade one at a time, in arrival order. `start` returns once the unfinished rows
    are listed and the lock is taken: no new signal can trade before they are recovered.
    """

    POLL_SECONDS = 0.1

    def __init__(self, desk: OrderDesk, store: StateStore, signals: "queue.SimpleQueue[Journaled]",
                 clock: Clock, locked_at_ms: int) -> None:
        """`store` is the desk's own, not opened yet: the worker opens it on its thread at
        `start` (a state file that cannot be read stops the start) and closes it at the end."""
        self._built_desk = desk
        self._store = store
        self._signals = signals
        self._clock = clock
        self._locked_at_ms = locked_at_ms
        self._desk_lock = threading.Lock()
        self._desk: OrderDesk | None = None       # set (lock held) once recovery is done
        self.recovered = threading.Event()         # set then too
        self._ready = threading.Event()
        self._failed: BaseException | None = None
        self._stopping = threading.Event()
        self._deadline: float | None = None
        self._thread = threading.Thread(target=self._run, name="orders", daemon=True)

    def start(self, timeout: float = 60.0) -> None:
        self._thread.start()
        self._ready.wait(timeout)
        if self._failed is not None:
            raise StartupError("state_unreadable", f"reading unfinished orders failed: {self._failed}")
        if not self._ready.is_set():
            raise StartupError("state_unreadable", "reading unfinished orders did not finish in time")

    def run_queued(self) -> None:
        """Trade what is queued, now, on the calling thread, unless the desk is busy (its holder will).

        After releasing, look again: a signal queued while we held the lock found it taken.
        """
        while not self._past_deadline() and self._desk_lock.acquire(blocking=False):
            try:
                if self._desk is None:      # still recovering, or stopped
                    return
                self._drain(self._desk)
            finally:
                self._desk_lock.release()
            if self._signals.empty():
                return

    def _run(self) -> None:
        self._desk_lock.acquire()
        desk, store = self._built_desk, self._store   # used by whichever thread holds the lock
        try:
            store.open()
            unfinished = desk.unfinished()
        except Exception as exc:  # noqa: BLE001 - reported to start()
            self._failed = exc
            self._desk_lock.release()
            self._ready.set()
            return
        self._ready.set()
        try:
            if unfinished:
                recover_all(desk, unfinished, self._locked_at_ms + desk.settle_ms, self._stopping.wait)
            self._desk = desk
            self.recovered.set()
        finally:
            self._desk_lock.release()
        try:
            self._serve(desk)
        finally:
            with self._desk_lock:
                self._desk = None
                store.close()

    def _serve(self, desk: OrderDesk) -> None:
        next_reconcile = self._clock.monotonic() + RECONCILE_EVERY_SECONDS
        while not self._stopping.wait(self.POLL_SECONDS):
            with self._desk_lock:
                self._drain(desk)
                desk.tick_exits()
                if self._clock.monotonic() >= next_reconcile:
                    desk.reconcile_pending()
                    next_reconcile = self._clock.monotonic() + RECONCILE_EVERY_SECONDS
        remaining = None if self._deadline is None else self._deadline - self._clock.monotonic()
        if remaining is not None and remaining > 0 and self._desk_lock.acquire(timeout=remaining):
            try:
                self._drain(desk)
            finally:
                self._desk_lock.release()

    def _drain(self, desk: OrderDesk) -> None:
        """Handle queued signals in order (the desk lock is held) until none is left or the stop deadline."""
        while not self._past_deadline():
            try:
                journaled = self._signals.get_nowait()
            except queue.Empty:
                return
            try:
                desk.handle(journaled)
            except Exception:  # noqa: BLE001 - one signal must not stop the desk
                log.error("signal_failed", id=journaled.signal.id, exc_info=True)

    def _past_deadline(self) -> bool:
        return self._deadline is not None and self._clock.monotonic() >= self._deadline

    def stop(self, budget: float) -> None:
        """Finish queued signals within `budget` seconds; what is left stays journaled for the next start."""
        self._deadline = self._clock.monotonic() + budget
        self._stopping.set()
        self._thread.join(budget + 0.5)
        left = []
        while True:
            try:
                left.append(self._signals.get_nowait().signal.id)
            except queue.Empty:
                break
        if left:
            log.warning("signals_deferred", count=len(left), ids=",".join(left[:50]),
                        detail="journaled; handled at the next start")
        if self._thread.is_alive():
            log.warning("order_in_flight_abandoned",
                        detail="an order request is still running; its id is looked up at the next start")


def recover_all(desk: OrderDesk, rows: list[SignalRow], settled_at_ms: int,
                wait: Callable[[float], bool]) -> list[Handled]:
    """Settle each row an earlier process left, in order; `wait(seconds)` returns True to stop early."""
    log.info("recovery_started", rows=len(rows), ids=",".join(r.id for r in rows[:50]))
    done = []
    for row in rows:
        attempt = 0
        while True:
            match desk.recover(row, settled_at_ms, attempt):
                case Handled() as handled:
                    done.append(handled)
                    break
                case Retry(after_s):
                    attempt += 1
                    log.info("recovery_waiting", id=row.id, state=row.state, seconds=round(after_s, 3))
                    if wait(after_s):
                        log.warning("recovery_interrupted", left=len(rows) - len(done))
                        return done
    log.info("recovery_done", rows=len(rows), states=",".join(f"{h.signal_id}:{h.state}" for h in done[:50]))
    return done
