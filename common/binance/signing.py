"""Signing a Binance request: pure, no clock, no socket, no secret kept here.

SIGNED requests carry `timestamp` (local clock + the server offset, see timing.py),
`recvWindow`, and last a `signature`: the hex HMAC-SHA256, keyed with the API secret, of
`totalParams` (query string + request body) exactly as sent. Values are percent-encoded
before signing (RFC 3986: only `A-Z a-z 0-9 - _ . ~` stay as they are), so the signed bytes
and the sent bytes are one and the same string.

Only HMAC-SHA256 keys are supported today (Binance also offers Ed25519 and RSA keys; a
second scheme would be a second `sign_request`-shaped function here).

The secret lives only inside the caller's `hmac.HMAC` object, which is copied, never
changed, so one keyed MAC can sign any number of requests.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Sequence
from urllib.parse import quote

Params = Sequence[tuple[str, str]]


def new_mac(api_secret: str) -> "hmac.HMAC":
    """An HMAC-SHA256 keyed with the API secret: the only place the secret is kept."""
    return hmac.new(api_secret.encode("utf-8"), digestmod=hashlib.sha256)


def encode_params(params: Params) -> str:
    """`k=v&k=v` in the given order, names and values percent-encoded (RFC 3986 unreserved kept)."""
    return "&".join(f"{quote(name, safe='')}={quote(value, safe='')}" for name, value in params)


def hmac_signature(mac: "hmac.HMAC", payload: str) -> str:
    """Hex HMAC-SHA256 of `payload` under the key already inside `mac` (which is not changed)."""
    digest = mac.copy()
    digest.update(payload.encode("ascii"))
    return digest.hexdigest()


def sign_request(mac: "hmac.HMAC", params: Params, *, recv_window_ms: int, timestamp_ms: int) -> str:
    """The `totalParams` of a SIGNED request: the params, then `recvWindow` and `timestamp`,
    percent-encoded, then `&signature=` the HMAC of everything before it. Sent as it is
    (query string for GET, form body for POST): the signed bytes are the sent bytes."""
    payload = list(params) + [("recvWindow", str(recv_window_ms)), ("timestamp", str(timestamp_ms))]
    total_params = encode_params(payload)
    return total_params + "&signature=" + hmac_signature(mac, total_params)
