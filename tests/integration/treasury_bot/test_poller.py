"""The poller against a fake exchange port, a real ledger and a FakeClock: batches of 45,
status mapping, terminal statuses, the stuck alert, rate limits and back-off."""

from __future__ import annotations

import json

import pytest

from common.binance import AuthError, ExchangeUnavailable, RateLimitError
from common.clock import FakeClock
from tests.support.ledger_peek import outbox_facts
from tests.support.treasury_core import (T0, FakeExchange, accept, alerts, make_policy, open_ledger,
                                                  statuses)
from treasury_bot.executor import Executor
from treasury_bot.poller import Poller, StatusChange, pick_batch

INTERVAL = 15.0


class Rig:
    def __init__(self, tmp_path) -> None:
        self.policy = make_policy(min_seconds="0", per_hour=1000, window_cap="1000000", approval_above=None)
        self.clock = FakeClock(T0)
        self.ledger = open_ledger(tmp_path / "ledger.sqlite")
        self.exchange = FakeExchange(initial_status=0)
        self.executor = Executor(self.ledger, self.exchange, self.policy, self.clock)
        self.poller = Poller(self.ledger, self.exchange, self.clock, interval_s=INTERVAL, stuck_after_minutes=60)

    def submitted(self, *intent_ids: str) -> None:
        """Intents accepted and submitted through the real decider and executor."""
        for intent_id in intent_ids:
            accept(self.ledger, self.policy, self.clock, intent_id, "10")
            assert self.executor.step() is True
            assert self.status(intent_id) == "submitted"

    def status(self, intent_id: str) -> str:
        return self.ledger.get_intent(intent_id).status

    def withdrawal(self, intent_id: str):
        return self.ledger.withdrawal(self.ledger.get_intent(intent_id).seq)

    def wid(self, intent_id: str) -> str:
        return self.withdrawal(intent_id).withdrawal_id


@pytest.fixture
def rig(tmp_path):
    made = Rig(tmp_path)
    yield made
    made.ledger.close()


def test_one_history_request_covers_the_open_withdrawals(rig):
    """A poll asks once, by idList, for every open withdrawal, and journals what changed."""
    rig.submitted("p-1", "p-2")
    rig.exchange.set_status(rig.wid("p-2"), 4, tx_id="0xabc")
    assert rig.poller.poll_once() == INTERVAL
    assert [lookup["id_list"] for lookup in rig.exchange.lookups] == [[rig.wid("p-1"), rig.wid("p-2")]]
    assert statuses(rig.ledger, "p-1") == ["queued", "submitting", "submitted", "email_sent"]
    assert statuses(rig.ledger, "p-2") == ["queued", "submitting", "submitted", "processing"]
    assert rig.withdrawal("p-2").tx_id == "0xabc" and rig.withdrawal("p-2").exchange_status == 4
    assert rig.withdrawal("p-1").last_polled_at == T0
    assert rig.ledger.get_meta("last_poll_at") == str(T0)
    sources = {t.source for t in rig.ledger.transitions_after(0) if t.to_status in ("email_sent", "processing")}
    assert sources == {"poller"}


def test_a_tx_id_arriving_later_is_kept_without_a_transition(rig):
    """processing -> processing with a tx id: the id is stored, no status change journaled."""
    rig.submitted("tx-1")
    rig.exchange.set_status(rig.wid("tx-1"), 4)
    rig.poller.poll_once()
    rig.exchange.set_status(rig.wid("tx-1"), 4, tx_id="0xfeed")
    rig.poller.poll_once()
    assert statuses(rig.ledger, "tx-1")[-1] == "processing" and statuses(rig.ledger, "tx-1").count("processing") == 1
    assert rig.withdrawal("tx-1").tx_id == "0xfeed"


@pytest.mark.parametrize("code, name, kind, severity", [
    (6, "completed", "withdrawal_completed", "INFO"),
    (5, "failed", "withdrawal_failed", "CRITICAL"),
    (3, "rejected", "withdrawal_rejected", "CRITICAL"),
    (1, "cancelled", "withdrawal_cancelled", "WARNING"),
])
def test_a_terminal_status_sets_finished_at_and_alerts(rig, code, name, kind, severity):
    """A final exchange status closes the withdrawal: finished_at, reason kept, its alert; no more polls."""
    rig.submitted("t-1")
    rig.clock.advance(30)
    rig.exchange.set_status(rig.wid("t-1"), code, tx_id="0x1" if code == 6 else None,
                            info=None if code == 6 else "address risk")
    rig.poller.poll_once()
    assert rig.status("t-1") == name
    withdrawal = rig.withdrawal("t-1")
    assert withdrawal.finished_at == T0 + 30_000 and withdrawal.exchange_status == code
    assert withdrawal.error_message == (None if code == 6 else "address risk")
    assert alerts(rig.ledger)[-1] == (kind, severity, "t-1")
    rig.exchange.lookups.clear()
    assert rig.poller.poll_once() == INTERVAL and rig.exchange.lookups == []


def test_a_completed_alert_carries_the_withdrawal_and_tx_ids(rig):
    """The completion mail names the exchange's withdrawal id and the chain's tx id."""
    rig.submitted("c-1")
    rig.exchange.set_status(rig.wid("c-1"), 6, tx_id="0xdone")
    rig.poller.poll_once()
    [facts] = outbox_facts(rig.ledger, "kind = 'withdrawal_completed'")
    assert facts["withdrawal_id"] == rig.wid("c-1") and facts["tx_id"] == "0xdone"


