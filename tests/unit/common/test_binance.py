"""common/binance/client.py: signed requests as sent, clock offset, typed errors and reply
decoding, against `responses` (the exchange's replies). Connection failures against real
local sockets: tests/integration/common/test_binance.py. The pure parts alone:
test_binance_signing.py, test_binance_errors.py."""

from __future__ import annotations

import hashlib
import hmac
import logging
from decimal import Decimal
from urllib.parse import parse_qsl, unquote, urlsplit

import pytest
import requests
import responses
import urllib3.exceptions

from common import binance
from common.binance import (
    Account, AuthError, BadResponse, BinanceClient, ClockSkewError, ExchangeError,
    ExchangeRequestError, ExchangeUnavailable, OrderNotFound, OrderRejected, OutcomeUnknown,
    RateLimitError, WithdrawRefused,
)
from common.clock import FakeClock
from tests.support.binance_cases import BASE, API_KEY, API_SECRET, NOW_MS, withdraw


ACCOUNT_JSON = {
    "makerCommission": 15, "canTrade": True, "canWithdraw": True, "canDeposit": True,
    "accountType": "SPOT", "permissions": ["SPOT"],
    "balances": [{"asset": "BTC", "free": "4.72342000", "locked": "0.00000000"},
                 {"asset": "USDT", "free": "10000.50000000", "locked": "12.00000000"}],
}
RESTRICTIONS_JSON = {
    "ipRestrict": True, "createTime": 1698645219000, "enableReading": True,
    "enableWithdrawals": True, "enableInternalTransfer": False, "enableMargin": False,
    "enableFutures": False, "permitsUniversalTransfer": False, "enableVanillaOptions": False,
    "enableFixApiTrade": False, "enableFixReadOnly": True, "enableSpotAndMarginTrading": False,
    "enablePortfolioMarginTrading": False,
}
NETWORK_JSON = {
    "network": "TRX", "coin": "USDT", "withdrawIntegerMultiple": "0.000001", "isDefault": True,
    "depositEnable": True, "withdrawEnable": True, "name": "Tron (TRC20)",
    "addressRegex": "^T[1-9A-HJ-NP-Za-km-z]{33}$", "memoRegex": "", "withdrawFee": "1",
    "withdrawMin": "10", "withdrawMax": "9999999", "minConfirm": 1, "busy": False,
}
COIN_JSON = [{"coin": "USDT", "depositAllEnable": True, "withdrawAllEnable": True,
              "name": "TetherUS", "free": "0", "networkList": [NETWORK_JSON]}]
ORDER_JSON = {
    "symbol": "BTCUSDT", "orderId": 28, "orderListId": -1, "clientOrderId": "sig-1",
    "transactTime": 1507725176595, "price": "0.00000000", "origQty": "0.00100000",
    "executedQty": "0.00100000", "cummulativeQuoteQty": "30.00000000", "status": "FILLED",
    "timeInForce": "GTC", "type": "MARKET", "side": "BUY", "workingTime": 1507725176595,
    "selfTradePreventionMode": "NONE",
    "fills": [{"price": "30000.00000000", "qty": "0.00100000", "commission": "0.00000100",
               "commissionAsset": "BTC", "tradeId": 56}],
}
WITHDRAW_JSON = [
    {"id": "b6ae22b3aa844210a7041aee7589627c", "amount": "8.91000000", "transactionFee": "0.004",
     "coin": "USDT", "status": 6, "address": "0x94df8b352de7f46f64b01d3666bf6e936e44ce60",
     "txId": "0xb5ef8c13", "applyTime": "2019-10-12 11:12:02", "network": "ETH",
     "transferType": 0, "withdrawOrderId": "WITHDRAWtest123", "info": "", "confirmNo": 3,
     "walletType": 1, "txKey": "", "completeTime": "2023-03-23 16:52:41"},
    {"id": "156ec387f49b41df8724fa744fa82719", "amount": "0.00150000", "transactionFee": "0.004",
     "coin": "BTC", "status": 4, "address": "1FZdVHtiBqMrWdjPyRPULCUceZPJ2WLCsB", "txId": "",
     "applyTime": "2019-09-24 12:43:45", "transferType": 0, "info": ""},
]

WITHDRAW_REFUSAL_CASES = [
    (-4026, "You have insufficient balance."),
    (-4022, "Not less than the minimum pick-up quantity 10."),
    (-4021, "Asset withdrawal must be an 0.01 multiple of 0.01."),
    (-4023, "Within 24 hours, the withdrawal exceeds the maximum amount."),
    (-4028, "The amount of withdrawal must be greater than the Commission."),
    (-4033, "Illegal address."),
    (-4035, "This address is not on the whitelist. Please join and try again."),
    (-4036, "The new address needs to be withdrawn in 24 hours."),
    (-4019, "Current asset is not open for withdrawal."),
]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(now_ms=NOW_MS)


@pytest.fixture
def client(clock: FakeClock) -> BinanceClient:
    return BinanceClient(BASE, API_KEY, API_SECRET, clock=clock)


@pytest.fixture
def mock():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield rsps


def hand_signature(secret: str, payload: str) -> str:
    """The documented algorithm, written out here: hex HMAC-SHA256 of the payload under the secret."""
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()


def sent_total_params(request: requests.PreparedRequest) -> str:
    """What the exchange signs: the query string concatenated with the body."""
    query = urlsplit(request.url).query
    body = request.body.decode() if isinstance(request.body, bytes) else (request.body or "")
    return query + body


def split_signature(total: str) -> tuple[str, str]:
    payload, _, signature = total.rpartition("&signature=")
    return payload, signature


def market_order(client: BinanceClient, **overrides):
    args = dict(symbol="BTCUSDT", side="BUY", type="MARKET", new_client_order_id="sig-1",
                quote_order_qty=Decimal("30"))
    args.update(overrides)
    return client.new_order(**args)


# --------------------------------------------------------------------------- signing

def test_signed_get_sends_key_header_timestamp_window_and_signature_last(client, mock):
    """A signed GET carries X-MBX-APIKEY, recvWindow, timestamp and a hand-checkable signature as its last parameter."""
    mock.get(f"{BASE}/api/v3/account", json=ACCOUNT_JSON)
    client.account()
    request = mock.calls[0].request
    assert request.headers["X-MBX-APIKEY"] == API_KEY
    assert request.body is None
    query = urlsplit(request.url).query
    pairs = parse_qsl(query)
    assert [name for name, _ in pairs] == ["recvWindow", "timestamp", "signature"]
    assert dict(pairs)["timestamp"] == str(NOW_MS)
    assert dict(pairs)["recvWindow"] == "5000"
    payload, signature = split_signature(query)
    assert signature == hand_signature(API_SECRET, payload)


