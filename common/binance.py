"""The Binance REST client both bots use: signed requests, typed errors, Decimal amounts.

What the exchange documents, and what this module does about it:

- SIGNED requests carry `timestamp` (local clock + the server offset measured with
  `/api/v3/time`), `recvWindow`, and last a `signature`: the hex HMAC-SHA256, keyed with
  the API secret, of `totalParams` (query string + request body) exactly as sent. Values
  are percent-encoded before signing (RFC 3986: only `A-Z a-z 0-9 - _ . ~` stay as they
  are), so the signed bytes and the sent bytes are one and the same string. GET requests
  send it as the query string; POST requests send it as a form-encoded body, so that no
  URL we could ever log carries a signature of a state-changing request.
- A 5XX reply means the execution status is UNKNOWN. A request that changes state
  (`new_order`, `withdraw_apply`) whose outcome we cannot read is `OutcomeUnknown`, and
  is never retried here: the caller reconciles first (order look-up by client id, or
  withdraw history by `withdrawOrderId`). The same failure on a read is
  `ExchangeUnavailable` (or `BadResponse` for a 2XX body of the wrong shape).
- The only retry inside the client is after -1021 (timestamp outside recvWindow): the
  clock offset is measured again and that one request is signed and sent once more.
- Amounts go out as plain decimal strings (`format(d, "f")`, never an exponent) and come
  back as `Decimal`s decoded only from JSON strings (a JSON number for money is refused).

Threads: every call takes the client's lock for the whole exchange (including the
-1021 resync), so a client may be shared, but calls through one client are serialised.
Give each thread that must not wait behind another (the executor, the poller) its own
client; `requests.Session` itself is not documented as thread-safe.

The API secret is kept only inside an HMAC object: it is no attribute, no repr, no log
field and no exception text. The API key appears at most as `mask_key(key)`; both are
registered with `common.logs` so a stray copy is scrubbed from any log line.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Mapping, Sequence, TypeVar
from urllib.parse import quote, urlsplit

import msgspec
import requests
import urllib3.exceptions
from msgspec import Meta

from common.clock import Clock, SystemClock
from common.logs import get_logger, mask_key, register_secret, scrub

log = get_logger("binance")

MAX_RECV_WINDOW_MS = 60_000
MAX_ID_LIST = 45
HISTORY_ORDER_ID_WINDOW_MS = 7 * 24 * 3600 * 1000      # must be strictly less than this
HISTORY_MAX_WINDOW_MS = 90 * 24 * 3600 * 1000          # must be strictly less than this
DEFAULT_RETRY_AFTER_429 = 60.0     # Binance omits Retry-After on some 429s (order count)
DEFAULT_RETRY_AFTER_418 = 120.0    # bans start at 2 minutes
MAX_MESSAGE_CHARS = 300

WEIGHT_HEADER_PREFIXES = (
    "x-mbx-used-weight",       # /api: IP weight, e.g. x-mbx-used-weight-1m
    "x-sapi-used-ip-weight",   # /sapi endpoints limited by IP
    "x-sapi-used-uid-weight",  # /sapi endpoints limited by account (withdraw apply/history)
    "x-mbx-order-count",       # orders placed per interval
)

# Binance codes with a fixed meaning for us (errors.md, wallet error-code).
CLOCK_SKEW_CODES = frozenset({-1021})
AUTH_CODES = frozenset({-1002, -1022, -2014, -2015})
RATE_LIMIT_CODES = frozenset({-1003, -1015, -4005})
# "Execution status unknown" per the error list: for a state-changing call these say
# nothing about whether it happened. -1000/-1001 (internal errors) and -3044 (SAPI
# "System busy.") do not say either way, so we assume nothing.
STATUS_UNKNOWN_CODES = frozenset({-1000, -1001, -1006, -1007, -3044})
# "Server is busy, please wait and try again" (-1004), "server overloaded" (-1008), "this
# service is no longer available" (-1016). Binance does not document these as "not
# executed", so for a state-changing call they are unknown outcomes like a 5XX (issue 10,
# defect 1: a withdrawal re-queued on -1008 without a look-up could go out twice); on a
# read nothing changed either way, so the read is simply unavailable.
BUSY_CODES = frozenset({-1004, -1008, -1016})
ORDER_REJECTED_CODES = frozenset({-1013, -2010})
ORDER_NOT_FOUND_CODES = frozenset({-2013})
# The withdraw refusals DESIGN section 4 names; any other -4xxx from apply is refused too.
WITHDRAW_REFUSAL_CODES = frozenset({-4019, -4021, -4022, -4023, -4026, -4028, -4033, -4035, -4036})


# --------------------------------------------------------------------------- errors

class ExchangeError(Exception):
    """Base of every error this client raises; `code` is ours and stable."""

    code = "exchange_error"

    def __init__(self, message: str, *, binance_code: int | None = None,
                 http_status: int | None = None, endpoint: str | None = None) -> None:
        self.message = _safe_text(message)
        self.binance_code = binance_code
        self.http_status = http_status
        self.endpoint = endpoint
        super().__init__(self.message)

    def __str__(self) -> str:
        parts = [f"[{self.code}] {self.message}"]
        if self.endpoint:
            parts.append(f"endpoint={self.endpoint}")
        if self.binance_code is not None:
            parts.append(f"binance_code={self.binance_code}")
        if self.http_status is not None:
            parts.append(f"http_status={self.http_status}")
        return " ".join(parts)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r})"


class ClockSkewError(ExchangeError):
    """-1021 twice: the timestamp was outside recvWindow even after a resync (not executed)."""

    code = "clock_skew"


class AuthError(ExchangeError):
    """Bad signature, key format, or key/IP/permission (-1022, -2014, -2015, -1002, 401)."""

    code = "auth"


class RateLimitError(ExchangeError):
    """429, 418 (IP ban), -1003, -1015 or -4005: back off for `retry_after` seconds."""

    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: float, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after

    def __str__(self) -> str:
        return f"{super().__str__()} retry_after={self.retry_after:g}s"


class WithdrawRefused(ExchangeError):
    """The exchange refused a withdrawal (-4026, -4022, -4021, ... any -4xxx from apply)."""

    code = "withdraw_refused"


class OutcomeUnknown(ExchangeError):
    """A state-changing request may or may not have happened: reconcile before retrying."""

    code = "outcome_unknown"


class ExchangeUnavailable(ExchangeError):
    """The exchange could not be reached or answered with a server error; nothing changed
    (a read, or a state-changing request that provably never left this host)."""

    code = "exchange_unavailable"


class BadResponse(ExchangeError):
    """A 2XX reply to a read whose body is not the documented shape."""

    code = "bad_response"


class ExchangeRequestError(ExchangeError):
    """Any other error the exchange answered with (4XX, a Binance error code)."""

    code = "request_error"


class OrderRejected(ExchangeRequestError):
    """The order was refused before execution (-2010 NEW_ORDER_REJECTED, -1013 filter failure)."""

    code = "order_rejected"


class OrderNotFound(ExchangeRequestError):
    """-2013: no such order."""

    code = "order_not_found"


def _safe_text(text: str) -> str:
    """Exception text: registered secrets scrubbed, one line, bounded (HTML pages are long)."""
    flat = " ".join(str(text).split())
    if len(flat) > MAX_MESSAGE_CHARS:
        flat = flat[:MAX_MESSAGE_CHARS] + "..."
    return scrub(flat)


# --------------------------------------------------------------------------- amounts

class Amount(Decimal):
    """A Decimal that may only be decoded from a JSON string (`"8.91000000"`), never a number.

    Arithmetic on it gives plain `Decimal`s; it exists so msgspec hands us the raw value.
    """

    __slots__ = ()


_AMOUNT_RE = re.compile(r"^[0-9]+(\.[0-9]+)?\Z")


def _dec_hook(tp: type, obj: Any) -> Any:
    if tp is Amount:
        if not isinstance(obj, str):
            raise TypeError("an amount must be a decimal string, not a JSON number")
        if not _AMOUNT_RE.match(obj):
            raise ValueError("an amount must be a plain non-negative decimal string")
        try:
            return Amount(obj)
        except InvalidOperation:
            raise ValueError("an amount must be a plain non-negative decimal string") from None
    raise NotImplementedError(f"no decoder for {tp!r}")


def format_amount(value: Decimal, name: str) -> str:
    """An outgoing amount: a positive finite Decimal as a plain string (`1E+2` -> `100`)."""
    if not isinstance(value, Decimal):
        raise TypeError(f"{name} must be a Decimal, not {type(value).__name__}")
    if not value.is_finite() or value <= 0:
        raise ValueError(f"{name} must be a positive finite Decimal")
    return format(value, "f")


# --------------------------------------------------------------------------- replies

UtcTime = Annotated[str, Meta(pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}\Z")]
# completeTime is documented only for completed withdrawals; tolerate it empty before that.
MaybeUtcTime = Annotated[str, Meta(pattern=r"^([0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2})?\Z")]


def utc_time_ms(text: str) -> int:
    """Milliseconds since the epoch of a Binance UTC time string "YYYY-MM-DD HH:MM:SS"."""
    moment = datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=timezone.utc)
    return int(moment.timestamp()) * 1000


class _Struct(msgspec.Struct, rename="camel", frozen=True, forbid_unknown_fields=False):
    pass


class ServerTime(_Struct):
    server_time: int


class Balance(_Struct):
    asset: str
    free: Amount
    locked: Amount


class Account(_Struct):
    can_trade: bool
    can_withdraw: bool
    can_deposit: bool
    balances: list[Balance]

    def free(self, asset: str) -> Decimal:
        """The free balance of `asset`, zero when the account does not list it."""
        for balance in self.balances:
            if balance.asset == asset:
                return Decimal(balance.free)
        return Decimal(0)


class ApiRestrictions(_Struct):
    # The audit relies on these four: they are required, never defaulted.
    ip_restrict: bool
    enable_withdrawals: bool
    enable_spot_and_margin_trading: bool
    enable_reading: bool
    enable_internal_transfer: bool = False
    enable_margin: bool = False
    enable_futures: bool = False
    permits_universal_transfer: bool = False
    enable_vanilla_options: bool = False
    enable_portfolio_margin_trading: bool = False
    create_time: int | None = None


class SymbolInfo(_Struct):
    symbol: str
    status: str
    base_asset: str
    quote_asset: str
    filters: list[dict[str, Any]] = []

    def filter(self, filter_type: str) -> dict[str, Any] | None:
        """The filter of this type (`LOT_SIZE`, `PRICE_FILTER`, `NOTIONAL`...), if any."""
        for item in self.filters:
            if item.get("filterType") == filter_type:
                return item
        return None


class TickerPrice(_Struct):
    symbol: str
    price: Amount


class ExchangeInfo(_Struct):
    symbols: list[SymbolInfo]
    server_time: int | None = None

    def symbol(self, name: str) -> SymbolInfo | None:
        for info in self.symbols:
            if info.symbol == name:
                return info
        return None


class NetworkConfig(_Struct):
    network: str
    coin: str
    withdraw_enable: bool
    withdraw_min: Amount
    withdraw_max: Amount
    withdraw_integer_multiple: Amount
    withdraw_fee: Amount
    # Policy checks addresses against these: a missing regex must not mean "anything goes".
    address_regex: str
    memo_regex: str
    is_default: bool = False
    deposit_enable: bool | None = None
    withdraw_tag: bool | None = None
    name: str = ""


class CoinConfig(_Struct):
    coin: str
    network_list: list[NetworkConfig]
    name: str = ""
    withdraw_all_enable: bool | None = None


class Fill(_Struct):
    price: Amount
    qty: Amount
    commission: Amount
    commission_asset: str
    trade_id: int | None = None


class OrderResult(_Struct):
    symbol: str
    order_id: int
    client_order_id: str
    status: str
    executed_qty: Amount
    cummulative_quote_qty: Amount
    orig_qty: Amount
    price: Amount
    side: str
    type: str
    fills: list[Fill] = []
    time_in_force: str | None = None
    transact_time: int | None = None
    time: int | None = None
    update_time: int | None = None


class WithdrawRecord(_Struct):
    id: str
    amount: Amount
    transaction_fee: Amount
    coin: str
    address: str
    status: int
    apply_time: UtcTime                       # UTC "YYYY-MM-DD HH:MM:SS", not milliseconds
    withdraw_order_id: str | None = None      # absent when none was given
    network: str | None = None                # absent on old withdrawals
    address_tag: str | None = None
    tx_id: str | None = None
    complete_time: MaybeUtcTime | None = None  # only once status is 6 (completed); may be ""
    info: str | None = None                   # the failure reason, when there is one
    transfer_type: int | None = None          # 1 internal, 0 external
    confirm_no: int | None = None
    wallet_type: int | None = None


class _WithdrawApplied(_Struct):
    id: Annotated[str, Meta(min_length=1)]


class _BinanceErrorBody(msgspec.Struct):
    code: int
    msg: str = ""


_T = TypeVar("_T")


# --------------------------------------------------------------------------- pure core

Params = Sequence[tuple[str, str]]


def encode_params(params: Params) -> str:
    """`k=v&k=v` in the given order, names and values percent-encoded (RFC 3986 unreserved kept)."""
    return "&".join(f"{quote(name, safe='')}={quote(value, safe='')}" for name, value in params)


def hmac_signature(mac: "hmac.HMAC", payload: str) -> str:
    """Hex HMAC-SHA256 of `payload` under the key already inside `mac` (which is not changed)."""
    digest = mac.copy()
    digest.update(payload.encode("ascii"))
    return digest.hexdigest()


def parse_retry_after(header: str | None, default: float) -> float:
    """Seconds from a `Retry-After` header (Binance sends whole seconds); `default` if unusable."""
    if header is None:
        return default
    try:
        seconds = float(header.strip())
    except ValueError:
        return default
    if seconds != seconds or seconds < 0 or seconds == float("inf"):
        return default
    return seconds


def weights_from_headers(headers: Mapping[str, str]) -> dict[str, int]:
    """The used-weight and order-count headers of one reply, names lower-cased."""
    found: dict[str, int] = {}
    for name, value in headers.items():
        lower = name.lower()
        if lower.startswith(WEIGHT_HEADER_PREFIXES):
            try:
                found[lower] = int(str(value).strip())
            except ValueError:
                continue
    return found


def check_history_query(*, withdraw_order_id: str | None, id_list: Sequence[str] | None,
                        start_time: int | None, end_time: int | None, status: int | None,
                        limit: int | None, offset: int | None) -> None:
    """Refuse, before any request, a withdraw-history query Binance documents as invalid."""
    if withdraw_order_id is not None and not withdraw_order_id:
        raise ValueError("withdraw_order_id must not be empty")
    if id_list is not None:
        if isinstance(id_list, str):
            raise ValueError("id_list must be a sequence of ids, not one string")
        if not id_list:
            raise ValueError("id_list must not be empty (pass None to leave it out)")
        if len(id_list) > MAX_ID_LIST:
            raise ValueError(f"id_list takes at most {MAX_ID_LIST} ids, got {len(id_list)}")
        for item in id_list:
            if not isinstance(item, str) or not item or "," in item:
                raise ValueError("each id in id_list must be a non-empty string without commas")
    for name, value in (("start_time", start_time), ("end_time", end_time)):
        if value is not None and (not isinstance(value, int) or value < 0):
            raise ValueError(f"{name} must be milliseconds since the epoch")
    if start_time is not None and end_time is not None:
        if end_time < start_time:
            raise ValueError("end_time is before start_time")
        if end_time - start_time >= HISTORY_MAX_WINDOW_MS:
            raise ValueError("start_time..end_time must be less than 90 days")
    if withdraw_order_id is not None:
        # Binance: with withdrawOrderId the window must be under 7 days; with neither
        # bound it covers the last 7 days. One bound alone leaves the other to the
        # server's default (90 days for startTime), which would break the rule.
        if (start_time is None) != (end_time is None):
            raise ValueError("with withdraw_order_id give both start_time and end_time, or neither")
        if start_time is not None and end_time is not None \
                and end_time - start_time >= HISTORY_ORDER_ID_WINDOW_MS:
            raise ValueError("with withdraw_order_id, start_time..end_time must be less than 7 days")
    if status is not None and (not isinstance(status, int) or not 0 <= status <= 6):
        raise ValueError("status must be an exchange withdraw status 0..6")
    if limit is not None and (not isinstance(limit, int) or not 1 <= limit <= 1000):
        raise ValueError("limit must be 1..1000")
    if offset is not None and (not isinstance(offset, int) or offset < 0):
        raise ValueError("offset must be >= 0")


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    signed: bool
    state_changing: bool = False      # True: a lost reply leaves the outcome unknown
    withdraw: bool = False            # True: -4xxx codes are withdraw refusals

    @property
    def label(self) -> str:
        return f"{self.method} {self.path}"


PING = Endpoint("GET", "/api/v3/ping", signed=False)
TIME = Endpoint("GET", "/api/v3/time", signed=False)
EXCHANGE_INFO = Endpoint("GET", "/api/v3/exchangeInfo", signed=False)
TICKER_PRICE = Endpoint("GET", "/api/v3/ticker/price", signed=False)
ACCOUNT = Endpoint("GET", "/api/v3/account", signed=True)
API_RESTRICTIONS = Endpoint("GET", "/sapi/v1/account/apiRestrictions", signed=True)
COIN_CONFIG = Endpoint("GET", "/sapi/v1/capital/config/getall", signed=True)
NEW_ORDER = Endpoint("POST", "/api/v3/order", signed=True, state_changing=True)
# A test order is validated and never placed: losing its reply loses nothing.
TEST_ORDER = Endpoint("POST", "/api/v3/order/test", signed=True)
GET_ORDER = Endpoint("GET", "/api/v3/order", signed=True)
WITHDRAW_APPLY = Endpoint("POST", "/sapi/v1/capital/withdraw/apply", signed=True,
                          state_changing=True, withdraw=True)
WITHDRAW_HISTORY = Endpoint("GET", "/sapi/v1/capital/withdraw/history", signed=True)


def classify_error(endpoint: Endpoint, http_status: int, binance_code: int | None,
                   message: str, retry_after_header: str | None) -> ExchangeError:
    """The typed error for a non-2XX reply. Pure: the whole error policy is here."""
    context = dict(binance_code=binance_code, http_status=http_status, endpoint=endpoint.label)
    text = message or f"HTTP {http_status}"
    if http_status >= 500:
        # Binance: a 5XX means the execution status is UNKNOWN, whatever the body says.
        if endpoint.state_changing:
            return OutcomeUnknown(f"server error, execution status unknown: {text}", **context)
        return ExchangeUnavailable(f"server error: {text}", **context)
    if http_status == 418:
        return RateLimitError(f"IP banned: {text}", **context,
                              retry_after=parse_retry_after(retry_after_header, DEFAULT_RETRY_AFTER_418))
    if http_status == 429 or binance_code in RATE_LIMIT_CODES:
        return RateLimitError(f"rate limited: {text}", **context,
                              retry_after=parse_retry_after(retry_after_header, DEFAULT_RETRY_AFTER_429))
    if binance_code in CLOCK_SKEW_CODES:
        return ClockSkewError(text, **context)
    if binance_code in AUTH_CODES or (binance_code is None and http_status == 401):
        return AuthError(text, **context)
    # A bare 408 is a gateway giving up on the exchange: the request may have gone through.
    if binance_code in STATUS_UNKNOWN_CODES or (binance_code is None and http_status == 408):
        if endpoint.state_changing:
            return OutcomeUnknown(f"execution status unknown: {text}", **context)
        return ExchangeUnavailable(text, **context)
    if binance_code in BUSY_CODES:
        if endpoint.state_changing:
            return OutcomeUnknown(f"exchange busy, execution status unknown: {text}", **context)
        return ExchangeUnavailable(f"exchange busy: {text}", **context)
    if endpoint.withdraw and binance_code is not None and -4999 <= binance_code <= -4000:
        return WithdrawRefused(text, **context)
    if binance_code in ORDER_REJECTED_CODES:
        return OrderRejected(text, **context)
    if binance_code in ORDER_NOT_FOUND_CODES:
        return OrderNotFound(text, **context)
    if 300 <= http_status < 400:
        # Redirects are never followed (the key header must not travel to another host).
        if endpoint.state_changing:
            return OutcomeUnknown(f"unexpected redirect: {text}", **context)
        return BadResponse(f"unexpected redirect: {text}", **context)
    if binance_code is None:
        text = f"HTTP {http_status} without a Binance error body"
    return ExchangeRequestError(text, **context)


def _transport_error(endpoint: Endpoint, exc: BaseException) -> ExchangeError:
    """The typed error for a request that got no HTTP reply.

    Only a failure to *connect* proves nothing was sent: requests' ConnectTimeout (no
    connection was made) and a refused/unresolvable connection (urllib3's
    NewConnectionError). Anything later (read timeout, reset, broken body, TLS trouble
    after the handshake started) may have reached the exchange.
    """
    kind = type(exc).__name__
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    if reason is not None:
        kind = f"{kind}/{type(reason).__name__}"
    context = dict(endpoint=endpoint.label)
    never_sent = isinstance(exc, requests.exceptions.ConnectTimeout) or isinstance(
        reason, urllib3.exceptions.NewConnectionError) or isinstance(
        exc, urllib3.exceptions.NewConnectionError)
    if never_sent:
        return ExchangeUnavailable(f"could not connect ({kind}); nothing was sent", **context)
    if endpoint.state_changing:
        return OutcomeUnknown(f"no reply ({kind}); the request may have been executed", **context)
    return ExchangeUnavailable(f"no reply ({kind})", **context)


def _error_body(content: bytes) -> tuple[int | None, str]:
    try:
        body = msgspec.json.decode(content, type=_BinanceErrorBody)
    # Not DecodeError but these: bytes that are not UTF-8, nesting past the recursion limit.
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
        return None, ""
    return body.code, body.msg


def _validate_base_url(base_url: str) -> str:
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise ValueError("base_url must be like https://api.binance.com")
    return base_url.rstrip("/")


# --------------------------------------------------------------------------- the client

class BinanceClient:
    """One exchange account over one `requests.Session`; see the module docstring."""

    def __init__(self, base_url: str, api_key: str, api_secret: str, *,
                 recv_window_ms: int = 5000, connect_timeout: float = 3.05,
                 read_timeout: float = 10.0, clock: Clock | None = None,
                 session: requests.Session | None = None) -> None:
        if not api_key or not api_secret:
            raise ValueError("api_key and api_secret are required")
        if not isinstance(recv_window_ms, int) or not 0 < recv_window_ms <= MAX_RECV_WINDOW_MS:
            raise ValueError(f"recv_window_ms must be 1..{MAX_RECV_WINDOW_MS}")
        if connect_timeout <= 0 or read_timeout <= 0:
            raise ValueError("timeouts must be positive")
        register_secret(api_key)
        register_secret(api_secret)
        self.base_url = _validate_base_url(base_url)
        self.recv_window_ms = recv_window_ms
        self.timeout = (float(connect_timeout), float(read_timeout))
        self._api_key = api_key
        self._mac = hmac.new(api_secret.encode("utf-8"), digestmod=hashlib.sha256)
        self._clock: Clock = clock or SystemClock()
        self._session = session or self._new_session()
        self._lock = threading.RLock()
        self._offset_ms = 0
        self._weights: dict[str, int] = {}

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
    def time_offset_ms(self) -> int:
        """Server time minus local time, as last measured (0 before the first sync)."""
        return self._offset_ms

    @property
    def used_weights(self) -> dict[str, int]:
        """Last value seen of each used-weight / order-count header (lower-case name): a copy."""
        with self._lock:
            return dict(self._weights)

    def close(self) -> None:
        self._session.close()

    # ---- public endpoints

    def server_time(self) -> int:
        return self._call(TIME, [], ServerTime).server_time

    def sync_time(self) -> int:
        """Measure the offset to the server clock with /api/v3/time and keep it; return it (ms).

        The server read its clock somewhere during the round trip; the midpoint is the
        best estimate, off by at most half the round trip.
        """
        with self._lock:
            sent_at = self._clock.now_ms()
            server = self._call(TIME, [], ServerTime).server_time
            received_at = self._clock.now_ms()
            self._offset_ms = server - (sent_at + received_at) // 2
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

    def withdraw_apply(self, *, coin: str, network: str, address: str, amount: Decimal,
                       withdraw_order_id: str, address_tag: str | None = None) -> str:
        """Ask for a withdrawal; return the exchange's withdrawal id.

        Raises WithdrawRefused for the exchange's refusals, OutcomeUnknown when it may have
        been accepted (look `withdraw_order_id` up in history before anything else).
        """
        _require_text(coin=coin, network=network, address=address, withdraw_order_id=withdraw_order_id)
        params = [("coin", coin), ("withdrawOrderId", withdraw_order_id), ("network", network),
                  ("address", address)]
        if address_tag is not None:
            _require_text(address_tag=address_tag)
            params.append(("addressTag", address_tag))
        params.append(("amount", format_amount(amount, "amount")))
        return self._call(WITHDRAW_APPLY, params, _WithdrawApplied).id

    # ---- the one request path

    def _call(self, endpoint: Endpoint, params: Params, reply_type: type[_T]) -> _T:
        with self._lock:
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
        payload = list(params)
        if endpoint.signed:
            payload += [("recvWindow", str(self.recv_window_ms)),
                        ("timestamp", str(self._clock.now_ms() + self._offset_ms))]
            headers["X-MBX-APIKEY"] = self._api_key
        total_params = encode_params(payload)
        if endpoint.signed:
            total_params += "&signature=" + hmac_signature(self._mac, total_params)
        url = self.base_url + endpoint.path
        body: bytes | None = None
        if endpoint.method == "GET":
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
            error = _transport_error(endpoint, exc)
            log.warning("binance_request_failed", endpoint=endpoint.label, error=error.code,
                        detail=error.message)
            raise error from None
        self._record_weights(response.headers)
        status = response.status_code
        log.debug("binance_request", endpoint=endpoint.label, http_status=status,
                  elapsed_ms=int((self._clock.monotonic() - started) * 1000))
        if 200 <= status < 300:
            return self._decode(endpoint, status, response.content, reply_type)
        binance_code, message = _error_body(response.content)
        error = classify_error(endpoint, status, binance_code, message,
                               response.headers.get("Retry-After"))
        log.warning("binance_error", endpoint=endpoint.label, error=error.code, http_status=status,
                    binance_code=binance_code, detail=error.message)
        raise error

    def _decode(self, endpoint: Endpoint, status: int, content: bytes, reply_type: type[_T]) -> _T:
        try:
            return msgspec.json.decode(content, type=reply_type, dec_hook=_dec_hook)
        except (msgspec.DecodeError, ValueError, TypeError, ArithmeticError, RecursionError) as exc:
            detail = f"reply body is not the expected shape ({_safe_text(str(exc))})"
            context = dict(http_status=status, endpoint=endpoint.label)
            error: ExchangeError
            if endpoint.state_changing:
                error = OutcomeUnknown(f"{detail}; the request may have been executed", **context)
            else:
                error = BadResponse(detail, **context)
            log.warning("binance_bad_reply", endpoint=endpoint.label, error=error.code,
                        http_status=status, detail=error.message)
            raise error from None

    def _record_weights(self, headers: Mapping[str, str]) -> None:
        seen = weights_from_headers(headers)
        if seen:
            with self._lock:
                self._weights.update(seen)


def _require_text(**values: Any) -> None:
    for name, value in values.items():
        if not isinstance(value, str) or not value:
            raise ValueError(f"{name} must be a non-empty string")
