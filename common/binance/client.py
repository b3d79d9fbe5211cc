"""The Binance REST client both bots use: one `requests.Session`, one call per method.

What this module adds to the pure parts beside it (signing, errors, models, endpoints):

- GET requests send the signed `totalParams` as the query string; POST requests send it as
  a form-encoded body, so that no URL we could ever log carries a signature of a
  state-changing request. Redirects are never followed (the key header must not travel).
- The only retry inside the client is after -1021 (timestamp outside recvWindow): the
  clock offset is measured again and that one request is signed and sent once more.
  Nothing below retries either (`max_retries=0`): a retried POST could execute twice.

Threads: every call takes the client's lock for the whole exchange (including the
-1021 resync), so a client may be shared, but calls through one client are serialised.
Give each thread that must not wait behind another (the executor, the poller) its own
client; `requests.Session` itself is not documented as thread-safe.

The API secret is kept only inside its signer (an HMAC object, or an Ed25519 private key
object): it is no attribute, no repr, no log field and no exception text. The API key appears at most as `mask_key(key)`; both are
registered with `common.logs` so a stray copy is scrubbed from any log line.
"""

from __future__ import annotations

import threading
from decimal import Decimal
from typing import Any, Sequence, TypeVar
from urllib.parse import urlsplit

import msgspec
import requests
import urllib3.exceptions

from common.binance.endpoints import (ACCOUNT, API_RESTRICTIONS, COIN_CONFIG, EXCHANGE_INFO, GET_ORDER,
                                      NEW_ORDER, PING, TEST_ORDER, TICKER_PRICE, TIME, WITHDRAW_APPLY,
                                      WITHDRAW_HISTORY, Endpoint, check_history_query)
from common.binance.endpoints import CANCEL_ORDER, CANCEL_ORDER_LIST, GET_ORDER_LIST, MY_TRADES, NEW_OCO
from common.binance.endpoints import FUNDING_ASSETS, WALLET_TYPES, WITHDRAW_ADDRESS_LIST, WITHDRAW_QUOTA
from common.binance.endpoints import LOCAL_WITHDRAW_APPLY, LOCAL_WITHDRAW_HISTORY, QUESTIONNAIRE_REQUIREMENTS
from common.binance.errors import (BadResponse, ClockSkewError, ExchangeError, OutcomeUnknown,
                                   WithdrawRefused, classify_error, error_body, safe_text, transport_error)
from common.binance.models import (Account, ApiRestrictions, CoinConfig, ExchangeInfo, OrderResult,
                                   ServerTime, TickerPrice, WithdrawApplied, WithdrawRecord, dec_hook,
                                   format_amount)
from common.binance.models import AccountTrade, FundingAsset, OrderListResult, WithdrawAddress, WithdrawQuota
from common.binance.models import LocalWithdrawApplied, LocalWithdrawRecord, QuestionnaireRequirements
from common.binance.signing import HmacSigner, Params, Signer, encode_params, sign_request
from common.binance.timing import MAX_RECV_WINDOW_MS, offset_from_round_trip, signed_timestamp
from common.binance import observe  # issue 14: requests by endpoint and result
from common.binance.weights import UsedWeights
from common.clock import Clock, SystemClock
from common.logs import get_logger, mask_key, register_secret

log = get_logger("binance")

_T = TypeVar("_T")


def _validate_base_url(base_url: str) -> str:
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise ValueError("base_url must be like https://api.binance.com")
    return base_url.rstrip("/")