def test_signed_post_sends_form_body_with_signature_last_and_no_query(client, mock):
    """A withdrawal is a form-encoded body signed as sent, with nothing in the URL's query."""
    mock.post(f"{BASE}/sapi/v1/capital/withdraw/apply", json={"id": "7213fea8e94b4a5593d507237e5a555b"})
    assert withdraw(client, address_tag="12345") == "7213fea8e94b4a5593d507237e5a555b"
    request = mock.calls[0].request
    assert urlsplit(request.url).query == ""
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert request.headers["X-MBX-APIKEY"] == API_KEY
    total = sent_total_params(request)
    payload, signature = split_signature(total)
    assert signature == hand_signature(API_SECRET, payload)
    assert dict(parse_qsl(total)) == {
        "coin": "USDT", "withdrawOrderId": "intent-1", "network": "TRX",
        "address": "TXYZ1234567890abcdefghijklmnopqrs", "addressTag": "12345", "amount": "100.5",
        "recvWindow": "5000", "timestamp": str(NOW_MS), "signature": signature,
    }
    assert total.endswith("&signature=" + signature)


def test_signature_covers_the_percent_encoded_bytes_actually_sent(client, mock):
    """Characters outside the unreserved set (the commas of idList) go out encoded, and that encoding is what is signed."""
    mock.get(f"{BASE}/sapi/v1/capital/withdraw/history", json=[])
    client.withdraw_history(id_list=["a1", "b2", "c3"])
    query = urlsplit(mock.calls[0].request.url).query
    assert "idList=a1%2Cb2%2Cc3&" in query
    payload, signature = split_signature(query)
    assert signature == hand_signature(API_SECRET, payload)
    assert dict(parse_qsl(query))["idList"] == "a1,b2,c3"


def test_amounts_go_out_as_plain_strings_without_exponent(client, mock):
    """Decimal amounts are sent with format(d, 'f'): no exponent, the digits given."""
    mock.post(f"{BASE}/sapi/v1/capital/withdraw/apply", json={"id": "w1"})
    mock.post(f"{BASE}/api/v3/order", json=ORDER_JSON)
    withdraw(client, amount=Decimal("1E+2"))
    market_order(client, quote_order_qty=None, quantity=Decimal("1E-8"), type="LIMIT",
                 price=Decimal("30000.10"), time_in_force="GTC")
    assert dict(parse_qsl(sent_total_params(mock.calls[0].request)))["amount"] == "100"
    order = dict(parse_qsl(sent_total_params(mock.calls[1].request)))
    assert order["quantity"] == "0.00000001"
    assert order["price"] == "30000.10"
    assert order["timeInForce"] == "GTC"
    assert order["newClientOrderId"] == "sig-1"
    assert order["newOrderRespType"] == "FULL"


def test_public_endpoints_send_neither_key_nor_signature(client, mock):
    """ping, time and exchangeInfo are NONE security: no API key header, no signature."""
    mock.get(f"{BASE}/api/v3/ping", json={})
    mock.get(f"{BASE}/api/v3/time", json={"serverTime": NOW_MS})
    mock.get(f"{BASE}/api/v3/exchangeInfo", json={"symbols": []})
    client.ping()
    client.server_time()
    client.exchange_info(["BTCUSDT", "ETHUSDT"])
    for call in mock.calls:
        assert "X-MBX-APIKEY" not in call.request.headers
        assert "signature" not in (urlsplit(call.request.url).query)
    query = urlsplit(mock.calls[2].request.url).query
    assert unquote(dict(parse_qsl(query, keep_blank_values=True)).get("symbols", "")) == '["BTCUSDT","ETHUSDT"]'


# --------------------------------------------------------------------------- clock

def test_sync_time_measures_offset_at_the_round_trip_midpoint(clock, client, mock):
    """The offset is server time minus the midpoint of the request's send and receive times."""
    def reply(request):
        clock.advance(0.2)   # the round trip takes 200 ms on the injected clock
        return 200, {}, '{"serverTime": %d}' % (NOW_MS + 1500)

    mock.add_callback(responses.GET, f"{BASE}/api/v3/time", callback=reply)
    assert client.sync_time() == 1500 - 100
    assert client.time_offset_ms == 1400


def test_signed_timestamp_is_local_clock_plus_measured_offset(clock, client, mock):
    """After a sync, every signed request is stamped with the injected clock plus the offset."""
    mock.get(f"{BASE}/api/v3/time", json={"serverTime": NOW_MS - 2500})
    mock.get(f"{BASE}/api/v3/account", json=ACCOUNT_JSON)
    client.sync_time()
    clock.advance(10)
    client.account()
    query = urlsplit(mock.calls[1].request.url).query
    assert dict(parse_qsl(query))["timestamp"] == str(NOW_MS + 10_000 - 2500)


def test_clock_skew_resyncs_and_retries_the_same_request_once(clock, client, mock):
    """-1021 makes the client measure the offset again and resend the request, freshly stamped and signed."""
    mock.post(f"{BASE}/api/v3/order", status=400,
              json={"code": -1021, "msg": "Timestamp for this request is outside of the recvWindow."})
    mock.post(f"{BASE}/api/v3/order", json=ORDER_JSON)
    mock.get(f"{BASE}/api/v3/time", json={"serverTime": NOW_MS + 9000})
    result = market_order(client)
    assert result.status == "FILLED"
    paths = [urlsplit(call.request.url).path for call in mock.calls]
    assert paths == ["/api/v3/order", "/api/v3/time", "/api/v3/order"]
    first = dict(parse_qsl(sent_total_params(mock.calls[0].request)))
    second_total = sent_total_params(mock.calls[2].request)
    second = dict(parse_qsl(second_total))
    assert first["timestamp"] == str(NOW_MS)
    assert second["timestamp"] == str(NOW_MS + 9000)
    assert second["newClientOrderId"] == first["newClientOrderId"]
    payload, signature = split_signature(second_total)
    assert signature == hand_signature(API_SECRET, payload)