def test_a_withdrawal_stuck_past_the_limit_is_alerted_exactly_once(rig):
    """Open longer than stuck_after_minutes: one withdrawal_stuck alert, never repeated."""
    rig.submitted("st-1")
    rig.clock.advance(60 * 60)
    rig.poller.poll_once()
    assert alerts(rig.ledger, "withdrawal_stuck") == []
    rig.clock.advance(0.001)
    rig.poller.poll_once()
    assert alerts(rig.ledger, "withdrawal_stuck") == [("withdrawal_stuck", "WARNING", "st-1")]
    for _ in range(5):
        rig.clock.advance(INTERVAL)
        rig.poller.poll_once()
    assert len(alerts(rig.ledger, "withdrawal_stuck")) == 1
    assert rig.withdrawal("st-1").stuck_alerted is True


def test_more_than_45_open_withdrawals_are_covered_in_turn(rig):
    """With 50 open, the first poll asks for 45, the next for the 5 left first."""
    names = [f"m-{i:02d}" for i in range(50)]
    rig.submitted(*names)
    rig.poller.poll_once()
    rig.clock.advance(INTERVAL)
    rig.poller.poll_once()
    first, second = (lookup["id_list"] for lookup in rig.exchange.lookups)
    assert len(first) == 45 and len(second) == 45
    assert second[:5] == [rig.wid(n) for n in names[45:]]
    assert {rig.wid(n) for n in names} == set(first) | set(second)


def test_a_rate_limit_waits_for_retry_after_and_changes_nothing(rig):
    """429/418: the next poll waits Retry-After (never less than the interval); nothing journaled."""
    rig.submitted("rl-1")
    rig.exchange.script_history(RateLimitError("banned", retry_after=120.0, http_status=418),
                                RateLimitError("slow down", retry_after=2.0, http_status=429))
    assert rig.poller.poll_once() == 120.0
    assert rig.poller.poll_once() == INTERVAL
    assert rig.status("rl-1") == "submitted" and rig.withdrawal("rl-1").last_polled_at is None
    assert rig.poller.failures == 0


def test_errors_back_off_exponentially_up_to_ten_intervals_then_reset(rig):
    """Each failure doubles the wait (2x, 4x, 8x, then capped at 10x); a success resets it."""
    rig.submitted("bo-1")
    rig.exchange.script_history(*[ExchangeUnavailable("down")] * 5, AuthError("key", binance_code=-2015))
    waits = [rig.poller.poll_once() for _ in range(6)]
    assert waits == [30.0, 60.0, 120.0, 150.0, 150.0, 150.0]
    assert rig.poller.poll_once() == INTERVAL and rig.poller.failures == 0
    assert rig.status("bo-1") == "email_sent"


def test_no_open_withdrawal_means_no_request(rig):
    """Nothing open: no history request, the normal interval."""
    assert rig.poller.poll_once() == INTERVAL
    assert rig.exchange.lookups == []


def test_an_intent_another_writer_has_ended_is_not_touched(rig):
    """A change reported for an intent that ended meanwhile (here: the executor adopted a
    cancellation that reconciliation found) is left alone."""
    rig.submitted("nr-1")
    batch = pick_batch(rig.ledger.open_withdrawals())
    with rig.ledger.transaction():
        rig.ledger.set_status(rig.ledger.get_intent("nr-1"), "cancelled", T0, "executor")
    rig.poller._apply(batch, [StatusChange(batch[0][0].seq, "completed", 6, "tx", None)], T0)
    assert rig.status("nr-1") == "cancelled" and rig.withdrawal("nr-1").finished_at is None


def test_an_unexpected_exception_in_a_poll_is_alerted_once_and_the_poller_goes_on(tmp_path):
    """Issue 10 defect 8: a bug-like failure (KeyError) in a poll round does not end the
    poller thread; it raises one thread_failing alert (type only), then thread_recovered,
    and the withdrawal is still followed to completed."""
    import threading
    from collections import deque
    from tests.support.waiting import wait_until

    rig = Rig(tmp_path)
    rig.submitted("p-1")
    rig.exchange.history_script = deque([KeyError("secret-ish text")])
    rig.exchange.set_status(rig.wid("p-1"), 6, tx_id="0xabc")
    stop = threading.Event()

    def run() -> None:
        ledger = open_ledger(tmp_path / "ledger.sqlite")
        try:
            Poller(ledger, rig.exchange, rig.clock, interval_s=0.01, stuck_after_minutes=60).run(stop)
        finally:
            ledger.close()

    thread = threading.Thread(target=run, name="poller")
    thread.start()
    try:
        wait_until(lambda: len(alerts(rig.ledger, "thread_recovered")) == 1, timeout=10, what="recovery alert")
    finally:
        stop.set()
        thread.join(5)
    (facts,) = outbox_facts(rig.ledger, "kind = 'thread_failing'")
    assert (facts["thread"], facts["error_type"]) == ("poller", "KeyError")
    assert "secret-ish" not in json.dumps(facts)
    assert alerts(rig.ledger, "thread_failing")[0][1] == "CRITICAL"
    assert rig.status("p-1") == "completed"
