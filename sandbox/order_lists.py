"""OCO order lists and price moves (issue 15 item 4): place, query, cancel; legs that fill
when the price crosses them, and resting LIMIT orders that fill the same way.

The parameters, the price rules and the replies are Binance's "New Order list - OCO",
"Query Order list" and "Cancel Order list":
https://developers.binance.com/docs/binance-spot-api-docs/rest-api/trading-endpoints#new-order-list---oco-trade
- an OCO has an above leg and a below leg; one is LIMIT_MAKER (the sandbox also takes
  TAKE_PROFIT's place with it), the other STOP_LOSS (or STOP_LOSS_LIMIT);
- SELL: LIMIT_MAKER price (above) > last price > STOP_LOSS stopPrice (below);
  BUY: LIMIT_MAKER price (below) < last price < STOP_LOSS stopPrice (above);
- `listClientOrderId` is unique among open order lists.
The sandbox's matching (`move_price`): when the price is set, a LIMIT_MAKER leg fills at
its own price once the price reaches it, a STOP_LOSS leg triggers once the price reaches
its stopPrice and fills at the new price (a market order); the other leg then EXPIRES and
the list is ALL_DONE. A resting plain LIMIT order fills at its own price once the price
crosses it. Commissions are zero, as for every sandbox fill.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Mapping

from sandbox import errors, views
from sandbox.config import KeySettings, SandboxConfig, SymbolSettings
from sandbox.orders import _CLIENT_ORDER_ID, CLIENT_ORDER_ID_RANGE, OPEN_STATUSES, SIDES, locked_funds
from sandbox.params import optional, optional_decimal, optional_int, reject_unknown, required
from sandbox.rules import check_order_filters
from sandbox.state import BalanceRecord, FillRecord, OrderListRecord, OrderRecord, Session

ZERO = Decimal(0)
OCO_PARAMS = frozenset({
    "symbol", "listClientOrderId", "side", "quantity",
    "aboveType", "aboveClientOrderId", "aboveIcebergQty", "abovePrice", "aboveStopPrice",
    "aboveTrailingDelta", "aboveTimeInForce", "aboveStrategyId", "aboveStrategyType",
    "belowType", "belowClientOrderId", "belowIcebergQty", "belowPrice", "belowStopPrice",
    "belowTrailingDelta", "belowTimeInForce", "belowStrategyId", "belowStrategyType",
    "newOrderRespType", "selfTradePreventionMode", "recvWindow", "timestamp", "signature",
})
QUERY_LIST_PARAMS = frozenset({"orderListId", "origClientOrderId", "recvWindow", "timestamp", "signature"})
CANCEL_LIST_PARAMS = frozenset({"symbol", "orderListId", "listClientOrderId", "newClientOrderId",
                                "recvWindow", "timestamp", "signature"})
LIMIT_LEG = frozenset({"LIMIT_MAKER", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT"})
STOP_LEG = frozenset({"STOP_LOSS", "STOP_LOSS_LIMIT"})
BAD_PRICES = "The relationship of the prices for the orders is not correct."


def _leg(params: Mapping[str, str], where: str) -> tuple[str, Decimal | None, Decimal | None, str | None]:
    kind = required(params, f"{where}Type")
    if kind not in LIMIT_LEG | STOP_LEG:
        raise errors.invalid_order_type()
    price, stop = optional_decimal(params, f"{where}Price"), optional_decimal(params, f"{where}StopPrice")
    client_id = optional(params, f"{where}ClientOrderId")
    if client_id is not None and not _CLIENT_ORDER_ID.match(client_id):
        raise errors.illegal_chars(f"{where}ClientOrderId", CLIENT_ORDER_ID_RANGE)
    if kind == "LIMIT_MAKER" and price is None:
        raise errors.mandatory(f"{where}Price")
    if kind in STOP_LEG | {"TAKE_PROFIT", "TAKE_PROFIT_LIMIT"} and stop is None:
        raise errors.mandatory(f"{where}StopPrice")
    return kind, price, stop, client_id


def _trigger(kind: str, price: Decimal | None, stop: Decimal | None) -> Decimal:
    """The price at which a leg acts: a LIMIT_MAKER's price, else its stopPrice."""
    value = price if kind == "LIMIT_MAKER" else stop
    assert value is not None
    return value


