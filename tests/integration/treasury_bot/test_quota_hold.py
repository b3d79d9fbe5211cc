"""Issue 12 item 4 with a real ledger: the executor reads the exchange's 24-hour quota before
each apply; a stablecoin intent over what is left is not sent (it stays queued, one
withdraw_quota_held alert), is sent once the quota allows; the 80 % alert goes once per
crossing; a failed reading blocks nothing; the reading is saved for `treasuryctl status`."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import pytest

from common.binance import ExchangeUnavailable, WithdrawQuota
from common.clock import FakeClock
from tests.support.ledger_peek import outbox_facts
from tests.support.treasury_core import T0, FakeExchange, accept, alerts, make_policy, open_ledger, statuses
from treasury_bot.executor import Executor
from treasury_bot.quota_guard import RETRY_S, QuotaGuard, saved_note


@dataclass
class ScriptedQuota:
    """The guard's port (WithdrawQuotaSource): answers total/used, or raises `error`."""

    total: str = "1000"
    used: str = "0"
    error: Exception | None = None
    reads: int = 0

    def withdraw_quota(self) -> WithdrawQuota:
        self.reads += 1
        if self.error is not None:
            raise self.error
        return WithdrawQuota(wd_quota=Decimal(self.total), used_wd_quota=Decimal(self.used))


@pytest.fixture
def ledger(tmp_path):
    opened = open_ledger(tmp_path / "ledger.sqlite")
    yield opened
    opened.close()


def executor_for(ledger, quota, clock):
    return Executor(ledger, FakeExchange(), make_policy(), clock, quota=QuotaGuard(quota))


def held_once(ledger, used: str = "950"):
    """100 USDT accepted as q-1 with `used` of 1000 used, and one executor step taken."""
    clock = FakeClock(T0)
    accept(ledger, make_policy(), clock, "q-1", "100")
    quota = ScriptedQuota(used=used)
    executor = executor_for(ledger, quota, clock)
    executor.step()
    return clock, quota, executor


def test_an_intent_over_the_remaining_quota_waits_queued_without_an_apply(ledger):
    """950 of 1000 used, 100 USDT queued: no apply, still queued, one held alert, however often tried."""
    clock, quota, executor = held_once(ledger)
    clock.advance(RETRY_S)
    executor.step()
    assert executor.client.applies == [] and quota.reads == 2
    assert statuses(ledger, "q-1") == ["queued"]
    assert alerts(ledger, "withdraw_quota_held") == [("withdraw_quota_held", "WARNING", "q-1")]
    facts = [f for f in outbox_facts(ledger) if "value_usd" in f][0]
    assert (facts["value_usd"], facts["quota_left"], facts["quota_total"]) == ("100", "50", "1000")


def test_a_held_intent_is_not_read_for_again_before_the_retry_delay(ledger):
    """Held: the executor waits RETRY_S before the next reading (weight 10 each, not every step)."""
    clock, quota, executor = held_once(ledger)
    clock.advance(RETRY_S - 1)
    assert executor.step() is False and quota.reads == 1


def test_a_held_intent_is_sent_once_the_quota_allows(ledger):
    """The 24 hours roll, the use falls to 100: the next try sends it; nothing was lost."""
    clock, quota, executor = held_once(ledger)
    quota.used = "100"
    clock.advance(RETRY_S)
    executor.step()
    assert [a["withdraw_order_id"] for a in executor.client.applies] == ["q-1"]
    assert statuses(ledger, "q-1") == ["queued", "submitting", "submitted"]
    assert saved_note(ledger).held_alerted == ()


def test_an_intent_that_fits_is_sent_and_the_reading_is_saved(ledger):
    """100 of 1000 used, 100 USDT: sent; the note holds the reading for `treasuryctl status`."""
    clock = FakeClock(T0)
    accept(ledger, make_policy(), clock, "q-1", "100")
    executor = executor_for(ledger, ScriptedQuota(used="100"), clock)
    executor.step()
    assert [a["withdraw_order_id"] for a in executor.client.applies] == ["q-1"]
    note = saved_note(ledger)
    assert (note.reading.total, note.reading.used, note.reading.read_at_ms) == (Decimal(1000), Decimal(100), T0)
    assert alerts(ledger, "withdraw_quota_80") == []


def test_the_80_percent_alert_goes_once_per_crossing(ledger):
    """Three applies at 85 % used: one withdraw_quota_80 alert; below, then above again: a second."""
    clock = FakeClock(T0)
    policy = make_policy()
    quota = ScriptedQuota(used="850")
    executor = executor_for(ledger, quota, clock)
    for i, used in enumerate(["850", "860", "870", "100", "900"]):
        accept(ledger, policy, clock, f"q-{i}", "10")
        quota.used = used
        executor.step()
        clock.advance(executor.spacing_s + 1)
    assert len(executor.client.applies) == 5
    assert alerts(ledger, "withdraw_quota_80") == [("withdraw_quota_80", "WARNING", None)] * 2
    facts = [f for f in outbox_facts(ledger) if "quota_used" in f][0]
    assert (facts["quota_used"], facts["quota_total"], facts["percent"]) == ("850", "1000", 85)


def test_a_failed_reading_blocks_nothing(ledger):
    """The quota endpoint down: the apply goes out (the exchange decides), no alert, nothing saved."""
    clock = FakeClock(T0)
    accept(ledger, make_policy(), clock, "q-1", "100")
    executor = executor_for(ledger, ScriptedQuota(error=ExchangeUnavailable("connection refused")), clock)
    executor.step()
    assert [a["withdraw_order_id"] for a in executor.client.applies] == ["q-1"]
    assert alerts(ledger, "withdraw_quota_held") == [] and saved_note(ledger).reading is None


def test_without_a_guard_the_executor_sends_as_before(ledger):
    """Executor(quota=None): no reading, the apply goes out (the existing tests' setting)."""
    clock = FakeClock(T0)
    accept(ledger, make_policy(), clock, "q-1", "100")
    executor = Executor(ledger, FakeExchange(), make_policy(), clock)
    executor.step()
    assert [a["withdraw_order_id"] for a in executor.client.applies] == ["q-1"]


def test_a_reading_after_a_refresh_is_saved_and_alerts_a_crossing_once(ledger):
    """observe() (after each coin-rules refresh): 90 % used, twice: one withdraw_quota_80; the note saved."""
    guard = QuotaGuard(ScriptedQuota(used="900"))
    guard.observe(ledger, T0)
    guard.observe(ledger, T0 + 1000)
    assert alerts(ledger) == [("withdraw_quota_80", "WARNING", None)]
    assert saved_note(ledger).reading.read_at_ms == T0 + 1000


def test_a_failed_reading_after_a_refresh_changes_nothing(ledger):
    """The endpoint down at a refresh: no alert, no note."""
    QuotaGuard(ScriptedQuota(error=ExchangeUnavailable("down"))).observe(ledger, T0)
    assert alerts(ledger) == [] and saved_note(ledger).reading is None


def test_the_scripted_quota_is_a_whole_withdraw_quota_source():
    """The double the tests above run against implements the guard's port, signatures included."""
    from tests.support.seams import mismatches
    from treasury_bot.exchange import WithdrawQuotaSource
    assert mismatches(ScriptedQuota(), WithdrawQuotaSource) == []
