"""New-order parameters and their execution plan (pure functions).

The sandbox's matching is deliberately simple but consistent:
- MARKET orders fill at once, in full, at the symbol's price. With `quoteOrderQty` the
  quantity is the largest one on the market step whose cost fits (Binance: "will not
  break LOT_SIZE").
- LIMIT orders that cross the symbol's price (BUY at or above it, SELL at or below) fill
  at once at the symbol's price; otherwise GTC orders rest as NEW with their funds locked,
  and IOC/FOK orders expire unfilled. A resting order fills at its own price when the
  admin API moves the price across it (sandbox/order_lists.py: `move_price`).
- Commissions are zero.
Only MARKET and LIMIT are supported; other order types are refused as -1116.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Callable, Mapping

from sandbox import errors
from sandbox.config import SymbolSettings
from sandbox.params import optional, optional_decimal, required
from sandbox.rules import ZERO, check_order_filters, market_step, quantity_for_quote

ORDER_PARAMS = frozenset({
    "symbol", "side", "type", "timeInForce", "quantity", "quoteOrderQty", "price",
    "newClientOrderId", "strategyId", "strategyType", "stopPrice", "trailingDelta",
    "icebergQty", "newOrderRespType", "selfTradePreventionMode", "pegPriceType",
    "pegOffsetValue", "pegOffsetType", "computeCommissionRates",
    "recvWindow", "timestamp", "signature",
})
CLIENT_ORDER_ID_RANGE = r"^[\.A-Z\:/a-z0-9_-]{1,36}$"
_CLIENT_ORDER_ID = re.compile(r"^[\.A-Z\:/a-z0-9_-]{1,36}\Z")
SIDES = ("BUY", "SELL")
TYPES = ("MARKET", "LIMIT")
TIME_IN_FORCE = ("GTC", "IOC", "FOK")
RESPONSE_TYPES = ("ACK", "RESULT", "FULL")
OPEN_STATUSES = frozenset({"NEW", "PARTIALLY_FILLED"})


@dataclass(frozen=True)
class OrderSpec:
    symbol: SymbolSettings
    side: str
    type: str
    time_in_force: str | None
    quantity: Decimal | None
    quote_order_qty: Decimal | None
    price: Decimal | None
    client_order_id: str | None
    response_type: str


@dataclass(frozen=True)
class BalanceChange:
    asset: str
    free: Decimal      # added to free (negative: taken)
    locked: Decimal    # added to locked


@dataclass(frozen=True)
class OrderPlan:
    status: str                     # FILLED, NEW or EXPIRED
    price: Decimal                  # the order's own price (0 for MARKET)
    orig_qty: Decimal
    executed_qty: Decimal
    quote_qty: Decimal              # cummulativeQuoteQty
    orig_quote_order_qty: Decimal
    fill_price: Decimal | None
    changes: tuple[BalanceChange, ...]


def parse_order(params: Mapping[str, str],
                find_symbol: Callable[[str], SymbolSettings | None]) -> OrderSpec:
    """Validate the parameters of POST /api/v3/order the way Binance does."""
    symbol = find_symbol(required(params, "symbol"))
    if symbol is None:
        raise errors.bad_symbol()
    side = required(params, "side")
    if side not in SIDES:
        raise errors.invalid_side()
    order_type = required(params, "type")
    if order_type not in TYPES:
        raise errors.invalid_order_type()
    for unsupported in ("stopPrice", "trailingDelta", "icebergQty", "pegPriceType"):
        if optional(params, unsupported) is not None:
            raise errors.not_required(unsupported)
    quantity = optional_decimal(params, "quantity")
    quote = optional_decimal(params, "quoteOrderQty")
    price = optional_decimal(params, "price")
    tif = optional(params, "timeInForce")
    if order_type == "MARKET":
        _check_market(tif, quantity, quote, price)
    else:
        _check_limit(tif, quantity, quote, price)
    client_order_id = optional(params, "newClientOrderId")
    if client_order_id is not None and not _CLIENT_ORDER_ID.match(client_order_id):
        raise errors.illegal_chars("newClientOrderId", CLIENT_ORDER_ID_RANGE)
    response_type = optional(params, "newOrderRespType") or "FULL"
    if response_type not in RESPONSE_TYPES:
        raise errors.invalid_parameter("newOrderRespType")
    return OrderSpec(symbol, side, order_type, tif, quantity, quote, price, client_order_id,
                     response_type)


def _check_market(tif: str | None, quantity: Decimal | None, quote: Decimal | None,
                  price: Decimal | None) -> None:
    if tif is not None:
        raise errors.not_required("timeInForce")
    if price is not None:
        raise errors.not_required("price")
    if quantity is None and quote is None:
        raise errors.one_of_mandatory("quantity", "quoteOrderQty")
    if quantity is not None and quote is not None:
        raise errors.not_required("quoteOrderQty")


def _check_limit(tif: str | None, quantity: Decimal | None, quote: Decimal | None,
                 price: Decimal | None) -> None:
    if tif is None:
        raise errors.mandatory("timeInForce")
    if tif not in TIME_IN_FORCE:
        raise errors.invalid_tif()
    if quantity is None:
        raise errors.mandatory("quantity")
    if price is None:
        raise errors.mandatory("price")
    if quote is not None:
        raise errors.not_required("quoteOrderQty")


def plan_order(spec: OrderSpec, market_price: Decimal, free: Mapping[str, Decimal],
               check_balance: bool = True) -> OrderPlan:
    """Filters, then what the order does to the account (raises -1013 / -2010)."""
    symbol = spec.symbol
    is_market = spec.type == "MARKET"
    if is_market and spec.quote_order_qty is not None:
        quantity = quantity_for_quote(spec.quote_order_qty, market_price, market_step(symbol))
    else:
        assert spec.quantity is not None
        quantity = spec.quantity
    if quantity <= 0:
        raise errors.ApiError(-1013, "Invalid quantity.")
    limit_price = ZERO if is_market else spec.price
    assert limit_price is not None
    check_order_filters(symbol, quantity, market_price if is_market else limit_price, is_market)
    orig_quote = spec.quote_order_qty or ZERO
    crosses = is_market or (spec.side == "BUY" and limit_price >= market_price) \
        or (spec.side == "SELL" and limit_price <= market_price)
    if crosses:
        cost = quantity * market_price
        needed = (symbol.quote_asset, cost) if spec.side == "BUY" else (symbol.base_asset, quantity)
        _require(free, *needed, check_balance)
        sign = 1 if spec.side == "BUY" else -1
        changes = (BalanceChange(symbol.base_asset, sign * quantity, ZERO),
                   BalanceChange(symbol.quote_asset, -sign * cost, ZERO))
        return OrderPlan("FILLED", limit_price, quantity, quantity, cost, orig_quote,
                         market_price, changes)
    locked = locked_funds(symbol, spec.side, quantity, limit_price)
    _require(free, *locked, check_balance)
    if spec.time_in_force != "GTC":
        return OrderPlan("EXPIRED", limit_price, quantity, ZERO, ZERO, orig_quote, None, ())
    lock = (BalanceChange(locked[0], -locked[1], locked[1]),)
    return OrderPlan("NEW", limit_price, quantity, ZERO, ZERO, orig_quote, None, lock)


def locked_funds(symbol: SymbolSettings, side: str, quantity: Decimal, limit_price: Decimal) -> tuple[str, Decimal]:
    """What a resting LIMIT order locks (and a cancel frees): the quote cost of a BUY, the base of a SELL."""
    return (symbol.quote_asset, quantity * limit_price) if side == "BUY" else (symbol.base_asset, quantity)


def _require(free: Mapping[str, Decimal], asset: str, amount: Decimal, check: bool) -> None:
    if check and free.get(asset, ZERO) < amount:
        raise errors.insufficient_balance()