def place_oco(session: Session, config: SandboxConfig, key: KeySettings, params: Mapping[str, str],
              now_ms: int, received_at: float) -> dict[str, Any]:
    """POST /api/v3/orderList/oco: validate both legs, lock the funds once, book two orders."""
    from sandbox.trading import _generated_client_id, market_price
    reject_unknown(params, OCO_PARAMS)
    symbol = config.find_symbol(required(params, "symbol"))
    if symbol is None:
        raise errors.bad_symbol()
    side = required(params, "side")
    if side not in SIDES:
        raise errors.invalid_side()
    quantity = optional_decimal(params, "quantity")
    if quantity is None:
        raise errors.mandatory("quantity")
    above, below = _leg(params, "above"), _leg(params, "below")
    if (above[0] in LIMIT_LEG) == (below[0] in LIMIT_LEG):
        raise errors.order_rejected("Unsupported order combination.")
    if not config.account.can_trade:
        raise errors.order_rejected("This account may not place or cancel orders.")
    last = market_price(session, symbol)
    above_at, below_at = _trigger(above[0], above[1], above[2]), _trigger(below[0], below[1], below[2])
    limit_leg, stop_leg = (above, below) if above[0] in LIMIT_LEG else (below, above)
    if side == "SELL" and not (limit_leg is above and above_at > last > below_at):
        raise errors.order_rejected(BAD_PRICES)
    if side == "BUY" and not (limit_leg is below and below_at < last < above_at):
        raise errors.order_rejected(BAD_PRICES)
    for leg_at in (above_at, below_at):
        check_order_filters(symbol, quantity, leg_at, is_market=False)
    list_id = optional(params, "listClientOrderId") or _generated_client_id()
    if not _CLIENT_ORDER_ID.match(list_id):
        raise errors.illegal_chars("listClientOrderId", CLIENT_ORDER_ID_RANGE)
    data = session.data
    if any(r.list_client_order_id == list_id and r.list_status_type != "ALL_DONE" for r in data.order_lists):
        raise errors.duplicate_order()
    asset, amount = locked_funds(symbol, side, quantity, max(above_at, below_at))
    balance = data.balances.setdefault(asset, BalanceRecord(free=ZERO))
    if balance.free < amount:
        raise errors.insufficient_balance()
    balance.free -= amount
    balance.locked += amount
    record = OrderListRecord(order_list_id=data.next_order_list_id, symbol=symbol.symbol,
                             list_client_order_id=list_id, list_status_type="EXEC_STARTED",
                             list_order_status="EXECUTING", order_ids=[], transaction_time=now_ms,
                             locked_asset=asset, locked_amount=amount)
    data.next_order_list_id += 1
    for kind, price, stop, client_id in (above, below):
        order = OrderRecord(
            order_id=data.next_order_id, symbol=symbol.symbol, client_order_id=client_id or _generated_client_id(),
            side=side, type=kind, time_in_force="GTC" if kind != "LIMIT_MAKER" else None,
            price=price or ZERO, orig_qty=quantity, executed_qty=ZERO, cummulative_quote_qty=ZERO,
            orig_quote_order_qty=ZERO, status="NEW", time_ms=now_ms, update_ms=now_ms, key_name=key.name,
            received_at=received_at, stop_price=stop or ZERO, order_list_id=record.order_list_id)
        data.next_order_id += 1
        data.orders.append(order)
        record.order_ids.append(order.order_id)
    data.order_lists.append(record)
    session.dirty = True
    return _list_view(session, record, reports=True)


def _legs(session: Session, record: OrderListRecord) -> list[OrderRecord]:
    return [o for o in session.data.orders if o.order_id in record.order_ids]


def _list_view(session: Session, record: OrderListRecord, reports: bool = False) -> dict[str, Any]:
    legs = _legs(session, record)
    view: dict[str, Any] = {
        "orderListId": record.order_list_id, "contingencyType": "OCO",
        "listStatusType": record.list_status_type, "listOrderStatus": record.list_order_status,
        "listClientOrderId": record.list_client_order_id, "transactionTime": record.transaction_time,
        "symbol": record.symbol,
        "orders": [{"symbol": o.symbol, "orderId": o.order_id, "clientOrderId": o.client_order_id} for o in legs],
    }
    if reports:
        view["orderReports"] = [{**views.order_result(o), "stopPrice": views.amount(o.stop_price)} for o in legs]
    return view


def _find_list(session: Session, list_id: int | None, client_id: str | None,
               symbol: str | None = None) -> OrderListRecord | None:
    for record in reversed(session.data.order_lists):
        if (list_id is None or record.order_list_id == list_id) \
                and (client_id is None or record.list_client_order_id == client_id) \
                and (symbol is None or record.symbol == symbol):
            return record
    return None


def query_list(session: Session, params: Mapping[str, str]) -> dict[str, Any]:
    """GET /api/v3/orderList by orderListId or origClientOrderId (the list's client id)."""
    reject_unknown(params, QUERY_LIST_PARAMS)
    list_id, client_id = optional_int(params, "orderListId"), optional(params, "origClientOrderId")
    if list_id is None and client_id is None:
        raise errors.one_of_mandatory("orderListId", "origClientOrderId")
    record = _find_list(session, list_id, client_id)
    if record is None:
        raise ApiErrorNoList()
    return _list_view(session, record)