def test_clock_skew_twice_raises_clock_skew_error_after_one_retry(client, mock):
    """A second -1021 is not retried again: ClockSkewError, after exactly two attempts."""
    body = {"code": -1021, "msg": "Timestamp for this request was 1000ms ahead of the server's time."}
    mock.post(f"{BASE}/sapi/v1/capital/withdraw/apply", status=400, json=body)
    mock.get(f"{BASE}/api/v3/time", json={"serverTime": NOW_MS})
    with pytest.raises(ClockSkewError) as caught:
        withdraw(client)
    assert caught.value.code == "clock_skew"
    assert caught.value.binance_code == -1021
    assert caught.value.http_status == 400
    paths = [urlsplit(call.request.url).path for call in mock.calls]
    assert paths == ["/sapi/v1/capital/withdraw/apply", "/api/v3/time", "/sapi/v1/capital/withdraw/apply"]


def test_clock_skew_with_exchange_down_for_the_resync_raises_unavailable(client, mock):
    """When the resync itself fails, that failure is raised and the request is not resent."""
    mock.get(f"{BASE}/api/v3/account", status=400, json={"code": -1021, "msg": "outside recvWindow"})
    mock.get(f"{BASE}/api/v3/time", status=503, body="<html>Service Unavailable</html>")
    with pytest.raises(ExchangeUnavailable):
        client.account()
    assert len(mock.calls) == 2


# --------------------------------------------------------------------------- error codes

@pytest.mark.parametrize("code,http_status", [(-1022, 400), (-2014, 401), (-2015, 401), (-2015, 400)])
def test_auth_codes_raise_auth_error(client, mock, code, http_status):
    """-1022 (signature), -2014 (key format) and -2015 (key/IP/permissions) are AuthError."""
    mock.post(f"{BASE}/sapi/v1/capital/withdraw/apply", status=http_status,
              json={"code": code, "msg": "Invalid API-key, IP, or permissions for action."})
    with pytest.raises(AuthError) as caught:
        withdraw(client)
    error = caught.value
    assert (error.code, error.binance_code, error.http_status) == ("auth", code, http_status)
    assert error.message == "Invalid API-key, IP, or permissions for action."
    assert len(mock.calls) == 1


def test_429_with_retry_after_is_rate_limited_for_that_long(client, mock):
    """HTTP 429 with -1003 gives RateLimitError whose retry_after is the Retry-After header."""
    mock.get(f"{BASE}/api/v3/account", status=429, headers={"Retry-After": "37"},
             json={"code": -1003, "msg": "Too much request weight used; current limit is 6000 request weight per 1 MINUTE."})
    with pytest.raises(RateLimitError) as caught:
        client.account()
    assert caught.value.retry_after == 37.0
    assert (caught.value.code, caught.value.binance_code, caught.value.http_status) == ("rate_limited", -1003, 429)


def test_429_without_retry_after_uses_the_default_backoff(client, mock):
    """A 429 without Retry-After (the order-count case) still backs off, by the default."""
    mock.post(f"{BASE}/api/v3/order", status=429, json={"code": -1015, "msg": "Too many new orders."})
    with pytest.raises(RateLimitError) as caught:
        market_order(client)
    assert caught.value.retry_after == binance.DEFAULT_RETRY_AFTER_429


def test_418_ip_ban_is_rate_limited_until_the_ban_ends(client, mock):
    """HTTP 418 (auto-ban) gives RateLimitError with Retry-After seconds, even with an HTML body."""
    mock.get(f"{BASE}/sapi/v1/capital/withdraw/history", status=418, headers={"Retry-After": "7200"},
             body="<html><body>banned</body></html>", content_type="text/html")
    with pytest.raises(RateLimitError) as caught:
        client.withdraw_history()
    assert caught.value.retry_after == 7200.0
    assert caught.value.http_status == 418
    assert caught.value.binance_code is None


def test_418_without_retry_after_waits_at_least_the_shortest_ban(client, mock):
    """A 418 without a usable Retry-After backs off for the documented minimum ban."""
    mock.get(f"{BASE}/api/v3/account", status=418, headers={"Retry-After": "soon"}, body="")
    with pytest.raises(RateLimitError) as caught:
        client.account()
    assert caught.value.retry_after == binance.DEFAULT_RETRY_AFTER_418


def test_sapi_too_many_requests_code_is_rate_limited(client, mock):
    """-4005 (too many new requests on SAPI) is a rate limit, not a withdraw refusal."""
    mock.post(f"{BASE}/sapi/v1/capital/withdraw/apply", status=400,
              json={"code": -4005, "msg": "Too many new requests."})
    with pytest.raises(RateLimitError) as caught:
        withdraw(client)
    assert caught.value.binance_code == -4005
    assert caught.value.retry_after == binance.DEFAULT_RETRY_AFTER_429


@pytest.mark.parametrize("code,msg", WITHDRAW_REFUSAL_CASES)
def test_withdraw_codes_raise_withdraw_refused_with_code_and_message(client, mock, code, msg):
    """Each documented withdraw refusal is WithdrawRefused carrying Binance's code and message."""
    mock.post(f"{BASE}/sapi/v1/capital/withdraw/apply", status=400, json={"code": code, "msg": msg})
    with pytest.raises(WithdrawRefused) as caught:
        withdraw(client)
    assert (caught.value.code, caught.value.binance_code, caught.value.message) == ("withdraw_refused", code, msg)
    assert str(code) in str(caught.value)


def test_any_other_4xxx_code_from_apply_is_a_withdraw_refusal(client, mock):
    """An undocumented-here -4xxx from withdraw apply is still a refusal (-4041 try again in a minute)."""
    mock.post(f"{BASE}/sapi/v1/capital/withdraw/apply", status=400,
              json={"code": -4041, "msg": "Please try again in one minute."})
    with pytest.raises(WithdrawRefused):
        withdraw(client)


def test_a_4xxx_code_from_history_is_a_request_error_not_a_refusal(client, mock):
    """-4xxx codes mean a withdraw refusal only on the apply endpoint."""
    mock.get(f"{BASE}/sapi/v1/capital/withdraw/history", status=400,
             json={"code": -4047, "msg": "Time interval must be within 0-90 days"})
    with pytest.raises(ExchangeRequestError) as caught:
        client.withdraw_history()
    assert type(caught.value) is ExchangeRequestError
    assert caught.value.code == "request_error"


