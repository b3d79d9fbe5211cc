"""signal_bot/outcomes.py (pure): what a look-up said and what to do next, as orders.py matches on them.

`recovery_step` settles a row left by an earlier process at start; `pending_step` is the
periodic pass over `placing` rows. No store, no exchange: the verdicts are values.
"""

from __future__ import annotations

import dataclasses

import pytest

from signal_bot.outcomes import (ABSENT_AFTER_MS, RECOVERY_LOOKUP_DELAYS, Absent, Found, Gone, Handled, LookupFailed,
                                 Retry, TradeNow, Unresolved, pending_step, recovery_step)

PLACED = Found(Handled("s1", "placed", filled=True))


@pytest.mark.parametrize("state", ["received", "placing"])
@pytest.mark.parametrize("wait_ms", [-5000, 0, 1500])
def test_an_order_found_at_start_is_done_whatever_its_state_or_the_wait(state, wait_ms):
    """Found on the exchange: recorded placed; neither the row's state nor the settle time matter."""
    assert recovery_step(state, PLACED, wait_ms, attempt=0) == PLACED


@pytest.mark.parametrize("state", ["received", "placing"])
def test_an_absence_before_settling_waits_exactly_until_settled(state):
    """Absent while a request of the dead process could still land: Retry after the remaining time."""
    assert recovery_step(state, Absent(), 1500, attempt=0) == Retry(1.5)


def test_a_received_row_absent_once_settled_is_traded_now():
    """Journaled, never on the exchange, and never can be: decide and send it now."""
    assert recovery_step("received", Absent(), 0, attempt=3) == TradeNow()


def test_a_placing_row_absent_once_settled_is_gone_not_resent():
    """Its outcome was unknown at run time; proven absent: Gone (failed order_absent), like at run time."""
    assert recovery_step("placing", Absent(), -1, attempt=0) == Gone()


def test_failed_look_ups_at_start_retry_after_each_pause_then_stay_unresolved():
    """The exchange does not answer: one Retry per RECOVERY_LOOKUP_DELAYS pause, then Unresolved."""
    failed = LookupFailed("exchange_unavailable")
    steps = [recovery_step("received", failed, 0, attempt) for attempt in range(len(RECOVERY_LOOKUP_DELAYS) + 1)]
    assert steps == [Retry(d) for d in RECOVERY_LOOKUP_DELAYS] + [Unresolved()]


def test_the_periodic_pass_calls_a_placing_order_gone_only_after_absent_after_ms():
    """Absent soon after the send proves nothing; absent ABSENT_AFTER_MS after it does."""
    assert pending_step(Absent(), ABSENT_AFTER_MS - 1) == Unresolved()
    assert pending_step(Absent(), ABSENT_AFTER_MS) == Gone()


def test_the_periodic_pass_keeps_what_it_found_and_leaves_failures_unresolved():
    """Found: done; a failed look-up, however old the row: still unknown."""
    assert pending_step(PLACED, 0) == PLACED
    assert pending_step(LookupFailed("timeout"), 10 * ABSENT_AFTER_MS) == Unresolved()


def test_the_outcomes_are_frozen_values_compared_by_content():
    """Two Retry of the same wait are equal; none can be changed after it is made."""
    assert Retry(0.5) == Retry(0.5) and Retry(0.5) != Retry(1.0) and Absent() == Absent()
    with pytest.raises(dataclasses.FrozenInstanceError):
        Retry(0.5).after_s = 2.0  # type: ignore[misc]
