"""ccxt's binance exchange (a client we did not write, used by freqtrade and many bots)
against the real sandbox process (issue 12 item 10): markets, balances, an order and a
withdrawal as ccxt sends them, with HMAC and with an Ed25519 key from `keys binance`.

If the sandbox accepted only what our own client sends, these would fail: ccxt reads
margin pairs on load, orders with its own parameter spellings, signs with its own code.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Iterator

import pytest

from common.api_key_files import write_ed25519_key_pair
from common.binance import BinanceClient
from tests.support.sandbox import DEMO_SIGNAL, DEMO_TREASURY, DEMO_TRX_ADDRESS, Sandbox, sandbox_process
from tests.support.waiting import wait_until

pytestmark = pytest.mark.e2e

ccxt = pytest.importorskip("ccxt", reason="pip install ccxt (a test extra)")


def exchange(sandbox: Sandbox, api_key: str, secret: str):
    """ccxt.binance with every Binance spot/sapi URL pointed at the sandbox, nothing else changed."""
    client = ccxt.binance({"apiKey": api_key, "secret": secret, "enableRateLimit": False,
                           "options": {"defaultType": "spot", "fetchMarkets": {"types": ["spot"]},
                                       "fetchCurrencies": False}})
    for name, url in list(client.urls["api"].items()):
        if isinstance(url, str) and url.startswith("https://api.binance.com"):
            client.urls["api"][name] = url.replace("https://api.binance.com", sandbox.base_url)
    return client


@pytest.fixture
def own_sandbox(tmp_path) -> Iterator[Sandbox]:
    with sandbox_process(tmp_path, persistent=False, complete_after_seconds=0.3) as running:
        yield running


def test_ccxt_loads_the_sandboxs_markets_with_its_filters(own_sandbox: Sandbox):
    """load_markets (exchangeInfo + margin pairs, signed): every spot symbol, with the
    LOT_SIZE step and min notional ccxt reads from our filters."""
    markets = exchange(own_sandbox, DEMO_SIGNAL.api_key, DEMO_SIGNAL.api_secret).load_markets()
    assert {"BTC/USDT", "ETH/USDT", "BNB/USDT"} <= set(markets)
    btc = markets["BTC/USDT"]
    assert btc["spot"] and btc["active"] and btc["limits"]["amount"]["min"] > 0
    assert btc["precision"]["amount"] is not None


def test_ccxt_reads_the_balances_the_sandbox_holds(own_sandbox: Sandbox):
    """fetch_balance: USDT free as the sandbox's admin API says."""
    balance = exchange(own_sandbox, DEMO_SIGNAL.api_key, DEMO_SIGNAL.api_secret).fetch_balance()
    assert Decimal(str(balance["USDT"]["free"])) == Decimal(own_sandbox.balances()["USDT"]["free"])


def test_a_ccxt_market_order_is_one_order_our_client_finds_by_its_client_id(own_sandbox: Sandbox):
    """create_order with a clientOrderId: filled once; our client reads the same order by
    origClientOrderId, and the sandbox's record holds exactly one."""
    ccxt_client = exchange(own_sandbox, DEMO_SIGNAL.api_key, DEMO_SIGNAL.api_secret)
    ccxt_client.load_markets()
    order = ccxt_client.create_order("BTC/USDT", "market", "buy", 0.001, None, {"clientOrderId": "ccxt-order-1"})
    assert order["status"] == "closed" and order["clientOrderId"] == "ccxt-order-1"
    assert ccxt_client.fetch_order(order["id"], "BTC/USDT")["status"] == "closed"
    ours = BinanceClient(own_sandbox.base_url, DEMO_SIGNAL.api_key, DEMO_SIGNAL.api_secret)
    ours.sync_time()
    found = ours.get_order(symbol="BTCUSDT", orig_client_order_id="ccxt-order-1")
    assert str(found.order_id) == order["id"] and found.status == "FILLED"
    assert [o["clientOrderId"] for o in own_sandbox.orders()].count("ccxt-order-1") == 1


def test_a_ccxt_withdrawal_is_applied_once_and_its_history_reaches_ok(own_sandbox: Sandbox):
    """withdraw via ccxt with the treasury key: one apply, and fetch_withdrawals maps the
    sandbox's completed status (6) to ccxt's 'ok'."""
    client = exchange(own_sandbox, DEMO_TREASURY.api_key, DEMO_TREASURY.api_secret)
    client.load_markets()
    client.withdraw("USDT", 25, DEMO_TRX_ADDRESS, params={"network": "TRX", "withdrawOrderId": "ccxt-w-1"})
    assert own_sandbox.apply_calls() == {"ccxt-w-1": 1}

    def completed() -> bool:
        rows = client.fetch_withdrawals("USDT")
        return bool(rows) and rows[0]["status"] == "ok"
    # A quarter-second apart: withdraw history allows 10 a second, as at Binance.
    wait_until(completed, timeout=10, interval=0.25, what="ccxt to see the withdrawal completed")
    [row] = client.fetch_withdrawals("USDT")
    assert row["address"] == DEMO_TRX_ADDRESS and Decimal(str(row["amount"])) == Decimal("25")


def test_ccxt_signing_with_an_ed25519_key_from_keys_binance_is_accepted(own_sandbox: Sandbox, tmp_path):
    """ccxt detects a PEM secret and signs with Ed25519 (its own eddsa); the sandbox accepts it."""
    written = write_ed25519_key_pair(tmp_path)
    own_sandbox.set_key("signal", ed25519_public_key=written.public_pem)
    balance = exchange(own_sandbox, DEMO_SIGNAL.api_key, written.private_file.read_text()).fetch_balance()
    assert balance["USDT"]["free"] > 0


@pytest.mark.parametrize("act, error_class", [
    (lambda c: c.fetch_order("999999", "BTC/USDT"), "OrderNotFound"),
    # ccxt 4.5 maps -4026 on /sapi to BadRequest (its spot table's "-4026": InsufficientFunds
    # is overridden there): what it raises against Binance too, since only the reply decides.
    (lambda c: c.withdraw("USDT", 10_000_000, DEMO_TRX_ADDRESS, params={"network": "TRX"}), "BadRequest"),
], ids=["unknown-order", "insufficient-balance"])
def test_binances_refusals_reach_ccxt_as_its_own_exception_classes(own_sandbox: Sandbox, act, error_class):
    """ccxt maps Binance's codes to its classes (-2013 OrderNotFound; -4026 on /sapi
    BadRequest): the sandbox's answers map the same way."""
    client = exchange(own_sandbox, DEMO_TREASURY.api_key, DEMO_TREASURY.api_secret)
    client.load_markets()
    with pytest.raises(getattr(ccxt, error_class)):
        act(client)


def test_a_deleted_key_reaches_ccxt_as_an_authentication_error(own_sandbox: Sandbox):
    """-2015 (HTTP 401): ccxt's AuthenticationError, as against Binance."""
    own_sandbox.set_key("signal", deleted=True)
    with pytest.raises(ccxt.AuthenticationError):
        exchange(own_sandbox, DEMO_SIGNAL.api_key, DEMO_SIGNAL.api_secret).fetch_balance()