@pytest.mark.parametrize("code,msg", [(-1013, "Filter failure: LOT_SIZE"),
                                      (-2010, "Account has insufficient balance for requested action.")])
def test_order_refusals_raise_order_rejected(client, mock, code, msg):
    """-1013 (filter failure) and -2010 (new order rejected) are OrderRejected, a request error."""
    mock.post(f"{BASE}/api/v3/order", status=400, json={"code": code, "msg": msg})
    with pytest.raises(OrderRejected) as caught:
        market_order(client)
    assert isinstance(caught.value, ExchangeRequestError)
    assert (caught.value.code, caught.value.binance_code, caught.value.message) == ("order_rejected", code, msg)


def test_unknown_order_raises_order_not_found(client, mock):
    """-2013 from the order look-up is OrderNotFound."""
    mock.get(f"{BASE}/api/v3/order", status=400, json={"code": -2013, "msg": "Order does not exist."})
    with pytest.raises(OrderNotFound) as caught:
        client.get_order(symbol="BTCUSDT", orig_client_order_id="sig-404")
    assert caught.value.code == "order_not_found"
    assert dict(parse_qsl(urlsplit(mock.calls[0].request.url).query))["origClientOrderId"] == "sig-404"


def test_other_binance_codes_are_request_errors(client, mock):
    """A code with no special meaning (-1102 missing parameter) is ExchangeRequestError."""
    mock.get(f"{BASE}/api/v3/account", status=400,
             json={"code": -1102, "msg": "Mandatory parameter 'timestamp' was not sent."})
    with pytest.raises(ExchangeRequestError) as caught:
        client.account()
    assert (caught.value.code, caught.value.binance_code) == ("request_error", -1102)


def test_status_unknown_code_on_an_order_is_outcome_unknown(client, mock):
    """-1007 ('execution status unknown') on a new order is OutcomeUnknown; on a read, unavailable."""
    body = {"code": -1007, "msg": "Timeout waiting for response from backend server. Send status unknown; execution status unknown."}
    mock.post(f"{BASE}/api/v3/order", status=408, json=body)
    mock.get(f"{BASE}/api/v3/account", status=408, json=body)
    with pytest.raises(OutcomeUnknown):
        market_order(client)
    with pytest.raises(ExchangeUnavailable):
        client.account()


def test_html_4xx_page_is_a_request_error(client, mock):
    """A 4XX that is not a Binance error body (a WAF page) is a typed request error, not a crash."""
    mock.post(f"{BASE}/sapi/v1/capital/withdraw/apply", status=403,
              body="<html><h1>403 Forbidden</h1></html>", content_type="text/html")
    with pytest.raises(ExchangeRequestError) as caught:
        withdraw(client)
    assert caught.value.binance_code is None
    assert caught.value.http_status == 403


# --------------------------------------------------------------------------- 5XX, timeouts, connections

@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_5xx_on_a_withdrawal_is_outcome_unknown(client, mock, status):
    """Binance: a 5XX means the execution status is UNKNOWN, so a withdrawal's outcome is unknown."""
    mock.post(f"{BASE}/sapi/v1/capital/withdraw/apply", status=status,
              json={"code": -1000, "msg": "An unknown error occurred while processing the request."})
    with pytest.raises(OutcomeUnknown) as caught:
        withdraw(client)
    assert (caught.value.code, caught.value.http_status) == ("outcome_unknown", status)
    assert len(mock.calls) == 1


def test_5xx_with_html_on_an_order_is_outcome_unknown(client, mock):
    """A gateway's HTML 502 on a new order is OutcomeUnknown."""
    mock.post(f"{BASE}/api/v3/order", status=502, body="<html>Bad Gateway</html>", content_type="text/html")
    with pytest.raises(OutcomeUnknown):
        market_order(client)


@pytest.mark.parametrize("status", [500, 503])
def test_5xx_on_a_read_is_exchange_unavailable(client, mock, status):
    """A 5XX on a read changes nothing: ExchangeUnavailable."""
    mock.get(f"{BASE}/sapi/v1/capital/config/getall", status=status, body="<html>oops</html>")
    with pytest.raises(ExchangeUnavailable) as caught:
        client.coin_config()
    assert (caught.value.code, caught.value.http_status) == ("exchange_unavailable", status)


def test_5xx_on_a_test_order_is_unavailable_because_test_orders_change_nothing(client, mock):
    """/order/test never places an order, so its lost reply is not an unknown outcome."""
    mock.post(f"{BASE}/api/v3/order/test", status=500, body="")
    with pytest.raises(ExchangeUnavailable):
        market_order(client, test=True)


def test_read_timeout_on_a_withdrawal_is_outcome_unknown(client, mock):
    """The request was sent and no reply came: the withdrawal may exist."""
    mock.post(f"{BASE}/sapi/v1/capital/withdraw/apply", body=requests.exceptions.ReadTimeout("read timed out"))
    with pytest.raises(OutcomeUnknown):
        withdraw(client)
    assert len(mock.calls) == 1


def test_read_timeout_on_a_read_is_exchange_unavailable(client, mock):
    """A read that timed out changed nothing."""
    mock.get(f"{BASE}/api/v3/account", body=requests.exceptions.ReadTimeout("read timed out"))
    with pytest.raises(ExchangeUnavailable):
        client.account()


def test_connect_timeout_on_a_withdrawal_is_unavailable_because_nothing_was_sent(client, mock):
    """requests' ConnectTimeout means no connection was made: nothing left, so nothing happened."""
    mock.post(f"{BASE}/sapi/v1/capital/withdraw/apply", body=requests.exceptions.ConnectTimeout("connect timed out"))
    with pytest.raises(ExchangeUnavailable) as caught:
        withdraw(client)
    assert "nothing was sent" in caught.value.message


def test_connection_reset_after_sending_an_order_is_outcome_unknown(client, mock):
    """A connection dropped after the request went out leaves the order's outcome unknown."""
    reset = requests.exceptions.ConnectionError(
        urllib3.exceptions.ProtocolError("Connection aborted.", ConnectionResetError(104, "reset by peer")))
    mock.post(f"{BASE}/api/v3/order", body=reset)
    mock.get(f"{BASE}/api/v3/account", body=reset)
    with pytest.raises(OutcomeUnknown):
        market_order(client)
    with pytest.raises(ExchangeUnavailable):
        client.account()


