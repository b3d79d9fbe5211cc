"""Binance's official Python SDKs (binance-sdk-spot, binance-sdk-wallet) against the sandbox,
and against our own signer, for both key types (issue 12 items 7 and 10).

The SDKs sign with their own code (HMAC in binance_common, Ed25519 through pycryptodome),
so these tests fail if our sandbox verifies a different algorithm than Binance's SDK
produces, or if our client signs different bytes than the SDK for the same request.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Iterator

import pytest

from common.api_key_files import write_ed25519_key_pair
from common.binance import BinanceClient, sign_request
from common.binance.ed25519 import Ed25519Signer
from tests.support.sandbox import DEMO_SIGNAL, DEMO_TREASURY, Sandbox, sandbox_process

pytestmark = pytest.mark.e2e

binance_common = pytest.importorskip("binance_common", reason="pip install binance-sdk-spot (a test extra)")
spot_sdk = pytest.importorskip("binance_sdk_spot.spot", reason="pip install binance-sdk-spot (a test extra)")
wallet_sdk = pytest.importorskip("binance_sdk_wallet.wallet", reason="pip install binance-sdk-wallet (a test extra)")
from binance_common import errors as binance_errors  # noqa: E402
from binance_common.configuration import ConfigurationRestAPI  # noqa: E402
from binance_common.signature import Signers  # noqa: E402
from binance_common.utils import encoded_string, get_signature  # noqa: E402


def config(sandbox: Sandbox, api_key: str, *, secret: str | None = None, private_key: Path | None = None):
    return ConfigurationRestAPI(api_key=api_key, api_secret=secret,
                                private_key=str(private_key) if private_key else None,
                                base_path=sandbox.base_url, retries=0, timeout=5000)


@pytest.fixture
def own_sandbox(tmp_path) -> Iterator[Sandbox]:
    """A sandbox of its own for a test that turns a key into an Ed25519 one (which, as at
    Binance, cannot be turned back)."""
    with sandbox_process(tmp_path, persistent=False) as running:
        yield running


def register(sandbox: Sandbox, name: str, folder: Path) -> Path:
    written = write_ed25519_key_pair(folder, f"{name}-ed25519")
    sandbox.set_key(name, ed25519_public_key=written.public_pem)
    return written.private_file


def test_the_official_spot_sdk_with_an_hmac_key_reads_the_account_the_sandbox_holds(sandbox: Sandbox):
    """HMAC, signed by binance_common: GET /api/v3/account answers the sandbox's balances."""
    client = spot_sdk.Spot(config_rest_api=config(sandbox, DEMO_SIGNAL.api_key, secret=DEMO_SIGNAL.api_secret))
    account = client.rest_api.get_account().data()
    free = {b.asset: Decimal(b.free) for b in account.balances}
    assert free["USDT"] == Decimal(sandbox.balances()["USDT"]["free"])


def test_the_official_spot_sdk_with_a_key_made_by_keys_binance_is_accepted(own_sandbox: Sandbox, tmp_path):
    """A pair from our `keys binance`, loaded by the SDK (pycryptodome) and verified by the
    sandbox: the request is answered, so both sides agree with Binance's SDK on Ed25519."""
    private_file = register(own_sandbox, "signal", tmp_path)
    client = spot_sdk.Spot(config_rest_api=config(own_sandbox, DEMO_SIGNAL.api_key, private_key=private_file))
    account = client.rest_api.get_account().data()
    assert {b.asset for b in account.balances} >= {"USDT", "BTC"}


def test_the_official_wallet_sdk_with_an_ed25519_key_reads_withdraw_history_and_key_rights(
        own_sandbox: Sandbox, tmp_path):
    """binance-sdk-wallet, Ed25519: the sapi reads the treasury makes answer through the SDK too."""
    private_file = register(own_sandbox, "treasury", tmp_path)
    client = wallet_sdk.Wallet(config_rest_api=config(own_sandbox, DEMO_TREASURY.api_key, private_key=private_file))
    rights = client.rest_api.get_api_key_permission().data()
    assert rights.enable_withdrawals is True
    assert isinstance(client.rest_api.withdraw_history(coin="USDT").data(), list)


