"""The foreign-withdrawal watch on a real ledger with the fake exchange (issue 13 items 5-7):
what it records and alerts, once; the breaker; the windows and pages; the decider refusing a
used id; the executor adopting, never re-applying, a restored intent; shadow mode."""

from __future__ import annotations

from decimal import Decimal

import msgspec
import pytest

from common.binance import RateLimitError
from common.clock import FakeClock
from tests.support.treasury_core import (T0, FakeExchange, accept, alerts, count, decide, incoming, make_policy,
                                         open_ledger, statuses)
from treasury_bot import foreign_match, freeze, lifecycle
from treasury_bot.executor import Executor
from treasury_bot.foreign_watch import ForeignWatch


class Rig:
    def __init__(self, tmp_path, **policy_over) -> None:
        self.policy = make_policy(**policy_over)
        self.clock = FakeClock(T0)
        self.ledger = open_ledger(tmp_path / "ledger.sqlite")
        self.exchange = FakeExchange()

    def watch(self, policy=None) -> ForeignWatch:
        return ForeignWatch(self.ledger, self.exchange, self.clock, policy or self.policy)

    def executor(self, policy=None) -> Executor:
        return Executor(self.ledger, self.exchange, policy or self.policy, self.clock, reconcile_every_s=5.0)

    def foreign_ids(self) -> list[str]:
        return [row.withdrawal_id for row in self.ledger.foreign_withdrawals()]


@pytest.fixture
def rig(tmp_path):
    made = Rig(tmp_path)
    yield made
    made.ledger.close()


def test_a_withdrawal_the_ledger_did_not_make_is_recorded_alerted_once_and_trips_the_breaker(rig):
    """One row, one CRITICAL foreign_withdrawal, one breaker_tripped and a freeze; a second pass adds nothing."""
    rig.exchange.contain("w-foreign", None, amount=Decimal("40"))
    first = rig.watch().at_start()
    assert [f.record.id for f in first.found] == ["w-foreign"]
    assert rig.foreign_ids() == ["w-foreign"]
    assert [a[:2] for a in alerts(rig.ledger, "foreign_withdrawal")] == [("foreign_withdrawal", "CRITICAL")]
    assert len(alerts(rig.ledger, "breaker_tripped")) == 1
    assert freeze.current(rig.ledger).breaker == freeze.FOREIGN_WITHDRAWAL
    again = rig.watch().check_recent()
    assert again.found == () and len(alerts(rig.ledger, "foreign_withdrawal")) == 1


def test_the_breaker_switch_off_still_alerts_but_does_not_freeze(rig):
    """[circuit_breakers] foreign_withdrawal = false: the alert stays, the freeze does not happen."""
    policy = msgspec.structs.replace(rig.policy, circuit_breakers=msgspec.structs.replace(
        rig.policy.circuit_breakers, foreign_withdrawal=False))
    rig.exchange.contain("w-foreign", None)
    rig.watch(policy).at_start()
    assert len(alerts(rig.ledger, "foreign_withdrawal")) == 1 and freeze.current(rig.ledger) is None


def test_our_own_withdrawals_and_our_apply_in_flight_are_not_foreign(rig):
    """Applied and adopted by the executor: ours; `submitting` with our id on the exchange: ours too."""
    accept(rig.ledger, rig.policy, rig.clock, "ours-1")
    rig.executor().step()                              # applied: w-1 recorded
    record = accept(rig.ledger, rig.policy, rig.clock, "ours-2")
    with rig.ledger.transaction():
        rig.ledger.set_status(record, lifecycle.SUBMITTING, T0, lifecycle.EXECUTOR, "attempt 1")
    rig.exchange.contain("w-in-flight", "ours-2")
    assert rig.watch().at_start().found == ()
    assert rig.foreign_ids() == [] and freeze.current(rig.ledger) is None