def test_broken_body_after_the_status_line_on_an_order_is_outcome_unknown(client, mock):
    """A reply whose body breaks off mid-stream came from a request that was processed."""
    mock.post(f"{BASE}/api/v3/order", body=requests.exceptions.ChunkedEncodingError("incomplete read"))
    with pytest.raises(OutcomeUnknown):
        market_order(client)


def test_redirects_are_not_followed_and_a_redirected_withdrawal_is_unknown(client, mock):
    """A 3XX is never followed (the key header would travel along); for a withdrawal it is unknown."""
    mock.post(f"{BASE}/sapi/v1/capital/withdraw/apply", status=302,
              headers={"Location": "https://elsewhere.invalid/steal"}, body="")
    with pytest.raises(OutcomeUnknown):
        withdraw(client)
    assert len(mock.calls) == 1


# --------------------------------------------------------------------------- bodies

def test_html_page_with_200_on_a_read_is_bad_response(client, mock):
    """An HTML page where JSON was expected is BadResponse, never a raw decode error."""
    mock.get(f"{BASE}/api/v3/account", body="<html><body>Maintenance</body></html>", content_type="text/html")
    with pytest.raises(BadResponse) as caught:
        client.account()
    assert caught.value.code == "bad_response"


def test_html_page_with_200_on_a_withdrawal_is_outcome_unknown(client, mock):
    """A withdrawal answered 200 with an unreadable body may have been accepted."""
    mock.post(f"{BASE}/sapi/v1/capital/withdraw/apply", body="<html>ok</html>", content_type="text/html")
    with pytest.raises(OutcomeUnknown):
        withdraw(client)


@pytest.mark.parametrize("body", ['{"canTrade": true, "canWith', '[{"coin": "USDT", "networkList": [', ""])
def test_truncated_json_on_a_read_is_bad_response(client, mock, body):
    """Truncated or empty JSON is BadResponse."""
    mock.get(f"{BASE}/sapi/v1/capital/config/getall", body=body, content_type="application/json")
    with pytest.raises(BadResponse):
        client.coin_config()


def test_truncated_json_on_an_order_is_outcome_unknown(client, mock):
    """A new order whose reply is cut short may have been placed."""
    mock.post(f"{BASE}/api/v3/order", body='{"symbol": "BTCUSDT", "orderId": 2', content_type="application/json")
    with pytest.raises(OutcomeUnknown):
        market_order(client)


@pytest.mark.parametrize("patch", [
    {"canWithdraw": "yes"},
    {"balances": [{"asset": "BTC", "free": 4.5, "locked": "0"}]},          # money as a JSON number
    {"balances": [{"asset": "BTC", "free": "NaN", "locked": "0"}]},
    {"balances": [{"asset": "BTC", "free": "-1", "locked": "0"}]},
    {"balances": [{"asset": "BTC", "free": "1e5", "locked": "0"}]},
    {"balances": "none"},
])
def test_wrong_types_on_a_read_are_bad_response(client, mock, patch):
    """Wrong types, money sent as a number, and non-plain amounts are all BadResponse."""
    mock.get(f"{BASE}/api/v3/account", json={**ACCOUNT_JSON, **patch})
    with pytest.raises(BadResponse):
        client.account()


@pytest.mark.parametrize("missing", ["ipRestrict", "enableWithdrawals", "enableSpotAndMarginTrading", "enableReading"])
def test_missing_permission_fields_are_bad_response_not_false(client, mock, missing):
    """The key audit's fields are required: a missing one is an error, never a default."""
    body = {k: v for k, v in RESTRICTIONS_JSON.items() if k != missing}
    mock.get(f"{BASE}/sapi/v1/account/apiRestrictions", json=body)
    with pytest.raises(BadResponse) as caught:
        client.api_restrictions()
    assert missing in caught.value.message


@pytest.mark.parametrize("missing", ["addressRegex", "withdrawMin", "withdrawEnable", "withdrawIntegerMultiple"])
def test_missing_coin_rule_fields_are_bad_response(client, mock, missing):
    """A network rule without its limits or address regex is refused, not guessed."""
    network = {k: v for k, v in NETWORK_JSON.items() if k != missing}
    mock.get(f"{BASE}/sapi/v1/capital/config/getall", json=[{**COIN_JSON[0], "networkList": [network]}])
    with pytest.raises(BadResponse):
        client.coin_config()


@pytest.mark.parametrize("body", [{"id": 123}, {"id": ""}, {}, []])
def test_withdrawal_reply_without_a_usable_id_is_outcome_unknown(client, mock, body):
    """A 200 whose id is missing, empty or not a string leaves the withdrawal's outcome unknown."""
    mock.post(f"{BASE}/sapi/v1/capital/withdraw/apply", json=body)
    with pytest.raises(OutcomeUnknown):
        withdraw(client)


def test_history_record_with_a_millisecond_apply_time_is_bad_response(client, mock):
    """applyTime is documented as a UTC string; a number there is refused."""
    record = {**WITHDRAW_JSON[0], "applyTime": 1570878722000}
    mock.get(f"{BASE}/sapi/v1/capital/withdraw/history", json=[record])
    with pytest.raises(BadResponse):
        client.withdraw_history()


# --------------------------------------------------------------------------- decoding

def test_account_decodes_balances_as_decimals(client, mock):
    """Account flags and balances decode, amounts as exact Decimals; free() of an unlisted asset is zero."""
    mock.get(f"{BASE}/api/v3/account", json=ACCOUNT_JSON)
    account = client.account()
    assert isinstance(account, Account)
    assert (account.can_trade, account.can_withdraw, account.can_deposit) == (True, True, True)
    assert account.free("USDT") == Decimal("10000.5")
    assert isinstance(account.free("USDT"), Decimal)
    assert account.free("ETH") == Decimal(0)
    assert account.balances[1].locked == Decimal("12")


def test_api_restrictions_decode(client, mock):
    """apiRestrictions decodes to snake_case booleans; unknown fields are ignored."""
    mock.get(f"{BASE}/sapi/v1/account/apiRestrictions", json=RESTRICTIONS_JSON)
    rights = client.api_restrictions()
    assert rights.ip_restrict is True
    assert rights.enable_withdrawals is True
    assert rights.enable_spot_and_margin_trading is False
    assert rights.enable_reading is True
    assert rights.create_time == 1698645219000


