"""The typed errors of the exchange client and the whole policy that picks one. Pure.

A 5XX reply means the execution status is UNKNOWN. A request that changes state
(`new_order`, `withdraw_apply`) whose outcome we cannot read is `OutcomeUnknown`, and is
never retried by the client: the caller reconciles first (order look-up by client id, or
withdraw history by `withdrawOrderId`). The same failure on a read is `ExchangeUnavailable`
(or `BadResponse` for a 2XX body of the wrong shape).

Every error's text is scrubbed of registered secrets, flattened to one line and bounded.
"""

from __future__ import annotations

from typing import Any

import msgspec
import requests
import urllib3.exceptions

from common.binance.endpoints import Endpoint
from common.logs import scrub

DEFAULT_RETRY_AFTER_429 = 60.0     # Binance omits Retry-After on some 429s (order count)
DEFAULT_RETRY_AFTER_418 = 120.0    # bans start at 2 minutes
MAX_MESSAGE_CHARS = 300

# Binance codes with a fixed meaning for us (errors.md, wallet error-code).
CLOCK_SKEW_CODES = frozenset({-1021})
# Key refusals, from Binance's error-code list
# (https://developers.binance.com/docs/wallet/error-code): -1002 UNAUTHORIZED "You are not
# authorized to execute this request.", -1022 INVALID_SIGNATURE, -2008 BAD_API_ID "Invalid
# Api-Key ID.", -2014 BAD_API_KEY_FMT "API-key format invalid.", -2015 REJECTED_MBX_KEY
# "Invalid API-key, IP, or permissions for action.". Each is the gateway refusing the
# caller before the request is acted on, so a refused apply did not happen (not an unknown
# outcome); the treasury halts instead of retrying (treasury_bot/reconcile.py).
AUTH_CODES = frozenset({-1002, -1022, -2008, -2014, -2015})
# The stable causes an AuthError names (`AuthError.cause`). Binance gives ONE code, -2015,
# for three causes (a deleted or expired key, a caller IP not on the key's allow-list, a
# key without the call's permission), and -1002 does not say which permission either:
# those are KEY_REFUSED until common/binance/key_refusal.py tells them apart with a
# follow-up read of apiRestrictions.
CAUSE_SIGNATURE_REJECTED = "signature_rejected"          # -1022: the secret is not the key's
CAUSE_KEY_FORMAT_INVALID = "key_format_invalid"          # -2014
CAUSE_KEY_INVALID_OR_DELETED = "key_invalid_or_deleted"  # -2008
CAUSE_KEY_REFUSED = "key_refused"                        # -2015, -1002, a bare 401
_AUTH_CAUSE = {-1022: CAUSE_SIGNATURE_REJECTED, -2014: CAUSE_KEY_FORMAT_INVALID,
               -2008: CAUSE_KEY_INVALID_OR_DELETED}
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
# The withdraw refusals docs/design.md section 4 names; any other -4xxx from apply is refused too.
WITHDRAW_REFUSAL_CODES = frozenset({-4019, -4021, -4022, -4023, -4026, -4028, -4033, -4035, -4036})


class ExchangeError(Exception):
    """Base of every error this client raises; `code` is ours and stable."""

    code = "exchange_error"

    def __init__(self, message: str, *, binance_code: int | None = None,
                 http_status: int | None = None, endpoint: str | None = None) -> None:
        self.message = safe_text(message)
        self.binance_code = binance_code
        self.http_status = http_status
        self.endpoint = endpoint
        super().__init__(self.message)

    @property
    def cited_code(self) -> str:
        """The most specific code to cite for this error: Binance's own (`-4026`), else the
        HTTP status (`http_503`), else ours (`exchange_unavailable`)."""
        if self.binance_code is not None:
            return str(self.binance_code)
        if self.http_status is not None:
            return f"http_{self.http_status}"
        return self.code

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
    """Bad signature, key format, or key/IP/permission (-1022, -2014, -2015, -2008, -1002, 401).

    `cause`: which of the CAUSE_* the code names (KEY_REFUSED where Binance's code covers
    several causes)."""

    code = "auth"

    @property
    def cause(self) -> str:
        return _AUTH_CAUSE.get(self.binance_code, CAUSE_KEY_REFUSED) if self.binance_code is not None \
            else CAUSE_KEY_REFUSED


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


def safe_text(text: str) -> str:
    """Exception text: registered secrets scrubbed, one line, bounded (HTML pages are long)."""
    flat = " ".join(str(text).split())
    if len(flat) > MAX_MESSAGE_CHARS:
        flat = flat[:MAX_MESSAGE_CHARS] + "..."
    return scrub(flat)


class _BinanceErrorBody(msgspec.Struct):
    code: int
    msg: str = ""


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


def transport_error(endpoint: Endpoint, exc: BaseException) -> ExchangeError:
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


def error_body(content: bytes) -> tuple[int | None, str]:
    try:
        body = msgspec.json.decode(content, type=_BinanceErrorBody)
    # Not DecodeError but these: bytes that are not UTF-8, nesting past the recursion limit.
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
        return None, ""
    return body.code, body.msg
