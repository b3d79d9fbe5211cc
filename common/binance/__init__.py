"""The Binance REST client both bots use: signed requests, typed errors, Decimal amounts.

One job per module:

- `signing`   pure: percent-encoding and the HMAC-SHA256 signature of `totalParams`
              (`sign_request`);
- `timing`    pure: the offset to the exchange clock and the timestamp to sign;
- `endpoints` pure: the endpoints we call (signed? state-changing? a withdrawal?) and the
              withdraw-history queries Binance documents as invalid;
- `errors`    pure: the typed errors (stable `code`s) and `classify_error`, the whole
              policy of which reply or transport failure is which error;
- `models`    pure: the reply Structs, `Amount` (decoded only from JSON strings);
- `weights`   the used-weight headers of each reply, recorded;
- `client`    `BinanceClient`: the session, the lock, the calls, the one -1021 retry.

Everything is re-exported here, so `from common.binance import X` names what it always did.
"""

from common.binance.client import BinanceClient
from common.binance.endpoints import (
    ACCOUNT, API_RESTRICTIONS, COIN_CONFIG, EXCHANGE_INFO, GET_ORDER, HISTORY_MAX_WINDOW_MS,
    HISTORY_ORDER_ID_WINDOW_MS, MAX_ID_LIST, NEW_ORDER, PING, TEST_ORDER, TICKER_PRICE, TIME,
    WITHDRAW_APPLY, WITHDRAW_HISTORY, Endpoint, check_history_query,
)
from common.binance.errors import (
    AUTH_CODES, BUSY_CODES, CLOCK_SKEW_CODES, DEFAULT_RETRY_AFTER_418, DEFAULT_RETRY_AFTER_429,
    MAX_MESSAGE_CHARS, ORDER_NOT_FOUND_CODES, ORDER_REJECTED_CODES, RATE_LIMIT_CODES,
    STATUS_UNKNOWN_CODES, WITHDRAW_REFUSAL_CODES, AuthError, BadResponse, ClockSkewError,
    ExchangeError, ExchangeRequestError, ExchangeUnavailable, OrderNotFound, OrderRejected,
    OutcomeUnknown, RateLimitError, WithdrawRefused, classify_error, parse_retry_after,
)
from common.binance.models import (
    Account, Amount, ApiRestrictions, Balance, CoinConfig, ExchangeInfo, Fill, MaybeUtcTime,
    NetworkConfig, OrderResult, ServerTime, SymbolInfo, TickerPrice, UtcTime, WithdrawRecord,
    format_amount, utc_time_ms,
)
from common.binance.endpoints import WITHDRAW_ADDRESS_LIST, WITHDRAW_QUOTA
from common.binance.models import WithdrawAddress, WithdrawQuota
from common.binance.signing import Params, encode_params, hmac_signature, sign_request
from common.binance.timing import MAX_RECV_WINDOW_MS, offset_from_round_trip
from common.binance.weights import WEIGHT_HEADER_PREFIXES, UsedWeights, weights_from_headers

__all__ = [
    "ACCOUNT", "API_RESTRICTIONS", "AUTH_CODES", "BUSY_CODES", "CLOCK_SKEW_CODES", "COIN_CONFIG",
    "DEFAULT_RETRY_AFTER_418", "DEFAULT_RETRY_AFTER_429", "EXCHANGE_INFO", "GET_ORDER",
    "HISTORY_MAX_WINDOW_MS", "HISTORY_ORDER_ID_WINDOW_MS", "MAX_ID_LIST", "MAX_MESSAGE_CHARS",
    "MAX_RECV_WINDOW_MS", "NEW_ORDER", "ORDER_NOT_FOUND_CODES", "ORDER_REJECTED_CODES", "PING",
    "RATE_LIMIT_CODES", "STATUS_UNKNOWN_CODES", "TEST_ORDER", "TICKER_PRICE", "TIME",
    "WEIGHT_HEADER_PREFIXES", "WITHDRAW_APPLY", "WITHDRAW_HISTORY", "WITHDRAW_REFUSAL_CODES",
    "Account", "Amount", "ApiRestrictions", "AuthError", "BadResponse", "Balance", "BinanceClient",
    "ClockSkewError", "CoinConfig", "Endpoint", "ExchangeError", "ExchangeInfo",
    "ExchangeRequestError", "ExchangeUnavailable", "Fill", "MaybeUtcTime", "NetworkConfig",
    "OrderNotFound", "OrderRejected", "OrderResult", "OutcomeUnknown", "Params", "RateLimitError",
    "ServerTime", "SymbolInfo", "TickerPrice", "UsedWeights", "UtcTime", "WithdrawRecord",
    "WithdrawRefused", "check_history_query", "classify_error", "encode_params", "format_amount",
    "hmac_signature", "offset_from_round_trip", "parse_retry_after", "sign_request",
    "utc_time_ms", "weights_from_headers",
    "WITHDRAW_ADDRESS_LIST", "WithdrawAddress", "WITHDRAW_QUOTA", "WithdrawQuota",
]
