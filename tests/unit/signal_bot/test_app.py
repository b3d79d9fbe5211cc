"""The order worker's start: rows a killed process left are recovered, in order, before any new signal.

Real SQLite file, real OrderDesk and OrderWorker thread; the exchange is the scripted
stand-in of test_orders.py.
"""

from __future__ import annotations

import queue
import threading

import pytest

from common.clock import FakeClock, SystemClock
from signal_bot.app import OrderWorker, StartupError, recover_all
from signal_bot.intake import Intake
from signal_bot.orders import OrderDesk, received_fields
from signal_bot.state import StateStore
from tests.support.waiting import wait_until
from tests.unit.signal_bot.test_orders import (ABSENT, LIMITS, RECV_WINDOW_MS, RULES, SETTLE_MS, ScriptedExchange,
                                               result, signal)


def journal(store: StateStore, clock, *ids: str) -> None:
    for id_ in ids:
        store.journal("live", id_, received_fields(signal(id_)), clock.now_ms())


def test_recover_all_settles_rows_in_order_waiting_once(tmp_path):
    """Absent rows wait for the one settling moment (a single wait), then trade in arrival order."""
    clock = FakeClock()
    store = StateStore(tmp_path / "state.sqlite")
    journal(store, clock, "r1", "r2", "r3")
    exchange = ScriptedExchange(clock, lookups=[ABSENT, ABSENT, result("r2"), ABSENT])
    desk = OrderDesk(exchange, store, RULES, LIMITS, clock, recv_window_ms=RECV_WINDOW_MS)
    waits: list[float] = []

    def wait(seconds: float) -> bool:
        waits.append(seconds)
        clock.sleep(seconds)
        return False
    done = recover_all(desk, desk.unfinished(), clock.now_ms() + SETTLE_MS, wait)
    assert [(h.signal_id, h.state) for h in done] == [("r1", "placed"), ("r2", "placed"), ("r3", "placed")]
    assert waits == [SETTLE_MS / 1000]
    assert [s["new_client_order_id"] for s in exchange.sent] == ["r1", "r3"]       # r2 was already there
    store.close()


def test_a_stop_during_recovery_leaves_the_rest_journaled(tmp_path):
    """wait() answering True (SIGTERM) ends recovery at once: nothing sent, rows still received."""
    clock = FakeClock()
    store = StateStore(tmp_path / "state.sqlite")
    journal(store, clock, "s1", "s2")
    exchange = ScriptedExchange(clock, lookups=[ABSENT])
    desk = OrderDesk(exchange, store, RULES, LIMITS, clock, recv_window_ms=RECV_WINDOW_MS)
    assert recover_all(desk, desk.unfinished(), clock.now_ms() + SETTLE_MS, lambda seconds: True) == []
    assert exchange.sent == [] and [r.state for r in store.unfinished("live")] == ["received", "received"]
    store.close()


def test_the_worker_recovers_old_rows_before_handling_new_signals(tmp_path):
    """Rows of a killed run (one already on the exchange, one not) settle before a signal accepted now."""
    path = tmp_path / "state.sqlite"
    clock = SystemClock()
    old = StateStore(path)
    journal(old, clock, "old-sent", "old-unsent")
    old.close()
    intake = Intake(StateStore(path, shared=True), "live", 10, clock)
    exchange = ScriptedExchange(FakeClock(), lookups=[result("old-sent"), ABSENT])
    stores: list[StateStore] = []

    def make_desk(store: StateStore) -> OrderDesk:
        stores.append(store)
        return OrderDesk(exchange, store, RULES, LIMITS, clock, recv_window_ms=RECV_WINDOW_MS)
    # The lock was taken long enough ago that nothing of the dead run can land: no wait.
    worker = OrderWorker(make_desk, path, intake.queue, clock, locked_at_ms=clock.now_ms() - SETTLE_MS)
    gate = threading.Event()
    original = exchange.get_order

    def slow_lookup(**kw):   # hold the first look-up until the new signal is queued behind it
        gate.wait(10)
        return original(**kw)
    exchange.get_order = slow_lookup
    worker.start()
    assert intake.submit(signal("new")) == "accepted"
    gate.set()
    wait_until(lambda: len(exchange.sent) == 2, timeout=10, what="the old unsent and the new order")
    worker.stop(budget=2.0)
    intake.close()
    assert [s["new_client_order_id"] for s in exchange.sent] == ["old-unsent", "new"]
    reader = StateStore(path)
    assert {r.id: r.state for r in reader.signals()} == {"old-sent": "placed", "old-unsent": "placed",
                                                         "new": "placed"}
    reader.close()


def test_a_worker_that_cannot_read_the_state_file_stops_the_start(tmp_path):
    """A damaged state file: start() raises StartupError (state_unreadable), nothing is traded."""
    path = tmp_path / "state.sqlite"
    path.write_bytes(b"this is not a database" * 100)
    exchange = ScriptedExchange(FakeClock())
    worker = OrderWorker(lambda store: OrderDesk(exchange, store, RULES, LIMITS, SystemClock()), path,
                         queue.SimpleQueue(), SystemClock(), locked_at_ms=0)
    with pytest.raises(StartupError) as caught:
        worker.start(timeout=10)
    assert caught.value.code == "state_unreadable" and exchange.sent == []