def test_the_start_reads_back_to_the_ledgers_birth_in_windows_and_pages(rig):
    """A ledger born 200 days ago with lookback_days 365: three windows; a full page asks the next."""
    with rig.ledger.transaction():
        rig.ledger.record_policy_start("0" * 64, "treasury.toml", T0 - 200 * foreign_match.DAY_MS)
    policy = msgspec.structs.replace(rig.policy, watch=msgspec.structs.replace(rig.policy.watch, lookback_days=365))
    for n in range(foreign_match.PAGE_LIMIT + 1):
        rig.exchange.contain(f"w-{n}", None)
    result = rig.watch(policy).at_start()
    starts = {(start, end) for start, end, _, _ in rig.exchange.windows}
    assert min(start for start, _ in starts) == T0 - 201 * foreign_match.DAY_MS
    assert len(starts) == 3 and all(end - start < 90 * foreign_match.DAY_MS for start, end in starts)
    assert [offset for _, _, offset, _ in rig.exchange.windows[:2]] == [0, foreign_match.PAGE_LIMIT]
    assert result.read == foreign_match.PAGE_LIMIT + 1 and len(result.found) == foreign_match.PAGE_LIMIT + 1
    assert len(alerts(rig.ledger, "breaker_tripped")) == 1  # one trip for the whole pass


def test_an_unreadable_history_at_start_raises_and_records_nothing(rig):
    """The caller refuses the start (app.watch_at_start); nothing is written."""
    rig.exchange.contain("w-foreign", None)
    rig.exchange.script_history(RateLimitError("too many requests", retry_after=5))
    with pytest.raises(RateLimitError):
        rig.watch().at_start()
    assert rig.foreign_ids() == [] and count(rig.ledger, "alert_outbox") == 0


def test_an_intent_id_a_foreign_withdrawal_used_is_refused_and_never_decided(rig):
    """After a restore the lost intent's id is on the exchange: resending it is a conflict, no intent row."""
    rig.exchange.contain("w-lost", "lost-1")
    rig.watch().at_start()
    result = decide(rig.ledger, rig.policy, rig.clock, incoming("lost-1", created_at=T0))
    reply = result.replies[0]
    assert (reply.outcome, reply.reason_code, reply.status) == ("rejected", "intent_id_conflict", "denied")
    assert rig.ledger.get_intent("lost-1") is None
    assert count(rig.ledger, "refused_requests", "intent_id = ?", "lost-1") == 1
    # A fresh id is decided as usual; the foreign withdrawal froze the treasury (its breaker),
    # so the decision is rule 1a's.
    fresh = decide(rig.ledger, rig.policy, rig.clock, incoming("new-1", created_at=T0)).replies[0]
    assert (fresh.outcome, fresh.reason_code) == ("rejected", "frozen")


def test_a_restored_queued_intent_the_exchange_already_paid_is_adopted_not_applied(rig):
    """The ledger holds q-1 as queued; the exchange has it: the executor adopts that withdrawal, no apply."""
    accept(rig.ledger, rig.policy, rig.clock, "q-1")
    rig.exchange.contain("w-paid", "q-1", status=6)
    found = rig.watch().at_start().found
    assert [f.intent_seq for f in found] == [rig.ledger.get_intent("q-1").seq]
    executor = rig.executor()
    assert executor.step() is False and rig.exchange.applies == []   # frozen by the breaker: nothing moves
    freeze.unfreeze(rig.ledger, by="alice", note="checked: the restore lost it", now=rig.clock.now_ms())
    executor.step()
    assert rig.exchange.applies == []
    assert rig.ledger.withdrawal(rig.ledger.get_intent("q-1").seq).withdrawal_id == "w-paid"
    assert statuses(rig.ledger, "q-1") == ["queued", "submitting", "submitted", "completed"]


def test_shadow_mode_ends_the_intent_shadowed_with_a_would_withdraw_alert_and_no_apply(rig):
    """Every check passes as live; the apply is not called; the status is terminal and still counted."""
    policy = msgspec.structs.replace(rig.policy, mode="shadow")
    accept(rig.ledger, policy, rig.clock, "s-1", "50")
    rig.executor(policy).step()
    assert rig.exchange.applies == []
    assert statuses(rig.ledger, "s-1") == ["queued", "shadowed"]
    assert [a[0] for a in alerts(rig.ledger, "would_withdraw")] == ["would_withdraw"]
    assert lifecycle.is_terminal(lifecycle.SHADOWED) and lifecycle.counts_in_window(lifecycle.SHADOWED)
    replay = decide(rig.ledger, rig.policy, rig.clock, incoming("s-1", "50", created_at=T0)).replies[0]
    assert replay.status == "shadowed"   # after the switch to live: the decision as it stands, no withdrawal