def ApiErrorNoList() -> errors.ApiError:  # noqa: N802 - reads like the error it builds
    """An unknown order list: -2013 (NO_SUCH_ORDER), "Order list does not exist."."""
    return errors.ApiError(-2013, "Order list does not exist.")


def cancel_list(session: Session, config: SandboxConfig, params: Mapping[str, str], now_ms: int) -> dict[str, Any]:
    """DELETE /api/v3/orderList: cancel both legs of an executing list; its funds go back to free.
    Unknown or already done: -2011 "Unknown order list sent."."""
    reject_unknown(params, CANCEL_LIST_PARAMS)
    symbol = required(params, "symbol")
    if config.find_symbol(symbol) is None:
        raise errors.bad_symbol()
    list_id, client_id = optional_int(params, "orderListId"), optional(params, "listClientOrderId")
    if list_id is None and client_id is None:
        raise errors.one_of_mandatory("orderListId", "listClientOrderId")
    record = _find_list(session, list_id, client_id, symbol)
    if record is None or record.list_status_type == "ALL_DONE":
        raise errors.ApiError(-2011, "Unknown order list sent.")
    for leg in _legs(session, record):
        leg.status, leg.update_ms = "CANCELED", now_ms
    _end_list(session, record, now_ms, spent=ZERO)
    view = _list_view(session, record, reports=True)
    view["listStatusType"] = "ALL_DONE"
    return view


def _end_list(session: Session, record: OrderListRecord, now_ms: int, spent: Decimal) -> None:
    """The list is done: what it locked, less what the filled leg spent, goes back to free."""
    balance = session.data.balances.setdefault(record.locked_asset, BalanceRecord(free=ZERO))
    balance.locked -= record.locked_amount
    balance.free += record.locked_amount - spent
    record.list_status_type, record.list_order_status = "ALL_DONE", "ALL_DONE"
    record.transaction_time = now_ms
    session.dirty = True


def _fill(session: Session, symbol: SymbolSettings, order: OrderRecord, price: Decimal, now_ms: int) -> Decimal:
    """Fill `order` in full at `price`; credit what it buys or sells; return what it spent of
    its own locked asset (base for a SELL, quote for a BUY)."""
    data = session.data
    quantity = order.orig_qty - order.executed_qty
    cost = quantity * price
    order.executed_qty += quantity
    order.cummulative_quote_qty += cost
    order.status, order.update_ms = "FILLED", now_ms
    received = symbol.base_asset if order.side == "BUY" else symbol.quote_asset
    order.fills.append(FillRecord(price=price, qty=quantity, commission=ZERO, commission_asset=received,
                                  trade_id=data.next_trade_id))
    data.next_trade_id += 1
    gained = quantity if order.side == "BUY" else cost
    data.balances.setdefault(received, BalanceRecord(free=ZERO)).free += gained
    session.dirty = True
    return cost if order.side == "BUY" else quantity


def _leg_acts(order: OrderRecord, price: Decimal) -> bool:
    if order.type in STOP_LEG or order.type in ("TAKE_PROFIT", "TAKE_PROFIT_LIMIT"):
        up = (order.type in STOP_LEG) == (order.side == "BUY")
        return price >= order.stop_price if up else price <= order.stop_price
    return price >= order.price if order.side == "SELL" else price <= order.price


def move_price(session: Session, symbol: SymbolSettings, price: Decimal, now_ms: int) -> None:
    """The price is now `price`: fill what it crossed (resting LIMIT orders, OCO legs)."""
    for order in [o for o in session.data.orders if o.symbol == symbol.symbol and o.status in OPEN_STATUSES
                  and o.order_list_id == -1 and o.type == "LIMIT"]:
        if (order.side == "BUY" and price <= order.price) or (order.side == "SELL" and price >= order.price):
            remaining = order.orig_qty - order.executed_qty
            asset, locked = locked_funds(symbol, order.side, remaining, order.price)
            spent = _fill(session, symbol, order, order.price, now_ms)
            balance = session.data.balances.setdefault(asset, BalanceRecord(free=ZERO))
            balance.locked -= locked
            balance.free += locked - spent
    for record in session.data.order_lists:
        if record.symbol != symbol.symbol or record.list_status_type == "ALL_DONE":
            continue
        legs = _legs(session, record)
        acting = next((leg for leg in legs if leg.status in OPEN_STATUSES and _leg_acts(leg, price)), None)
        if acting is None:
            continue
        at = acting.price if acting.type == "LIMIT_MAKER" else price
        spent = _fill(session, symbol, acting, at, now_ms)
        for other in legs:
            if other is not acting:
                other.status, other.update_ms = "EXPIRED", now_ms
        _end_list(session, record, now_ms, spent)
