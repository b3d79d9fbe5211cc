"""Signed-request checks written from Binance's documentation (pure functions, no I/O).

Documented rules (spot REST API, "SIGNED endpoint security" and "Timing security"):
- The signature payload `totalParams` is the query string concatenated, without any
  separator, with the request body (example 3 of the docs: "...timeInForce=GTC" +
  "quantity=1..." is signed as "...timeInForce=GTCquantity=1...").
- Any non-ASCII character must be percent-encoded before signing (in force since
  2026-01-15: a signature computed over raw non-ASCII text is rejected with -1022). We
  therefore verify over the bytes as they came on the wire, with any byte outside
  printable ASCII percent-encoded, so a client that signs one spelling and sends another
  fails here as it would at Binance.
- HMAC-SHA256 keyed with the secret, hex encoded; the signature is not case sensitive.
- `timestamp` is required; `recvWindow` defaults to 5000 ms, may carry three decimals and
  may not exceed 60000. A request is processed only if
  `timestamp < serverTime + 1000` and `serverTime - timestamp <= recvWindow`.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from decimal import Decimal, InvalidOperation

from sandbox import errors

SIGNATURE_PARAM = "signature"
DEFAULT_RECV_WINDOW_MS = Decimal(5000)
MAX_RECV_WINDOW_MS = Decimal(60000)
AHEAD_TOLERANCE_MS = 1000

_NOT_PRINTABLE_ASCII = re.compile(rb"[^\x21-\x7e]")
_TIMESTAMP = re.compile(r"^[0-9]{1,20}\Z")
_RECV_WINDOW = re.compile(r"^[0-9]{1,10}(\.[0-9]{1,3})?\Z")
_HEX_SIGNATURE = re.compile(r"^[0-9a-fA-F]{64}\Z")


def without_signature(raw: bytes) -> bytes:
    """The raw `k=v&k=v` string with every `signature=...` pair removed, the rest untouched."""
    if not raw:
        return b""
    kept = [pair for pair in raw.split(b"&") if pair.split(b"=", 1)[0] != SIGNATURE_PARAM.encode()]
    return b"&".join(kept)


def percent_encode_non_ascii(raw: bytes) -> bytes:
    """Percent-encode every byte that is not printable ASCII (UTF-8 text, spaces, controls)."""
    return _NOT_PRINTABLE_ASCII.sub(lambda match: b"%%%02X" % match.group()[0], raw)


def total_params(raw_query: bytes, raw_body: bytes) -> bytes:
    """Binance's `totalParams`: query string + body, no separator, signature removed."""
    return percent_encode_non_ascii(without_signature(raw_query) + without_signature(raw_body))


def sign(secret: str, payload: bytes) -> str:
    """Lower-case hex HMAC-SHA256 of `payload` keyed with `secret`."""
    return hmac.new(secret.encode("utf-8"), payload, hashlib.sha256).hexdigest()


def signature_matches(secret: str, payload: bytes, signature: str) -> bool:
    """Constant-time comparison; HMAC signatures are case-insensitive at Binance."""
    if not _HEX_SIGNATURE.match(signature):
        return False
    return hmac.compare_digest(sign(secret, payload), signature.lower())


# Binance: "Timestamp parameters (e.g. startTime, endTime, timestamp) can be passed in
# milliseconds or microseconds."
# https://developers.binance.com/docs/binance-spot-api-docs/web-socket-api/general-api-information
# A value of 16 digits or more (>= 10**15) is read as microseconds; recvWindow stays in ms.
_MICROSECOND_THRESHOLD = 10**15


def parse_timestamp(text: str | None) -> int | Decimal:
    """The `timestamp` parameter in milliseconds (a µs value is converted exactly), mandatory."""
    if text is None or not _TIMESTAMP.match(text):
        raise errors.mandatory("timestamp")
    value = int(text)
    if value >= _MICROSECOND_THRESHOLD:
        return Decimal(value) / 1000
    return value


def parse_recv_window(text: str | None) -> Decimal:
    """The `recvWindow` parameter: milliseconds (up to 3 decimals), 5000 by default, 60000 at most."""
    if text is None:
        return DEFAULT_RECV_WINDOW_MS
    if not _RECV_WINDOW.match(text):
        raise errors.mandatory("recvWindow")
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise errors.mandatory("recvWindow") from None
    if value > MAX_RECV_WINDOW_MS:
        raise errors.bad_recv_window()
    return value


def check_timestamp(timestamp_ms: int | Decimal, recv_window_ms: Decimal, server_time_ms: int) -> None:
    """Raise -1021 unless the request is inside the documented timing window."""
    if timestamp_ms >= server_time_ms + AHEAD_TOLERANCE_MS:
        raise errors.timestamp_ahead()
    if server_time_ms - timestamp_ms > recv_window_ms:
        raise errors.timestamp_outside_window()
