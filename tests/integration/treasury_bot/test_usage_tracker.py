"""The in-memory usage tracker equals usage.summarize_usage over the same facts, whatever
sequence of acceptances, removals and time steps it sees; reloading from a ledger equals
following the ledger incrementally."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from common.clock import FakeClock
from tests.support.treasury_core import T0, decide, incoming, make_policy, open_ledger
from treasury_bot import operator
from treasury_bot.decider import load_usage
from treasury_bot.usage import CountedTransfer
from treasury_bot.usage_tracker import UsageTracker
from tests.support.usage_tracker_cases import plain


def test_reload_sets_the_next_resync_and_starts_afresh(tmp_path):
    """reload forgets what it held, reads the ledger, and schedules the next resync."""
    ledger = open_ledger(tmp_path / "l.sqlite")
    clock = FakeClock(T0)
    decide(ledger, make_policy(), clock, incoming("r-1", "17", created_at=T0))
    tracker = UsageTracker(24, resync_s=60.0)
    tracker.add(CountedTransfer("ghost", "USDT", "cold", Decimal("5"), T0, True))
    tracker.reload(ledger, T0, 500.0)
    assert tracker.next_resync == 560.0
    assert plain(tracker.usage(T0)) == (1, {"USDT": Decimal("17")}, {"cold-wallet": Decimal("17")})
    ledger.close()


def follow_ledger(tracker: UsageTracker, ledger, after: int) -> int:
    """What the server does: follow other writers' transitions (not the decider's own)."""
    newest = ledger.last_transition_seq()
    for t in ledger.transitions_after(after, until=newest, skip_source="decider", limit=100000):
        tracker.follow(t.intent_id, t.to_status, t.source)
    return newest


actions = st.lists(st.tuples(st.sampled_from(["accept", "big", "fail", "cancel", "complete", "reject_pending",
                                              "advance"]),
                             st.integers(0, 30), st.sampled_from(["10", "25.5", "0.000001", "300"])),
                   max_size=18)


@settings(max_examples=25, derandomize=True, database=None, deadline=None)
@given(script=actions)
def test_reload_from_the_ledger_equals_following_it_incrementally(tmp_path_factory, script):
    """A tracker fed by the decider and the transitions equals one reloaded from the ledger,
    and both equal the decider's own sum from the ledger."""
    policy = make_policy(window_hours=2, per_hour=1000, window_cap="100000", max_per_transfer="100000",
                         cold_max=None, approval_above="200")
    ledger = open_ledger(tmp_path_factory.mktemp("ledger") / "l.sqlite")
    clock = FakeClock(T0)
    live = UsageTracker(2)
    seen = 0
    made: list[str] = []
    try:
        for action, pick, amount in script:
            if action == "advance":
                clock.advance(pick * 600)  # up to 5 h in 10-minute steps
            elif action in ("accept", "big"):
                intent_id = f"i{len(made)}"
                result = decide(ledger, policy, clock,
                                incoming(intent_id, "250" if action == "big" else amount, created_at=clock.now_ms()),
                                usage=live.usage(clock.now_ms()))
                made.append(intent_id)
                for transfer in result.counted:
                    live.add(transfer)
            elif made:
                record = ledger.get_intent(made[pick % len(made)])
                if action == "reject_pending" and record.status == "pending_approval":
                    operator.reject(ledger, record.intent_id, clock)
                elif action != "reject_pending" and record.status == "queued":
                    with ledger.transaction():
                        to = {"fail": "failed", "cancel": "cancelled", "complete": "completed"}[action]
                        now = clock.now_ms()
                        ledger.set_status(record, "submitting", now, "executor")
                        record = ledger.get_intent(record.intent_id)
                        ledger.set_status(record, "submitted", now, "executor")
                        ledger.set_status(ledger.get_intent(record.intent_id), to, now, "poller")
            seen = follow_ledger(live, ledger, seen)
            now = clock.now_ms()
            reloaded = UsageTracker(2)
            reloaded.reload(ledger, now, clock.monotonic())
            assert plain(live.usage(now)) == plain(reloaded.usage(now)) == plain(load_usage(ledger, policy, now))
    finally:
        ledger.close()