def test_a_signature_by_a_key_the_exchange_does_not_hold_is_refused_to_the_sdk_too(own_sandbox: Sandbox, tmp_path):
    """The SDK signs with key B while the exchange holds key A: the sandbox answers -1022."""
    register(own_sandbox, "signal", tmp_path / "a")
    other = write_ed25519_key_pair(tmp_path / "b", "other").private_file
    client = spot_sdk.Spot(config_rest_api=config(own_sandbox, DEMO_SIGNAL.api_key, private_key=other))
    with pytest.raises(binance_errors.Error) as refused:
        client.rest_api.get_account()
    assert "Signature for this request is not valid" in str(refused.value), refused.value


@pytest.mark.parametrize("params", [
    {"coin": "USDT", "network": "TRX", "amount": "12.5", "withdrawOrderId": "intent-7"},
    {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quoteOrderQty": "100"},
])
def test_our_ed25519_signature_is_the_official_sdks_for_the_same_payload(tmp_path, params):
    """Ed25519 is deterministic: our signer and the SDK's, given the same key and payload,
    produce the same signature (so ours is Binance's algorithm, byte for byte)."""
    written = write_ed25519_key_pair(tmp_path)
    ours = Ed25519Signer.from_pem(written.private_file.read_bytes())
    payload_params = list(params.items())
    signed = sign_request(ours, payload_params, recv_window_ms=5000, timestamp_ms=1_700_000_000_000)
    payload, _, _ = signed.rpartition("&signature=")
    sdk_payload = encoded_string({**params, "recvWindow": 5000, "timestamp": 1_700_000_000_000})
    assert sdk_payload == payload
    sdk_config = ConfigurationRestAPI(api_key="k", private_key=str(written.private_file))
    sdk_signature = get_signature(sdk_config, sdk_payload, Signers.get_signer(str(written.private_file)))
    assert ours.signature(payload) == sdk_signature


def test_our_client_with_an_ed25519_key_and_the_sdk_see_the_same_account(own_sandbox: Sandbox, tmp_path):
    """Our BinanceClient on the Ed25519 key and the SDK on the same key read one account alike."""
    private_file = register(own_sandbox, "signal", tmp_path)
    ours = BinanceClient(own_sandbox.base_url, DEMO_SIGNAL.api_key, Ed25519Signer.from_pem(private_file.read_bytes()))
    assert ours.key_type == "Ed25519"
    ours.sync_time()
    mine = {b.asset: b.free for b in ours.account().balances}
    sdk = spot_sdk.Spot(config_rest_api=config(own_sandbox, DEMO_SIGNAL.api_key, private_key=private_file))
    theirs = {b.asset: Decimal(b.free) for b in sdk.rest_api.get_account().data().balances}
    assert mine == theirs


def test_a_withdrawal_applied_through_the_wallet_sdk_is_the_one_our_client_finds_by_its_order_id(
        own_sandbox: Sandbox):
    """binance-sdk-wallet applies (its own parameter encoding, a float amount); our client's
    history look-up by withdrawOrderId finds exactly that one withdrawal."""
    from tests.support.sandbox import DEMO_TRX_ADDRESS
    sdk = wallet_sdk.Wallet(config_rest_api=config(own_sandbox, DEMO_TREASURY.api_key,
                                                   secret=DEMO_TREASURY.api_secret))
    applied = sdk.rest_api.withdraw(coin="USDT", address=DEMO_TRX_ADDRESS, amount=25.5, network="TRX",
                                    withdraw_order_id="sdk-w-1", wallet_type=0).data()
    ours = BinanceClient(own_sandbox.base_url, DEMO_TREASURY.api_key, DEMO_TREASURY.api_secret)
    ours.sync_time()
    [record] = ours.withdraw_history(withdraw_order_id="sdk-w-1")
    assert record.id == applied.id and record.amount == Decimal("25.5")
    assert own_sandbox.apply_calls() == {"sdk-w-1": 1}
