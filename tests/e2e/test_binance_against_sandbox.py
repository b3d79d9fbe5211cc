"""common/binance/ against the real `sandbox-exchange` process: every method makes a real
signed round trip, and the sandbox's injected faults surface as the documented typed errors.

The sandbox checks signatures with its own code written from Binance's documentation, so
a signing or encoding bug here cannot pass by agreeing with itself.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Iterator

import pytest

from common import binance
from common.binance import (
    AuthError, BinanceClient, ClockSkewError, ExchangeRequestError, ExchangeUnavailable,
    OrderNotFound, OrderRejected, OutcomeUnknown, RateLimitError, WithdrawRefused,
)
from tests.support.sandbox import (
    DEMO_SIGNAL, DEMO_TREASURY, DEMO_TRX_ADDRESS, DemoKey, Sandbox, start_sandbox,
)
from tests.support.waiting import wait_until

pytestmark = pytest.mark.e2e

APPLY = "/sapi/v1/capital/withdraw/apply"
ORDER = "/api/v3/order"
ACCOUNT = "/api/v3/account"


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory) -> Iterator[Sandbox]:
    """One sandbox process for this module (quick withdrawals); faults and clock reset per test."""
    running = start_sandbox(tmp_path_factory.mktemp("binance-e2e"), persistent=False,
                            complete_after_seconds=0.5)
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(autouse=True)
def clean_sandbox(sandbox: Sandbox) -> Iterator[None]:
    yield
    sandbox.clear_faults()
    sandbox.set_clock_offset(0)


def make_client(sandbox: Sandbox, key: DemoKey, **options) -> BinanceClient:
    client = BinanceClient(sandbox.base_url, key.api_key, key.api_secret, **options)
    client.sync_time()
    return client


@pytest.fixture
def trader(sandbox: Sandbox) -> Iterator[BinanceClient]:
    client = make_client(sandbox, DEMO_SIGNAL)
    yield client
    client.close()


@pytest.fixture
def treasury(sandbox: Sandbox) -> Iterator[BinanceClient]:
    client = make_client(sandbox, DEMO_TREASURY)
    yield client
    client.close()


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def withdraw(client: BinanceClient, order_id: str, amount: str = "25.5", **overrides) -> str:
    args = dict(coin="USDT", network="TRX", address=DEMO_TRX_ADDRESS, amount=Decimal(amount),
                withdraw_order_id=order_id)
    args.update(overrides)
    return client.withdraw_apply(**args)


# --------------------------------------------------------------------------- round trips

def test_public_endpoints_and_time_sync(sandbox, trader):
    """ping, server time, the offset measured against the sandbox clock, and exchangeInfo."""
    trader.ping()
    assert abs(trader.server_time() - sandbox.server_time()) < 5_000
    assert abs(trader.sync_time()) < 1_000
    info = trader.exchange_info()
    assert {"BTCUSDT", "ETHUSDT"} <= {s.symbol for s in info.symbols}
    (btc,) = trader.exchange_info(["BTCUSDT"]).symbols
    assert (btc.base_asset, btc.quote_asset, btc.status) == ("BTC", "USDT", "TRADING")
    assert Decimal(btc.filter("LOT_SIZE")["stepSize"]) == Decimal("0.00001")
    with pytest.raises(ExchangeRequestError) as caught:
        trader.exchange_info(["NOPEUSDT"])
    assert caught.value.binance_code == -1121


def test_signed_reads_round_trip(trader, treasury):
    """account, apiRestrictions of both keys and the coin rules decode from real signed replies."""
    account = trader.account()
    assert account.can_trade is True
    assert isinstance(account.free("USDT"), Decimal) and account.free("USDT") > 0
    treasury_rights = treasury.api_restrictions()
    assert (treasury_rights.ip_restrict, treasury_rights.enable_withdrawals,
            treasury_rights.enable_spot_and_margin_trading) == (True, True, False)
    signal_rights = trader.api_restrictions()
    assert (signal_rights.enable_withdrawals, signal_rights.enable_spot_and_margin_trading) == (False, True)
    usdt = next(c for c in treasury.coin_config() if c.coin == "USDT")
    trx = next(n for n in usdt.network_list if n.network == "TRX")
    assert (trx.withdraw_enable, trx.withdraw_min, trx.withdraw_integer_multiple, trx.withdraw_fee) == (
        True, Decimal("10"), Decimal("0.000001"), Decimal("1"))
    assert trx.address_regex == "^T[1-9A-HJ-NP-Za-km-z]{33}$"
    assert trader.used_weights.get("x-mbx-used-weight-1m", 0) > 0
    assert treasury.used_weights.get("x-sapi-used-ip-weight-1m", 0) > 0


def test_orders_round_trip(sandbox, trader):
    """A test order, a MARKET and a LIMIT order are placed and looked up by client order id."""
    test_id = new_id("test")
    assert trader.new_order(symbol="BTCUSDT", side="BUY", type="MARKET", new_client_order_id=test_id,
                            quote_order_qty=Decimal("30"), test=True) is None
    assert test_id not in {o["clientOrderId"] for o in sandbox.orders()}

    market_id = new_id("mkt")
    placed = trader.new_order(symbol="BTCUSDT", side="BUY", type="MARKET", new_client_order_id=market_id,
                              quote_order_qty=Decimal("30"))
    assert (placed.client_order_id, placed.status) == (market_id, "FILLED")
    assert placed.executed_qty > 0 and placed.fills
    assert placed.cummulative_quote_qty <= Decimal("30")
    looked_up = trader.get_order(symbol="BTCUSDT", orig_client_order_id=market_id)
    assert (looked_up.order_id, looked_up.executed_qty) == (placed.order_id, placed.executed_qty)

    limit_id = new_id("lmt")
    limit = trader.new_order(symbol="ETHUSDT", side="BUY", type="LIMIT", new_client_order_id=limit_id,
                             quantity=Decimal("0.0100"), price=Decimal("1000.00"), time_in_force="GTC")
    assert (limit.client_order_id, limit.orig_qty, limit.price) == (limit_id, Decimal("0.01"), Decimal("1000"))
    assert market_id in {o["clientOrderId"] for o in sandbox.orders()}
    assert "x-mbx-order-count-10s" in trader.used_weights


def test_order_errors_over_the_wire(trader, treasury):
    """Unknown order id, a filter failure, and an order with a key that cannot trade."""
    with pytest.raises(OrderNotFound):
        trader.get_order(symbol="BTCUSDT", orig_client_order_id=new_id("missing"))
    with pytest.raises(OrderRejected) as caught:
        trader.new_order(symbol="BTCUSDT", side="BUY", type="LIMIT", new_client_order_id=new_id("tiny"),
                         quantity=Decimal("0.000001"), price=Decimal("60000"), time_in_force="GTC")
    assert caught.value.binance_code == -1013
    with pytest.raises(AuthError) as caught:
        treasury.new_order(symbol="BTCUSDT", side="BUY", type="MARKET", new_client_order_id=new_id("nope"),
                           quote_order_qty=Decimal("30"))
    assert caught.value.binance_code == -2015


def test_non_ascii_value_is_percent_encoded_as_the_sandbox_verifies_it(trader):
    """A non-ASCII parameter is signed percent-encoded: the sandbox accepts the signature and looks the order up."""
    with pytest.raises(ExchangeRequestError) as caught:
        trader.get_order(symbol="BTCUSDT", orig_client_order_id="ordre-été-１２３")
    assert not isinstance(caught.value, AuthError)


def test_withdrawal_round_trip_and_history(sandbox, treasury):
    """A withdrawal is applied, found by withdrawOrderId and by idList, and completes."""
    order_id = new_id("intent")
    withdrawal_id = withdraw(treasury, order_id, amount="25.5")
    assert withdrawal_id
    (record,) = treasury.withdraw_history(withdraw_order_id=order_id)
    assert (record.id, record.withdraw_order_id, record.coin, record.network) == (
        withdrawal_id, order_id, "USDT", "TRX")
    assert record.amount == Decimal("25.5")
    assert isinstance(record.transaction_fee, Decimal)
    assert abs(binance.utc_time_ms(record.apply_time) - sandbox.server_time()) < 60_000
    now = treasury.server_time()
    (windowed,) = treasury.withdraw_history(withdraw_order_id=order_id, start_time=now - 3_600_000, end_time=now)
    assert windowed.id == withdrawal_id

    def completed():
        (found,) = treasury.withdraw_history(id_list=[withdrawal_id])
        return found if found.status == 6 else None

    done = wait_until(completed, timeout=15, interval=0.2, what="the withdrawal to complete")
    assert done.complete_time and binance.utc_time_ms(done.complete_time) >= binance.utc_time_ms(done.apply_time)
    assert treasury.used_weights.get("x-sapi-used-uid-weight-1m", 0) >= 900


@pytest.mark.parametrize("overrides,code", [
    (dict(amount="5"), -4022),                                  # below withdrawMin 10
    (dict(amount="10.0000001"), -4021),                         # not a multiple of 0.000001
    (dict(amount="9000000"), -4026),                            # more than the free balance
    (dict(address="not-a-tron-address"), -4033),                # fails addressRegex
])
def test_withdraw_refusals_over_the_wire(sandbox, treasury, overrides, code):
    """The sandbox's refusals arrive as WithdrawRefused with Binance's code, and nothing is booked."""
    order_id = new_id("refused")
    amount = overrides.pop("amount", "25.5")
    with pytest.raises(WithdrawRefused) as caught:
        withdraw(treasury, order_id, amount=amount, **overrides)
    assert caught.value.binance_code == code
    assert treasury.withdraw_history(withdraw_order_id=order_id) == []


def test_auth_failures_over_the_wire(sandbox, trader):
    """A wrong secret is -1022; the trading key asking for a withdrawal is -2015."""
    forged = BinanceClient(sandbox.base_url, DEMO_TREASURY.api_key, "test-secret-not-real-0001")
    with pytest.raises(AuthError) as caught:
        forged.account()
    assert caught.value.binance_code == -1022
    with pytest.raises(AuthError) as caught:
        withdraw(trader, new_id("signal"))
    assert caught.value.binance_code == -2015


def test_clock_skew_is_resynced_and_the_request_retried(sandbox, treasury):
    """With the sandbox clock 30 s ahead, the next signed call hits -1021, resyncs and succeeds."""
    sandbox.set_clock_offset(30_000)
    order_id = new_id("skew")
    withdrawal_id = withdraw(treasury, order_id)
    assert abs(treasury.time_offset_ms - 30_000) < 2_000
    assert [r.id for r in treasury.withdraw_history(withdraw_order_id=order_id)] == [withdrawal_id]
    # The first attempt was refused at the timestamp check, before the apply was counted.
    assert sandbox.apply_calls()[order_id] == 1


def test_clock_skew_twice_raises_after_one_retry(sandbox, treasury):
    """Two -1021 answers in a row: ClockSkewError, two apply calls, nothing booked."""
    sandbox.add_fault(APPLY, "-1021", count=2)
    order_id = new_id("skew2")
    with pytest.raises(ClockSkewError):
        withdraw(treasury, order_id)
    assert order_id not in sandbox.apply_calls()     # both refused before the apply was counted
    assert treasury.withdraw_history(withdraw_order_id=order_id) == []


# --------------------------------------------------------------------------- injected faults

def test_5xx_after_apply_is_outcome_unknown_and_the_withdrawal_exists(sandbox, treasury):
    """The sandbox books the withdrawal then answers 500: unknown to us, found by withdrawOrderId."""
    sandbox.add_fault(APPLY, "5xx_after")
    order_id = new_id("5xx")
    with pytest.raises(OutcomeUnknown) as caught:
        withdraw(treasury, order_id)
    assert caught.value.http_status == 500
    (found,) = treasury.withdraw_history(withdraw_order_id=order_id)
    assert found.withdraw_order_id == order_id


def test_5xx_before_on_a_read_is_unavailable(sandbox, trader):
    """An HTML 503 on a read is ExchangeUnavailable."""
    sandbox.add_fault(ACCOUNT, "5xx_before")
    with pytest.raises(ExchangeUnavailable) as caught:
        trader.account()
    assert caught.value.http_status == 503


def test_dropped_connection_after_an_order_is_outcome_unknown_and_the_order_exists(sandbox, trader):
    """The sandbox places the order and closes the connection: unknown, then found by client id."""
    sandbox.add_fault(ORDER, "drop_after", method="POST")
    client_id = new_id("drop")
    with pytest.raises(OutcomeUnknown):
        trader.new_order(symbol="BTCUSDT", side="BUY", type="MARKET", new_client_order_id=client_id,
                         quote_order_qty=Decimal("30"))
    assert trader.get_order(symbol="BTCUSDT", orig_client_order_id=client_id).status == "FILLED"


def test_dropped_connection_before_apply_is_still_unknown(sandbox, treasury):
    """From the client's side a closed connection after sending cannot be told apart: unknown."""
    sandbox.add_fault(APPLY, "drop_before")
    order_id = new_id("dropb")
    with pytest.raises(OutcomeUnknown):
        withdraw(treasury, order_id)
    assert treasury.withdraw_history(withdraw_order_id=order_id) == []


