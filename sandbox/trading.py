"""Orders and account reads against the state (the imperative side of `orders.py`).

Each function runs inside one locked `Session`; it validates everything before changing
anything, then marks the session dirty so the change is saved before the reply.
"""

from __future__ import annotations

import secrets
import string
from decimal import Decimal
from typing import Any, Mapping

from sandbox import errors, views
from sandbox.config import KeySettings, SandboxConfig, SymbolSettings
from sandbox.orders import (OPEN_STATUSES, ORDER_PARAMS, OrderPlan, OrderSpec, locked_funds, parse_order,
                            plan_order)
from sandbox.params import optional, optional_int, reject_unknown, required
from sandbox.state import BalanceRecord, DryRunOrderRecord, FillRecord, OrderRecord, Session

ZERO = Decimal(0)
QUERY_ORDER_PARAMS = frozenset({"symbol", "orderId", "origClientOrderId", "recvWindow",
                                "timestamp", "signature"})
ACCOUNT_PARAMS = frozenset({"omitZeroBalances", "recvWindow", "timestamp", "signature"})
CANCEL_ORDER_PARAMS = QUERY_ORDER_PARAMS | {"newClientOrderId", "cancelRestrictions"}
OPEN_ORDERS_PARAMS = frozenset({"symbol", "recvWindow", "timestamp", "signature"})
MY_TRADES_PARAMS = frozenset({"symbol", "orderId", "startTime", "endTime", "fromId", "limit",
                              "recvWindow", "timestamp", "signature"})
MAX_TRADES_LIMIT = 1000
_ID_ALPHABET = string.ascii_letters + string.digits


def market_price(session: Session, symbol: SymbolSettings) -> Decimal:
    return session.data.prices.get(symbol.symbol, symbol.price)


def free_balances(session: Session) -> dict[str, Decimal]:
    return {asset: b.free for asset, b in session.data.balances.items()}


def account(session: Session, config: SandboxConfig, params: Mapping[str, str], now_ms: int) -> dict[str, Any]:
    reject_unknown(params, ACCOUNT_PARAMS)
    omit_zero = optional(params, "omitZeroBalances") == "true"
    return views.account(config, session.data.balances, now_ms, omit_zero)


def place_order(session: Session, config: SandboxConfig, key: KeySettings,
                params: Mapping[str, str], now_ms: int, received_at: float,
                test: bool) -> dict[str, Any]:
    """POST /api/v3/order (or /order/test, which validates but books nothing)."""
    reject_unknown(params, ORDER_PARAMS)
    spec = parse_order(params, config.find_symbol)
    if not config.account.can_trade:
        raise errors.order_rejected("This account may not place or cancel orders.")
    if spec.symbol.status != "TRADING":
        raise errors.order_rejected("Market is closed.")
    price, free = market_price(session, spec.symbol), free_balances(session)
    # The API checks filters before the matching engine sees the order; /order/test stops there.
    plan_order(spec, price, free, check_balance=False)
    if test:
        _record_test_order(session, key, spec, params, received_at)
        if params.get("computeCommissionRates") == "true":
            return _test_order_commissions()
        return {}
    if spec.client_order_id is not None:
        _refuse_duplicate(session, spec.client_order_id, config.exchange.duplicate_client_order_id)
    plan = plan_order(spec, price, free)
    order = _book(session, key, spec, plan, now_ms, received_at)
    return views.order_response(order, spec.response_type)


def _test_order_commissions() -> dict[str, Any]:
    """order/test with computeCommissionRates=true: the fields Binance documents.

    The sandbox charges no commission (the account's commissionRates are zero), so every
    rate is zero. https://developers.binance.com/docs/binance-spot-api-docs/rest-api/trading-endpoints#test-new-order-trade
    """
    zero = "0.00000000"
    return {
        "standardCommissionForOrder": {"maker": zero, "taker": zero},
        "taxCommissionForOrder": {"maker": zero, "taker": zero},
        "discount": {"enabledForAccount": False, "enabledForSymbol": False,
                     "discountAsset": "BNB", "discount": zero},
    }


def _requested_order(session: Session, config: SandboxConfig, params: Mapping[str, str],
                     allowed: frozenset[str]) -> tuple[SymbolSettings, OrderRecord | None]:
    """The symbol and the order a query or a cancel names (by orderId or origClientOrderId),
    after the checks both make in Binance's order: unknown params, symbol, one of the ids."""
    reject_unknown(params, allowed)
    symbol = required(params, "symbol")
    settings = config.find_symbol(symbol)
    if settings is None:
        raise errors.bad_symbol()
    order_id = optional_int(params, "orderId")
    client_id = optional(params, "origClientOrderId")
    if order_id is None and client_id is None:
        raise errors.one_of_mandatory("origClientOrderId", "orderId")
    return settings, _find_order(session, symbol, order_id, client_id)


def query_order(session: Session, config: SandboxConfig, params: Mapping[str, str]) -> dict[str, Any]:
    """GET /api/v3/order by orderId or origClientOrderId (the most recent one)."""
    _, order = _requested_order(session, config, params, QUERY_ORDER_PARAMS)
    if order is None:
        raise errors.no_such_order()
    return views.order_query(order)


def _refuse_duplicate(session: Session, client_order_id: str, mode: str) -> None:
    for order in session.data.orders:
        if order.client_order_id == client_order_id and (mode == "any" or order.status in OPEN_STATUSES):
            raise errors.duplicate_order()


