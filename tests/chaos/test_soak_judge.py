"""The soak's own judge, checked on hand-made records (pure: no processes), so that a
verdict of the soak is about the treasury and never about a slip of its harness."""

from __future__ import annotations

from decimal import Decimal

from tests.chaos.clockbook import HOUR_MS, ClockBook, OffsetChange, true_apply_ms
from tests.chaos.limits_judge import Caps, Judged, breaches

CAPS = Caps(max_transfers_per_hour=3, max_per_transfer=Decimal("100"), coin_cap=Decimal("250"),
            cold_cap=Decimal("150"), hot_cap=Decimal("1000"))
ADDRESS_CAPS = {"cold": "cold_cap", "hot": "hot_cap"}


def w(intent_id: str, at: int, amount: str, address: str = "cold", status: int = 6, decided: int = 0) -> Judged:
    return Judged(intent_id, at, "USDT", address, Decimal(amount), status, decided)


def test_withdrawals_within_every_cap_are_no_breach():
    assert breaches([w("a", 1, "100"), w("b", 2, "50"), w("c", 3, "100", "hot")], [(0, CAPS)], 24,
                    ADDRESS_CAPS) == []


def test_the_window_sum_counts_at_each_withdrawal_and_skips_failed_ones():
    found = breaches([w("a", 1, "100"), w("b", 2, "60", status=5), w("c", 3, "60")], [(0, CAPS)], 24,
                     ADDRESS_CAPS)
    assert found == ["c: cold window sum 160 > window_cap 150"]


def test_a_loosened_cap_is_judged_at_the_stricter_old_value():
    loosened = CAPS.with_value("cold_cap", Decimal("500"))
    found = breaches([w("a", 10, "100", decided=10), w("b", 20, "100", decided=20)],
                     [(0, CAPS), (5, loosened)], 24, ADDRESS_CAPS)
    assert found == ["b: cold window sum 200 > window_cap 150"]


def test_a_tightening_written_after_a_decision_does_not_judge_that_decision():
    tightened = CAPS.with_value("cold_cap", Decimal("120"))
    history = [(0, CAPS), (15, tightened)]
    # b was decided before the edit (applied after it): judged at 150; c after it: at 120.
    assert breaches([w("a", 10, "70", decided=9), w("b", 20, "70", decided=12)], history, 24, ADDRESS_CAPS) == []
    assert breaches([w("a", 10, "70", decided=9), w("c", 20, "70", decided=16)], history, 24, ADDRESS_CAPS) == [
        "c: cold window sum 140 > window_cap 120"]


def test_the_hourly_count_rolls_in_true_time_and_counts_failed_ones():
    four = [w(f"x{i}", i * 1000, "10", "hot", status=5 if i == 1 else 6) for i in range(4)]
    assert breaches(four, [(0, CAPS)], 24, ADDRESS_CAPS) == [
        "x3: 4 withdrawals in the hour > max_transfers_per_hour 3"]
    spread = [w(f"y{i}", i * (HOUR_MS // 2 + 1), "10", "hot") for i in range(4)]
    assert breaches(spread, [(0, CAPS)], 24, ADDRESS_CAPS) == []


def test_an_apply_time_in_the_sandbox_clock_reads_back_into_true_time():
    book = ClockBook(forward_headroom_ms=0)
    book.sandbox.extend([OffsetChange(1_000, 1_010, 3 * HOUR_MS, "start"),
                         OffsetChange(50_000, 50_020, 3 * HOUR_MS + 660_000, "forward")])
    # Received just after the step: either offset may have been in force; the one that
    # agrees with the sandbox's own receipt time wins.
    record = {"receivedAt": 50_015.0, "applyTimeMs": 50_016 + 3 * HOUR_MS + 660_000}
    assert true_apply_ms(record, book) == (50_016, 3 * HOUR_MS + 660_000)
    assert true_apply_ms({"receivedAt": 20_000.0, "applyTimeMs": 20_001 + 3 * HOUR_MS}, book) == (
        20_001, 3 * HOUR_MS)
    assert true_apply_ms({"receivedAt": 20_000.0, "applyTimeMs": 20_000 + HOUR_MS}, book)[1] is None
