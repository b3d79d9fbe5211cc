"""What tests/unit/treasury_bot/test_usage_tracker.py and
tests/integration/treasury_bot/test_usage_tracker.py share: plain, coins, labels, amounts,
steps."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import strategies as st

from tests.support.treasury_core import HOUR_MS
from treasury_bot.usage import Usage


def plain(usage: Usage) -> tuple:
    """Usage as plain values (zero sums never appear: amounts are > 0)."""
    return usage.hour_count, dict(usage.coin_sums), dict(usage.destination_sums)


coins = st.sampled_from(["USDT", "BTC"])

labels = st.sampled_from(["cold", "hot", "vault"])

amounts = st.decimals(min_value=Decimal("0.000001"), max_value=Decimal("5000"), places=6)

steps = st.one_of(
    st.tuples(st.just("add"), coins, labels, amounts, st.booleans()),
    st.tuples(st.just("drop"), st.integers(0, 40)),
    st.tuples(st.just("uncount"), st.integers(0, 40)),
    st.tuples(st.just("follow"), st.integers(0, 40),
              st.sampled_from(["failed", "rejected", "cancelled", "denied", "completed", "submitted", "queued"]),
              st.sampled_from(["operator", "executor", "poller"])),
    st.tuples(st.just("advance"), st.sampled_from([0, 1, 999, 60_000, HOUR_MS - 1, HOUR_MS, HOUR_MS + 1,
                                                   3 * HOUR_MS, 5 * 60_000])),
)
