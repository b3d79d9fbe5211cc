"""The real `sandbox-exchange` process over HTTP, driven with `requests` and a signer
written here from Binance's documentation (not common/binance/)."""

from __future__ import annotations

import hashlib
import hmac
import subprocess
import time
import uuid
from typing import Iterator
from urllib.parse import quote, urlencode

import pytest
import requests

from tests.support.procs import script
from tests.support.sandbox import (
    DEMO_READER, DEMO_SIGNAL, DEMO_TREASURY, DEMO_TRX_ADDRESS, DEMO_TRX_FAILING, DemoKey, Sandbox,
    start_sandbox,
)

pytestmark = pytest.mark.e2e

APPLY = "/sapi/v1/capital/withdraw/apply"
HISTORY = "/sapi/v1/capital/withdraw/history"
ORDER = "/api/v3/order"


def signed_query(key: DemoKey, params: dict, timestamp: int | None = None) -> str:
    """Binance's HMAC signing: percent-encode, append timestamp, sign the exact string sent."""
    query = urlencode({**params, "timestamp": timestamp or int(time.time() * 1000)}, quote_via=quote)
    signature = hmac.new(key.api_secret.encode(), query.encode(), hashlib.sha256).hexdigest()
    return f"{query}&signature={signature}"


def call(sandbox: Sandbox, method: str, path: str, key: DemoKey, params: dict | None = None,
         timestamp: int | None = None, in_body: bool = False) -> requests.Response:
    query = signed_query(key, params or {}, timestamp)
    headers = {"X-MBX-APIKEY": key.api_key}
    if in_body:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
        return requests.request(method, sandbox.url(path), data=query, headers=headers, timeout=10)
    return requests.request(method, sandbox.url(f"{path}?{query}"), headers=headers, timeout=10)


def apply(sandbox: Sandbox, order_id: str, key: DemoKey = DEMO_TREASURY, **params) -> requests.Response:
    body = {"coin": "USDT", "network": "TRX", "address": DEMO_TRX_ADDRESS, "amount": "20",
            "withdrawOrderId": order_id, **params}
    return call(sandbox, "POST", APPLY, key, body, in_body=True)


def new_id() -> str:
    return f"e2e-{uuid.uuid4().hex[:16]}"


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory) -> Iterator[Sandbox]:
    """One sandbox for the module; withdrawals complete after 0.4 s."""
    running = start_sandbox(tmp_path_factory.mktemp("sandbox-e2e"), complete_after_seconds=0.4)
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(autouse=True)
def reset(sandbox: Sandbox) -> Iterator[None]:
    yield
    sandbox.clear_faults()
    sandbox.set_clock_offset(0)
    sandbox.set_key("treasury", can_withdraw=True, can_trade=False)