def test_exchange_info_decodes_symbols_and_filters(client, mock):
    """exchangeInfo gives symbols with their filters, looked up by type."""
    mock.get(f"{BASE}/api/v3/exchangeInfo", json={
        "timezone": "UTC", "serverTime": NOW_MS, "rateLimits": [],
        "symbols": [{"symbol": "BTCUSDT", "status": "TRADING", "baseAsset": "BTC", "quoteAsset": "USDT",
                     "filters": [{"filterType": "LOT_SIZE", "minQty": "0.00001000", "maxQty": "9000.00000000",
                                  "stepSize": "0.00001000"},
                                 {"filterType": "NOTIONAL", "minNotional": "5.00000000"}]}]})
    info = client.exchange_info()
    symbol = info.symbol("BTCUSDT")
    assert (symbol.base_asset, symbol.quote_asset, symbol.status) == ("BTC", "USDT", "TRADING")
    assert symbol.filter("LOT_SIZE")["stepSize"] == "0.00001000"
    assert symbol.filter("PRICE_FILTER") is None
    assert info.symbol("ETHUSDT") is None


def test_coin_config_decodes_network_rules_as_decimals(client, mock):
    """capital/config/getall gives each network's limits as Decimals and its regexes."""
    mock.get(f"{BASE}/sapi/v1/capital/config/getall", json=COIN_JSON)
    (coin,) = client.coin_config()
    (network,) = coin.network_list
    assert (coin.coin, network.network, network.withdraw_enable, network.is_default) == ("USDT", "TRX", True, True)
    assert network.withdraw_min == Decimal("10")
    assert network.withdraw_max == Decimal("9999999")
    assert network.withdraw_integer_multiple == Decimal("0.000001")
    assert network.withdraw_fee == Decimal("1")
    assert network.address_regex == "^T[1-9A-HJ-NP-Za-km-z]{33}$"


def test_new_order_returns_the_full_result_with_fills(client, mock):
    """A placed order returns its status, quantities as Decimals and its fills."""
    mock.post(f"{BASE}/api/v3/order", json=ORDER_JSON)
    result = market_order(client)
    assert (result.symbol, result.order_id, result.client_order_id, result.status) == ("BTCUSDT", 28, "sig-1", "FILLED")
    assert result.executed_qty == Decimal("0.001")
    assert result.cummulative_quote_qty == Decimal("30")
    assert result.fills[0].commission_asset == "BTC"
    assert result.fills[0].price == Decimal("30000")
    assert dict(parse_qsl(sent_total_params(mock.calls[0].request)))["quoteOrderQty"] == "30"


def test_test_order_goes_to_order_test_and_returns_none(client, mock):
    """test=True validates through /api/v3/order/test and returns None."""
    mock.post(f"{BASE}/api/v3/order/test", json={})
    assert market_order(client, test=True) is None
    assert urlsplit(mock.calls[0].request.url).path == "/api/v3/order/test"


def test_get_order_decodes_the_order(client, mock):
    """The order look-up by client order id decodes the order (no fills in that reply)."""
    body = {k: v for k, v in ORDER_JSON.items() if k != "fills"}
    mock.get(f"{BASE}/api/v3/order", json={**body, "status": "NEW", "executedQty": "0.00000000"})
    order = client.get_order(symbol="BTCUSDT", orig_client_order_id="sig-1")
    assert (order.status, order.executed_qty, order.fills) == ("NEW", Decimal("0"), [])


def test_withdraw_history_decodes_records_with_utc_string_times(client, mock):
    """History records keep applyTime/completeTime as UTC strings; optional fields may be absent."""
    mock.get(f"{BASE}/sapi/v1/capital/withdraw/history", json=WITHDRAW_JSON)
    done, open_ = client.withdraw_history(coin="USDT", status=6, limit=100, offset=0)
    assert (done.id, done.withdraw_order_id, done.status, done.tx_id) == (
        "b6ae22b3aa844210a7041aee7589627c", "WITHDRAWtest123", 6, "0xb5ef8c13")
    assert done.amount == Decimal("8.91") and done.transaction_fee == Decimal("0.004")
    assert binance.utc_time_ms(done.apply_time) == 1570878722000
    assert done.complete_time == "2023-03-23 16:52:41"
    assert (open_.withdraw_order_id, open_.network, open_.complete_time) == (None, None, None)
    sent = dict(parse_qsl(urlsplit(mock.calls[0].request.url).query))
    assert (sent["coin"], sent["status"], sent["limit"], sent["offset"]) == ("USDT", "6", "100", "0")


def test_withdraw_history_by_order_id_sends_the_window(client, mock):
    """A look-up by withdrawOrderId with a window under 7 days sends it as given."""
    mock.get(f"{BASE}/sapi/v1/capital/withdraw/history", json=[WITHDRAW_JSON[0]])
    start = NOW_MS - 6 * 24 * 3600 * 1000
    records = client.withdraw_history(withdraw_order_id="WITHDRAWtest123", start_time=start, end_time=NOW_MS)
    assert records[0].withdraw_order_id == "WITHDRAWtest123"
    sent = dict(parse_qsl(urlsplit(mock.calls[0].request.url).query))
    assert (sent["withdrawOrderId"], sent["startTime"], sent["endTime"]) == ("WITHDRAWtest123", str(start), str(NOW_MS))


# --------------------------------------------------------------------------- refused before any request

SEVEN_DAYS_MS = 7 * 24 * 3600 * 1000


@pytest.mark.parametrize("kwargs,fragment", [
    (dict(id_list=[f"id{i}" for i in range(46)]), "at most 45"),
    (dict(id_list=[]), "must not be empty"),
    (dict(id_list="a,b"), "not one string"),
    (dict(id_list=["a,b"]), "without commas"),
    (dict(withdraw_order_id="w1", start_time=NOW_MS - SEVEN_DAYS_MS, end_time=NOW_MS), "less than 7 days"),
    (dict(withdraw_order_id="w1", start_time=NOW_MS - SEVEN_DAYS_MS - 1, end_time=NOW_MS), "less than 7 days"),
    (dict(withdraw_order_id="w1", start_time=NOW_MS - 1000), "both start_time and end_time"),
    (dict(withdraw_order_id="w1", end_time=NOW_MS), "both start_time and end_time"),
    (dict(withdraw_order_id=""), "must not be empty"),
    (dict(start_time=NOW_MS, end_time=NOW_MS - 1), "before start_time"),
    (dict(start_time=NOW_MS - 90 * 24 * 3600 * 1000, end_time=NOW_MS), "90 days"),
    (dict(start_time=-1), "milliseconds"),
    (dict(limit=0), "1..1000"),
    (dict(limit=1001), "1..1000"),
    (dict(offset=-1), ">= 0"),
    (dict(status=9), "0..6"),
])
def test_bad_history_queries_are_refused_before_any_request(client, mock, kwargs, fragment):
    """Windows and id lists Binance documents as invalid raise ValueError and send nothing."""
    with pytest.raises(ValueError, match=fragment):
        client.withdraw_history(**kwargs)
    assert len(mock.calls) == 0


