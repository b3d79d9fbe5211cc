"""Every call our bots make, driven through Binance's official SDKs against the sandbox
(issue 12 item 10): the SDK's own request building and reply models decode what the
sandbox answers, and Binance's refusals reach the SDK as the exception class and code the
SDK would raise against Binance."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.support.sandbox import DEMO_SIGNAL, DEMO_TREASURY, DEMO_TRX_ADDRESS, Sandbox

pytestmark = pytest.mark.e2e

spot_sdk = pytest.importorskip("binance_sdk_spot.spot", reason="pip install binance-sdk-spot (a test extra)")
wallet_sdk = pytest.importorskip("binance_sdk_wallet.wallet", reason="pip install binance-sdk-wallet (a test extra)")
from binance_common import errors as sdk_errors  # noqa: E402
from binance_common.configuration import ConfigurationRestAPI  # noqa: E402
from binance_sdk_spot.rest_api.models import NewOrderSideEnum, NewOrderTypeEnum  # noqa: E402
from binance_sdk_spot.rest_api.models import OrderTestSideEnum, OrderTestTypeEnum  # noqa: E402


def spot(sandbox: Sandbox):
    return spot_sdk.Spot(config_rest_api=ConfigurationRestAPI(
        api_key=DEMO_SIGNAL.api_key, api_secret=DEMO_SIGNAL.api_secret, base_path=sandbox.base_url,
        retries=0, timeout=5000)).rest_api


def wallet(sandbox: Sandbox):
    return wallet_sdk.Wallet(config_rest_api=ConfigurationRestAPI(
        api_key=DEMO_TREASURY.api_key, api_secret=DEMO_TREASURY.api_secret, base_path=sandbox.base_url,
        retries=0, timeout=5000)).rest_api


def test_the_signal_bots_calls_decode_through_the_spot_sdk(sandbox: Sandbox):
    """time, exchangeInfo, ticker price, account, order/test with commission rates, a MARKET
    order, its query by client id: the SDK's models decode each reply."""
    api = spot(sandbox)
    assert api.time().data().server_time > 0
    info = api.exchange_info(symbol="BTCUSDT").data()
    assert info.symbols[0].symbol == "BTCUSDT" and info.symbols[0].filters
    assert Decimal(api.ticker_price(symbol="BTCUSDT").data().actual_instance.price) > 0
    assert any(b.asset == "USDT" for b in api.get_account().data().balances)
    rates = api.order_test(symbol="BTCUSDT", side=OrderTestSideEnum.BUY, type=OrderTestTypeEnum.MARKET,
                           quote_order_qty=100.0, compute_commission_rates=True).data()
    assert rates is not None
    placed = api.new_order(symbol="BTCUSDT", side=NewOrderSideEnum.BUY, type=NewOrderTypeEnum.MARKET,
                           quote_order_qty=100.0, new_client_order_id="sdk-order-1").data()
    assert placed.status == "FILLED"
    assert api.get_order(symbol="BTCUSDT", orig_client_order_id="sdk-order-1").data().order_id == placed.order_id


def test_the_treasurys_calls_decode_through_the_wallet_sdk(sandbox: Sandbox):
    """apiRestrictions, coin config, the address book, the funding wallet, the 24-hour quota,
    an apply with walletType and its history by withdrawOrderId."""
    api = wallet(sandbox)
    assert api.get_api_key_permission().data().enable_withdrawals is True
    coins = api.all_coins_information().data()
    assert any(c.coin == "USDT" and c.network_list for c in coins)
    assert isinstance(api.fetch_withdraw_address_list().data(), list)
    assert isinstance(api.funding_wallet(asset="USDT").data(), list)
    quota = api.fetch_withdraw_quota().data()
    assert Decimal(quota.wd_quota) > 0 and Decimal(quota.used_wd_quota) >= 0
    applied = api.withdraw(coin="USDT", address=DEMO_TRX_ADDRESS, amount=30.0, network="TRX",
                           withdraw_order_id="sdk-calls-1", wallet_type=0).data()
    [row] = api.withdraw_history(withdraw_order_id="sdk-calls-1").data()
    assert row.id == applied.id and row.wallet_type == 0


