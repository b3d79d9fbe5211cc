"""The exchange's request pipeline: route, faults, weight, authentication, handler.

`SandboxApp.handle` takes one HTTP request as plain values and returns a `Reply`; the
HTTP server around it only reads and writes bytes. One lock (the store's) is held for
the whole of an API call, so calls are serialised and every change is saved before its
reply goes out; injected latency is slept outside the lock.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from sandbox import address_book, errors, order_lists, trading, travel_rule, views, wallet, withdraw_quota
from sandbox.admin import Admin
from sandbox.auth import Permission, SignedRequest, authenticate
from sandbox.config import KeySettings, SandboxConfig
from sandbox.faults import AFTER_KINDS, FaultPlan, FaultSpec
from sandbox.keys import find_effective
from sandbox.params import optional, parse_params, reject_unknown, required
from sandbox.replies import Reply, dropped, error_reply, html_error, json_reply
from sandbox.state import Session, Store
from sandbox.weights import SECOND_MS, Cost, WeightMeter


def wall_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass
class Call:
    """What a route handler gets: the locked state, the parameters, the caller."""
    session: Session
    config: SandboxConfig
    params: Mapping[str, str]
    key: KeySettings | None
    now_ms: int
    received_at: float


@dataclass(frozen=True)
class Route:
    permission: Permission | None     # None: public, unsigned
    cost: Cost
    handler: Callable[[Call], Any]
    counts_order: bool = False
    # Where Binance's weight depends on the parameters (order/test with
    # computeCommissionRates=true weighs 20, not 1), the cost for these params.
    cost_for: Callable[[Mapping[str, str]], Cost] | None = None


EXCHANGE_INFO_PARAMS = frozenset({"symbol", "symbols", "permissions", "showPermissionSets", "symbolStatus"})
SIGNED_ONLY = frozenset({"recvWindow", "timestamp", "signature"})


def _exchange_info(call: Call) -> dict[str, Any]:
    reject_unknown(call.params, EXCHANGE_INFO_PARAMS)
    one, many = optional(call.params, "symbol"), optional(call.params, "symbols")
    if one is not None and many is not None:
        raise errors.ApiError(-1128, "Combination of optional parameters invalid.")
    wanted = [one] if one is not None else _symbol_list(many) if many is not None else None
    if wanted is None:
        return views.exchange_info(call.config.symbol, call.now_ms)
    symbols = []
    for name in wanted:
        symbol = call.config.find_symbol(name)
        if symbol is None:
            raise errors.bad_symbol()
        symbols.append(symbol)
    return views.exchange_info(symbols, call.now_ms)


def _ticker_price(call: Call) -> Any:
    """GET /api/v3/ticker/price: one symbol's last price, or every symbol's."""
    reject_unknown(call.params, frozenset({"symbol"}))
    one = optional(call.params, "symbol")
    if one is None:
        return [{"symbol": s.symbol, "price": format(trading.market_price(call.session, s), "f")}
                for s in call.config.symbol]
    symbol = call.config.find_symbol(one)
    if symbol is None:
        raise errors.bad_symbol()
    return {"symbol": symbol.symbol, "price": format(trading.market_price(call.session, symbol), "f")}


def _avg_price(call: Call) -> Any:
    """GET /api/v3/avgPrice: the 5-minute average price; the sandbox's price is its mark price.

    Shape and weight 2 from Binance's "Current average price":
    https://developers.binance.com/docs/binance-spot-api-docs/rest-api/market-data-endpoints#current-average-price
    """
    reject_unknown(call.params, frozenset({"symbol"}))
    symbol = call.config.find_symbol(required(call.params, "symbol"))
    if symbol is None:
        raise errors.bad_symbol()
    return {"mins": 5, "price": format(trading.market_price(call.session, symbol), "f"),
            "closeTime": call.now_ms}


def _symbol_list(text: str) -> list[str]:
    try:
        names = json.loads(text)
    except ValueError:
        raise errors.invalid_parameter("symbols") from None
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        raise errors.invalid_parameter("symbols")
    return names


def _test_order_cost(params: Mapping[str, str]) -> Cost:
    """Weight 1, or 20 with computeCommissionRates=true ("Test new order", Weight:
    https://developers.binance.com/docs/binance-spot-api-docs/rest-api/trading-endpoints#test-new-order-trade)."""
    return Cost("ip", 20 if params.get("computeCommissionRates") == "true" else 1)


def _open_orders_cost(params: Mapping[str, str]) -> Cost:
    """Weight 6 for one symbol, 80 for all ("Current open orders", Weight)."""
    return Cost("ip", 6 if "symbol" in params else 80)


def _signed_reader(view: Callable[[Call], Any]) -> Callable[[Call], Any]:
    def handler(call: Call) -> Any:
        reject_unknown(call.params, SIGNED_ONLY)
        return view(call)
    return handler


ROUTES: dict[tuple[str, str], Route] = {
    ("GET", "/api/v3/ping"): Route(None, Cost("ip", 1), lambda call: {}),
    ("GET", "/api/v3/time"): Route(None, Cost("ip", 1), lambda call: {"serverTime": call.now_ms}),
    ("GET", "/api/v3/exchangeInfo"): Route(None, Cost("ip", 20), _exchange_info),
    ("GET", "/api/v3/ticker/price"): Route(None, Cost("ip", 2), _ticker_price),
    ("GET", "/api/v3/avgPrice"): Route(None, Cost("ip", 2), _avg_price),
    ("GET", "/api/v3/account"): Route("read", Cost("ip", 20), lambda call: trading.account(
        call.session, call.config, call.params, call.now_ms)),
    ("POST", "/api/v3/order"): Route("trade", Cost("ip", 1), lambda call: trading.place_order(
        call.session, call.config, call.key, call.params, call.now_ms, call.received_at, test=False),
        counts_order=True),
    ("POST", "/api/v3/order/test"): Route("trade", Cost("ip", 1), lambda call: trading.place_order(
        call.session, call.config, call.key, call.params, call.now_ms, call.received_at, test=True),
        cost_for=_test_order_cost),
    ("GET", "/api/v3/order"): Route("read", Cost("ip", 4), lambda call: trading.query_order(
        call.session, call.config, call.params)),
    ("DELETE", "/api/v3/order"): Route("trade", Cost("ip", 1), lambda call: trading.cancel_order(
        call.session, call.config, call.params, call.now_ms)),
    ("GET", "/api/v3/openOrders"): Route("read", Cost("ip", 80), lambda call: trading.open_orders(
        call.session, call.config, call.params), cost_for=_open_orders_cost),
    ("GET", "/api/v3/myTrades"): Route("read", Cost("ip", 20), lambda call: trading.my_trades(
        call.session, call.config, call.params)),
    # Issue 15 item 4, order lists (sandbox/order_lists.py): weights 1, 4, 1 on Binance's pages.
    ("POST", "/api/v3/orderList/oco"): Route("trade", Cost("ip", 1), lambda call: order_lists.place_oco(
        call.session, call.config, call.key, call.params, call.now_ms, call.received_at), counts_order=True),
    ("GET", "/api/v3/orderList"): Route("read", Cost("ip", 4), lambda call: order_lists.query_list(
        call.session, call.params)),
    ("DELETE", "/api/v3/orderList"): Route("trade", Cost("ip", 1), lambda call: order_lists.cancel_list(
        call.session, call.config, call.params, call.now_ms)),
    ("GET", "/sapi/v1/margin/allPairs"): Route(None, Cost("sapi_ip", 1), lambda call: views.margin_pairs(
        call.config.symbol)),
    # Isolated margin pairs (USER_DATA, Weight(IP): 10): none here; ccxt's load_markets()
    # reads it whenever it has a key.
    ("GET", "/sapi/v1/margin/isolated/allPairs"): Route("read", Cost("sapi_ip", 10), _signed_reader(
        lambda call: [])),
    ("GET", "/sapi/v1/account/apiRestrictions"): Route("read", Cost("sapi_ip", 1), _signed_reader(
        lambda call: views.api_restrictions(call.key, call.now_ms))),
    ("GET", "/sapi/v1/capital/config/getall"): Route("read", Cost("sapi_ip", 10), _signed_reader(
        lambda call: views.coin_config(call.config.coin, call.session.data.balances))),
    ("POST", "/sapi/v1/capital/withdraw/apply"): Route("withdraw", Cost("sapi_uid", 900), lambda call: wallet.apply(
        call.session, call.config, call.key, call.params, call.now_ms, call.received_at)),
    ("GET", "/sapi/v1/capital/withdraw/history"): Route("read", Cost("sapi_uid", 18000, SECOND_MS), lambda call: wallet.history(
        call.session, call.params, call.now_ms)),
    # https://developers.binance.com/docs/wallet/asset/funding-wallet (Weight(IP): 1)
    ("POST", "/sapi/v1/asset/get-funding-asset"): Route("read", Cost("sapi_ip", 1), lambda call: wallet.funding_assets(
        call.session, call.params)),
    # Issue 12 item 5, the Travel Rule (sandbox/travel_rule.py): Weight(IP) 1, (UID) 600, (IP) 1.
    ("GET", "/sapi/v1/localentity/questionnaire-requirements"): Route("read", Cost("sapi_ip", 1), _signed_reader(
        lambda call: travel_rule.requirements(call.config))),
    ("POST", "/sapi/v1/localentity/withdraw/apply"): Route("withdraw", Cost("sapi_uid", 600), lambda call: travel_rule.apply(
        call.session, call.config, call.key, call.params, call.now_ms, call.received_at)),
    ("GET", "/sapi/v1/localentity/withdraw/history"): Route("read", Cost("sapi_ip", 1), lambda call: travel_rule.history(
        call.session, call.params, call.now_ms)),
    ("GET", "/sapi/v1/capital/withdraw/address/list"): Route("read", Cost("sapi_ip", 10), _signed_reader(
        lambda call: address_book.view(call.config, call.session))),
    # Issue 12 item 4, IP weight 10: https://developers.binance.com/docs/wallet/capital/fetch-withdraw-quota
    ("GET", "/sapi/v1/capital/withdraw/quota"): Route("read", Cost("sapi_ip", 10), _signed_reader(
        lambda call: withdraw_quota.view(call.config, call.session, call.now_ms))),
}


class SandboxApp:
    def __init__(self, config: SandboxConfig, store: Store,
                 clock: Callable[[], int] = wall_ms, sleep: Callable[[float], None] = time.sleep) -> None:
        self.config = config
        self.store = store
        self.faults = FaultPlan()
        self.meter = WeightMeter(enforce=config.exchange.enforce_rate_limits)
        self._clock = clock
        self._sleep = sleep
        self.admin = Admin(config, store, self.faults, self.now_ms)

    def now_ms(self, session: Session) -> int:
        """The sandbox's clock: wall time plus the admin offset."""
        return self._clock() + session.data.clock_offset_ms

    def handle(self, method: str, path: str, raw_query: bytes, raw_body: bytes,
               api_key: str | None, client_ip: str) -> Reply:
        received_at = time.time() * 1000
        if path == "/sandbox" or path.startswith("/sandbox/"):
            return self.admin.handle(method, path, raw_body, client_ip)
        route = ROUTES.get((method, path))
        if route is None:
            known = any(p == path for _, p in ROUTES)
            return error_reply(errors.ApiError(-1020, "This operation is not supported.",
                                               405 if known else 404))
        taken = self.faults.take(method, path)
        if taken.latency_seconds:
            self._sleep(taken.latency_seconds)
        fault = taken.fault
        if fault is not None and fault.kind not in AFTER_KINDS:
            return _fault_before(fault)
        reply = self._serve(route, method, path, raw_query, raw_body, api_key, client_ip, received_at)
        if fault is not None:
            if fault.kind == "latency_after":
                self._sleep(fault.seconds)
                return reply
            if fault.kind == "busy_after":
                return error_reply(errors.server_overloaded())
            return dropped() if fault.kind == "drop_after" else html_error(fault.http_status())
        return reply

    def _serve(self, route: Route, method: str, path: str, raw_query: bytes, raw_body: bytes,
               api_key: str | None, client_ip: str, received_at: float) -> Reply:
        headers: dict[str, str] = {}
        try:
            with self.store.session() as session:
                now = self.now_ms(session)
                body = raw_body if method == "POST" else b""
                # A request with unreadable params still costs the route's weight.
                try:
                    params = parse_params(raw_query, body)
                except errors.ApiError:
                    headers.update(self.meter.charge(route.cost, now, path))
                    raise
                cost = route.cost if route.cost_for is None else route.cost_for(params)
                headers.update(self.meter.charge(cost, now, path))
                wallet.settle(session, now)
                key = None
                if route.permission is not None:
                    request = SignedRequest(api_key, params, raw_query, body, client_ip)
                    overrides = session.data.key_overrides
                    key = authenticate(request, lambda k: find_effective(self.config, overrides, k),
                                       route.permission, now)
                result = route.handler(Call(session, self.config, params, key, now, received_at))
                if route.counts_order:
                    headers.update(self.meter.count_order(now))
            return json_reply(result, 200, headers)
        except errors.ApiError as error:
            return error_reply(error, headers)


def _fault_before(fault: FaultSpec) -> Reply:
    if fault.kind == "5xx_before":
        return html_error(fault.http_status())
    if fault.kind == "drop_before":
        return dropped()
    if fault.kind in ("429", "418"):
        status = int(fault.kind)
        message = ("Way too much request weight used; IP banned until later. Please use WebSocket "
                   "Streams for live updates to avoid bans.") if status == 418 else \
            ("Too much request weight used; current limit is 6000 request weight per 1 MINUTE. "
             "Please use WebSocket Streams for live updates to avoid polling the API.")
        return error_reply(errors.too_many_requests(message, status, fault.retry_after))
    if fault.kind == "-1021":
        return error_reply(errors.timestamp_outside_window())
    return error_reply(errors.rejected_key())
