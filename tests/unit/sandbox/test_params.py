"""sandbox/params.py: parameters read the way Binance reads them."""

from __future__ import annotations

import pytest

from sandbox.errors import ApiError
from sandbox.params import optional_decimal, parse_params, reject_unknown, required


def test_query_and_body_mix_and_query_wins():
    """POST parameters may be split; a name in both takes the query string's value."""
    assert parse_params(b"a=1&b=2", b"b=3&c=4") == {"a": "1", "b": "2", "c": "4"}


def test_percent_encoding_is_decoded_and_plus_is_space():
    """Values are form-decoded: %20 and + are spaces, UTF-8 escapes become text."""
    assert parse_params(b"name=a%20b+c&s=%EF%BC%91") == {"name": "a b c", "s": "１"}


def test_duplicate_parameter_is_1101():
    """The same name twice in one place: -1101."""
    with pytest.raises(ApiError) as caught:
        parse_params(b"a=1&a=2")
    assert caught.value.code == -1101


def test_invalid_utf8_is_1100():
    """Bytes that are not UTF-8 are illegal characters."""
    with pytest.raises(ApiError) as caught:
        parse_params(b"a=%FF%FE")
    assert caught.value.code == -1100


def test_empty_value_counts_as_missing_for_mandatory():
    """`coin=` is as good as no coin: -1102 naming it."""
    with pytest.raises(ApiError, match="'coin'"):
        required(parse_params(b"coin="), "coin")


@pytest.mark.parametrize("text", ["1e5", "1,5", ".5", "5.", "-1", "NaN", " 1"])
def test_decimals_must_be_plain(text):
    """Binance's legal range for numbers: digits with an optional fraction (-1100)."""
    with pytest.raises(ApiError) as caught:
        optional_decimal({"quantity": text}, "quantity")
    assert caught.value.code == -1100


def test_unknown_parameter_is_1104_with_counts():
    """A parameter the endpoint does not read: -1104 saying how many were read."""
    with pytest.raises(ApiError, match="read '1' parameter\\(s\\) but was sent '2'"):
        reject_unknown({"symbol": "X", "symbl": "Y"}, {"symbol"})