def test_45_ids_and_a_window_just_under_7_days_are_accepted(client, mock):
    """The limits themselves are allowed: 45 ids, and a window one millisecond under 7 days."""
    mock.get(f"{BASE}/sapi/v1/capital/withdraw/history", json=[])
    client.withdraw_history(id_list=[f"id{i}" for i in range(45)])
    client.withdraw_history(withdraw_order_id="w1", start_time=NOW_MS - SEVEN_DAYS_MS + 1, end_time=NOW_MS)
    assert len(mock.calls) == 2


@pytest.mark.parametrize("amount,error", [
    (100.5, TypeError), (100, TypeError), ("100.5", TypeError),
    (Decimal("0"), ValueError), (Decimal("-1"), ValueError), (Decimal("NaN"), ValueError),
    (Decimal("Infinity"), ValueError),
])
def test_withdraw_amount_must_be_a_positive_finite_decimal(client, mock, amount, error):
    """Floats, ints, strings, zero, negatives and non-finite amounts never reach the exchange."""
    with pytest.raises(error):
        withdraw(client, amount=amount)
    assert len(mock.calls) == 0


@pytest.mark.parametrize("kwargs", [
    dict(quantity=Decimal("1"), quote_order_qty=Decimal("30")),
    dict(quote_order_qty=None),
    dict(side="HOLD"),
    dict(new_client_order_id=""),
    dict(price=1.5),
])
def test_bad_orders_are_refused_before_any_request(client, mock, kwargs):
    """An order with both or neither quantity, a bad side, no client id or a float price is refused locally."""
    with pytest.raises((ValueError, TypeError)):
        market_order(client, **kwargs)
    assert len(mock.calls) == 0


@pytest.mark.parametrize("kwargs", [
    dict(recv_window_ms=0), dict(recv_window_ms=60_001), dict(api_secret=""),
    dict(base_url="api.binance.com"), dict(base_url="ftp://x"), dict(read_timeout=0),
])
def test_bad_construction_is_refused(kwargs):
    """recvWindow beyond 1..60000, a missing secret, a bad base URL or a zero timeout fail at construction."""
    args = dict(base_url=BASE, api_key=API_KEY, api_secret=API_SECRET)
    args.update(kwargs)
    with pytest.raises(ValueError):
        BinanceClient(**args)


def test_recv_window_is_sent_as_configured(clock, mock):
    """A custom recvWindow (up to 60000) is what the signed request carries."""
    client = BinanceClient(BASE, API_KEY, API_SECRET, clock=clock, recv_window_ms=60_000)
    mock.get(f"{BASE}/api/v3/account", json=ACCOUNT_JSON)
    client.account()
    assert dict(parse_qsl(urlsplit(mock.calls[0].request.url).query))["recvWindow"] == "60000"


# --------------------------------------------------------------------------- weights

def test_used_weight_headers_are_tracked_by_lower_case_name(client, mock):
    """X-MBX-USED-WEIGHT-1M and the SAPI IP/UID weight headers are kept, last value wins."""
    mock.get(f"{BASE}/api/v3/account", json=ACCOUNT_JSON, headers={"X-MBX-USED-WEIGHT-1M": "20"})
    mock.get(f"{BASE}/sapi/v1/account/apiRestrictions", json=RESTRICTIONS_JSON,
             headers={"X-SAPI-USED-IP-WEIGHT-1M": "1"})
    mock.post(f"{BASE}/sapi/v1/capital/withdraw/apply", json={"id": "w1"},
              headers={"X-SAPI-USED-UID-WEIGHT-1M": "900"})
    mock.get(f"{BASE}/api/v3/time", json={"serverTime": NOW_MS},
             headers={"X-MBX-USED-WEIGHT-1M": "21", "X-MBX-USED-WEIGHT": "junk", "Server": "nginx"})
    client.account()
    client.api_restrictions()
    withdraw(client)
    client.server_time()
    assert client.used_weights == {"x-mbx-used-weight-1m": 21, "x-sapi-used-ip-weight-1m": 1,
                                   "x-sapi-used-uid-weight-1m": 900}


def test_weights_are_tracked_from_error_replies_and_returned_as_a_copy(client, mock):
    """A 429 still reports the weight used; callers get a snapshot they cannot corrupt."""
    mock.get(f"{BASE}/api/v3/account", status=429, json={"code": -1003, "msg": "Too much request weight used"},
             headers={"X-MBX-USED-WEIGHT-1M": "6001", "Retry-After": "12"})
    with pytest.raises(RateLimitError):
        client.account()
    snapshot = client.used_weights
    snapshot["x-mbx-used-weight-1m"] = 0
    assert client.used_weights == {"x-mbx-used-weight-1m": 6001}


# --------------------------------------------------------------------------- secrets

def test_repr_shows_only_the_masked_key(client):
    """The client's repr has the base URL and mask_key(key), never the key or the secret."""
    text = repr(client)
    assert API_KEY not in text and API_SECRET not in text
    assert "test...ijkl" in text


def test_the_secret_is_no_attribute_of_the_client(client):
    """The secret lives only inside the HMAC object: no attribute holds it as text."""
    for value in vars(client).values():
        assert API_SECRET not in repr(value)
        assert API_SECRET not in str(value)


def test_exception_text_never_contains_the_secret_or_the_full_key(client, mock):
    """Even when the exchange echoes the key and secret back, the error's text, repr and message scrub them."""
    mock.post(f"{BASE}/sapi/v1/capital/withdraw/apply", status=400,
              json={"code": -2015, "msg": f"Invalid API-key {API_KEY} with secret {API_SECRET}"})
    with pytest.raises(AuthError) as caught:
        withdraw(client)
    for text in (str(caught.value), repr(caught.value), caught.value.message, str(caught.value.args)):
        assert API_KEY not in text
        assert API_SECRET not in text


