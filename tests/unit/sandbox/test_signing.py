"""sandbox/signing.py: totalParams, HMAC verification and the timing window, from the docs."""

from __future__ import annotations

import hashlib
import hmac
from decimal import Decimal

import pytest

from sandbox import signing
from sandbox.errors import ApiError

# Binance's documented example key (spot API "SIGNED endpoint examples"): public, not a secret.
DOC_SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"
DOC_QUERY = ("symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1"
             "&recvWindow=5000&timestamp=1499827319559")
DOC_SIGNATURE = "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71"
DOC_MIXED_SIGNATURE = "0fd168b8ddb4876a0358a8d14d0c9f3da0e9b20c5d52b2a00fcf7d1c602f9a77"
DOC_NON_ASCII_QUERY = ("symbol=%EF%BC%91%EF%BC%92%EF%BC%93%EF%BC%94%EF%BC%95%EF%BC%96&side=BUY&type=LIMIT"
                       "&timeInForce=GTC&quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559")
DOC_NON_ASCII_SIGNATURE = "e1353ec6b14d888f1164ae9af8228a3dbd508bc82eb867db8ab6046442f33ef3"


def hand_hmac(secret: str, payload: str) -> str:
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()


def test_sign_reproduces_binance_documented_example():
    """The docs' example 1/2 (all parameters in one place) signs to the documented value."""
    assert signing.sign(DOC_SECRET, DOC_QUERY.encode()) == DOC_SIGNATURE


def test_mixed_query_and_body_are_concatenated_without_separator():
    """Docs example 3: query "...GTC" + body "quantity=..." is signed with no "&" between."""
    query = b"symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC"
    body = b"quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559"
    payload = signing.total_params(query, body)
    assert payload == query + body
    assert signing.signature_matches(DOC_SECRET, payload, DOC_MIXED_SIGNATURE)


def test_percent_encoded_non_ascii_example_matches_documented_signature():
    """The docs' non-ASCII example (symbol １２３４５６) is signed over its percent-encoding."""
    payload = signing.total_params(DOC_NON_ASCII_QUERY.encode(), b"")
    assert signing.signature_matches(DOC_SECRET, payload, DOC_NON_ASCII_SIGNATURE)


def test_raw_non_ascii_is_verified_as_its_percent_encoding():
    """A client that signed the raw UTF-8 text fails; one that signed the encoding passes."""
    raw = "symbol=１２３４５６&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1" \
          "&recvWindow=5000&timestamp=1499827319559"
    payload = signing.total_params(raw.encode("utf-8"), b"")
    assert payload == DOC_NON_ASCII_QUERY.encode()
    assert not signing.signature_matches(DOC_SECRET, payload, hand_hmac(DOC_SECRET, raw))
    assert signing.signature_matches(DOC_SECRET, payload, DOC_NON_ASCII_SIGNATURE)


def test_signature_pair_is_removed_wherever_it_is():
    """The signature parameter itself is never part of totalParams."""
    assert signing.without_signature(b"a=1&signature=abc&b=2") == b"a=1&b=2"
    assert signing.without_signature(b"signature=abc") == b""
    assert signing.without_signature(b"") == b""
    assert signing.without_signature(b"signatures=1&x=2") == b"signatures=1&x=2"
    assert signing.total_params(b"a=1&signature=s", b"b=2&signature=t") == b"a=1b=2"


def test_signature_comparison_is_case_insensitive_and_rejects_wrong_or_malformed():
    """HMAC signatures are not case sensitive at Binance; anything else fails."""
    payload = DOC_QUERY.encode()
    assert signing.signature_matches(DOC_SECRET, payload, DOC_SIGNATURE.upper())
    assert not signing.signature_matches(DOC_SECRET, payload, DOC_SIGNATURE[:-1] + "0")
    assert not signing.signature_matches("another-secret-not-real", payload, DOC_SIGNATURE)
    assert not signing.signature_matches(DOC_SECRET, payload, "not-hex")
    assert not signing.signature_matches(DOC_SECRET, payload + b"&x=1", DOC_SIGNATURE)


def test_reordered_parameters_do_not_verify():
    """The payload is signed as sent: another order of the same parameters is another payload."""
    reordered = "side=BUY&symbol=LTCBTC&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1" \
                "&recvWindow=5000&timestamp=1499827319559"
    assert not signing.signature_matches(DOC_SECRET, reordered.encode(), DOC_SIGNATURE)


SERVER = 1_700_000_000_000


@pytest.mark.parametrize("timestamp, window, accepted", [
    (SERVER, 5000, True),
    (SERVER + 999, 5000, True),            # less than 1 s ahead
    (SERVER + 1000, 5000, False),          # 1 s ahead: refused
    (SERVER - 5000, 5000, True),           # exactly recvWindow old
    (SERVER - 5001, 5000, False),          # one ms too old
    (SERVER - 60000, 60000, True),
    (SERVER - 60001, 60000, False),
])
def test_timestamp_window_edges(timestamp, window, accepted):
    """timestamp < serverTime + 1000 and serverTime - timestamp <= recvWindow, as documented."""
    if accepted:
        signing.check_timestamp(timestamp, Decimal(window), SERVER)
    else:
        with pytest.raises(ApiError) as caught:
            signing.check_timestamp(timestamp, Decimal(window), SERVER)
        assert caught.value.code == -1021


def test_ahead_and_late_timestamps_have_their_documented_messages():
    """-1021 says which side of the window the timestamp fell on."""
    with pytest.raises(ApiError, match="1000ms ahead"):
        signing.check_timestamp(SERVER + 5000, Decimal(5000), SERVER)
    with pytest.raises(ApiError, match="outside of the recvWindow"):
        signing.check_timestamp(SERVER - 6000, Decimal(5000), SERVER)


def test_recv_window_defaults_allows_decimals_and_caps_at_60000():
    """recvWindow: 5000 by default, three decimals allowed, above 60000 is -1131."""
    assert signing.parse_recv_window(None) == Decimal(5000)
    assert signing.parse_recv_window("6000.346") == Decimal("6000.346")
    assert signing.parse_recv_window("60000") == Decimal(60000)
    with pytest.raises(ApiError) as caught:
        signing.parse_recv_window("60001")
    assert caught.value.code == -1131
    with pytest.raises(ApiError) as caught:
        signing.parse_recv_window("-5")
    assert caught.value.code == -1102


@pytest.mark.parametrize("text", [None, "", "12a", "-1", "1.5"])
def test_missing_or_malformed_timestamp_is_mandatory_error(text):
    """timestamp must be an integer of milliseconds (-1102 otherwise)."""
    with pytest.raises(ApiError) as caught:
        signing.parse_timestamp(text)
    assert caught.value.code == -1102


def test_microsecond_timestamp_is_read_as_milliseconds_exactly():
    """A 16-digit timestamp is microseconds, as Binance accepts, converted exactly to ms."""
    assert signing.parse_timestamp("1700000000123456") == Decimal("1700000000123.456")
    assert signing.parse_timestamp("1700000000123") == 1700000000123


def test_microsecond_timestamp_obeys_the_same_recv_window():
    """A µs timestamp inside recvWindow passes; one past it is -1021."""
    now_ms = 1700000000000
    signing.check_timestamp(signing.parse_timestamp("1699999995000001"), Decimal(5000), now_ms)
    with pytest.raises(ApiError) as caught:
        signing.check_timestamp(signing.parse_timestamp("1699999994999999"), Decimal(5000), now_ms)
    assert caught.value.code == -1021
