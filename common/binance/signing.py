"""Signing a Binance request: pure, no clock, no socket, no secret kept here.

SIGNED requests carry `timestamp` (local clock + the server offset, see timing.py),
`recvWindow`, and last a `signature` of `totalParams` (query string + request body)
exactly as sent. Values are percent-encoded before signing (RFC 3986: only
`A-Z a-z 0-9 - _ . ~` stay as they are), so the signed bytes and the sent bytes are one
and the same string.

Who computes the signature is a `Signer`, one per key type Binance offers and we support:
- `HmacSigner`: the hex HMAC-SHA256 keyed with the API secret. The secret lives only
  inside its `hmac.HMAC` object, which is copied, never changed, so one keyed MAC signs
  any number of requests.
- `common.binance.ed25519.Ed25519Signer`: base64 of the Ed25519 signature, made with a
  private key that never left the host (Binance's recommended key type).
The signature is percent-encoded like any value (base64 holds `+ / =`; hex is unchanged).
https://developers.binance.com/docs/binance-spot-api-docs/rest-api/request-security
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Protocol, Sequence
from urllib.parse import quote

Params = Sequence[tuple[str, str]]

HMAC_KEY_TYPE = "HMAC"


class Signer(Protocol):
    """Signs one request's `totalParams`; `key_type` names the kind of API key (for `check`)."""

    key_type: str

    def signature(self, payload: str) -> str: ...


class HmacSigner:
    """An HMAC-SHA256 API key: the secret is kept only inside the keyed MAC."""

    key_type = HMAC_KEY_TYPE

    def __init__(self, api_secret: str) -> None:
        if not api_secret:
            raise ValueError("the API secret is empty")
        self._mac = new_mac(api_secret)

    def signature(self, payload: str) -> str:
        return hmac_signature(self._mac, payload)

    def __repr__(self) -> str:
        return "HmacSigner(secret not shown)"


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


def sign_request(signer: Signer, params: Params, *, recv_window_ms: int, timestamp_ms: int) -> str:
    """The `totalParams` of a SIGNED request: the params, then `recvWindow` and `timestamp`,
    percent-encoded, then `&signature=` the signer's signature of everything before it,
    percent-encoded too. Sent as it is (query string for GET, form body for POST): the
    signed bytes are the sent bytes."""
    payload = list(params) + [("recvWindow", str(recv_window_ms)), ("timestamp", str(timestamp_ms))]
    total_params = encode_params(payload)
    return total_params + "&signature=" + quote(signer.signature(total_params), safe="")
