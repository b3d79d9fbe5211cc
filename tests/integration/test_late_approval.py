"""A late approval can no longer exceed the window cap or the hourly count (issue 10
defect 2; DESIGN section 9: an approved intent counts from the moment it was approved).

The real intent server on real CURVE sockets with a real ledger file and a hand-driven
clock; the operator acts through `treasury_bot.operator` on its own ledger connection,
as `treasuryctl` does beside a running treasury. The review's reproduction: an intent
pending for a day is approved, then 5,000 more are accepted against a 5,000 cap: 5,850
queued in one window.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Iterator

import pytest

from common import messages
from common.clock import FakeClock
from tests.support.treasury import (COIN_RULES, InProcessServer, POLICY_TOML, make_curve, open_ledger, policy,
                                    policy_text)
from treasury_bot.coin_rules import to_snapshot
from treasury_bot.decider import load_usage
from treasury_bot.ledger import Ledger
from tests.support.approvals import approve_with_fresh_rules as approve

T0 = 1_700_000_000_000
HOUR_S = 3600


def intent(intent_id: str, amount: str, created_at: int) -> messages.TransferIntent:
    return messages.TransferIntent(intent_id=intent_id, coin="USDT", network="TRX", destination="cold-wallet",
                                   amount=amount, reason="sweep", created_at=created_at)


class Setup:
    def __init__(self, tmp_path, policy_text: str) -> None:
        self.clock = FakeClock(T0)
        self.policy = policy(policy_text)
        self.server = InProcessServer(tmp_path, make_curve(tmp_path), self.policy, clock=self.clock).start()
        self.ctl: Ledger = open_ledger(self.server.ledger_path)  # treasuryctl's own connection
        with self.ctl.transaction():  # what the treasury journals at start, needed by approve
            self.ctl.save_coin_rules(to_snapshot(COIN_RULES), T0)
            for d in self.policy.destinations:
                self.ctl.upsert_destination_seen(d.label, d.coin, d.network, d.address, d.tag, 0, 0)

    def send(self, intent_id: str, amount: str) -> messages.Decision:
        with self.server.client("signal") as client:
            return client.send_intent(intent(intent_id, amount, self.clock.now_ms()))

    def queued_in_window(self) -> Decimal:
        """What the window really holds: every intent queued to be withdrawn."""
        return sum((r.amount_value for r in self.ctl.intents_with_status(["queued"], limit=100_000)), Decimal(0))

    def close(self) -> None:
        self.ctl.close()
        self.server.close()


@pytest.fixture
def setup(tmp_path) -> Iterator[Setup]:
    made = Setup(tmp_path, POLICY_TOML)   # window_cap 5000, approval_above 800, cold max 900
    yield made
    made.close()


def test_an_intent_approved_a_day_late_counts_against_the_window_cap(setup):
    """Pending 850 for 25 h, approved, then 500s: only 8 fit (4,150 left), never 5,850 queued."""
    assert setup.send("big", "850").status == "pending_approval"
    setup.clock.advance(25 * HOUR_S)             # its pending count has left the 24 h window
    assert approve(setup.ctl, setup.policy, "big", setup.clock).status == "queued"
    approved_at = setup.clock.now_ms()
    replies = [setup.send(f"after-{n}", "500") for n in range(10)]
    assert [r.outcome for r in replies] == ["accepted"] * 8 + ["rejected"] * 2
    assert {r.reason_code for r in replies[8:]} == {"over_window_limit"}
    assert setup.queued_in_window() == Decimal("4850") <= Decimal("5000")
    assert load_usage(setup.ctl, setup.policy, setup.clock.now_ms()).coin_sum("USDT") == Decimal("4850")
    assert setup.ctl.get_intent("big").counted_at == approved_at


def test_the_approval_is_counted_by_the_next_batch_at_once(setup):
    """No gap: the server follows the approval before it decides the next batch, even
    with no time passing (its publish check is not due)."""
    assert setup.send("big", "850").status == "pending_approval"
    setup.clock.advance(25 * HOUR_S)
    setup.send("warm-up", "100")                  # the server's publish check has just run
    approve(setup.ctl, setup.policy, "big", setup.clock)
    replies = [setup.send(f"after-{n}", "800") for n in range(6)]
    # 5000 - 850 - 100 = 4050: five of 800 fit, the sixth does not.
    assert [r.outcome for r in replies] == ["accepted"] * 5 + ["rejected"]
    assert setup.queued_in_window() == Decimal("4950")


def test_an_intent_approved_after_its_hour_counts_in_the_hourly_count(tmp_path):
    """max_transfers_per_hour = 3: pending, approved 2 h later; then only 2 more this hour."""
    made = Setup(tmp_path, policy_text(per_hour=3))
    try:
        assert made.send("big", "850").status == "pending_approval"
        made.clock.advance(2 * HOUR_S)
        approve(made.ctl, made.policy, "big", made.clock)
        replies = [made.send(f"after-{n}", "10") for n in range(3)]
        assert [r.outcome for r in replies] == ["accepted", "accepted", "rejected"]
        assert replies[2].reason_code == "too_many_transfers"
        made.clock.advance(HOUR_S)               # an hour after the approval it leaves the hour
        assert made.send("next-hour", "10").outcome == "accepted"
    finally:
        made.close()


def test_an_approval_is_stamped_no_earlier_than_the_ledger_nor_the_exchange(tmp_path):
    """treasuryctl's host clock 10 min behind the treasury's: the stamp is host time plus
    the offset the treasury stored, and never before the latest transition; an offset the
    treasury has not refreshed lately may only make the stamp later."""
    made = Setup(tmp_path, POLICY_TOML)
    try:
        assert made.send("big", "850").status == "pending_approval"
        made.clock.advance(HOUR_S)
        made.send("later", "10")                  # the latest transition: T0 + 1 h
        behind = FakeClock(T0 + HOUR_S * 1000 - 600_000)
        approve(made.ctl, made.policy, "big", behind)
        assert made.ctl.get_intent("big").counted_at == T0 + HOUR_S * 1000   # the ledger's latest time
        made.send("p2", "850")
        with made.ctl.transaction():
            made.ctl.set_meta("clock.exchange_minus_host_ms", "600123")
            made.ctl.set_meta("clock.measured_at", str(T0 + HOUR_S * 1000))
        approve(made.ctl, made.policy, "p2", behind)
        assert made.ctl.get_intent("p2").counted_at == T0 + HOUR_S * 1000 + 123
        # A host 10 min ahead, with an offset measured long ago that says "subtract 20 min":
        # the stale offset may not move the stamp before the host's own reading.
        ahead = FakeClock(T0 + 3 * HOUR_S * 1000 + 600_000)
        made.send("p3", "850")
        with made.ctl.transaction():
            made.ctl.set_meta("clock.exchange_minus_host_ms", "-1200000")
        approve(made.ctl, made.policy, "p3", ahead)
        assert made.ctl.get_intent("p3").counted_at == ahead.now_ms()
    finally:
        made.close()


def test_an_approval_committed_after_the_usage_was_read_is_counted_by_the_batch(tmp_path):
    """The last gap: an approval commits between the server's catch-up and its batch's
    write lock. The batch sees the ledger moved on and sums the usage afresh inside it."""
    from treasury_bot.decider import DecisionContext, Incoming, decide_batch
    from treasury_bot.usage_tracker import UsageTracker

    clock = FakeClock(T0)
    the_policy = policy(POLICY_TOML)
    server_ledger, ctl = open_ledger(tmp_path / "l.sqlite"), open_ledger(tmp_path / "l.sqlite")
    try:
        with ctl.transaction():
            ctl.save_coin_rules(to_snapshot(COIN_RULES), T0)
            for d in the_policy.destinations:
                ctl.upsert_destination_seen(d.label, d.coin, d.network, d.address, d.tag, 0, 0)

        def batch(*pairs: tuple[str, str], usage=None, as_of=None):
            items = [Incoming("signal", intent(i, a, clock.now_ms()), b"raw") for i, a in pairs]
            ctx = DecisionContext(the_policy, COIN_RULES, {d.label: 0 for d in the_policy.destinations},
                                  clock.now_ms())
            return decide_batch(server_ledger, items, ctx, usage, usage_as_of_seq=as_of)

        assert batch(("big", "850")).replies[0].outcome == "pending_approval"
        clock.advance(25 * HOUR_S)
        tracker = UsageTracker(24)
        tracker.reload(server_ledger, clock.now_ms(), clock.monotonic())
        stale, seen = tracker.usage(clock.now_ms()), server_ledger.last_transition_seq()
        approve(ctl, the_policy, "big", clock)           # commits after the usage was read
        result = batch(*[(f"b{n}", "800") for n in range(6)], usage=stale, as_of=seen)
        assert [r.outcome for r in result.replies] == ["accepted"] * 5 + ["rejected"]
        assert load_usage(ctl, the_policy, clock.now_ms()).coin_sum("USDT") == Decimal("4850")
    finally:
        server_ledger.close()
        ctl.close()
