"""The in-memory usage tracker equals usage.summarize_usage over the same facts, whatever
sequence of acceptances, removals and time steps it sees; reloading from a ledger equals
following the ledger incrementally."""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support.treasury_core import HOUR_MS, T0
from treasury_bot.usage import CountedTransfer, Usage, summarize_usage
from treasury_bot.usage_tracker import UsageTracker
from tests.support.usage_tracker_cases import plain, coins, labels, amounts, steps

PROPERTY = settings(max_examples=400, derandomize=True, database=None, deadline=None)


@dataclass
class Fact:
    transfer: CountedTransfer
    counted: bool = True   # False once uncounted (an operator's rejection: counted_at NULL)


class Model:
    """The facts as the ledger would hold them; summarize_usage is the reference."""

    def __init__(self, window_hours: int) -> None:
        self.window_hours = window_hours
        self.facts: dict[str, Fact] = {}

    def usage(self, now: int) -> Usage:
        return summarize_usage([f.transfer for f in self.facts.values() if f.counted], now, self.window_hours)


def add_to_both(tracker: UsageTracker, model: "Model", ids: list[str], coin: str, label: str,
                amount, at: int, in_window: bool) -> None:
    """One more counted transfer, in the tracker and in the model it is checked against."""
    intent_id = f"i{len(ids)}"
    ids.append(intent_id)
    transfer = CountedTransfer(intent_id, coin, label, amount, at, in_window)
    tracker.add(transfer)
    model.facts[intent_id] = Fact(transfer)


@PROPERTY
@given(window_hours=st.integers(1, 3), ops=st.lists(steps, max_size=60))
def test_tracker_usage_equals_summarize_usage_for_any_history(window_hours, ops):
    """After every step, tracker.usage(now) == summarize_usage(the same facts, now)."""
    tracker, model = UsageTracker(window_hours), Model(window_hours)
    now = T0
    ids: list[str] = []
    for op in ops:
        kind = op[0]
        if kind == "add":
            _, coin, label, amount, in_window = op
            add_to_both(tracker, model, ids, coin, label, amount, now, in_window)
        elif kind == "advance":
            now += op[1]
        elif ids:
            intent_id = ids[op[1] % len(ids)]
            fact = model.facts[intent_id]
            status, source = (op[2], op[3]) if kind == "follow" else (None, None)
            drops = kind == "drop" or status in ("failed", "rejected", "cancelled")
            uncounts = kind == "uncount" or (status == "denied" and source == "operator")
            if kind == "drop":
                tracker.drop_from_window(intent_id)
            elif kind == "uncount":
                tracker.uncount(intent_id)
            else:
                tracker.follow(intent_id, status, source)
            if drops or uncounts:
                fact.transfer = replace(fact.transfer, in_window=False)
            if uncounts:
                fact.counted = False
        assert plain(tracker.usage(now)) == plain(model.usage(now)), op


@pytest.mark.parametrize("age_ms, in_hour", [(HOUR_MS - 1, True), (HOUR_MS, False), (HOUR_MS + 1, False)])
def test_the_hour_edge_matches_the_policy(age_ms, in_hour):
    """A transfer exactly one hour old no longer counts in the hour (as summarize_usage says)."""
    tracker = UsageTracker(24)
    tracker.add(CountedTransfer("a", "USDT", "cold", Decimal("5"), T0, True))
    assert tracker.usage(T0 + age_ms).hour_count == (1 if in_hour else 0)
    assert tracker.usage(T0 + age_ms).coin_sum("USDT") == Decimal("5")


@pytest.mark.parametrize("age_ms, in_window", [(2 * HOUR_MS - 1, True), (2 * HOUR_MS, False)])
def test_the_window_edge_matches_the_policy(age_ms, in_window):
    """A transfer exactly window_hours old has left the window sums."""
    tracker = UsageTracker(2)
    tracker.add(CountedTransfer("a", "USDT", "cold", Decimal("5"), T0, True))
    assert tracker.usage(T0 + age_ms).coin_sum("USDT") == (Decimal("5") if in_window else 0)
    assert ("a" in tracker.entries) is in_window


def test_adding_an_intent_twice_counts_it_once():
    """The server may see one acceptance twice (a resync then the batch's own add)."""
    tracker = UsageTracker(24)
    transfer = CountedTransfer("a", "USDT", "cold", Decimal("5"), T0, True)
    tracker.add(transfer)
    tracker.add(transfer)
    assert plain(tracker.usage(T0)) == (1, {"USDT": Decimal("5")}, {"cold": Decimal("5")})


def test_removals_of_unknown_or_expired_intents_change_nothing():
    """Following an intent the tracker never saw (or that left the window) is harmless."""
    tracker = UsageTracker(1)
    tracker.add(CountedTransfer("a", "USDT", "cold", Decimal("5"), T0, True))
    tracker.drop_from_window("nope")
    tracker.uncount("nope")
    tracker.usage(T0 + 2 * HOUR_MS)
    tracker.uncount("a")
    assert plain(tracker.usage(T0 + 2 * HOUR_MS)) == (0, {}, {})


# -- approvals count from the moment they are made (issue 10 defect 2) ----------------------

approval_steps = st.one_of(
    st.tuples(st.just("add"), coins, labels, amounts, st.booleans()),
    st.tuples(st.just("approve"), st.integers(0, 40)),
    st.tuples(st.just("uncount"), st.integers(0, 40)),
    st.tuples(st.just("advance"), st.sampled_from([0, 1, 60_000, HOUR_MS - 1, HOUR_MS, HOUR_MS + 1,
                                                   25 * HOUR_MS])),
    st.tuples(st.just("add_earlier"), coins, labels, amounts, st.integers(1, 5_000)),
)


@PROPERTY
@given(window_hours=st.integers(1, 3), ops=st.lists(approval_steps, max_size=60))
def test_tracker_follows_late_approvals_as_summarize_usage_does(window_hours, ops):
    """An approval re-stamps the intent (counted again from now, in the window and the hour,
    whether its pending count was still held or already expired); a decision stamped a
    little before the latest entry lands in order. After every step the tracker equals
    summarize_usage over the same facts."""
    tracker, model = UsageTracker(window_hours), Model(window_hours)
    now = T0
    ids: list[str] = []
    for op in ops:
        kind = op[0]
        if kind in ("add", "add_earlier"):
            at = now if kind == "add" else now - op[4]
            in_window = op[4] if kind == "add" else True
            add_to_both(tracker, model, ids, op[1], op[2], op[3], at, bool(in_window))
        elif kind == "advance":
            now += op[1]
        elif ids:
            intent_id = ids[op[1] % len(ids)]
            fact = model.facts[intent_id]
            if kind == "uncount":
                tracker.uncount(intent_id)
                fact.transfer = replace(fact.transfer, in_window=False)
                fact.counted = False
            elif fact.counted and fact.transfer.in_window:   # only a pending intent is approved
                fact.transfer = replace(fact.transfer, accepted_at_ms=now)
                tracker.restamp(fact.transfer)
        assert plain(tracker.usage(now)) == plain(model.usage(now)), op
