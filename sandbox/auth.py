"""Who is asking, and may they: the checks every SIGNED request goes through (pure).

Order of the checks (the first failure is the answer):
1. `X-MBX-APIKEY` missing or not key-shaped: -2014 "API-key format invalid."
2. key unknown, deleted or expired, or the caller's IP not allowed for an IP-restricted
   key: -2015 (Binance's one code for all three: https://developers.binance.com/docs/wallet/error-code)
3. `signature`, `timestamp` missing or malformed: -1102; `recvWindow` over 60000: -1131
4. signature does not match `totalParams`: -1022 (HMAC or Ed25519, by the key's type)
5. timestamp outside the window: -1021
6. the key lacks the endpoint's permission (reading, trading, withdrawing): -2015
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Literal, Mapping

from sandbox import ed25519_verify, errors, signing
from sandbox.config import KeySettings

Permission = Literal["read", "trade", "withdraw"]
_KEY_SHAPE = re.compile(r"^[A-Za-z0-9_-]{1,100}\Z")


@dataclass(frozen=True)
class SignedRequest:
    api_key: str | None
    params: Mapping[str, str]
    raw_query: bytes
    raw_body: bytes
    client_ip: str


def has_permission(key: KeySettings, permission: Permission) -> bool:
    if permission == "trade":
        return key.can_trade
    if permission == "withdraw":
        return key.can_withdraw
    return key.enable_reading


def ip_allowed(key: KeySettings, client_ip: str) -> bool:
    return not (key.ip_restrict and key.allowed_ips) or client_ip in key.allowed_ips


def key_gone(key: KeySettings, server_time_ms: int) -> bool:
    """Deleted, or past its expiry: Binance answers as for a key it never issued."""
    return key.deleted or (key.expires_at is not None and server_time_ms >= key.expires_at)


def signature_matches(key: KeySettings, payload: bytes, signature: str) -> bool:
    """By the key's type: a self-generated Ed25519 key, or an HMAC secret."""
    if key.ed25519_public_key:
        return ed25519_verify.signature_matches(key.ed25519_public_key, payload, signature)
    return signing.signature_matches(key.api_secret, payload, signature)


def authenticate(request: SignedRequest, find_key: Callable[[str], KeySettings | None],
                 permission: Permission, server_time_ms: int) -> KeySettings:
    """Return the key a signed request is made with, or raise the Binance error."""
    if not request.api_key or not _KEY_SHAPE.match(request.api_key):
        raise errors.bad_api_key_format()
    key = find_key(request.api_key)
    if key is None or key_gone(key, server_time_ms) or not ip_allowed(key, request.client_ip):
        raise errors.rejected_key()
    signature = request.params.get(signing.SIGNATURE_PARAM)
    if not signature:
        raise errors.mandatory(signing.SIGNATURE_PARAM)
    timestamp = signing.parse_timestamp(request.params.get("timestamp"))
    recv_window = signing.parse_recv_window(request.params.get("recvWindow"))
    payload = signing.total_params(request.raw_query, request.raw_body)
    if not signature_matches(key, payload, signature):
        raise errors.bad_signature()
    signing.check_timestamp(timestamp, recv_window, server_time_ms)
    if not has_permission(key, permission):
        raise errors.rejected_key()
    return key
