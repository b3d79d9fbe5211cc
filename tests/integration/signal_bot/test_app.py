"""The order worker: rows a killed process left are recovered, in order, before any new signal;
queued signals trade one at a time in arrival order, on the accepting thread when the desk is free.

Real SQLite file, real OrderDesk and OrderWorker thread; the exchange is the scripted
stand-in of tests/support/scripted_orders.py.
"""

from __future__ import annotations

import queue
import threading

import pytest

from common.clock import FakeClock, SystemClock
from signal_bot.errors import StartupError
from signal_bot.order_worker import OrderWorker, recover_all
from signal_bot.intake import Intake
from signal_bot.orders import OrderDesk, received_fields
from signal_bot.state import StateStore
from tests.support.waiting import wait_until
from tests.support.scripted_orders import (ABSENT, LIMITS, RECV_WINDOW_MS, RULES, SETTLE_MS, ScriptedExchange,
                                               result, signal)


def journal(store: StateStore, clock, *ids: str) -> None:
    for id_ in ids:
        store.journal("live", id_, received_fields(signal(id_)), clock.now_ms())


def test_recover_all_settles_rows_in_order_waiting_once(tmp_path):
    """Absent rows wait for the one settling moment (a single wait), then trade in arrival order."""
    clock = FakeClock()
    store = StateStore(tmp_path / "state.sqlite").open()
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
    store = StateStore(tmp_path / "state.sqlite").open()
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
    old = StateStore(path).open()
    journal(old, clock, "old-sent", "old-unsent")
    old.close()
    intake = Intake(StateStore(path, shared=True).open(), "live", 10, clock)
    exchange = ScriptedExchange(FakeClock(), lookups=[result("old-sent"), ABSENT])
    store = StateStore(path, shared=True)      # opened by the worker, on its thread
    desk = OrderDesk(exchange, store, RULES, LIMITS, clock, recv_window_ms=RECV_WINDOW_MS)
    # The lock was taken long enough ago that nothing of the dead run can land: no wait.
    worker = OrderWorker(desk, store, intake.queue, clock, locked_at_ms=clock.now_ms() - SETTLE_MS)
    gate = threading.Event()
    original = exchange.get_order

    def slow_lookup(**kw):   # hold the first look-up until the new signal is queued behind it
        gate.wait(10)
        return original(**kw)
    exchange.get_order = slow_lookup
    worker.start()
    assert intake.submit(signal("new")) == "accepted"
    worker.run_queued()          # a webhook thread after its 202: the desk is busy recovering, so no-op
    assert exchange.sent == []
    gate.set()
    wait_until(lambda: len(exchange.sent) == 2, timeout=10, what="the old unsent and the new order")
    worker.stop(budget=2.0)
    intake.close()
    assert [s["new_client_order_id"] for s in exchange.sent] == ["old-unsent", "new"]
    reader = StateStore(path).open()
    assert {r.id: r.state for r in reader.signals()} == {"old-sent": "placed", "old-unsent": "placed",
                                                         "new": "placed"}
    reader.close()


def test_a_worker_that_cannot_read_the_state_file_stops_the_start(tmp_path):
    """A damaged state file: start() raises StartupError (state_unreadable), nothing is traded."""
    path = tmp_path / "state.sqlite"
    path.write_bytes(b"this is not a database" * 100)
    exchange = ScriptedExchange(FakeClock())
    store = StateStore(path, shared=True)
    worker = OrderWorker(OrderDesk(exchange, store, RULES, LIMITS, SystemClock()), store,
                         queue.SimpleQueue(), SystemClock(), locked_at_ms=0)
    with pytest.raises(StartupError) as caught:
        worker.start(timeout=10)
    assert caught.value.code == "state_unreadable" and exchange.sent == []


class ThreadNoting(ScriptedExchange):
    """Also notes which thread sent each order, and whether two sends ever overlapped."""

    def __init__(self, clock) -> None:
        super().__init__(clock)
        self.threads: list[str] = []
        self.busy = threading.Lock()
        self.overlaps = 0

    def new_order(self, **kwargs):
        if not self.busy.acquire(blocking=False):
            self.overlaps += 1
            self.busy.acquire()
        try:
            self.threads.append(threading.current_thread().name)
            return super().new_order(**kwargs)
        finally:
            self.busy.release()


def running_worker(tmp_path, exchange) -> tuple[OrderWorker, Intake]:
    path = tmp_path / "state.sqlite"
    clock = SystemClock()
    intake = Intake(StateStore(path, shared=True).open(), "live", 1000, clock)
    limits = LIMITS.__class__(LIMITS.symbols, LIMITS.max_quote_per_order, 100_000, "GTC")
    store = StateStore(path, shared=True)
    worker = OrderWorker(OrderDesk(exchange, store, RULES, limits, clock), store, intake.queue,
                         clock, locked_at_ms=clock.now_ms() - SETTLE_MS)
    worker.start()
    return worker, intake


def test_an_accepted_signal_trades_on_the_accepting_thread(tmp_path):
    """run_queued() after the 202: the order goes out from the webhook's thread, not via a hand-off."""
    exchange = ThreadNoting(FakeClock())
    worker, intake = running_worker(tmp_path, exchange)
    assert worker.recovered.wait(5)
    accepting = threading.Thread(target=lambda: (intake.submit(signal("a1")), worker.run_queued()),
                                 name="webhook-accept")
    accepting.start()
    accepting.join(10)
    worker.stop(budget=2.0)
    intake.close()
    assert exchange.threads == ["webhook-accept"]


def test_concurrent_accepts_trade_each_signal_once_one_at_a_time_in_arrival_order(tmp_path):
    """Eight accepting threads: every id traded once, never two sends at once, in journal (seq) order."""
    exchange = ThreadNoting(FakeClock())
    worker, intake = running_worker(tmp_path, exchange)

    def accept(k: int) -> None:
        for n in range(25):
            intake.submit(signal(f"c{k}-{n}"))
            worker.run_queued()
    threads = [threading.Thread(target=accept, args=(k,), name=f"accept-{k}") for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    wait_until(lambda: len(exchange.sent) == 200, timeout=10, what="every order")
    worker.stop(budget=2.0)
    intake.close()
    reader = StateStore(tmp_path / "state.sqlite").open()
    by_seq = [r.id for r in reader.signals()]
    states = {r.state for r in reader.signals()}
    reader.close()
    assert [s["new_client_order_id"] for s in exchange.sent] == by_seq
    assert exchange.overlaps == 0 and states == {"placed"}


def test_after_a_stop_queued_signals_stay_journaled_for_the_next_start(tmp_path):
    """Once stopped, run_queued trades nothing; what is queued is left `received` (and logged deferred)."""
    exchange = ThreadNoting(FakeClock())
    worker, intake = running_worker(tmp_path, exchange)
    worker.stop(budget=1.0)
    assert intake.submit(signal("late")) == "accepted"
    worker.run_queued()
    intake.close()
    assert exchange.sent == []
    reader = StateStore(tmp_path / "state.sqlite").open()
    assert reader.signal("live", "late").state == "received"
    reader.close()