def _record_test_order(session: Session, key: KeySettings, spec: OrderSpec,
                       params: Mapping[str, str], received_at: float) -> None:
    kept = {k: v for k, v in params.items() if k not in ("signature", "timestamp", "recvWindow")}
    session.data.test_orders.append(DryRunOrderRecord(
        symbol=spec.symbol.symbol, side=spec.side, type=spec.type,
        client_order_id=spec.client_order_id, key_name=key.name, received_at=received_at,
        params=kept))
    session.dirty = True


def _book(session: Session, key: KeySettings, spec: OrderSpec, plan: OrderPlan,
          now_ms: int, received_at: float) -> OrderRecord:
    data = session.data
    for change in plan.changes:
        balance = data.balances.setdefault(change.asset, BalanceRecord(free=ZERO))
        balance.free += change.free
        balance.locked += change.locked
    fills = []
    if plan.fill_price is not None:
        received = spec.symbol.base_asset if spec.side == "BUY" else spec.symbol.quote_asset
        fills.append(FillRecord(price=plan.fill_price, qty=plan.executed_qty, commission=ZERO,
                                commission_asset=received, trade_id=data.next_trade_id))
        data.next_trade_id += 1
    order = OrderRecord(
        order_id=data.next_order_id, symbol=spec.symbol.symbol,
        client_order_id=spec.client_order_id or _generated_client_id(),
        side=spec.side, type=spec.type, time_in_force=spec.time_in_force,
        price=plan.price, orig_qty=plan.orig_qty, executed_qty=plan.executed_qty,
        cummulative_quote_qty=plan.quote_qty, orig_quote_order_qty=plan.orig_quote_order_qty,
        status=plan.status, time_ms=now_ms, update_ms=now_ms, key_name=key.name,
        received_at=received_at, fills=fills)
    data.next_order_id += 1
    data.orders.append(order)
    session.dirty = True
    return order


def _generated_client_id() -> str:
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(22))


def _find_order(session: Session, symbol: str, order_id: int | None, client_id: str | None) -> OrderRecord | None:
    """The most recent order of `symbol` matching the ids given (None: not asked for)."""
    for order in reversed(session.data.orders):
        if order.symbol == symbol and (order_id is None or order.order_id == order_id) \
                and (client_id is None or order.client_order_id == client_id):
            return order
    return None


def cancel_order(session: Session, config: SandboxConfig, params: Mapping[str, str],
                 now_ms: int) -> dict[str, Any]:
    """DELETE /api/v3/order: cancel an open order by orderId or origClientOrderId; its
    locked funds go back to free. Not open (or unknown): -2011 "Unknown order sent.".
    https://developers.binance.com/docs/binance-spot-api-docs/rest-api/trading-endpoints#cancel-order-trade
    """
    settings, order = _requested_order(session, config, params, CANCEL_ORDER_PARAMS)
    if order is None or order.status not in OPEN_STATUSES:
        raise errors.unknown_order_to_cancel()
    asset, amount = locked_funds(settings, order.side, order.orig_qty - order.executed_qty, order.price)
    balance = session.data.balances.setdefault(asset, BalanceRecord(free=ZERO))
    balance.locked -= amount
    balance.free += amount
    order.status = "CANCELED"
    order.update_ms = now_ms
    session.dirty = True
    view = views.order_result(order)
    view["origClientOrderId"] = order.client_order_id
    view["clientOrderId"] = optional(params, "newClientOrderId") or _generated_client_id()
    view["transactTime"] = now_ms
    return view


def open_orders(session: Session, config: SandboxConfig, params: Mapping[str, str]) -> list[dict[str, Any]]:
    """GET /api/v3/openOrders: the open orders of one symbol, or of all without `symbol`.
    https://developers.binance.com/docs/binance-spot-api-docs/rest-api/trading-endpoints#current-open-orders-user_data
    """
    reject_unknown(params, OPEN_ORDERS_PARAMS)
    symbol = optional(params, "symbol")
    if symbol is not None and config.find_symbol(symbol) is None:
        raise errors.bad_symbol()
    return [views.order_query(order) for order in session.data.orders
            if order.status in OPEN_STATUSES and (symbol is None or order.symbol == symbol)]


def my_trades(session: Session, config: SandboxConfig, params: Mapping[str, str]) -> list[dict[str, Any]]:
    """GET /api/v3/myTrades: the account's fills on one symbol, oldest first, at most
    `limit` (500 by default, 1000 at most), from `fromId`, of `orderId`, in a time range.
    https://developers.binance.com/docs/binance-spot-api-docs/rest-api/account-endpoints#account-trade-list-user_data
    """
    reject_unknown(params, MY_TRADES_PARAMS)
    symbol = required(params, "symbol")
    if config.find_symbol(symbol) is None:
        raise errors.bad_symbol()
    limit = optional_int(params, "limit") or 500
    if not 0 < limit <= MAX_TRADES_LIMIT:
        raise errors.invalid_parameter("limit")
    order_id, from_id = optional_int(params, "orderId"), optional_int(params, "fromId")
    start, end = optional_int(params, "startTime"), optional_int(params, "endTime")
    trades = [views.trade(order, fill) for order in session.data.orders if order.symbol == symbol
              for fill in order.fills
              if (order_id is None or order.order_id == order_id)
              and (from_id is None or fill.trade_id >= from_id)
              and (start is None or order.time_ms >= start) and (end is None or order.time_ms <= end)]
    return sorted(trades, key=lambda t: t["id"])[:limit]
