"""A stand-in for the exchange calls the exit desk makes (signal_bot/exits.py), with the
real client's error types and reply structs: order lists kept by listClientOrderId, legs
and fills as a test sets them."""

from __future__ import annotations

from common import binance
from common.binance import Amount, OrderResult
from common.binance.models import AccountTrade, OrderListLeg, OrderListResult
from common.clock import FakeClock

UNKNOWN = binance.OutcomeUnknown("read timed out", endpoint="POST /api/v3/orderList/oco")
NO_LIST = binance.OrderNotFound("Order list does not exist.", binance_code=-2013)


def order(client_id: str, status: str = "NEW", executed: str = "0", quote: str = "0", order_id: int = 7,
          side: str = "SELL") -> OrderResult:
    return OrderResult(symbol="BNBUSDT", order_id=order_id, client_order_id=client_id, status=status,
                       executed_qty=Amount(executed), cummulative_quote_qty=Amount(quote), orig_qty=Amount("0.1"),
                       price=Amount("0"), side=side, type="LIMIT_MAKER")


def trade(trade_id: int, order_id: int, price: str, qty: str, commission: str = "0", asset: str = "USDT",
          buyer: bool = True) -> AccountTrade:
    return AccountTrade(symbol="BNBUSDT", id=trade_id, order_id=order_id, price=Amount(price), qty=Amount(qty),
                        commission=Amount(commission), commission_asset=asset, is_buyer=buyer)


class ScriptedExits:
    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.lists: dict[str, OrderListResult] = {}
        self.oco_sent: list[dict] = []
        self.oco_answers: list[Exception | str] = []   # "keep+unknown": booked, then the reply is lost
        self.orders: dict[str, OrderResult] = {}
        self.trades: dict[int, list[AccountTrade]] = {}
        self.cancelled_lists: list[str] = []

    def new_oco(self, **kwargs):
        self.oco_sent.append(kwargs)
        answer = self.oco_answers.pop(0) if self.oco_answers else None
        if isinstance(answer, Exception):
            raise answer
        list_id = kwargs["list_client_order_id"]
        booked = OrderListResult(order_list_id=len(self.lists) + 1, contingency_type="OCO",
                                 list_status_type="EXEC_STARTED", list_order_status="EXECUTING",
                                 list_client_order_id=list_id, symbol=kwargs["symbol"],
                                 orders=[OrderListLeg("BNBUSDT", 100, "tp-" + list_id[3:]),
                                         OrderListLeg("BNBUSDT", 101, "sl-" + list_id[3:])])
        self.lists[list_id] = booked
        if answer == "keep+unknown":
            raise UNKNOWN
        return booked

    def get_order_list(self, *, orig_client_order_id):
        if orig_client_order_id not in self.lists:
            raise NO_LIST
        return self.lists[orig_client_order_id]

    def end_list(self, list_id: str, status: str = "ALL_DONE") -> None:
        current = self.lists[list_id]
        self.lists[list_id] = OrderListResult(order_list_id=current.order_list_id, contingency_type="OCO",
                                              list_status_type="ALL_DONE", list_order_status=status,
                                              list_client_order_id=list_id, symbol=current.symbol,
                                              orders=current.orders)

    def cancel_order_list(self, *, symbol, list_client_order_id):
        current = self.lists.get(list_client_order_id)
        if current is None or current.done:
            raise binance.ExchangeError("Unknown order list sent.", binance_code=-2011)
        self.cancelled_lists.append(list_client_order_id)
        self.end_list(list_client_order_id)
        return self.lists[list_client_order_id]

    def get_order(self, *, symbol, orig_client_order_id):
        if orig_client_order_id not in self.orders:
            raise binance.OrderNotFound("Order does not exist.", binance_code=-2013)
        return self.orders[orig_client_order_id]

    def cancel_order(self, *, symbol, orig_client_order_id):
        current = self.orders[orig_client_order_id]
        self.orders[orig_client_order_id] = order(orig_client_order_id, "CANCELED", str(current.executed_qty),
                                                  str(current.cummulative_quote_qty), current.order_id, current.side)
        return self.orders[orig_client_order_id]

    def order_trades(self, *, symbol, order_id):
        return self.trades.get(order_id, [])
