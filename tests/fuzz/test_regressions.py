"""Minimal regressions for the bugs the fuzzers found, one input each, kept forever."""

from __future__ import annotations

from decimal import Decimal

import pytest

from common import messages

# {"type": <a str whose bytes are not UTF-8>}: msgspec raised UnicodeDecodeError, which
# escaped decode_request and killed the treasury's server loop.
TYPE_NOT_UTF8 = b"\x81\xa4type\xa2\xff\xfe"
# {"x": [[[...0...]]], "type": "ping"} nested past the recursion limit: RecursionError.
DEEP_BEFORE_TYPE = b"\x82\xa1x" + b"\x91" * 5000 + b"\x00" + b"\xa4type\xa4ping"
# {"type": "intent_status", "intent_id": <not UTF-8>}
FIELD_NOT_UTF8 = b"\x82\xa4type\xadintent_status\xa9intent_id\xa2\xff\xfe"


@pytest.mark.parametrize("frame", [TYPE_NOT_UTF8, DEEP_BEFORE_TYPE, FIELD_NOT_UTF8],
                         ids=["type-not-utf8", "deep-nesting", "field-not-utf8"])
def test_undecodable_frames_are_malformed_not_a_crash(frame):
    """Strings that are not UTF-8 and nesting past the recursion limit are error/malformed."""
    with pytest.raises(messages.WireError) as caught:
        messages.decode_request(frame)
    assert caught.value.code == "malformed"


def test_undecodable_reply_and_event_are_wire_errors():
    """The client side's decoders refuse the same bytes with WireError, not a crash."""
    for decode in (messages.decode_reply, messages.decode_event):
        with pytest.raises(messages.WireError):
            decode(TYPE_NOT_UTF8)
        with pytest.raises(messages.WireError):
            decode(DEEP_BEFORE_TYPE)


@pytest.mark.parametrize("body", [b'{"id": "\xff\xfe"}', b"[" * 60_000],
                         ids=["not-utf8", "deep-nesting"])
def test_webhook_bodies_that_msgspec_cannot_decode_are_400(body):
    """A body that is not UTF-8 or nests too deeply is 400 bad_json (it was no reply at all)."""
    from signal_bot.webhook import judge
    answer = judge(body, None, "test-secret-not-real-0001")
    assert answer.status == 400 and answer.body["error"] == "bad_json"


@pytest.mark.parametrize("status, body", [
    (400, b'{"code": -1100, "msg": "\xff"}'),
    (500, b'{"code": -1000, "msg": "\xff"}'),
    (400, b'{"x": ' + b"[" * 5000 + b'], "code": -1100}'),
], ids=["4xx-not-utf8", "5xx-not-utf8", "4xx-deep-nesting"])
def test_exchange_error_bodies_msgspec_cannot_decode_are_typed_errors(status, body):
    """An error page that is not UTF-8 or nests too deeply is a typed ExchangeError, not a crash."""
    import responses

    from common.binance import BinanceClient, ExchangeError, OutcomeUnknown
    from common.clock import FakeClock
    base = "https://api.test.invalid"
    client = BinanceClient(base, "test-key-not-real-0001", "test-secret-not-real-0001",
                           clock=FakeClock(1_700_000_000_000))
    with responses.RequestsMock() as mock:
        mock.add("POST", base + "/sapi/v1/capital/withdraw/apply", body=body, status=status)
        with pytest.raises(ExchangeError) as caught:
            client.withdraw_apply(coin="USDT", network="TRX", address="TAddr", amount=Decimal("1"),
                                  withdraw_order_id="reg-1")
    assert (status >= 500) == isinstance(caught.value, OutcomeUnknown)


def test_exchange_reply_nesting_past_the_recursion_limit_is_bad_response():
    """A 2XX body nested deeper than the recursion limit is BadResponse (RecursionError escaped)."""
    import responses

    from common.binance import BadResponse, BinanceClient
    from common.clock import FakeClock
    base = "https://api.test.invalid"
    client = BinanceClient(base, "test-key-not-real-0001", "test-secret-not-real-0001",
                           clock=FakeClock(1_700_000_000_000))
    body = (b'{"symbols": [{"symbol": "A", "status": "T", "baseAsset": "A", "quoteAsset": "B",'
            b' "filters": [{"x": ' + b"[" * 5000 + b"]}]}]}")
    with responses.RequestsMock() as mock:
        mock.add("GET", base + "/api/v3/exchangeInfo", body=body, status=200)
        with pytest.raises(BadResponse):
            client.exchange_info()


@pytest.mark.parametrize("side, order_type", [("\u017fell", "market"), ("buy", "l\u0131m\u0131t"),
                                              ("BUY", "MAR\u212aET")])
def test_signal_words_are_case_insensitive_in_ascii_only(side, order_type):
    """Unicode case mapping turned "\u017fell" into SELL and "l\u0131m\u0131t" into LIMIT; they are refused."""
    from signal_bot.signals import SignalError, parse_signal
    fields = {"id": "u-1", "symbol": "BTCUSDT", "side": side, "type": order_type, "quantity": "1"}
    if order_type != "market":
        fields["price"] = "1"
    with pytest.raises(SignalError):
        parse_signal(fields)


# Issue 10 defect 6: {"type": "ping", "type": "ping"} decoded as a valid ping (msgspec keeps
# the last value), so padded frames of repeated keys were journaled verbatim.
PING_TWICE = b"\x82\xa4type\xa4ping\xa4type\xa4ping"
# {"type": "intent_status", "intent_id": "a", "intent_id": "b"} in a map32 header.
STATUS_ID_TWICE = b"\xdf\x00\x00\x00\x03\xa4type\xadintent_status\xa9intent_id\xa1a\xa9intent_id\xa1b"


@pytest.mark.parametrize("frame", [PING_TWICE, STATUS_ID_TWICE], ids=["ping-type-twice", "map32-id-twice"])
def test_a_repeated_map_key_is_malformed(frame):
    """A request map that repeats a key is error/malformed, whatever the map header."""
    with pytest.raises(messages.WireError) as caught:
        messages.decode_request(frame)
    assert caught.value.code == "malformed"
