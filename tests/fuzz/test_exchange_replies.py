"""Fuzzing common/binance/ with exchange replies from `responses`: every method, every
status, bodies that are truncated, HTML pages, of the wrong type, missing fields, with huge
numbers, floats where decimal strings belong, "NaN", not UTF-8, nested past any limit,
odd headers, and the transport failing in every way requests can fail.

Properties:
- a call returns its documented type (amounts as finite, non-negative Decimals) or raises
  an ExchangeError subclass - never KeyError, ValueError, TypeError or anything else;
- a state-changing call (new_order, withdraw_apply) whose outcome the reply does not
  settle - a 5XX, a 2XX it cannot read, a 408, a "status unknown" code, a reply lost after
  sending - raises OutcomeUnknown; a read never raises OutcomeUnknown, and raises
  BadResponse for a 2XX it cannot read and ExchangeUnavailable for a 5XX;
- 418 / 429 are RateLimitError with a finite, non-negative retry_after;
- the documented body itself always decodes (the generator's sanity).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Callable

import requests
import responses
import urllib3.exceptions
from hypothesis import given
from hypothesis import strategies as st

from common import binance
from common.binance import (BadResponse, BinanceClient, ExchangeError, ExchangeUnavailable,
                            OutcomeUnknown, RateLimitError)
from common.clock import FakeClock
from tests.fuzz.frames import ci_settings

BASE = "https://api.test.invalid"
NOW_MS = 1_700_000_000_000

NETWORK = {"network": "TRX", "coin": "USDT", "withdrawIntegerMultiple": "0.000001", "isDefault": True,
           "depositEnable": True, "withdrawEnable": True, "name": "Tron (TRC20)",
           "addressRegex": "^T[1-9A-HJ-NP-Za-km-z]{33}$", "memoRegex": "", "withdrawFee": "1",
           "withdrawMin": "10", "withdrawMax": "9999999", "minConfirm": 1, "busy": False}
ORDER = {"symbol": "BTCUSDT", "orderId": 28, "orderListId": -1, "clientOrderId": "sig-1",
         "transactTime": 1507725176595, "price": "0.00000000", "origQty": "0.00100000",
         "executedQty": "0.00100000", "cummulativeQuoteQty": "30.00000000", "status": "FILLED",
         "timeInForce": "GTC", "type": "MARKET", "side": "BUY",
         "fills": [{"price": "30000.00000000", "qty": "0.00100000", "commission": "0.00000100",
                    "commissionAsset": "BTC", "tradeId": 56}]}
WITHDRAWAL = {"id": "b6ae22b3aa844210a7041aee7589627c", "amount": "8.91000000", "transactionFee": "0.004",
              "coin": "USDT", "status": 6, "address": "TXYZ", "txId": "0xb5ef8c13",
              "applyTime": "2019-10-12 11:12:02", "network": "TRX", "transferType": 0,
              "withdrawOrderId": "intent-1", "info": "", "confirmNo": 3, "walletType": 1,
              "completeTime": "2023-03-23 16:52:41"}


@dataclass(frozen=True)
class Method:
    name: str
    http: str
    path: str
    call: Callable[[BinanceClient], Any]
    body: Any                        # the documented reply
    state_changing: bool = False


METHODS = [
    Method("server_time", "GET", "/api/v3/time", lambda c: c.server_time(), {"serverTime": NOW_MS}),
    Method("ping", "GET", "/api/v3/ping", lambda c: c.ping(), {}),
    Method("exchange_info", "GET", "/api/v3/exchangeInfo", lambda c: c.exchange_info(),
           {"timezone": "UTC", "serverTime": NOW_MS, "symbols": [
               {"symbol": "BTCUSDT", "status": "TRADING", "baseAsset": "BTC", "quoteAsset": "USDT",
                "filters": [{"filterType": "LOT_SIZE", "minQty": "0.00001", "maxQty": "9000",
                             "stepSize": "0.00001"}]}]}),
    Method("ticker_price", "GET", "/api/v3/ticker/price", lambda c: c.ticker_price("BTCUSDT"),
           {"symbol": "BTCUSDT", "price": "30000.01"}),
    Method("account", "GET", "/api/v3/account", lambda c: c.account(),
           {"canTrade": True, "canWithdraw": True, "canDeposit": True, "accountType": "SPOT",
            "balances": [{"asset": "USDT", "free": "10000.5", "locked": "12.0"}]}),
    Method("api_restrictions", "GET", "/sapi/v1/account/apiRestrictions", lambda c: c.api_restrictions(),
           {"ipRestrict": True, "enableReading": True, "enableWithdrawals": True,
            "enableSpotAndMarginTrading": False, "createTime": 1698645219000}),
    Method("coin_config", "GET", "/sapi/v1/capital/config/getall", lambda c: c.coin_config(),
           [{"coin": "USDT", "name": "TetherUS", "withdrawAllEnable": True, "networkList": [NETWORK]}]),
    Method("get_order", "GET", "/api/v3/order",
           lambda c: c.get_order(symbol="BTCUSDT", orig_client_order_id="sig-1"), ORDER),
    Method("withdraw_history", "GET", "/sapi/v1/capital/withdraw/history",
           lambda c: c.withdraw_history(withdraw_order_id="intent-1"), [WITHDRAWAL]),
    Method("test_order", "POST", "/api/v3/order/test",
           lambda c: c.new_order(symbol="BTCUSDT", side="BUY", type="MARKET", new_client_order_id="sig-1",
                                 quote_order_qty=Decimal("30"), test=True), {}),
    Method("new_order", "POST", "/api/v3/order",
           lambda c: c.new_order(symbol="BTCUSDT", side="BUY", type="MARKET", new_client_order_id="sig-1",
                                 quote_order_qty=Decimal("30")), ORDER, state_changing=True),
    Method("withdraw_apply", "POST", "/sapi/v1/capital/withdraw/apply",
           lambda c: c.withdraw_apply(coin="USDT", network="TRX", address="TXYZ", amount=Decimal("100.5"),
                                      withdraw_order_id="intent-1"),
           {"id": "7213fea8e94b4a5593d507237e5a555b"}, state_changing=True),
]
BY_NAME = {method.name: method for method in METHODS}


# --- reply strategies ---------------------------------------------------------------------------

HTML_PAGES = [
    b"<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center>"
    b"<hr><center>cloudflare</center></body></html>",
    b"<!DOCTYPE html><html><body><h1>Service Unavailable</h1><p>" + b"x" * 5000 + b"</p></body></html>",
    b"<html><body>The request could not be satisfied. CloudFront \xe2\x80\x94 error</body></html>",
    b"<?xml version='1.0'?><Error><Code>AccessDenied</Code></Error>",
]
weird_values = st.one_of(
    st.none(), st.booleans(), st.integers(-2**80, 2**80), st.floats(),
    st.sampled_from(["NaN", "nan", "Infinity", "-1", "1e5", "1E-3", "", " 1", "0x10", "\uff11", "١",
                     "1" * 400, "9" * 5000 + ".5", "2019-13-45 99:99:99", "2019-10-12 11:12:02\n",
                     "-0", "+1", "1.", ".5", "true", "null"]),
    st.text(max_size=10), st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)


def paths(doc: Any, prefix: tuple = ()) -> list[tuple]:
    found = []
    items = doc.items() if isinstance(doc, dict) else enumerate(doc) if isinstance(doc, list) else ()
    for key, value in items:
        found.append(prefix + (key,))
        found += paths(value, prefix + (key,))
    return found


@st.composite
def mutated_body(draw, base: Any) -> Any:
    """The documented body with one or two fields removed, retyped, or made absurd."""
    doc = json.loads(json.dumps(base))
    for _ in range(draw(st.integers(1, 2))):
        targets = paths(doc)
        if not targets:
            return draw(weird_values)
        path = draw(st.sampled_from(targets))
        parent = doc
        for part in path[:-1]:
            parent = parent[part]
        if draw(st.booleans()):
            if isinstance(parent, dict):
                del parent[path[-1]]
            else:
                parent.pop(path[-1])
        else:
            value = parent[path[-1]]
            parent[path[-1]] = draw(st.one_of(
                weird_values,
                st.just(float(value)) if isinstance(value, str) and _is_number(value) else weird_values,
                st.just(str(value)) if isinstance(value, (int, bool)) else weird_values))
    return doc


def _is_number(text: str) -> bool:
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


def to_bytes(value: Any) -> bytes:
    return json.dumps(value, allow_nan=True).encode()   # NaN / Infinity are not JSON: refused too


@st.composite
def bodies(draw, base: Any) -> bytes:
    kind = draw(st.sampled_from(["documented", "mutated", "mutated", "mutated", "truncated", "html",
                                 "wrong_shape", "bytes", "not_utf8", "deep", "huge_number", "empty"]))
    text = to_bytes(base)
    if kind == "documented":
        return text
    if kind == "mutated":
        return to_bytes(draw(mutated_body(base)))
    if kind == "truncated":
        return text[:draw(st.integers(0, max(len(text) - 1, 0)))]
    if kind == "html":
        return draw(st.sampled_from(HTML_PAGES))
    if kind == "wrong_shape":
        return to_bytes(draw(st.one_of(weird_values, st.just([base]), st.just({"data": base}),
                                       st.just({"code": -1000, "msg": "An unknown error occurred"}))))
    if kind == "bytes":
        return draw(st.binary(max_size=100))
    if kind == "not_utf8":
        return text[:len(text) // 2] + draw(st.sampled_from([b"\xff", b"\xc3(", b"\xed\xa0\x80"])) + text[len(text) // 2:]
    if kind == "deep":
        depth = draw(st.sampled_from([100, 5000, 50000]))
        opener = draw(st.sampled_from([b"[", b'{"a":']))
        return opener * depth + b"1" + (b"]" if opener == b"[" else b"}") * depth
    if kind == "huge_number":
        return draw(st.sampled_from([b'{"serverTime": 1e400}', b'{"id": 1e400}', b"9" * 5000,
                                     b'{"serverTime": ' + b"9" * 400 + b"}", b'[{"coin": 1e999}]']))
    return b""


error_bodies = st.one_of(
    st.builds(lambda code, msg: to_bytes({"code": code, "msg": msg}),
              st.one_of(st.sampled_from([-1000, -1001, -1003, -1006, -1007, -1013, -1015, -1021, -1022,
                                         -2010, -2013, -2014, -2015, -3044, -4019, -4026, -4999, -4000, 0, 200]),
                        st.integers(-2**70, 2**70)),
              st.one_of(st.text(max_size=40), st.just("x" * 5000))),
    st.builds(lambda code: to_bytes({"code": code}), weird_values),
    st.builds(lambda msg: to_bytes({"msg": msg, "code": "-1021"}), st.text(max_size=10)),
    st.sampled_from(HTML_PAGES), st.binary(max_size=60), st.just(b""),
    st.just(b'{"code": -1000, "msg": "\xff\xfe"}'), st.just(b'{"x": ' + b"[" * 5000 + b"]"),
)
header_values = st.one_of(st.sampled_from(["0", "1", "60", "-5", "nan", "inf", "1e400", "9" * 500, "", " 3 ",
                                           "Wed, 21 Oct 2015 07:28:00 GMT", "\u0663", "1.5"]),
                          st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=12))
TRANSPORT_FAILURES = [
    requests.exceptions.ConnectTimeout("connect timeout"),
    requests.exceptions.ReadTimeout("read timeout"),
    requests.exceptions.ConnectionError("connection reset by peer"),
    requests.exceptions.ConnectionError(urllib3.exceptions.NewConnectionError(None, "refused")),
    requests.exceptions.ChunkedEncodingError("broken chunk"),
    requests.exceptions.ContentDecodingError("bad gzip"),
    requests.exceptions.SSLError("handshake"),
    requests.exceptions.TooManyRedirects("loop"),
    requests.exceptions.InvalidHeader("bad header"),
    urllib3.exceptions.ProtocolError("connection aborted"),
    urllib3.exceptions.ReadTimeoutError(None, "/", "read timed out"),
]


@st.composite
def replies(draw) -> tuple[Method, int | None, bytes | BaseException, dict[str, str]]:
    """(method, HTTP status or None for a transport failure, body or exception, headers)."""
    method = draw(st.sampled_from(METHODS))
    headers = {}
    if draw(st.booleans()):
        headers[draw(st.sampled_from(["Retry-After", "X-MBX-USED-WEIGHT-1M", "X-SAPI-USED-UID-WEIGHT-1M",
                                      "x-mbx-order-count-10s", "Content-Type"]))] = draw(header_values)
    kind = draw(st.sampled_from(["ok", "ok", "ok", "error", "error", "transport"]))
    if kind == "transport":
        return method, None, draw(st.sampled_from(TRANSPORT_FAILURES)), headers
    if kind == "ok":
        return method, draw(st.sampled_from([200, 200, 200, 201, 202, 204, 206])), draw(bodies(method.body)), headers
    status = draw(st.sampled_from([300, 301, 302, 307, 400, 401, 403, 404, 405, 408, 409, 413, 415, 418, 422,
                                   429, 451, 500, 502, 503, 504, 599]))
    return method, status, draw(error_bodies), headers


# --- the property --------------------------------------------------------------------------------

def call(method: Method, status: int | None, body: bytes | BaseException, headers: dict[str, str]):
    """Run the method against one mocked reply; return (result, error)."""
    client = BinanceClient(BASE, "test-key-not-real-0001", "test-secret-not-real-0001",
                           clock=FakeClock(NOW_MS))
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        # A -1021 makes the client resync with /api/v3/time and retry once: give it a clock.
        if method.path != "/api/v3/time":
            mock.add("GET", BASE + "/api/v3/time", json={"serverTime": NOW_MS})
        if status is None:
            mock.add(method.http, BASE + method.path, body=body)
        else:
            mock.add(method.http, BASE + method.path, body=body, status=status, headers=headers)
        try:
            return method.call(client), None
        except ExchangeError as exc:
            return None, exc
        finally:
            client.close()


def decodes(method: Method, body: bytes) -> bool:
    """Would the documented-shape decoder take this 2XX body? (The client's own types.)"""
    reply_type = {"server_time": binance.ServerTime, "ping": dict, "exchange_info": binance.ExchangeInfo,
                  "ticker_price": binance.TickerPrice, "account": binance.Account,
                  "api_restrictions": binance.ApiRestrictions, "coin_config": list[binance.CoinConfig],
                  "get_order": binance.OrderResult, "withdraw_history": list[binance.WithdrawRecord],
                  "test_order": dict, "new_order": binance.OrderResult,
                  "withdraw_apply": binance.models.WithdrawApplied}[method.name]
    import msgspec
    try:
        msgspec.json.decode(body, type=reply_type, dec_hook=binance.models.dec_hook)
    except Exception:  # noqa: BLE001 - any refusal means "not the documented shape"
        return False
    return True


def check_amounts(value: Any) -> None:
    """Every Decimal in a decoded reply is finite and non-negative (no float ever)."""
    if isinstance(value, float):
        raise AssertionError(f"a float in a decoded reply: {value!r}")
    if isinstance(value, Decimal):
        assert value.is_finite() and value >= 0, value
    elif isinstance(value, (list, tuple)):
        for item in value:
            check_amounts(item)
    elif hasattr(value, "__struct_fields__"):
        for name in value.__struct_fields__:
            check_amounts(getattr(value, name))


def judge(method: Method, status: int | None, body, headers) -> None:
    result, error = call(method, status, body, headers)
    if error is None:
        assert status is not None and 200 <= status < 300, f"{method.name} succeeded on {status}"
        check_amounts(result)
        return
    assert isinstance(error, ExchangeError)
    assert str(error) and "\n" not in error.message and len(error.message) <= binance.MAX_MESSAGE_CHARS + 3
    if isinstance(error, RateLimitError):
        assert math.isfinite(error.retry_after) and error.retry_after >= 0
    unsettled = status is not None and (status >= 500 or (200 <= status < 300) or status == 408)
    if isinstance(body, (requests.exceptions.ReadTimeout, urllib3.exceptions.ReadTimeoutError,
                         urllib3.exceptions.ProtocolError, requests.exceptions.ChunkedEncodingError)):
        unsettled = True
    if method.state_changing:
        if unsettled and not (status is not None and 200 <= status < 300 and decodes(method, body)):
            assert isinstance(error, OutcomeUnknown), f"{method.name} {status}: {error!r} should be OutcomeUnknown"
    else:
        assert not isinstance(error, OutcomeUnknown), f"a read raised {error!r}"
        if status is not None and 200 <= status < 300:
            assert isinstance(error, (BadResponse, ExchangeUnavailable)), repr(error)
        if status is not None and status >= 500:
            assert isinstance(error, ExchangeUnavailable), repr(error)


@ci_settings(max_examples=600)
@given(reply=replies())
def test_every_reply_is_a_typed_result_or_a_typed_exchange_error(reply):
    """Any status, body, header or transport failure, on every method of the client."""
    judge(*reply)


def test_the_documented_bodies_decode():
    """The generator's sanity: each method's documented reply is accepted as is."""
    for method in METHODS:
        result, error = call(method, 200, to_bytes(method.body), {})
        assert error is None, (method.name, error)
        check_amounts(result)
