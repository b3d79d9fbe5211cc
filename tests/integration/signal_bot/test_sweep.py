"""Sweeps: the pure amount and id, and the worker against a fake treasury (real CURVE sockets, real SQLite)."""

from __future__ import annotations

import pytest

from common import messages
from common.clock import SystemClock
from common.intent_client import IntentClient
from signal_bot.state import StateStore
from signal_bot.sweep import SweepWorker, sweep_intent_id
from tests.support.ports import free_port
from tests.support.waiting import wait_until
from tests.support.fake_treasury import CurveFiles, FakeTreasury
from tests.support.sweep_cases import SWEEP, Balances


@pytest.fixture
def rig(tmp_path):
    files = CurveFiles.make(tmp_path / "keys")
    treasury = FakeTreasury(files, free_port(), free_port())
    balances = Balances("1500")
    workers: list[SweepWorker] = []

    def worker(start_treasury: bool = True, retry_seconds: float = 0.3, sweep=SWEEP) -> SweepWorker:
        if start_treasury and treasury._thread is None:
            treasury.start()

        def make_client():
            return IntentClient(treasury.intent_endpoint, files.signal_keys(), files.server_public(),
                                  timeout=0.3, retries=2)
        w = SweepWorker(StateStore(tmp_path / "state.sqlite"), sweep, lambda: balances, make_client, SystemClock(),
                        retry_seconds=retry_seconds).start()
        workers.append(w)
        return w

    def rows():
        store = StateStore(tmp_path / "state.sqlite").open()
        try:
            return store.sweeps()
        finally:
            store.close()

    yield worker, treasury, balances, rows
    for w in workers:
        w.stop()
    treasury.stop()


def test_the_worker_closes_its_exchange_when_it_stops(rig):
    """The exchange client the worker made is let go of when the worker ends."""
    worker, _, balances, _ = rig
    w = worker()
    assert w.wait_idle(5) and not balances.closed
    assert w.stop()
    assert balances.closed


def test_a_fill_above_the_threshold_sends_one_intent(rig):
    """free 1500, keep 1000: one intent for 500 to the label, accepted and recorded."""
    worker, treasury, _, rows = rig
    w = worker()
    w.after_fill("sig-1")
    wait_until(lambda: rows() and rows()[0].state == "decided", what="decision")
    (intent,) = treasury.transfer_requests()
    assert (intent.intent_id, intent.amount, intent.destination, intent.coin, intent.network) == (
        sweep_intent_id("sig-1"), "500", "cold-wallet", "USDT", "TRX")
    assert intent.reason == "sweep after order sig-1"
    assert rows()[0].outcome == "accepted" and rows()[0].status == "queued"


def test_a_funding_sweep_is_sized_from_the_funding_wallet_not_spot(rig):
    """wallet = "funding": spot holds 1500 but funding 1200, so the sweep is 200 (the
    treasury pays a funding destination from funding; spot's money is not there)."""
    import msgspec
    worker, treasury, balances, rows = rig
    balances.funding = "1200"
    w = worker(sweep=msgspec.structs.replace(SWEEP, wallet="funding"))
    w.after_fill("sig-f")
    wait_until(lambda: rows() and rows()[0].state == "decided", what="decision")
    (intent,) = treasury.transfer_requests()
    assert intent.amount == "200" and balances.wallets_read == ["funding"]


def test_a_fill_below_the_threshold_sends_nothing(rig):
    """free 1040 with keep 1000 + min 50: no intent."""
    worker, treasury, balances, rows = rig
    balances.free = "1040"
    w = worker()
    w.after_fill("sig-1")
    assert w.wait_idle(5)
    assert rows() == [] and treasury.transfer_requests() == []


def test_lost_replies_resend_the_same_intent_decided_once(rig):
    """The treasury swallows the first request: the same id and content is resent, decided once."""
    worker, treasury, _, rows = rig
    treasury.drop_replies = 1
    w = worker()
    w.after_fill("sig-1")
    wait_until(lambda: rows() and rows()[0].state == "decided", what="decision")
    sent = treasury.transfer_requests()
    assert len(sent) == 2 and sent[0] == sent[1]
    assert len(treasury.decided) == 1


def test_with_the_treasury_down_the_intent_waits_then_is_decided_once(rig):
    """Treasury absent: kept unsent; once it is up, the periodic pass resends the same bytes, decided once."""
    worker, treasury, _, rows = rig
    w = worker(start_treasury=False)
    w.after_fill("sig-1")
    wait_until(lambda: rows() and rows()[0].tries >= 1, timeout=10, what="a failed try")
    first = rows()[0]
    assert first.state == "unsent" and first.last_error == "treasury_unavailable"
    treasury.start()
    wait_until(lambda: rows()[0].state == "decided", timeout=10, what="decision after the treasury is back")
    (intent,) = {r for r in treasury.transfer_requests()}
    assert (intent.amount, intent.created_at, intent.reason) == (first.amount, first.created_at, first.reason)
    assert len(treasury.decided) == 1


