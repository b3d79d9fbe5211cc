"""sandbox/order_lists.py through the app: OCO order lists (place, query, cancel) and price moves."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.support.sandbox_app_cases import SIGNAL, Harness

OCO = "/api/v3/orderList/oco"
SELL_OCO = dict(symbol="BNBUSDT", side="SELL", quantity="1", listClientOrderId="ol-1",
                aboveType="LIMIT_MAKER", abovePrice="612", aboveClientOrderId="tp-1",
                belowType="STOP_LOSS", belowStopPrice="594", belowClientOrderId="sl-1")


@pytest.fixture
def h() -> Harness:
    return Harness()


def legs(h: Harness) -> dict[str, dict]:
    return {o["clientOrderId"]: o for o in h.admin("GET", "/sandbox/orders")[1]["orders"]}


def test_an_oco_locks_the_quantity_once_and_answers_binances_shape(h):
    """Two NEW legs in one EXECUTING list; 1 BNB moves from free to locked."""
    before = h.free("BNB")
    reply = h.ok("POST", OCO, SIGNAL, **SELL_OCO)
    assert (reply["contingencyType"], reply["listStatusType"], reply["listOrderStatus"], reply["listClientOrderId"]) \
        == ("OCO", "EXEC_STARTED", "EXECUTING", "ol-1")
    assert [o["clientOrderId"] for o in reply["orders"]] == ["tp-1", "sl-1"]
    assert {r["type"] for r in reply["orderReports"]} == {"LIMIT_MAKER", "STOP_LOSS"}
    assert h.free("BNB") == before - 1
    assert h.ok("GET", "/api/v3/orderList", SIGNAL, origClientOrderId="ol-1")["listOrderStatus"] == "EXECUTING"


def test_prices_on_the_wrong_sides_of_the_market_and_a_repeated_list_id_are_refused(h):
    """SELL needs limit > last > stop (-2010); an executing listClientOrderId is a duplicate; nothing is booked."""
    assert h.error("POST", OCO, SIGNAL, **{**SELL_OCO, "belowStopPrice": "601"}) == -2010
    h.ok("POST", OCO, SIGNAL, **SELL_OCO)
    assert h.error("POST", OCO, SIGNAL, **{**SELL_OCO, "aboveClientOrderId": "tp-2", "belowClientOrderId": "sl-2"}) \
        == -2010
    assert "tp-2" not in legs(h)
    assert h.error("GET", "/api/v3/orderList", SIGNAL, origClientOrderId="nope") == -2013


def test_a_rise_to_the_limit_fills_the_take_profit_at_its_price_and_expires_the_stop(h):
    """Price 613: LIMIT_MAKER fills at 612 (+612 USDT), STOP_LOSS EXPIRED, list ALL_DONE, nothing left locked."""
    usdt = h.free("USDT")
    h.ok("POST", OCO, SIGNAL, **SELL_OCO)
    h.admin("POST", "/sandbox/prices", {"symbol": "BNBUSDT", "price": "613"})
    orders = legs(h)
    assert (orders["tp-1"]["status"], orders["sl-1"]["status"]) == ("FILLED", "EXPIRED")
    assert h.free("USDT") == usdt + 612
    assert h.ok("GET", "/api/v3/orderList", SIGNAL, origClientOrderId="ol-1")["listOrderStatus"] == "ALL_DONE"
    bnb = h.admin("GET", "/sandbox/balances")[1]["balances"]["BNB"]
    assert Decimal(bnb["locked"]) == 0


def test_a_fall_through_the_stop_sells_at_the_new_price(h):
    """Price 590 (below the 594 stop): the STOP_LOSS fills at 590, a market order."""
    h.ok("POST", OCO, SIGNAL, **SELL_OCO)
    h.admin("POST", "/sandbox/prices", {"symbol": "BNBUSDT", "price": "590"})
    orders = legs(h)
    assert (orders["tp-1"]["status"], orders["sl-1"]["status"]) == ("EXPIRED", "FILLED")
    assert orders["sl-1"]["cummulativeQuoteQty"] == "590.00000000"


def test_cancelling_a_list_frees_its_funds_and_a_second_cancel_is_unknown(h):
    """DELETE /api/v3/orderList: both legs CANCELED, BNB back to free; again: -2011."""
    before = h.free("BNB")
    h.ok("POST", OCO, SIGNAL, **SELL_OCO)
    done = h.ok("DELETE", "/api/v3/orderList", SIGNAL, symbol="BNBUSDT", listClientOrderId="ol-1")
    assert done["listStatusType"] == "ALL_DONE" and {r["status"] for r in done["orderReports"]} == {"CANCELED"}
    assert h.free("BNB") == before
    assert h.error("DELETE", "/api/v3/orderList", SIGNAL, symbol="BNBUSDT", listClientOrderId="ol-1") == -2011
    h.admin("POST", "/sandbox/prices", {"symbol": "BNBUSDT", "price": "700"})
    assert legs(h)["tp-1"]["status"] == "CANCELED"


def test_a_buy_oco_stops_above_and_takes_profit_below(h):
    """BUY: LIMIT_MAKER 580 below, STOP_LOSS 610 above; a drop to 579 buys at 580."""
    h.ok("POST", OCO, SIGNAL, symbol="BNBUSDT", side="BUY", quantity="1", listClientOrderId="ol-b",
         aboveType="STOP_LOSS", aboveStopPrice="610", aboveClientOrderId="sl-b",
         belowType="LIMIT_MAKER", belowPrice="580", belowClientOrderId="tp-b")
    bnb = h.free("BNB")
    h.admin("POST", "/sandbox/prices", {"symbol": "BNBUSDT", "price": "579"})
    orders = legs(h)
    assert (orders["tp-b"]["status"], orders["sl-b"]["status"], orders["tp-b"]["price"]) == \
        ("FILLED", "EXPIRED", "580.00000000")
    assert h.free("BNB") == bnb + 1


def test_a_resting_limit_order_fills_when_the_price_crosses_it(h):
    """A GTC BUY at 500 rests NEW; a move to 499 fills it at 500 and spends its locked USDT."""
    h.ok("POST", "/api/v3/order", SIGNAL, symbol="BNBUSDT", side="BUY", type="LIMIT", timeInForce="GTC",
         quantity="1", price="500", newClientOrderId="rest-1")
    usdt, bnb = h.free("USDT"), h.free("BNB")
    h.admin("POST", "/sandbox/prices", {"symbol": "BNBUSDT", "price": "499"})
    order = h.ok("GET", "/api/v3/order", SIGNAL, symbol="BNBUSDT", origClientOrderId="rest-1")
    assert (order["status"], order["executedQty"], order["cummulativeQuoteQty"]) == \
        ("FILLED", "1.00000000", "500.00000000")
    assert (h.free("USDT"), h.free("BNB")) == (usdt, bnb + 1)
    trades = h.ok("GET", "/api/v3/myTrades", SIGNAL, symbol="BNBUSDT", orderId=str(order["orderId"]))
    assert [(t["price"], t["qty"]) for t in trades] == [("500.00000000", "1.00000000")]
