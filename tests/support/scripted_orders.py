"""A scripted stand-in for the signal bot's exchange (common.binance.BinanceClient's
new_order and get_order, with its real error types and reply structs), and the rules,
limits and signals the order-desk tests share.
"""

from __future__ import annotations

from decimal import Decimal

from common import binance
from common.binance import Amount, OrderResult
from common.clock import FakeClock
from signal_bot.orders import SETTLE_MARGIN_MS
from signal_bot.risk import RiskLimits
from signal_bot.signals import Signal
from signal_bot.symbol_rules import LotRule, SymbolRules

D = Decimal
RULES = {"BTCUSDT": SymbolRules("BTCUSDT", "TRADING", "BTC", "USDT", LotRule(D("0.001"), D("100"), D("0.001")),
                                tick=D("0.01"), min_notional=D("5"))}
LIMITS = RiskLimits(frozenset({"BTCUSDT"}), D("1000"), 3, "GTC")
RECV_WINDOW_MS = 5000
SETTLE_MS = RECV_WINDOW_MS + SETTLE_MARGIN_MS
ABSENT = binance.OrderNotFound("Order does not exist.", binance_code=-2013)


def result(client_id: str, executed: str = "0.01", status: str = "FILLED") -> OrderResult:
    return OrderResult(symbol="BTCUSDT", order_id=42, client_order_id=client_id, status=status,
                       executed_qty=Amount(executed), cummulative_quote_qty=Amount("200"),
                       orig_qty=Amount("0.01"), price=Amount("0"), side="BUY", type="MARKET")


class ScriptedExchange:
    """new_order / get_order answers taken from lists, in order; every call is kept with its time."""

    def __init__(self, clock: FakeClock, orders=(), lookups=()) -> None:
        self.clock = clock
        self.orders = list(orders)
        self.lookups = list(lookups)
        self.sent: list[dict] = []
        self.looked_up: list[str] = []
        self.looked_up_at: list[int] = []

    def new_order(self, **kwargs):
        self.sent.append(kwargs)
        answer = self.orders.pop(0) if self.orders else result(kwargs["new_client_order_id"])
        if isinstance(answer, Exception):
            raise answer
        return None if kwargs.get("test") else answer

    def get_order(self, *, symbol, orig_client_order_id):
        self.looked_up.append(orig_client_order_id)
        self.looked_up_at.append(self.clock.now_ms())
        answer = self.lookups.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def signal(id_: str = "o1", **kw) -> Signal:
    base = dict(id=id_, symbol="BTCUSDT", side="BUY", type="LIMIT", quantity="0.0109", price="20000.019")
    base.update(kw)
    return Signal(**{k: v for k, v in base.items() if v is not None})