def test_an_internal_error_keeps_the_intent_and_it_is_resent_later(rig):
    """Issue 10 defect 6: error/internal (the treasury's ledger disk is low) decided nothing,
    so the sweep stays unsent and the same intent is sent again later, decided once."""
    worker, treasury, _, rows = rig
    treasury.internal_errors = 2
    w = worker()
    w.after_fill("sig-1")
    wait_until(lambda: rows() and rows()[0].state == "decided", timeout=10, what="decision after the errors")
    sent = treasury.transfer_requests()
    assert len(sent) == 3 and sent[0] == sent[1] == sent[2]
    assert len(treasury.decided) == 1 and rows()[0].outcome == "accepted"


def test_an_unsent_intent_is_resent_by_the_next_run(rig, tmp_path):
    """A worker that stopped with an unsent intent leaves it; the next worker sends it at start."""
    worker, treasury, _, rows = rig
    first = worker(start_treasury=False, retry_seconds=60)
    first.after_fill("sig-1")
    wait_until(lambda: rows() and rows()[0].tries >= 1, timeout=10, what="a failed try")
    assert first.stop()
    worker(start_treasury=True, retry_seconds=60)
    wait_until(lambda: rows()[0].state == "decided", timeout=10, what="resend at start")
    assert len(treasury.transfer_requests()) == 1


def test_a_stale_intent_is_not_resent_and_the_next_fill_makes_a_new_one(rig):
    """stale_intent closes that id for good; the next fill sweeps under a new id."""
    worker, treasury, _, rows = rig
    treasury.planned[sweep_intent_id("sig-1")] = ("rejected", "stale_intent", "denied")
    w = worker()
    w.after_fill("sig-1")
    wait_until(lambda: rows() and rows()[0].state == "stale", what="stale")
    w.after_fill("sig-2")
    wait_until(lambda: len(rows()) == 2 and rows()[1].state == "decided", what="a new sweep")
    assert [r.intent_id for r in treasury.transfer_requests()] == [sweep_intent_id("sig-1"), sweep_intent_id("sig-2")]


def test_an_open_sweep_defers_the_next_until_it_completes(rig):
    """While the first sweep is not terminal, a second fill sweeps nothing; after `completed` it does."""
    worker, treasury, _, rows = rig
    w = worker(retry_seconds=60)
    w.after_fill("sig-1")
    wait_until(lambda: rows() and rows()[0].state == "decided", what="first decision")
    w.after_fill("sig-2")
    assert w.wait_idle(5)
    assert len(rows()) == 1
    treasury.set_status(sweep_intent_id("sig-1"), "completed")
    w.on_event(messages.WithdrawalEvent(intent_id=sweep_intent_id("sig-1"), status="completed",
                                        withdrawal_id="w1", tx_id="t1", at=1))
    wait_until(lambda: rows()[0].status == "completed", what="status from the event")
    w.after_fill("sig-3")
    wait_until(lambda: len(rows()) == 2, what="second sweep")
    assert rows()[1].signal_id == "sig-3"


def test_a_rejected_sweep_is_terminal(rig):
    """A policy rejection (denied) is recorded and closes the sweep."""
    worker, treasury, _, rows = rig
    treasury.planned[sweep_intent_id("sig-1")] = ("rejected", "over_transfer_limit", "denied")
    w = worker()
    w.after_fill("sig-1")
    wait_until(lambda: rows() and rows()[0].state == "decided", what="decision")
    assert (rows()[0].reason_code, rows()[0].status) == ("over_transfer_limit", "denied")
    assert not rows()[0].is_open


def test_stop_returns_quickly_even_while_the_treasury_is_down(rig):
    """A worker waiting on an absent treasury stops within a couple of seconds."""
    worker, _, _, rows = rig
    w = worker(start_treasury=False)
    w.after_fill("sig-1")
    wait_until(lambda: rows(), what="the sweep record")
    assert w.stop(timeout=3)


def test_the_real_treasury_server_decides_a_sweep_once(tmp_path):
    """Against the treasury's own IntentServer (real policy and ledger, in-process): accepted, decided once."""
    from tests.support.treasury import InProcessServer, make_curve, policy
    curve = make_curve(tmp_path / "treasury")
    server = InProcessServer(tmp_path / "treasury", curve, policy()).start()
    balances = Balances("1100")
    worker = SweepWorker(
        StateStore(tmp_path / "state.sqlite"), SWEEP, lambda: balances,
        lambda: IntentClient(server.intent_endpoint, curve.keys("signal"), curve.server_public, timeout=1,
                               retries=2),
        SystemClock(), retry_seconds=60).start()
    store = StateStore(tmp_path / "state.sqlite").open()
    try:
        worker.after_fill("sig-real")
        row = wait_until(lambda: next((r for r in store.sweeps() if r.state == "decided"), None), timeout=10,
                         what="the real decision")
        assert (row.outcome, row.status, row.amount) == ("accepted", "queued", "100")
        again = IntentClient(server.intent_endpoint, curve.keys("signal"), curve.server_public, timeout=1,
                               retries=1)
        from signal_bot.sweep import intent_of
        repeat = again.send_intent(intent_of(store.sweep(row.intent_id)))   # a resend: same decision
        again.close()
        assert (repeat.outcome, repeat.reason_code) == ("accepted", None)
    finally:
        worker.stop()
        store.close()
        server.close()
