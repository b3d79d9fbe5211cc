"""Reconciliation when the host's wall clock steps (issue 10, defect 1): the real executor,
a real ledger, and a fake exchange port whose measured offset the test sets, as a
re-sync after a host clock step would."""

from __future__ import annotations

import pytest

from common.binance import OutcomeUnknown
from common.clock import FakeClock
from tests.support.treasury_core import step_executor_for, T0, Applied, FakeExchange, accept, make_policy, open_ledger
from treasury_bot.executor import Executor

GRACE_S = 60
DAY_S = 86_400


class SteppingClock(FakeClock):
    """A FakeClock whose wall time can also step on its own, as a host clock does when
    NTP or an operator sets it; the monotonic clock never sees a step."""

    def step_wall(self, seconds: float) -> None:
        with self._lock:
            self._now_ms += int(round(seconds * 1000))


class Rig:
    def __init__(self, tmp_path) -> None:
        self.policy = make_policy(min_seconds="0", grace_seconds=GRACE_S)
        self.clock = SteppingClock(T0)
        self.ledger = open_ledger(tmp_path / "ledger.sqlite")
        self.exchange = FakeExchange()
        self.executor = Executor(self.ledger, self.exchange, self.policy, self.clock, reconcile_every_s=5.0)

    def run_for(self, seconds: float, tick: float = 1.0) -> None:
        step_executor_for(self.executor, self.clock, seconds, tick)

    def status(self, intent_id: str) -> str:
        return self.ledger.get_intent(intent_id).status


@pytest.fixture
def rig(tmp_path):
    made = Rig(tmp_path)
    yield made
    made.ledger.close()


def unknown_not_executed() -> Applied:
    return Applied(OutcomeUnknown("server error, execution status unknown", http_status=503), False)


def test_a_forward_step_of_the_wall_clock_does_not_shorten_the_grace(rig):
    """An unknown outcome, then the host clock jumps an hour ahead: absence is not "proven"
    (no second apply) until the full grace has run on the monotonic clock."""
    accept(rig.ledger, rig.policy, rig.clock, "grace-1")
    rig.exchange.script_apply(unknown_not_executed())
    rig.executor.step()
    assert rig.status("grace-1") == "submitting"
    rig.clock.step_wall(3600)
    rig.run_for(GRACE_S - 10)
    assert len(rig.exchange.applies) == 1 and rig.status("grace-1") == "submitting"
    rig.run_for(20)
    assert len(rig.exchange.applies) == 2   # proven absent after the real grace, sent again


def test_absence_is_not_proven_once_the_first_attempt_is_six_days_old_in_the_exchanges_clock(rig):
    """6.5 days pass, the host clock is then set back a day and the client re-measures the
    exchange offset (+1 day): in the host's clock the first attempt looks 5.5 days old, but
    the exchange's 7-day history may no longer hold it with a day to spare: needs_review,
    never a second apply."""
    accept(rig.ledger, rig.policy, rig.clock, "old-1")
    rig.exchange.script_apply(unknown_not_executed())
    rig.executor.step()
    rig.clock.advance(6.5 * DAY_S)
    rig.clock.step_wall(-DAY_S)
    rig.exchange.time_offset_ms = DAY_S * 1000
    rig.run_for(GRACE_S + 10)
    assert len(rig.exchange.applies) == 1
    assert rig.status("old-1") == "needs_review"


def test_a_restart_after_the_wall_clock_was_set_back_holds_withdrawals_one_spacing_at_most(tmp_path):
    """recover() keeps the spacing across a restart from the last apply's wall time; with
    the host clock set back 6 h since then, it once held every withdrawal for 6 h (found
    by the model test). Now the wait is at most one spacing."""
    rig = Rig(tmp_path)
    try:
        policy = make_policy(min_seconds="2", grace_seconds=GRACE_S)
        rig.executor = Executor(rig.ledger, rig.exchange, policy, rig.clock)
        accept(rig.ledger, policy, rig.clock, "before-step")
        rig.executor.step()
        assert len(rig.exchange.applies) == 1
        rig.clock.step_wall(-6 * 3600)
        rig.executor = Executor(rig.ledger, rig.exchange, policy, rig.clock)
        rig.executor.recover()
        accept(rig.ledger, policy, rig.clock, "after-step")
        rig.run_for(3)
        assert len(rig.exchange.applies) == 2 and rig.status("after-step") == "submitted"
    finally:
        rig.ledger.close()
