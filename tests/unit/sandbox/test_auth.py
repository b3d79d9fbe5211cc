"""sandbox/auth.py: the order of the checks on a signed request, and their codes."""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import urlencode

import msgspec
import pytest

from sandbox.auth import SignedRequest, authenticate
from sandbox.config import load_config
from sandbox.errors import ApiError
from sandbox.params import parse_params

CONFIG = load_config()
SIGNAL = CONFIG.find_key_by_name("signal")
TREASURY = CONFIG.find_key_by_name("treasury")
NOW = 1_700_000_000_000


def signed(key, secret=None, timestamp=NOW, api_key=None, client_ip="127.0.0.1", **params) -> SignedRequest:
    query = urlencode({**params, "timestamp": timestamp}).encode()
    signature = hmac.new((secret or key.api_secret).encode(), query, hashlib.sha256).hexdigest()
    raw = query + b"&signature=" + signature.encode()
    return SignedRequest(api_key if api_key is not None else key.api_key, parse_params(raw), raw, b"", client_ip)


def check(request: SignedRequest, permission="read"):
    return authenticate(request, CONFIG.find_key, permission, NOW)


def code(request: SignedRequest, permission="read") -> int:
    with pytest.raises(ApiError) as caught:
        check(request, permission)
    return caught.value.code


def test_good_request_returns_its_key():
    """A correctly signed, timely request with the right permission passes."""
    assert check(signed(SIGNAL, symbol="BTCUSDT"), "trade").name == "signal"


def test_missing_or_malformed_api_key_is_2014():
    """No X-MBX-APIKEY, or one that is not key-shaped: -2014 "API-key format invalid."."""
    assert code(signed(SIGNAL, api_key="")) == -2014
    assert code(signed(SIGNAL, api_key="has space")) == -2014


def test_unknown_key_is_2015():
    """A well-formed key the exchange does not know: -2015."""
    assert code(signed(SIGNAL, api_key="unknown-key-0000")) == -2015


def test_wrong_secret_is_1022():
    """A signature made with another secret: -1022."""
    assert code(signed(SIGNAL, secret="wrong-secret-not-real")) == -1022


def test_tampered_parameter_is_1022():
    """Changing a signed parameter after signing invalidates the signature."""
    request = signed(SIGNAL, amount="10")
    raw = request.raw_query.replace(b"amount=10", b"amount=99")
    assert code(SignedRequest(request.api_key, parse_params(raw), raw, b"", "127.0.0.1")) == -1022


def test_stale_and_future_timestamps_are_1021():
    """Signed correctly but 6 s old, or 1 s ahead: -1021."""
    assert code(signed(SIGNAL, timestamp=NOW - 6000)) == -1021
    assert code(signed(SIGNAL, timestamp=NOW + 1000)) == -1021


def test_recv_window_widens_the_window():
    """recvWindow=10000 accepts a 6 s old request."""
    check(signed(SIGNAL, timestamp=NOW - 6000, recvWindow="10000"))


def test_missing_signature_is_1102():
    """A signed endpoint without `signature`: -1102 naming it."""
    raw = urlencode({"timestamp": NOW}).encode()
    with pytest.raises(ApiError, match="'signature'"):
        check(SignedRequest(SIGNAL.api_key, parse_params(raw), raw, b"", "127.0.0.1"))


def test_trading_key_cannot_withdraw_and_withdraw_key_cannot_trade():
    """Permissions per key: -2015 for an endpoint the key is not enabled for."""
    assert code(signed(SIGNAL), "withdraw") == -2015
    assert code(signed(TREASURY), "trade") == -2015
    assert check(signed(TREASURY), "withdraw").name == "treasury"


def test_ip_restricted_key_refuses_other_callers():
    """The treasury key is restricted to loopback in demo.toml: another IP gets -2015."""
    assert code(signed(TREASURY, client_ip="10.1.2.3"), "withdraw") == -2015
    assert check(signed(TREASURY, client_ip="::1"), "withdraw").name == "treasury"


def test_a_deleted_or_expired_key_is_refused_like_an_unknown_one():
    """deleted = true, or the server clock at or past expires_at: -2015 on every signed call."""
    for gone in (msgspec.structs.replace(TREASURY, deleted=True),
                 msgspec.structs.replace(TREASURY, expires_at=NOW)):
        with pytest.raises(ApiError) as caught:
            authenticate(signed(TREASURY), lambda k: gone, "read", NOW)
        assert caught.value.code == -2015
    later = msgspec.structs.replace(TREASURY, expires_at=NOW + 1)
    assert authenticate(signed(TREASURY), lambda k: later, "withdraw", NOW).name == "treasury"


def test_reading_revoked_key_cannot_read():
    """A key without enableReading gets -2015 on USER_DATA endpoints."""
    blind = msgspec.structs.replace(SIGNAL, enable_reading=False)
    request = signed(SIGNAL)
    with pytest.raises(ApiError) as caught:
        authenticate(request, lambda k: blind, "read", NOW)
    assert caught.value.code == -2015


def test_signature_checked_before_timestamp():
    """A request both stale and badly signed reports the signature."""
    assert code(signed(SIGNAL, secret="wrong-secret-not-real", timestamp=NOW - 60000)) == -1022
