"""The daily statement's pure parts: which UTC day is due, and its one-line texts."""

from __future__ import annotations

from decimal import Decimal

from treasury_bot.daily_statement import day_start_ms, day_to_state, statement_texts, utc_day
from treasury_bot.usage import Usage

NOON = day_start_ms("2026-03-10") + 12 * 3_600_000


def test_yesterday_is_due_until_it_was_stated():
    """At any time on a day, the day before is due unless the ledger says it was stated."""
    assert utc_day(NOON) == "2026-03-10"
    assert day_to_state(NOON, None) == "2026-03-09"
    assert day_to_state(NOON, "2026-03-07") == "2026-03-09"
    assert day_to_state(NOON, "2026-03-09") is None


def test_the_next_day_starts_exactly_at_utc_midnight():
    """One millisecond before midnight nothing new is due; at midnight the ended day is."""
    midnight = day_start_ms("2026-03-11")
    assert day_to_state(midnight - 1, "2026-03-09") is None
    assert day_to_state(midnight, "2026-03-09") == "2026-03-10"


def test_the_texts_sum_what_moved_per_coin_in_decimal():
    """Completed withdrawals are counted and summed per coin, never as floats."""
    usage = Usage(hour_count=1, coin_sums={"USDT": Decimal("300.10")})
    texts = statement_texts([("USDT", "100.05"), ("USDT", "200.05"), ("BTC", "0.1")], 1, 3, 1, usage,
                            {"USDT": Decimal("5000"), "BTC": Decimal("1")})
    assert texts.moved == ("1 withdrawal(s) completed: 0.1 BTC; 2 withdrawal(s) completed: 300.10 USDT; "
                           "1 ended without moving (failed, rejected or cancelled)")
    assert texts.open_intents == "3 open (1 pending approval)"
    assert texts.window_usage == "BTC 0 of 1; USDT 300.10 of 5000"


def test_a_quiet_day_says_nothing_moved():
    """No withdrawal ended: the statement says so plainly."""
    texts = statement_texts([], 0, 0, 0, Usage(), {})
    assert (texts.moved, texts.window_usage) == ("nothing moved", "-")
