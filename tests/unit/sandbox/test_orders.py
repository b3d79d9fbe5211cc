"""sandbox/orders.py: order parameters and what an order does to the account."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from sandbox.config import load_config
from sandbox.errors import ApiError
from sandbox.orders import parse_order, plan_order

CONFIG = load_config()
PRICE = D("60000.00")
RICH = {"USDT": D("100000"), "BTC": D("1")}


def spec(**params):
    base = {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET"}
    base.update({k: v for k, v in params.items() if v is not None})
    return parse_order(base, CONFIG.find_symbol)


def code_of(callable_, *args, **kwargs) -> tuple[int, str]:
    with pytest.raises(ApiError) as caught:
        callable_(*args, **kwargs)
    return caught.value.code, caught.value.msg


@pytest.mark.parametrize("params, code", [
    ({"symbol": None}, -1102),
    ({"symbol": "DOGEUSDT"}, -1121),
    ({"side": "HOLD"}, -1117),
    ({"type": "STOP_LOSS"}, -1116),
    ({}, -1102),                                                  # neither quantity nor quoteOrderQty
    ({"quantity": "1", "quoteOrderQty": "10"}, -1106),
    ({"quantity": "1", "timeInForce": "GTC"}, -1106),             # MARKET with timeInForce
    ({"quantity": "1", "price": "1"}, -1106),
    ({"quantity": "1e3"}, -1100),                                  # not a plain decimal
    ({"quantity": "-1"}, -1100),
    ({"quantity": "1", "newClientOrderId": "has space"}, -1100),
    ({"quantity": "1", "newOrderRespType": "SHORT"}, -1130),
    ({"type": "LIMIT", "quantity": "1", "price": "1"}, -1102),      # no timeInForce
    ({"type": "LIMIT", "quantity": "1", "price": "1", "timeInForce": "GTX"}, -1115),
    ({"type": "LIMIT", "price": "1", "timeInForce": "GTC"}, -1102),
    ({"type": "LIMIT", "quantity": "1", "timeInForce": "GTC"}, -1102),
    ({"quantity": "1", "icebergQty": "1"}, -1106),
])
def test_bad_order_parameters_get_binance_codes(params, code):
    """Each malformed order gets the code Binance documents for it."""
    base = {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET"}
    base.update(params)
    base = {k: v for k, v in base.items() if v is not None}
    assert code_of(parse_order, base, CONFIG.find_symbol)[0] == code


def test_missing_quantity_message_names_both_parameters():
    """MARKET without a size: "Param 'quantity' or 'quoteOrderQty' must be sent"."""
    assert "'quantity' or 'quoteOrderQty'" in code_of(spec)[1]


def test_market_buy_fills_at_symbol_price_and_moves_balances():
    """A MARKET BUY of 0.01 BTC costs 600 USDT and adds 0.01 BTC, FILLED at once."""
    plan = plan_order(spec(quantity="0.01"), PRICE, RICH)
    assert (plan.status, plan.executed_qty, plan.quote_qty, plan.fill_price) == \
        ("FILLED", D("0.01"), D("600.0000"), PRICE)
    assert {c.asset: c.free for c in plan.changes} == {"BTC": D("0.01"), "USDT": D("-600.0000")}


def test_market_quote_order_buys_the_largest_on_step_quantity():
    """quoteOrderQty 100 USDT at 60000: 0.00166 BTC for 99.6 USDT."""
    plan = plan_order(spec(quoteOrderQty="100"), PRICE, RICH)
    assert plan.executed_qty == D("0.00166")
    assert plan.quote_qty == D("99.6")
    assert plan.orig_quote_order_qty == D("100")


def test_market_sell_needs_the_base_asset():
    """Selling more BTC than free: -2010 insufficient balance."""
    code, msg = code_of(plan_order, spec(side="SELL", quantity="2"), PRICE, RICH)
    assert (code, msg) == (-2010, "Account has insufficient balance for requested action.")


def test_market_buy_needs_the_quote_asset():
    """Buying for more USDT than free: -2010."""
    assert code_of(plan_order, spec(quantity="1"), PRICE, {"USDT": D("59999")})[0] == -2010


def test_balance_not_checked_for_test_orders_but_filters_are():
    """/order/test validates filters only (balances are the matching engine's business)."""
    plan_order(spec(quantity="1"), PRICE, {}, check_balance=False)
    assert code_of(plan_order, spec(quantity="0.00001"), PRICE, {}, check_balance=False)[0] == -1013


def test_limit_buy_below_price_rests_with_quote_locked():
    """A GTC BUY under the market rests NEW, locking price * quantity of USDT."""
    plan = plan_order(spec(type="LIMIT", quantity="0.01", price="50000", timeInForce="GTC"), PRICE, RICH)
    assert plan.status == "NEW" and plan.executed_qty == 0
    assert [(c.asset, c.free, c.locked) for c in plan.changes] == [("USDT", D("-500.00"), D("500.00"))]


def test_limit_sell_below_price_fills_at_the_better_market_price():
    """A SELL limit under the market crosses: it fills at the market price."""
    plan = plan_order(spec(side="SELL", type="LIMIT", quantity="0.1", price="59000", timeInForce="GTC"),
                      PRICE, RICH)
    assert (plan.status, plan.fill_price, plan.quote_qty) == ("FILLED", PRICE, D("6000.000"))
    assert plan.price == D("59000")


def test_limit_ioc_that_does_not_cross_expires_unfilled():
    """IOC/FOK orders that cannot fill at once expire with nothing booked."""
    plan = plan_order(spec(type="LIMIT", quantity="0.01", price="50000", timeInForce="IOC"), PRICE, RICH)
    assert (plan.status, plan.changes) == ("EXPIRED", ())


def test_limit_order_filters_apply_before_balance():
    """An off-tick price is a filter failure even with no money at all."""
    assert code_of(plan_order, spec(type="LIMIT", quantity="0.01", price="50000.001", timeInForce="GTC"),
                   PRICE, {})[1] == "Filter failure: PRICE_FILTER"


def test_quote_too_small_for_one_step_is_refused():
    """quoteOrderQty that buys zero steps is refused, never booked as an empty fill."""
    assert code_of(plan_order, spec(quoteOrderQty="0.1"), PRICE, RICH)[0] == -1013