def test_help_describes_the_options():
    """`sandbox-exchange --help` documents the port, state, config and host options."""
    out = subprocess.run([script("sandbox-exchange"), "--help"], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0
    for option in ("--port", "--state", "--config", "--host", "sandbox listening on"):
        assert option in out.stdout


def test_port_zero_prints_the_real_port_once(sandbox):
    """--port 0 picks a free port, prints one listening line with it, and serves there."""
    lines = [line for line in sandbox.log().splitlines() if "sandbox listening on" in line]
    assert lines == [f"sandbox listening on {sandbox.base_url}"]
    assert not sandbox.base_url.endswith(":0")
    assert requests.get(sandbox.url("/api/v3/ping"), timeout=5).json() == {}


def test_invalid_config_stops_the_start_with_a_named_key(tmp_path):
    """A bad config file: exit status 2 and a message naming the key, no listening line."""
    bad = tmp_path / "bad.toml"
    bad.write_text('[exchange]\ncomplete_after_seconds = "soon"\n')
    out = subprocess.run([script("sandbox-exchange"), "--port", "0", "--config", str(bad)],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 2
    assert "complete_after_seconds" in out.stderr and "listening" not in out.stdout


def test_bad_signature_is_1022(sandbox):
    """A request signed with the wrong secret: HTTP 400, -1022."""
    wrong = DemoKey("treasury", DEMO_TREASURY.api_key, "wrong-secret-not-real-0001")
    response = call(sandbox, "GET", "/api/v3/account", wrong)
    assert (response.status_code, response.json()["code"]) == (400, -1022)


def test_signature_over_unencoded_text_is_1022_and_over_the_encoding_passes(sandbox):
    """Binance signs the percent-encoded payload: signing the raw text of a non-ASCII value fails."""
    params = {"coin": "USDT", "network": "TRX", "address": DEMO_TRX_ADDRESS, "amount": "20",
              "withdrawOrderId": new_id(), "name": "Cold wallet №1"}
    timestamp = int(time.time() * 1000)
    sent = urlencode({**params, "timestamp": timestamp}, quote_via=quote)
    raw_text = "&".join(f"{k}={v}" for k, v in {**params, "timestamp": timestamp}.items())
    bad = hmac.new(DEMO_TREASURY.api_secret.encode(), raw_text.encode(), hashlib.sha256).hexdigest()
    headers = {"X-MBX-APIKEY": DEMO_TREASURY.api_key}
    refused = requests.post(sandbox.url(f"{APPLY}?{sent}&signature={bad}"), headers=headers, timeout=10)
    assert refused.json()["code"] == -1022
    accepted = apply(sandbox, new_id(), name="Cold wallet №1")
    assert accepted.status_code == 200
    assert sandbox.withdrawals()[-1]["name"] == "Cold wallet №1"


def test_stale_and_future_timestamps_are_1021(sandbox):
    """Correctly signed but 6 s old (recvWindow 5000), or 2 s ahead: -1021."""
    now = int(time.time() * 1000)
    assert call(sandbox, "GET", "/api/v3/account", DEMO_SIGNAL, timestamp=now - 6000).json()["code"] == -1021
    assert call(sandbox, "GET", "/api/v3/account", DEMO_SIGNAL, timestamp=now + 2000).json()["code"] == -1021


def test_clock_offset_moves_server_time_and_the_timestamp_window(sandbox):
    """POST /sandbox/clock shifts /api/v3/time and makes wall-clock timestamps stale."""
    sandbox.set_clock_offset(120_000)
    server_time = requests.get(sandbox.url("/api/v3/time"), timeout=5).json()["serverTime"]
    assert server_time - int(time.time() * 1000) > 100_000
    assert call(sandbox, "GET", "/api/v3/account", DEMO_SIGNAL).json()["code"] == -1021
    assert call(sandbox, "GET", "/api/v3/account", DEMO_SIGNAL, timestamp=server_time).status_code == 200


def test_trading_key_cannot_withdraw_and_withdraw_key_cannot_trade(sandbox):
    """-2015 for the signal key at apply and for the treasury key at /order (HTTP 401)."""
    refused = apply(sandbox, new_id(), key=DEMO_SIGNAL)
    assert (refused.status_code, refused.json()["code"]) == (401, -2015)
    order = {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.001"}
    assert call(sandbox, "POST", ORDER, DEMO_TREASURY, order, in_body=True).json()["code"] == -2015
    assert call(sandbox, "POST", ORDER, DEMO_READER, order).json()["code"] == -2015


def test_unknown_and_malformed_api_keys(sandbox):
    """An unknown key is -2015; a missing header is -2014."""
    unknown = DemoKey("x", "unknown-key-000000", "unknown-secret-not-real")
    assert call(sandbox, "GET", "/api/v3/account", unknown).json()["code"] == -2015
    no_key = requests.get(sandbox.url("/api/v3/account?" + signed_query(DEMO_SIGNAL, {})), timeout=5)
    assert no_key.json()["code"] == -2014


def test_withdraw_round_trip_progresses_4_then_6(sandbox):
    """apply -> {"id"}; history shows 4, then 6 with a txId and completeTime once the delay passed."""
    order_id = new_id()
    response = apply(sandbox, order_id)
    assert response.status_code == 200
    withdrawal_id = response.json()["id"]
    assert "X-SAPI-USED-UID-WEIGHT-1M" in response.headers
    first = call(sandbox, "GET", HISTORY, DEMO_TREASURY, {"withdrawOrderId": order_id}).json()
    assert [(r["id"], r["status"]) for r in first] == [(withdrawal_id, 4)]
    sandbox.wait_for_withdrawal(lambda w: w["id"] == withdrawal_id and w["status"] == 6, what="completion")
    done = call(sandbox, "GET", HISTORY, DEMO_TREASURY, {"idList": withdrawal_id}).json()[0]
    assert done["status"] == 6 and done["txId"] and done["completeTime"]
    assert done["withdrawOrderId"] == order_id and done["applyTime"][4] == "-"


def test_failing_address_ends_failed_and_is_refunded(sandbox):
    """A demo failing address goes 4 -> 5 and its amount returns to the account."""
    before = sandbox.balances()["USDT"]["free"]
    withdrawal_id = apply(sandbox, new_id(), address=DEMO_TRX_FAILING).json()["id"]
    sandbox.wait_for_withdrawal(lambda w: w["id"] == withdrawal_id and w["status"] == 5 and w["refunded"],
                                what="failure and refund")
    assert sandbox.balances()["USDT"]["free"] == before


def test_operator_cancel_via_admin(sandbox):
    """POST /sandbox/withdrawals/{id}/status {"status": 1} makes history report 1."""
    sandbox.set_key("treasury", can_withdraw=True)
    withdrawal_id = apply(sandbox, new_id()).json()["id"]
    sandbox.force_withdrawal_status(withdrawal_id, 1)
    rows = call(sandbox, "GET", HISTORY, DEMO_TREASURY, {"idList": withdrawal_id}).json()
    assert rows[0]["status"] == 1 and rows[0]["info"]


def test_apply_calls_count_duplicates_which_are_not_deduplicated(sandbox):
    """The same withdrawOrderId applied twice makes two withdrawals; apply_calls says 2."""
    order_id = new_id()
    first, second = apply(sandbox, order_id).json()["id"], apply(sandbox, order_id).json()["id"]
    assert first != second
    assert sandbox.apply_calls()[order_id] == 2
    assert sum(1 for w in sandbox.withdrawals() if w["withdrawOrderId"] == order_id) == 2


def test_revoking_withdraw_mid_run_gives_2015(sandbox):
    """POST /sandbox/keys/treasury {"can_withdraw": false}: the next apply is -2015."""
    sandbox.set_key("treasury", can_withdraw=False)
    assert apply(sandbox, new_id()).json()["code"] == -2015
    restrictions = call(sandbox, "GET", "/sapi/v1/account/apiRestrictions", DEMO_TREASURY).json()
    assert restrictions["enableWithdrawals"] is False and restrictions["ipRestrict"] is True


def test_orders_are_listed_with_client_id_key_and_arrival_time(sandbox):
    """GET /sandbox/orders lists each order with clientOrderId, key and receivedAt (wall ms)."""
    client_id = new_id()
    before = time.time() * 1000
    body = {"symbol": "ETHUSDT", "side": "BUY", "type": "MARKET", "quoteOrderQty": "30",
            "newClientOrderId": client_id}
    placed = call(sandbox, "POST", ORDER, DEMO_SIGNAL, body, in_body=True)
    assert placed.status_code == 200 and placed.json()["status"] == "FILLED"
    assert placed.headers["X-MBX-ORDER-COUNT-10S"]
    listed = next(o for o in sandbox.orders() if o["clientOrderId"] == client_id)
    assert listed["key"] == "signal" and before - 1000 <= listed["receivedAt"] <= time.time() * 1000
    queried = call(sandbox, "GET", ORDER, DEMO_SIGNAL, {"symbol": "ETHUSDT", "origClientOrderId": client_id})
    assert queried.json()["executedQty"] == "0.01000000"


@pytest.mark.parametrize("kind, applied", [("5xx_before", False), ("5xx_after", True)])
def test_5xx_faults_answer_html_and_apply_or_not(sandbox, kind, applied):
    """5xx_before: 503 HTML, nothing recorded; 5xx_after: 500 HTML, the withdrawal exists."""
    sandbox.add_fault(APPLY, kind)
    order_id = new_id()
    response = apply(sandbox, order_id)
    assert response.status_code == (503 if kind == "5xx_before" else 500)
    assert response.headers["Content-Type"].startswith("text/html") and "<html>" in response.text
    assert any(w["withdrawOrderId"] == order_id for w in sandbox.withdrawals()) is applied
    assert (order_id in sandbox.apply_calls()) is applied


@pytest.mark.parametrize("kind, applied", [("drop_before", False), ("drop_after", True)])
def test_drop_faults_close_without_answer(sandbox, kind, applied):
    """drop_*: the connection closes with no answer; only drop_after applied the request."""
    sandbox.add_fault(APPLY, kind)
    order_id = new_id()
    with pytest.raises(requests.ConnectionError):
        apply(sandbox, order_id)
    assert any(w["withdrawOrderId"] == order_id for w in sandbox.withdrawals()) is applied


@pytest.mark.parametrize("kind", ["429", "418"])
def test_rate_limit_faults_carry_retry_after(sandbox, kind):
    """429/418: Binance's -1003 body and Retry-After; the request is not applied."""
    sandbox.add_fault(HISTORY, kind, retry_after=7)
    response = call(sandbox, "GET", HISTORY, DEMO_TREASURY)
    assert (response.status_code, response.headers["Retry-After"], response.json()["code"]) == \
        (int(kind), "7", -1003)
    assert call(sandbox, "GET", HISTORY, DEMO_TREASURY).status_code == 200


def test_timestamp_and_auth_faults(sandbox):
    """-1021 and auth faults answer those errors once, then the path works again."""
    sandbox.add_faults({"path": "/api/v3/account", "kind": "-1021"},
                       {"path": "/api/v3/account", "kind": "auth"})
    assert call(sandbox, "GET", "/api/v3/account", DEMO_SIGNAL).json()["code"] == -1021
    assert call(sandbox, "GET", "/api/v3/account", DEMO_SIGNAL).json()["code"] == -2015
    assert call(sandbox, "GET", "/api/v3/account", DEMO_SIGNAL).status_code == 200


def test_latency_fault_delays_the_answer(sandbox):
    """latency: the answer comes no sooner than `seconds` later (a lower bound, not a timing)."""
    sandbox.add_fault("/api/v3/time", "latency", seconds=0.3)
    started = time.monotonic()
    assert requests.get(sandbox.url("/api/v3/time"), timeout=10).status_code == 200
    assert time.monotonic() - started >= 0.3
    assert sandbox.faults() == []


def test_state_survives_a_restart(tmp_path):
    """Stopped with SIGTERM (exit 0) and started again on its state file, the sandbox
    remembers withdrawals, their status, apply counts, orders and balances."""
    sandbox = start_sandbox(tmp_path, complete_after_seconds=0.2)
    try:
        order_id = new_id()
        withdrawal_id = apply(sandbox, order_id).json()["id"]
        call(sandbox, "POST", ORDER, DEMO_SIGNAL, {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET",
                                                   "quantity": "0.001", "newClientOrderId": "keep-1"})
        balances = sandbox.balances()
        assert sandbox.stop() == 0
        sandbox.start()
        rows = call(sandbox, "GET", HISTORY, DEMO_TREASURY, {"withdrawOrderId": order_id}).json()
        assert [r["id"] for r in rows] == [withdrawal_id]
        sandbox.wait_for_withdrawal(lambda w: w["id"] == withdrawal_id and w["status"] == 6)
        assert sandbox.apply_calls() == {order_id: 1}
        assert [o["clientOrderId"] for o in sandbox.orders()] == ["keep-1"]
        assert sandbox.balances() == balances
    finally:
        sandbox.stop()


def test_ticker_price_answers_the_price_orders_fill_at(sandbox):
    """GET /api/v3/ticker/price gives the symbol's current price, changed by the admin API."""
    sandbox.set_price("BTCUSDT", "43210.5")
    reply = requests.get(sandbox.url("/api/v3/ticker/price"), params={"symbol": "BTCUSDT"}, timeout=5)
    assert reply.status_code == 200
    assert reply.json() == {"symbol": "BTCUSDT", "price": "43210.5"}
    unknown = requests.get(sandbox.url("/api/v3/ticker/price"), params={"symbol": "NOPE"}, timeout=5)
    assert unknown.status_code == 400 and unknown.json()["code"] == -1121
