"""signal_bot/profit.py: realised profit from fills and commissions, and the realised-profit sweep (pure)."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from signal_bot.profit import Leg, ProfitError, TradeFill, profit_sweep, realised_profit


def leg(side: str, *fills: tuple[str, str, str, str]) -> Leg:
    return Leg(side, tuple(TradeFill(D(p), D(q), D(c), a) for p, q, c, a in fills))


def test_a_long_trade_without_fees_makes_the_price_difference_times_the_quantity():
    """0.1 bought at 600, sold at 612: 1.2 USDT."""
    assert realised_profit(leg("BUY", ("600", "0.1", "0", "BNB")), leg("SELL", ("612", "0.1", "0", "USDT")),
                           "BNB", "USDT") == D("1.2")


def test_partial_fills_at_several_prices_give_the_average_cost():
    """Bought 0.05 at 600 and 0.05 at 602 (avg 601), sold in two fills at 610 and 611: 0.95 USDT."""
    entry = leg("BUY", ("600", "0.05", "0", "USDT"), ("602", "0.05", "0", "USDT"))
    exit_ = leg("SELL", ("610", "0.05", "0", "USDT"), ("611", "0.05", "0", "USDT"))
    assert realised_profit(entry, exit_, "BNB", "USDT") == D("0.95")


def test_an_exit_of_part_of_the_position_is_charged_only_that_part_of_the_cost():
    """Half the position sold: the profit is half the price difference's worth."""
    assert realised_profit(leg("BUY", ("600", "0.2", "0", "USDT")), leg("SELL", ("610", "0.1", "0", "USDT")),
                           "BNB", "USDT") == D("1")


def test_fees_in_the_quote_asset_are_counted_on_both_sides():
    """Paid 60 + 0.06 fee, got 61.2 - 0.0612 fee: 1.0788."""
    entry = leg("BUY", ("600", "0.1", "0.06", "USDT"))
    exit_ = leg("SELL", ("612", "0.1", "0.0612", "USDT"))
    assert realised_profit(entry, exit_, "BNB", "USDT") == D("1.0788")


def test_a_fee_in_the_base_asset_raises_the_cost_per_unit_held():
    """Bought 0.1 for 60 with a 0.0001 BNB fee: 0.0999 held at 60/0.0999; sold 0.0999 at 612."""
    entry = leg("BUY", ("600", "0.1", "0.0001", "BNB"))
    exit_ = leg("SELL", ("612", "0.0999", "0", "USDT"))
    expected = (D("612") * D("0.0999") - D("60")).quantize(D("1e-8"))
    assert realised_profit(entry, exit_, "BNB", "USDT") == expected == D("1.1388")


def test_a_losing_trade_is_a_negative_profit_floored():
    """Bought at 600, stopped at 594 with a fee: a loss, never rounded towards zero."""
    loss = realised_profit(leg("BUY", ("600", "0.1", "0", "USDT")), leg("SELL", ("594", "0.1", "0.0000001", "USDT")),
                           "BNB", "USDT")
    assert loss == D("-0.60000010")


def test_a_short_trade_profits_when_bought_back_cheaper():
    """Sold 0.1 at 600 (fee 0.06 USDT), bought back at 590 (fee 0.0001 BNB at 590): 0.881."""
    entry = leg("SELL", ("600", "0.1", "0.06", "USDT"))
    exit_ = leg("BUY", ("590", "0.1", "0.0001", "BNB"))
    assert realised_profit(entry, exit_, "BNB", "USDT") == D("60") - D("0.06") - D("59") - D("0.059")


def test_a_fee_in_a_third_asset_cannot_be_valued_and_is_refused():
    """A BNB fee on a BTCUSDT trade: ProfitError, so nothing is swept on a guess."""
    with pytest.raises(ProfitError):
        realised_profit(leg("BUY", ("60000", "0.001", "0.0001", "BNB")), leg("SELL", ("61000", "0.001", "0", "USDT")),
                        "BTC", "USDT")


def test_an_exit_on_the_same_side_as_the_entry_is_not_a_trade():
    """Two BUYs make no closed trade."""
    with pytest.raises(ProfitError):
        realised_profit(leg("BUY", ("1", "1", "0", "USDT")), leg("BUY", ("1", "1", "0", "USDT")), "BNB", "USDT")


def test_the_sweep_is_the_unswept_profit_floored_to_the_step():
    """Profits 1.2 and 3.456, a loss of 0.5, 1 swept: 3.15 at step 0.01."""
    assert profit_sweep([D("1.2"), D("3.456"), D("-0.5")], [D("1")], D("5000"), D("1000"), D("1"),
                        D("0.01")) == D("3.15")


def test_the_sweep_never_takes_principal_below_keep_nor_sends_a_loss():
    """Free barely above keep caps the amount; a net loss, or less than min_sweep, sends nothing."""
    assert profit_sweep([D("50")], [], D("1020"), D("1000"), D("1"), D("1")) == D("20")
    assert profit_sweep([D("-5")], [], D("5000"), D("1000"), D("1"), D("1")) is None
    assert profit_sweep([D("0.5")], [], D("5000"), D("1000"), D("1"), D("0.01")) is None
    assert profit_sweep([D("50")], [D("50")], D("5000"), D("1000"), D("1"), D("1")) is None
    assert profit_sweep([D("50")], [], D("5000"), D("1000"), D("1"), D("1"), D("30")) == D("30")