def test_read_timeout_on_apply_is_outcome_unknown(sandbox):
    """A real read timeout (sandbox latency beyond read_timeout) leaves the withdrawal unknown; it is booked later."""
    slow = make_client(sandbox, DEMO_TREASURY, read_timeout=0.3)
    sandbox.add_fault(APPLY, "latency", seconds=1.0)
    order_id = new_id("slow")
    with pytest.raises(OutcomeUnknown):
        withdraw(slow, order_id)
    sandbox.wait_for_withdrawal(lambda w: w["withdrawOrderId"] == order_id, timeout=10,
                                what="the slow withdrawal to be booked")


@pytest.mark.parametrize("kind,status", [("429", 429), ("418", 418)])
def test_rate_limit_faults_carry_retry_after(sandbox, treasury, kind, status):
    """429 and 418 from the sandbox are RateLimitError with its Retry-After."""
    sandbox.add_fault("/sapi/v1/capital/withdraw/history", kind, retry_after=7)
    with pytest.raises(RateLimitError) as caught:
        treasury.withdraw_history()
    assert (caught.value.http_status, caught.value.retry_after, caught.value.binance_code) == (status, 7.0, -1003)


def test_auth_fault_mid_run_is_auth_error(sandbox, treasury):
    """An injected -2015 (a key revoked mid-run) is AuthError."""
    sandbox.add_fault(APPLY, "auth")
    with pytest.raises(AuthError) as caught:
        withdraw(treasury, new_id("revoked"))
    assert caught.value.binance_code == -2015


def test_refused_connection_after_the_sandbox_stops_is_unavailable(tmp_path):
    """With the sandbox stopped, even a withdrawal is ExchangeUnavailable: the connection is refused."""
    stopped = start_sandbox(tmp_path, persistent=False, complete_after_seconds=0.5, name="stopped")
    client = make_client(stopped, DEMO_TREASURY)
    stopped.stop()
    with pytest.raises(ExchangeUnavailable) as caught:
        withdraw(client, new_id("down"))
    assert "nothing was sent" in caught.value.message