class BinanceClient:
    """One exchange account over one `requests.Session`; see the module docstring."""

    def __init__(self, base_url: str, api_key: str, api_secret: "str | Signer", *,
                 recv_window_ms: int = 5000, connect_timeout: float = 3.05,
                 read_timeout: float = 10.0, clock: Clock | None = None,
                 session: requests.Session | None = None) -> None:
        if not api_key or not api_secret:
            raise ValueError("api_key and api_secret (an HMAC secret or a Signer) are required")
        if not isinstance(recv_window_ms, int) or not 0 < recv_window_ms <= MAX_RECV_WINDOW_MS:
            raise ValueError(f"recv_window_ms must be 1..{MAX_RECV_WINDOW_MS}")
        if connect_timeout <= 0 or read_timeout <= 0:
            raise ValueError("timeouts must be positive")
        register_secret(api_key)
        if isinstance(api_secret, str):
            register_secret(api_secret)
        self.base_url = _validate_base_url(base_url)
        self.recv_window_ms = recv_window_ms
        self.timeout = (float(connect_timeout), float(read_timeout))
        self._api_key = api_key
        # An HMAC secret given as text is kept only inside its signer; an Ed25519 key
        # comes already inside its own (common.binance.ed25519).
        self._signer: Signer = HmacSigner(api_secret) if isinstance(api_secret, str) else api_secret
        self._clock: Clock = clock or SystemClock()
        self._session = session or self._new_session()
        self._lock = threading.RLock()
        self._next_credentials: tuple[str, Signer] | None = None   # issue 16: set_credentials
        self._offset_ms = 0
        self._weights = UsedWeights()

    def set_credentials(self, api_key: str, api_secret: "str | Signer") -> None:
        """Issue 16: sign with another key from the next request on. Taken up at the start of
        the next call, under the request lock: a request in progress (an apply, and its one
        -1021 resend) finishes with the key it started with, and the caller never waits for it."""
        if not api_key or not api_secret:
            raise ValueError("api_key and api_secret (an HMAC secret or a Signer) are required")
        register_secret(api_key)
        if isinstance(api_secret, str):
            register_secret(api_secret)
        signer: Signer = HmacSigner(api_secret) if isinstance(api_secret, str) else api_secret
        self._next_credentials = (api_key, signer)   # one assignment: atomic

    @property
    def api_key_in_use(self) -> str:
        """The key the next request signs with."""
        pending = self._next_credentials
        return pending[0] if pending is not None else self._api_key

    @staticmethod
    def _new_session() -> requests.Session:
        session = requests.Session()
        # No retries below us either: a retried POST could execute twice.
        adapter = requests.adapters.HTTPAdapter(max_retries=0)
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        return session

    def __repr__(self) -> str:
        return f"BinanceClient(base_url={self.base_url!r}, api_key={mask_key(self._api_key)!r})"

    # ---- state the callers may read

    @property
    def key_type(self) -> str:
        """The kind of API key requests are signed with: "HMAC" or "Ed25519"."""
        return self._signer.key_type

    @property
    def time_offset_ms(self) -> int:
        """Server time minus local time, as last measured (0 before the first sync)."""
        return self._offset_ms

    @property
    def used_weights(self) -> dict[str, int]:
        """Last value seen of each used-weight / order-count header (lower-case name): a copy."""
        return self._weights.snapshot()

    def close(self) -> None:
        self._session.close()

    # ---- public endpoints

    def server_time(self) -> int:
        return self._call(TIME, [], ServerTime).server_time

    def sync_time(self) -> int:
        """Measure the offset to the server clock with /api/v3/time and keep it; return it (ms)
        (the round trip's midpoint, see timing.offset_from_round_trip)."""
        with self._lock:
            sent_at = self._clock.now_ms()
            server = self._call(TIME, [], ServerTime).server_time
            received_at = self._clock.now_ms()
            self._offset_ms = offset_from_round_trip(sent_at, server, received_at)
            log.info("binance_time_synced", offset_ms=self._offset_ms,
                     round_trip_ms=received_at - sent_at)
            return self._offset_ms

    def ping(self) -> None:
        self._call(PING, [], dict)

    def exchange_info(self, symbols: Sequence[str] | None = None) -> ExchangeInfo:
        params: list[tuple[str, str]] = []
        if symbols is not None:
            if isinstance(symbols, str) or not symbols or not all(isinstance(s, str) and s for s in symbols):
                raise ValueError("symbols must be a non-empty sequence of symbol names")
            params.append(("symbols", msgspec.json.encode(list(symbols)).decode()))
        return self._call(EXCHANGE_INFO, params, ExchangeInfo)

    def ticker_price(self, symbol: str) -> Decimal:
        """The last trade price of one symbol (GET /api/v3/ticker/price, public)."""
        _require_text(symbol=symbol)
        return Decimal(self._call(TICKER_PRICE, [("symbol", symbol)], TickerPrice).price)

    # ---- signed reads

    def account(self) -> Account:
        return self._call(ACCOUNT, [], Account)

    def api_restrictions(self) -> ApiRestrictions:
        return self._call(API_RESTRICTIONS, [], ApiRestrictions)

    def coin_config(self) -> list[CoinConfig]:
        return self._call(COIN_CONFIG, [], list[CoinConfig])

    def funding_assets(self, asset: str | None = None) -> list[FundingAsset]:
        """The Funding wallet: one asset, or every non-empty one (issue 12 item 1)."""
        params = []
        if asset is not None:
            _require_text(asset=asset)
            params.append(("asset", asset))
        return self._call(FUNDING_ASSETS, params, list[FundingAsset])

    def free_in_wallet(self, asset: str, wallet: str) -> Decimal:
        """The free balance of `asset` in the spot or the funding wallet (0 when absent)."""
        if wallet not in WALLET_TYPES:
            raise ValueError(f"wallet must be one of {sorted(WALLET_TYPES)}")
        if wallet == "funding":
            return next((row.free for row in self.funding_assets(asset) if row.asset == asset), Decimal(0))
        return next((row.free for row in self.account().balances if row.asset == asset), Decimal(0))

    def withdraw_address_list(self) -> list[WithdrawAddress]:
        """The account's withdrawal address book (issue 12); no parameters."""
        return self._call(WITHDRAW_ADDRESS_LIST, [], list[WithdrawAddress])

    def questionnaire_requirements(self) -> str:
        """The Travel Rule country code whose questionnaire withdrawals need, "NIL" for none."""
        return self._call(QUESTIONNAIRE_REQUIREMENTS, [], QuestionnaireRequirements).questionnaire_country_code

    def local_withdraw_history(self, *, withdraw_order_id: str | None = None,
                               tr_id_list: Sequence[str] | None = None, start_time: int | None = None,
                               end_time: int | None = None, limit: int | None = None,
                               offset: int | None = None) -> list[LocalWithdrawRecord]:
        """The local-entity withdrawals with these travel-rule ids (at most 45, like idList), or
        the one made with this `withdraw_order_id` (the last 7 days, as the capital history), or
        every one in a window (`startTime`/`endTime` under 90 days, `limit` <= 1000, `offset`:
        https://developers.binance.com/docs/wallet/travel-rule/withdraw-history; issue 13 item 5)."""
        check_history_query(withdraw_order_id=withdraw_order_id, id_list=tr_id_list, start_time=start_time,
                            end_time=end_time, status=None, limit=limit, offset=offset)
        params: list[tuple[str, str]] = []
        if withdraw_order_id is not None:
            params.append(("withdrawOrderId", withdraw_order_id))
        if tr_id_list is not None:
            params.append(("trId", ",".join(tr_id_list)))
        for name, value in (("startTime", start_time), ("endTime", end_time), ("offset", offset), ("limit", limit)):
            if value is not None:
                params.append((name, str(value)))
        return self._call(LOCAL_WITHDRAW_HISTORY, params, list[LocalWithdrawRecord])

    def withdrawals_between(self, *, start_time: int, end_time: int, offset: int = 0,
                            limit: int = 1000) -> list[WithdrawRecord]:
        """Every withdrawal applied in [start_time, end_time] (under 90 days), one page:
        the foreign-withdrawal watch's read (issue 13 item 5)."""
        return self.withdraw_history(start_time=start_time, end_time=end_time, offset=offset, limit=limit)

    def withdraw_quota(self) -> WithdrawQuota:
        """The account's 24-hour withdrawal quota and its use, in USD (issue 12 item 4)."""
        return self._call(WITHDRAW_QUOTA, [], WithdrawQuota)

    def get_order(self, *, symbol: str, orig_client_order_id: str) -> OrderResult:
        _require_text(symbol=symbol, orig_client_order_id=orig_client_order_id)
        params = [("symbol", symbol), ("origClientOrderId", orig_client_order_id)]
        return self._call(GET_ORDER, params, OrderResult)

    def withdraw_history(self, *, withdraw_order_id: str | None = None,
                         id_list: Sequence[str] | None = None, coin: str | None = None,
                         start_time: int | None = None, end_time: int | None = None,
                         status: int | None = None, limit: int | None = None,
                         offset: int | None = None) -> list[WithdrawRecord]:
        check_history_query(withdraw_order_id=withdraw_order_id, id_list=id_list,
                            start_time=start_time, end_time=end_time, status=status,
                            limit=limit, offset=offset)
        params: list[tuple[str, str]] = []
        optional: list[tuple[str, Any]] = [
            ("coin", coin), ("withdrawOrderId", withdraw_order_id),
            ("idList", ",".join(id_list) if id_list is not None else None),
            ("status", status), ("startTime", start_time), ("endTime", end_time),
            ("offset", offset), ("limit", limit),
        ]
        for name, value in optional:
            if value is not None:
                params.append((name, str(value)))
        return self._call(WITHDRAW_HISTORY, params, list[WithdrawRecord])

    # ---- state-changing calls

    def new_order(self, *, symbol: str, side: str, type: str, new_client_order_id: str,
                  quantity: Decimal | None = None, quote_order_qty: Decimal | None = None,
                  price: Decimal | None = None, time_in_force: str | None = None,
                  test: bool = False) -> OrderResult | None:
        """Place an order (or validate it with /order/test, returning None).

        Raises OutcomeUnknown when the order may exist: look it up by client order id.
        """
        _require_text(symbol=symbol, side=side, type=type, new_client_order_id=new_client_order_id)
        if side not in ("BUY", "SELL"):
            raise ValueError("side must be BUY or SELL")
        if (quantity is None) == (quote_order_qty is None):
            raise ValueError("give exactly one of quantity and quote_order_qty")
        params = [("symbol", symbol), ("side", side), ("type", type)]
        if time_in_force is not None:
            _require_text(time_in_force=time_in_force)
            params.append(("timeInForce", time_in_force))
        if quantity is not None:
            params.append(("quantity", format_amount(quantity, "quantity")))
        if quote_order_qty is not None:
            params.append(("quoteOrderQty", format_amount(quote_order_qty, "quote_order_qty")))
        if price is not None:
            params.append(("price", format_amount(price, "price")))
        params.append(("newClientOrderId", new_client_order_id))
        params.append(("newOrderRespType", "FULL"))
        if test:
            self._call(TEST_ORDER, params, dict)
            return None
        return self._call(NEW_ORDER, params, OrderResult)

    def cancel_order(self, *, symbol: str, orig_client_order_id: str) -> OrderResult:
        """Cancel an open order (DELETE /api/v3/order); -2011 when it is not open (any more)."""
        _require_text(symbol=symbol, orig_client_order_id=orig_client_order_id)
        return self._call(CANCEL_ORDER, [("symbol", symbol), ("origClientOrderId", orig_client_order_id)],
                          OrderResult)

    def new_oco(self, *, symbol: str, side: str, quantity: Decimal, list_client_order_id: str,
                above: Sequence[tuple[str, str]], below: Sequence[tuple[str, str]]) -> OrderListResult:
        """Place an OCO order list (POST /api/v3/orderList/oco, issue 15 item 4). `above` and
        `below` are each leg's parameters without their prefix (("type", "LIMIT_MAKER"),
        ("price", "61000"), ("clientOrderId", ...)). Raises OutcomeUnknown when the list may
        exist: look it up by `list_client_order_id` (`get_order_list`).
        https://developers.binance.com/docs/binance-spot-api-docs/rest-api/trading-endpoints#new-order-list---oco-trade
        """
        _require_text(symbol=symbol, side=side, list_client_order_id=list_client_order_id)
        params = [("symbol", symbol), ("listClientOrderId", list_client_order_id), ("side", side),
                  ("quantity", format_amount(quantity, "quantity"))]
        for prefix, leg in (("above", above), ("below", below)):
            for name, value in leg:
                _require_text(**{name: value})
                params.append((prefix + name[0].upper() + name[1:], value))
        params.append(("newOrderRespType", "RESULT"))
        return self._call(NEW_OCO, params, OrderListResult)

    def order_trades(self, *, symbol: str, order_id: int) -> list[AccountTrade]:
        """The fills of one order with their commissions (GET /api/v3/myTrades?orderId=)."""
        _require_text(symbol=symbol)
        return self._call(MY_TRADES, [("symbol", symbol), ("orderId", str(int(order_id)))], list[AccountTrade])

    def get_order_list(self, *, orig_client_order_id: str) -> OrderListResult:
        """GET /api/v3/orderList by the list's client id; OrderNotFound when there is none."""
        _require_text(orig_client_order_id=orig_client_order_id)
        return self._call(GET_ORDER_LIST, [("origClientOrderId", orig_client_order_id)], OrderListResult)

    def cancel_order_list(self, *, symbol: str, list_client_order_id: str) -> OrderListResult:
        """DELETE /api/v3/orderList: cancel both legs; -2011 when the list is not executing."""
        _require_text(symbol=symbol, list_client_order_id=list_client_order_id)
        return self._call(CANCEL_ORDER_LIST, [("symbol", symbol), ("listClientOrderId", list_client_order_id)],
                          OrderListResult)

    def withdraw_apply(self, *, coin: str, network: str, address: str, amount: Decimal,
                       withdraw_order_id: str, address_tag: str | None = None,
                       wallet_type: int | None = None) -> str:
        """Ask for a withdrawal; return the exchange's withdrawal id. `wallet_type`: 0 spot,
        1 funding (the treasury always gives it; None leaves it to the account's setting).

        Raises WithdrawRefused for the exchange's refusals, OutcomeUnknown when it may have
        been accepted (look `withdraw_order_id` up in history before anything else).
        """
        params = self._apply_params(coin=coin, network=network, address=address, amount=amount,
                                    withdraw_order_id=withdraw_order_id, address_tag=address_tag,
                                    wallet_type=wallet_type)
        return self._call(WITHDRAW_APPLY, params, WithdrawApplied).id

    @staticmethod
    def _apply_params(*, coin: str, network: str, address: str, amount: Decimal, withdraw_order_id: str,
                      address_tag: str | None, wallet_type: int | None) -> list[tuple[str, str]]:
        """The parameters both withdraw endpoints take, checked before anything is sent."""
        _require_text(coin=coin, network=network, address=address, withdraw_order_id=withdraw_order_id)
        params = [("coin", coin), ("withdrawOrderId", withdraw_order_id), ("network", network),
                  ("address", address)]
        if address_tag is not None:
            _require_text(address_tag=address_tag)
            params.append(("addressTag", address_tag))
        params.append(("amount", format_amount(amount, "amount")))
        if wallet_type is not None:
            if wallet_type not in WALLET_TYPES.values():
                raise ValueError("wallet_type must be 0 (spot) or 1 (funding)")
            params.append(("walletType", str(wallet_type)))
        return params

    def local_withdraw_apply(self, *, coin: str, network: str, address: str, amount: Decimal,
                             withdraw_order_id: str, questionnaire: str, address_tag: str | None = None,
                             wallet_type: int | None = None) -> str:
        """A withdrawal through the Travel Rule endpoint with its questionnaire (JSON text);
        return the travel-rule record id (`trId`) as text. Errors as `withdraw_apply`'s."""
        _require_text(questionnaire=questionnaire)
        params = self._apply_params(coin=coin, network=network, address=address, amount=amount,
                                    withdraw_order_id=withdraw_order_id, address_tag=address_tag,
                                    wallet_type=wallet_type)
        params.append(("questionnaire", questionnaire))
        applied = self._call(LOCAL_WITHDRAW_APPLY, params, LocalWithdrawApplied)
        if applied.refused:  # answered, and not taken: nothing moved
            raise WithdrawRefused(f"travel-rule withdrawal not accepted: {applied.info}",
                                  endpoint=LOCAL_WITHDRAW_APPLY.label)
        return str(applied.tr_id)

    # ---- the one request path

    def _call(self, endpoint: Endpoint, params: Params, reply_type: type[_T]) -> _T:
        with self._lock:
            if self._next_credentials is not None:
                (self._api_key, self._signer), self._next_credentials = self._next_credentials, None
            if not endpoint.signed:
                return self._exchange(endpoint, params, reply_type)
            try:
                return self._exchange(endpoint, params, reply_type)
            except ClockSkewError as first:
                # -1021 is Binance refusing the timestamp before processing the request
                # (see "Timing security": out-of-window requests are rejected, never
                # forwarded to the engine), so even an order or a withdrawal can be sent
                # again, freshly timestamped and signed, exactly once.
                log.warning("binance_clock_skew", endpoint=endpoint.label, offset_ms=self._offset_ms,
                            binance_code=first.binance_code)
                self.sync_time()
                return self._exchange(endpoint, params, reply_type)

    def _exchange(self, endpoint: Endpoint, params: Params, reply_type: type[_T]) -> _T:
        """One HTTP request and its reply, typed. Never retried."""
        headers: dict[str, str] = {}
        if endpoint.signed:
            total_params = sign_request(
                self._signer, params, recv_window_ms=self.recv_window_ms,
                timestamp_ms=signed_timestamp(self._clock.now_ms(), self._offset_ms))
            headers["X-MBX-APIKEY"] = self._api_key
        else:
            total_params = encode_params(params)
        url = self.base_url + endpoint.path
        body: bytes | None = None
        if endpoint.method in ("GET", "DELETE"):   # Binance reads a DELETE's parameters from the query
            if total_params:
                url += "?" + total_params
        else:
            body = total_params.encode("ascii")
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        started = self._clock.monotonic()
        try:
            response = self._session.request(endpoint.method, url, data=body, headers=headers,
                                             timeout=self.timeout, allow_redirects=False)
        except (requests.RequestException, urllib3.exceptions.HTTPError) as exc:
            error = transport_error(endpoint, exc)
            observe.notify(endpoint.label, error.code, {})
            log.warning("binance_request_failed", endpoint=endpoint.label, error=error.code,
                        detail=error.message)
            raise error from None
        self._weights.record(response.headers)
        status = response.status_code
        log.debug("binance_request", endpoint=endpoint.label, http_status=status,
                  elapsed_ms=int((self._clock.monotonic() - started) * 1000))
        if 200 <= status < 300:
            observe.notify(endpoint.label, "ok", self._weights.snapshot())
            return self._decode(endpoint, status, response.content, reply_type)
        binance_code, message = error_body(response.content)
        error = classify_error(endpoint, status, binance_code, message,
                               response.headers.get("Retry-After"))
        observe.notify(endpoint.label, error.code, self._weights.snapshot())
        log.warning("binance_error", endpoint=endpoint.label, error=error.code, http_status=status,
                    binance_code=binance_code, detail=error.message)
        raise error

    def _decode(self, endpoint: Endpoint, status: int, content: bytes, reply_type: type[_T]) -> _T:
        try:
            return msgspec.json.decode(content, type=reply_type, dec_hook=dec_hook)
        except (msgspec.DecodeError, ValueError, TypeError, ArithmeticError, RecursionError) as exc:
            detail = f"reply body is not the expected shape ({safe_text(str(exc))})"
            context = dict(http_status=status, endpoint=endpoint.label)
            error: ExchangeError
            if endpoint.state_changing:
                error = OutcomeUnknown(f"{detail}; the request may have been executed", **context)
            else:
                error = BadResponse(detail, **context)
            log.warning("binance_bad_reply", endpoint=endpoint.label, error=error.code,
                        http_status=status, detail=error.message)
            raise error from None


def _require_text(**values: Any) -> None:
    for name, value in values.items():
        if not isinstance(value, str) or not value:
            raise ValueError(f"{name} must be a non-empty string")