def test_transport_errors_do_not_carry_the_signed_url(client, mock):
    """requests' messages name the URL (with its signature); ours never do, and do not chain it."""
    mock.get(f"{BASE}/api/v3/account", body=requests.exceptions.ConnectionError(
        f"Max retries exceeded with url: /api/v3/account?timestamp=1&signature=abc{API_SECRET}"))
    with pytest.raises(ExchangeUnavailable) as caught:
        client.account()
    assert "signature" not in str(caught.value)
    assert caught.value.__suppress_context__ is True
    assert caught.value.__cause__ is None


def test_log_records_carry_neither_secret_nor_key_nor_signature(client, mock, caplog):
    """What the client logs on success and failure names endpoints and codes, never credentials or signed URLs."""
    caplog.set_level(logging.DEBUG, logger="binance")
    mock.get(f"{BASE}/api/v3/time", json={"serverTime": NOW_MS})
    mock.get(f"{BASE}/api/v3/account", json=ACCOUNT_JSON)
    mock.post(f"{BASE}/sapi/v1/capital/withdraw/apply", status=500, body="")
    mock.get(f"{BASE}/sapi/v1/account/apiRestrictions", body=requests.exceptions.ReadTimeout("x"))
    client.sync_time()
    client.account()
    with pytest.raises(OutcomeUnknown):
        withdraw(client)
    with pytest.raises(ExchangeUnavailable):
        client.api_restrictions()
    assert caplog.records
    for record in caplog.records:
        text = record.getMessage() + repr(getattr(record, "fields", {}))
        assert API_SECRET not in text and API_KEY not in text and "signature" not in text


def test_every_error_has_the_documented_attributes():
    """Each error class has a stable code and the binance_code/message/http_status attributes."""
    codes = {
        binance.ClockSkewError: "clock_skew", binance.AuthError: "auth",
        binance.WithdrawRefused: "withdraw_refused", binance.OutcomeUnknown: "outcome_unknown",
        binance.ExchangeUnavailable: "exchange_unavailable", binance.BadResponse: "bad_response",
        binance.ExchangeRequestError: "request_error", binance.OrderRejected: "order_rejected",
        binance.OrderNotFound: "order_not_found",
    }
    for cls, code in codes.items():
        error = cls("msg", binance_code=-1, http_status=400)
        assert isinstance(error, ExchangeError)
        assert (error.code, error.binance_code, error.message, error.http_status) == (code, -1, "msg", 400)
    limited = RateLimitError("slow down", retry_after=3.5)
    assert (limited.code, limited.retry_after, limited.binance_code, limited.http_status) == ("rate_limited", 3.5, None, None)


def test_timeouts_are_passed_on_every_request(clock, mock):
    """Each request carries the explicit (connect, read) timeout pair."""
    seen = []

    class RecordingSession(requests.Session):
        def request(self, *args, **kwargs):
            seen.append(kwargs.get("timeout"))
            return super().request(*args, **kwargs)

    client = BinanceClient(BASE, API_KEY, API_SECRET, clock=clock, connect_timeout=1.5,
                           read_timeout=4, session=RecordingSession())
    mock.get(f"{BASE}/api/v3/ping", json={})
    mock.post(f"{BASE}/sapi/v1/capital/withdraw/apply", json={"id": "w1"})
    client.ping()
    withdraw(client)
    assert seen == [(1.5, 4.0), (1.5, 4.0)]


def test_sapi_system_busy_on_a_withdrawal_is_outcome_unknown(client, mock):
    """-3044 ('System busy.') does not say whether the withdrawal happened: unknown, and unavailable on a read."""
    body = {"code": -3044, "msg": "System busy."}
    mock.post(f"{BASE}/sapi/v1/capital/withdraw/apply", status=400, json=body)
    mock.get(f"{BASE}/sapi/v1/capital/withdraw/history", status=400, json=body)
    with pytest.raises(OutcomeUnknown):
        withdraw(client)
    with pytest.raises(ExchangeUnavailable):
        client.withdraw_history()


@pytest.mark.parametrize("code", [-1004, -1008, -1016])
def test_server_busy_codes_on_a_state_changing_call_are_outcome_unknown(client, mock, code):
    """-1004/-1008/-1016 are not documented as "not executed" (issue 10, defect 1): on a
    withdrawal or an order they are unknown outcomes, looked up before any retry; on a read
    nothing changed, so the read is unavailable."""
    body = {"code": code, "msg": "Spot server is currently overloaded with other requests."}
    mock.post(f"{BASE}/api/v3/order", status=400, json=body)
    mock.post(f"{BASE}/sapi/v1/capital/withdraw/apply", status=400, json=body)
    mock.get(f"{BASE}/sapi/v1/capital/withdraw/history", status=400, json=body)
    with pytest.raises(OutcomeUnknown) as caught:
        market_order(client)
    assert caught.value.binance_code == code
    with pytest.raises(OutcomeUnknown) as caught:
        withdraw(client)
    assert caught.value.binance_code == code
    with pytest.raises(ExchangeUnavailable):
        client.withdraw_history()


def test_bare_408_from_a_gateway_on_a_withdrawal_is_outcome_unknown(client, mock):
    """A 408 without a Binance body may come after the request was forwarded: unknown for a withdrawal."""
    mock.post(f"{BASE}/sapi/v1/capital/withdraw/apply", status=408, body="<html>Request Timeout</html>")
    with pytest.raises(OutcomeUnknown):
        withdraw(client)


def test_ticker_price_is_a_decimal(client, mock):
    """The public last-price endpoint gives a Decimal, and refuses a price sent as a JSON number."""
    mock.get(f"{BASE}/api/v3/ticker/price", json={"symbol": "BTCUSDT", "price": "30000.01000000"})
    assert client.ticker_price("BTCUSDT") == Decimal("30000.01")
    assert dict(parse_qsl(urlsplit(mock.calls[0].request.url).query)) == {"symbol": "BTCUSDT"}
    mock.replace(responses.GET, f"{BASE}/api/v3/ticker/price", json={"symbol": "BTCUSDT", "price": 30000.01})
    with pytest.raises(BadResponse):
        client.ticker_price("BTCUSDT")