@pytest.mark.parametrize("call, error_class, code", [
    (lambda s: spot(s).get_order(symbol="BTCUSDT", orig_client_order_id="never-placed"),
     sdk_errors.BadRequestError, -2013),
    (lambda s: wallet(s).withdraw(coin="USDT", address=DEMO_TRX_ADDRESS, amount=10_000_000.0, network="TRX",
                                  withdraw_order_id="sdk-too-much"), sdk_errors.BadRequestError, -4026),
    (lambda s: wallet(s).withdraw(coin="USDT", address="TNotAnAddressWeKnowOf111111111111", amount=30.0,
                                  network="BSC", withdraw_order_id="sdk-bad-net"), sdk_errors.BadRequestError, -4033),
    (lambda s: wallet(s).withdraw(coin="USDT", address=DEMO_TRX_ADDRESS, amount=30.0, network="TRX",
                                  address_tag="12345", withdraw_order_id="sdk-tag"), sdk_errors.BadRequestError, -4106),
], ids=["unknown-order", "insufficient-balance", "bad-address-for-network", "tag-on-a-tagless-network"])
def test_binances_refusals_reach_the_sdk_as_its_own_exception_and_code(sandbox: Sandbox, call, error_class, code):
    """The SDK raises the class it raises for Binance's HTTP status, with Binance's code."""
    with pytest.raises(error_class) as refused:
        call(sandbox)
    assert refused.value.status_code == code, refused.value


def test_a_deleted_key_reaches_the_sdk_as_unauthorized_2015(sandbox: Sandbox):
    """-2015 is HTTP 401 at Binance: the SDK's UnauthorizedError."""
    sandbox.set_key("reader", deleted=True)
    api = spot_sdk.Spot(config_rest_api=ConfigurationRestAPI(
        api_key="demo-reader-key-000000000000000000000000000000000000000000000000",
        api_secret="demo-reader-secret-not-real-000000000000000000000000000000000000",
        base_path=sandbox.base_url, retries=0)).rest_api
    try:
        with pytest.raises(sdk_errors.UnauthorizedError) as refused:
            api.get_account()
    finally:
        sandbox.set_key("reader", deleted=False)
    assert refused.value.status_code == -2015


def test_the_travel_rule_calls_decode_through_the_wallet_sdk(tmp_path):
    """A JP account: questionnaire-requirements, the local-entity apply with a questionnaire,
    and its history by withdrawOrderId, through the SDK's own models. (Binance's page spells
    the apply's flag `accpted`, the SDK's model `accepted`: the sandbox answers as the page
    does, and our client reads either; only the trId matters to it.)"""
    import json

    from tests.support.sandbox import sandbox_process
    with sandbox_process(tmp_path, persistent=False, travel_rule_country="JP") as japan:
        api = wallet(japan)
        assert api.check_questionnaire_requirements().data().questionnaire_country_code == "JP"
        questionnaire = json.dumps({"isAddressOwner": 1, "sendTo": 2, "country": "jp", "city": "tokyo",
                                    "isAttested": True})
        applied = api.withdraw_travel_rule(coin="USDT", address=DEMO_TRX_ADDRESS, amount=30.0,
                                           questionnaire=questionnaire, network="TRX",
                                           withdraw_order_id="sdk-tr-1").data()
        assert applied.tr_id > 0
        [row] = api.withdraw_history_v1(withdraw_order_id="sdk-tr-1").data()
        assert row.tr_id == applied.tr_id and row.travel_rule_status in (0, 1)
        with pytest.raises(sdk_errors.BadRequestError) as refused:
            api.withdraw(coin="USDT", address=DEMO_TRX_ADDRESS, amount=30.0, network="TRX",
                         withdraw_order_id="sdk-tr-2")
        assert refused.value.status_code == -4190
