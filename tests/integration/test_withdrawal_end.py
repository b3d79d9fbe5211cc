"""One end step for a withdrawal (treasury_bot/withdrawal_end.py, issue 11 item 2): the
executor adopting a withdrawal reconciliation found already ended, and the poller seeing
it end, leave the same marks on a real ledger: the end status, finished_at, the
exchange's reason and the alert. Before, each did it itself, with its own terminal set."""

from __future__ import annotations

import pytest

from common.binance import OutcomeUnknown
from common.clock import FakeClock
from tests.support.treasury_core import (T0, Applied, FakeExchange, accept, alerts, make_policy,
                                                  open_ledger, step_executor_for)
from treasury_bot import lifecycle
from treasury_bot.executor import Executor
from treasury_bot.lifecycle import IllegalTransition
from treasury_bot.poller import Poller
from treasury_bot.withdrawal_end import finish_withdrawal

ENDS = [(6, "completed", "withdrawal_completed"), (5, "failed", "withdrawal_failed"),
        (3, "rejected", "withdrawal_rejected"), (1, "cancelled", "withdrawal_cancelled")]
REASON = "address risk"


class Rig:
    def __init__(self, tmp_path) -> None:
        self.policy = make_policy(min_seconds="0", approval_above=None)
        self.clock = FakeClock(T0)
        self.ledger = open_ledger(tmp_path / "ledger.sqlite")
        self.exchange = FakeExchange(initial_status=4)
        self.executor = Executor(self.ledger, self.exchange, self.policy, self.clock, reconcile_every_s=1.0)
        self.poller = Poller(self.ledger, self.exchange, self.clock, interval_s=6, stuck_after_minutes=60)

    def marks(self, intent_id: str):
        """What an end leaves: status, finished_at, reason, exchange status, the last move."""
        record = self.ledger.get_intent(intent_id)
        withdrawal = self.ledger.withdrawal(record.seq)
        last = self.ledger.transitions_of(record)[-1]
        return (record.status, withdrawal.finished_at, withdrawal.error_message, withdrawal.exchange_status,
                (last[0], last[2], last[4]))


@pytest.fixture
def rig(tmp_path):
    made = Rig(tmp_path)
    yield made
    made.ledger.close()


@pytest.mark.parametrize("code, end, kind", ENDS)
def test_the_executor_and_the_poller_end_a_withdrawal_alike(rig, code, end, kind):
    # The executor: the apply's outcome is unknown; reconciliation finds it already ended.
    accept(rig.ledger, rig.policy, rig.clock, "by-executor")
    rig.exchange.script_apply(Applied(OutcomeUnknown("timeout")))
    rig.executor.step()
    rig.exchange.set_status("w-1", code, info=REASON)
    step_executor_for(rig.executor, rig.clock, 3)
    found_at = rig.ledger.get_intent("by-executor").updated_at
    # The poller: submitted and answered, then reported ended.
    accept(rig.ledger, rig.policy, rig.clock, "by-poller")
    rig.executor.step()
    assert rig.ledger.get_intent("by-poller").status == lifecycle.SUBMITTED
    rig.exchange.set_status("w-2", code, info=REASON)
    rig.poller.poll_once()
    polled_at = rig.ledger.get_intent("by-poller").updated_at

    assert rig.marks("by-executor") == (end, found_at, REASON, code,
                                             (found_at, end, "status found by reconciliation"))
    assert rig.marks("by-poller") == (end, polled_at, REASON, code,
                                           (polled_at, end, f"exchange status {code}"))
    kinds = [a[0] for a in alerts(rig.ledger)]
    assert kinds.count(kind) == 2 and kinds[-1] == kind


def test_a_status_that_ends_no_withdrawal_is_refused_and_nothing_is_written(rig):
    accept(rig.ledger, rig.policy, rig.clock, "x-1")
    rig.executor.step()
    record = rig.ledger.get_intent("x-1")
    for not_an_end in (lifecycle.PROCESSING, lifecycle.DENIED, lifecycle.NEEDS_REVIEW):
        with pytest.raises(ValueError), rig.ledger.transaction():
            finish_withdrawal(rig.ledger, record, not_an_end, T0, lifecycle.POLLER, "",
                              withdrawal_id="w-1", tx_id=None, info=REASON)
    assert rig.ledger.get_intent("x-1") == record
    assert rig.ledger.withdrawal(record.seq).finished_at is None


def test_a_writer_the_lifecycle_does_not_let_end_it_leaves_no_mark(rig):
    """The operator may not end a submitted withdrawal: the refusal rolls the marks back."""
    accept(rig.ledger, rig.policy, rig.clock, "x-2")
    rig.executor.step()
    record = rig.ledger.get_intent("x-2")
    before = len(alerts(rig.ledger))
    with pytest.raises(IllegalTransition), rig.ledger.transaction():
        finish_withdrawal(rig.ledger, record, lifecycle.COMPLETED, T0, lifecycle.OPERATOR, "",
                          withdrawal_id="w-1", tx_id=None, info=REASON)
    assert rig.ledger.get_intent("x-2") == record
    assert rig.ledger.withdrawal(record.seq).finished_at is None
    assert len(alerts(rig.ledger)) == before
