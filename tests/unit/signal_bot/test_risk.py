"""Risk checks and order building (pure): rounding down, exchange filters, our cap, the rate window."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings, strategies as st

from common.money import is_multiple
from signal_bot.risk import REFUSAL_CODES, OrderPlan, Refusal, RiskLimits, admit, plan_order
from signal_bot.signals import Signal
from signal_bot.symbol_rules import LotRule, SymbolRules

D = Decimal
RULES = SymbolRules(
    symbol="BTCUSDT", status="TRADING", base_asset="BTC", quote_asset="USDT",
    lot=LotRule(D("0.001"), D("100"), D("0.001")),
    market_lot=LotRule(D("0"), D("10"), D("0")),
    tick=D("0.01"), min_price=D("0.01"), max_price=D("1000000"),
    min_notional=D("5"), min_notional_for_market=True, max_notional=D("900000"), max_notional_for_market=False,
)
LIMITS = RiskLimits(frozenset({"BTCUSDT", "HALTUSDT"}), D("1000"), 5, "GTC")


def sig(**kw) -> Signal:
    base = {"id": "s1", "symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "quantity": "0.01", "price": "20000"}
    base.update(kw)
    return Signal(**{k: v for k, v in base.items() if v is not None})


@pytest.mark.parametrize("signal, price, expected", [
    # LIMIT: quantity floored to LOT_SIZE step, price floored to tick, default GTC.
    (sig(quantity="0.0129", price="20000.019"), None,
     OrderPlan("BTCUSDT", "BUY", "LIMIT", "s1", D("0.012"), None, D("20000.01"), "GTC", D("240.00012"))),
    (sig(time_in_force="IOC"), None,
     OrderPlan("BTCUSDT", "BUY", "LIMIT", "s1", D("0.010"), None, D("20000.00"), "IOC", D("200.0000"))),
    # MARKET by quantity: MARKET_LOT_SIZE step 0 -> LOT_SIZE step; notional from the last price.
    (sig(type="MARKET", price=None, quantity="0.0299"), D("30000"),
     OrderPlan("BTCUSDT", "BUY", "MARKET", "s1", D("0.029"), None, None, None, D("870.000"))),
    # MARKET by quote amount: quoteOrderQty as given.
    (sig(type="MARKET", price=None, quantity=None, quote_amount="25.5"), None,
     OrderPlan("BTCUSDT", "BUY", "MARKET", "s1", None, D("25.5"), None, None, D("25.5"))),
])
def test_valid_signals_become_rounded_down_orders(signal, price, expected):
    """Quantities and prices are rounded down to stepSize and tickSize."""
    assert plan_order(signal, RULES, LIMITS, price) == expected


@pytest.mark.parametrize("signal, rules, price, code", [
    (sig(symbol="ETHUSDT"), RULES, None, "unknown_symbol"),                  # not allowed
    (sig(symbol="HALTUSDT"), None, None, "unknown_symbol"),                  # allowed, unknown to the exchange
    (sig(symbol="HALTUSDT"), SymbolRules("HALTUSDT", "HALT", "H", "USDT", RULES.lot), None, "symbol_not_trading"),
    (sig(price="0.001"), RULES, None, "below_min_price"),                    # floors to 0
    (sig(price="2000000"), RULES, None, "above_max_price"),
    (sig(quantity="0.0009"), RULES, None, "below_min_qty"),                  # floors to 0
    (sig(quantity="101", price="1"), RULES, None, "above_max_qty"),
    (sig(type="MARKET", price=None, quantity="11"), RULES, D("1"), "above_max_qty"),  # MARKET_LOT_SIZE max 10
    (sig(quantity="0.001", price="4999.99"), RULES, None, "below_min_notional"),
    (sig(type="MARKET", price=None, quantity=None, quote_amount="4.99"), RULES, None, "below_min_notional"),
    (sig(type="MARKET", price=None, quantity="0.001"), RULES, D("1000"), "below_min_notional"),
    (sig(quantity="1", price="999999"), RULES, None, "above_max_notional"),
    (sig(quantity="0.05", price="20000.01"), RULES, None, "over_max_quote"),
    (sig(type="MARKET", price=None, quantity=None, quote_amount="1000.01"), RULES, None, "over_max_quote"),
    (sig(type="MARKET", price=None, quantity="0.1"), RULES, D("10000.01"), "over_max_quote"),
    (sig(type="MARKET", price=None, quantity="0.1"), RULES, None, "no_reference_price"),
    (sig(type="MARKET", price=None, quantity="0.1"), RULES, D("0"), "no_reference_price"),
])
def test_refusals_have_stable_codes(signal, rules, price, code):
    """Each failing rule gives its documented code."""
    result = plan_order(signal, rules, LIMITS, price)
    assert isinstance(result, Refusal) and result.code == code, result
    assert code in REFUSAL_CODES


def test_limits_are_inclusive():
    """A notional equal to max_quote_per_order or to minNotional is allowed."""
    assert isinstance(plan_order(sig(quantity="0.05", price="20000"), RULES, LIMITS), OrderPlan)
    assert isinstance(plan_order(sig(quantity="0.001", price="5000"), RULES, LIMITS), OrderPlan)


def test_min_notional_not_applied_to_market_when_the_filter_says_so():
    """applyMinToMarket=false lets a small MARKET order through (the exchange will judge)."""
    rules = SymbolRules("BTCUSDT", "TRADING", "BTC", "USDT", RULES.lot, tick=RULES.tick,
                        min_notional=D("5"), min_notional_for_market=False)
    plan = plan_order(sig(type="MARKET", price=None, quantity=None, quote_amount="1"), rules, LIMITS)
    assert isinstance(plan, OrderPlan)


amounts = st.decimals(min_value="0.000001", max_value="50", places=6)
prices = st.decimals(min_value="0.01", max_value="100000", places=4)
steps = st.sampled_from([D("1"), D("0.1"), D("0.001"), D("0.00001"), D("0.5"), D("0.25")])


@settings(max_examples=300)
@given(quantity=amounts, price=prices, step=steps, tick=steps)
def test_limit_plans_never_exceed_the_signal_or_the_cap(quantity, price, step, tick):
    """A LIMIT plan: qty and price rounded DOWN to whole steps, within one step, notional within every limit."""
    rules = SymbolRules("BTCUSDT", "TRADING", "BTC", "USDT", LotRule(D("0"), D("0"), step), tick=tick,
                        min_notional=D("5"))
    result = plan_order(sig(quantity=format(quantity, "f"), price=format(price, "f")), rules, LIMITS)
    if isinstance(result, Refusal):
        assert result.code in REFUSAL_CODES
        return
    assert result.quantity <= quantity and quantity - result.quantity < step
    assert result.price <= price and price - result.price < tick
    assert is_multiple(result.quantity, step) and is_multiple(result.price, tick)
    assert result.quantity > 0 and D("5") <= result.notional <= LIMITS.max_quote_per_order
    assert result.notional == result.quantity * result.price


@settings(max_examples=300)
@given(quantity=amounts, last=prices)
def test_market_plans_by_quantity_respect_the_cap_at_the_last_price(quantity, last):
    """MARKET by quantity: refused or its notional at the last price is within the cap."""
    result = plan_order(sig(type="MARKET", price=None, quantity=format(quantity, "f")), RULES, LIMITS, last)
    if isinstance(result, OrderPlan):
        assert result.quantity * last <= LIMITS.max_quote_per_order
        assert result.quantity <= D("10")           # MARKET_LOT_SIZE maxQty
    else:
        assert result.code in {"below_min_qty", "above_max_qty", "below_min_notional", "over_max_quote"}


def test_admit_allows_up_to_the_limit_in_any_sixty_seconds():
    """The sixth order inside a minute is refused; once the first is 60 s old, one more goes."""
    window: tuple[float, ...] = ()
    for t in (0.0, 1.0, 2.0, 3.0, 4.0):
        ok, window = admit(window, t, 5)
        assert ok
    ok, window = admit(window, 59.9, 5)
    assert not ok and len(window) == 5
    ok, window = admit(window, 60.0, 5)
    assert ok and window[0] == 1.0


@given(st.lists(st.floats(min_value=0, max_value=1, allow_nan=False), min_size=1, max_size=200),
       st.integers(min_value=1, max_value=10))
def test_admit_never_lets_more_than_the_limit_into_a_window(gaps, limit):
    """Over any arrival pattern, no 60 s span holds more than `limit` admitted orders."""
    now, window, admitted = 0.0, (), []
    for gap in gaps:
        now += gap * 30
        ok, window = admit(window, now, limit)
        if ok:
            admitted.append(now)
    for i, start in enumerate(admitted):
        assert sum(1 for t in admitted[i:] if t - start < 60) <= limit


# Issue 10 defect 9: a LIMIT price is rounded to the tick on the side never worse than asked.
@pytest.mark.parametrize("side, asked, expected", [
    ("BUY", "20000.019", D("20000.01")),     # between ticks: a BUY pays at most its limit
    ("SELL", "20000.011", D("20000.02")),    # between ticks: a SELL gets at least its limit
    ("SELL", "20000.019", D("20000.02")),
    ("BUY", "20000.01", D("20000.01")),      # on a tick: unchanged either way
    ("SELL", "20000.01", D("20000.01")),
    ("SELL", "20000", D("20000")),
])
def test_limit_price_rounds_down_for_a_buy_and_up_for_a_sell(side, asked, expected):
    """A SELL is never priced below the signal's limit, a BUY never above it."""
    result = plan_order(sig(side=side, price=asked), RULES, LIMITS)
    assert isinstance(result, OrderPlan), result
    assert result.price == expected
    assert result.notional == result.quantity * expected   # notional on the rounded price


def test_a_sell_rounded_up_past_max_price_is_refused_on_the_rounded_price():
    """PRICE_FILTER maxPrice is checked on the price after rounding up."""
    rules = SymbolRules("BTCUSDT", "TRADING", "BTC", "USDT", RULES.lot, tick=D("1"), min_price=D("1"),
                        max_price=D("100"))
    assert isinstance(plan_order(sig(side="SELL", quantity="1", price="100"), rules, LIMITS), OrderPlan)
    result = plan_order(sig(side="SELL", quantity="1", price="99.5"), rules, LIMITS)
    assert isinstance(result, OrderPlan) and result.price == D("100")
    result = plan_order(sig(side="SELL", quantity="1", price="100.01"), rules, LIMITS)
    assert isinstance(result, Refusal) and result.code == "above_max_price"
    assert "101" in result.detail
    # A BUY at the same asked price rounds down into the filter.
    result = plan_order(sig(side="BUY", quantity="1", price="100.5"), rules, LIMITS)
    assert isinstance(result, OrderPlan) and result.price == D("100")


def test_a_sell_below_min_price_rounds_up_onto_it_and_a_buy_is_refused():
    """minPrice is checked on the rounded price: a SELL rounds up onto the first tick, a BUY down to 0."""
    sell = plan_order(sig(side="SELL", quantity="1", price="0.001"), RULES, LIMITS)
    assert isinstance(sell, Refusal) and sell.code == "below_min_notional"   # 0.01 x 1 < 5: price passed
    buy = plan_order(sig(side="BUY", quantity="1", price="0.001"), RULES, LIMITS)
    assert isinstance(buy, Refusal) and buy.code == "below_min_price"


def test_a_sell_rounded_up_is_checked_against_the_notional_filters_and_cap():
    """NOTIONAL and max_quote_per_order see the rounded-up price: 0.05 x 20000.001 -> 20000.01 is over 1000."""
    assert isinstance(plan_order(sig(side="SELL", quantity="0.05", price="20000"), RULES, LIMITS), OrderPlan)
    result = plan_order(sig(side="SELL", quantity="0.05", price="20000.001"), RULES, LIMITS)
    assert isinstance(result, Refusal) and result.code == "over_max_quote"
    rules = SymbolRules("BTCUSDT", "TRADING", "BTC", "USDT", RULES.lot, tick=D("1"), max_notional=D("100"),
                        max_notional_for_market=False)
    result = plan_order(sig(side="SELL", quantity="1", price="99.5"), rules, LIMITS)
    assert isinstance(result, OrderPlan) and result.notional == D("100")
    result = plan_order(sig(side="SELL", quantity="1", price="100.5"), rules, LIMITS)
    assert isinstance(result, Refusal) and result.code == "above_max_notional"


@settings(max_examples=200)
@given(quantity=amounts, price=prices, step=steps, tick=steps)
def test_limit_sell_plans_are_never_priced_below_the_signal(quantity, price, step, tick):
    """A LIMIT SELL: price rounded UP to the tick, within one tick of the asked price."""
    rules = SymbolRules("BTCUSDT", "TRADING", "BTC", "USDT", LotRule(D("0"), D("0"), step), tick=tick,
                        min_notional=D("5"))
    result = plan_order(sig(side="SELL", quantity=format(quantity, "f"), price=format(price, "f")), rules, LIMITS)
    if isinstance(result, Refusal):
        assert result.code in REFUSAL_CODES
        return
    assert result.price >= price and result.price - price < tick
    assert is_multiple(result.price, tick)
    assert D("5") <= result.notional <= LIMITS.max_quote_per_order
