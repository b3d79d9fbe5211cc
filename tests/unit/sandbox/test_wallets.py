"""The sandbox's two wallets (issue 12 item 1): walletType on apply, the account's selected
wallet without it, refunds to the wallet that paid, and get-funding-asset."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from sandbox.config import default_config_path, parse_config
from tests.support.sandbox_app_cases import GOOD, TREASURY, Harness

FAILING = "TSandboxDemoFai1sAddress1111111111"
FUNDING = "/sapi/v1/asset/get-funding-asset"


@pytest.fixture
def h() -> Harness:
    return Harness()


def funding_default_harness() -> Harness:
    text = default_config_path().read_text().replace('default_withdraw_wallet = "spot"',
                                                     'default_withdraw_wallet = "funding"', 1)
    return Harness(parse_config(text))


def funding_free(h: Harness, asset: str = "USDT") -> Decimal:
    rows = h.ok("POST", FUNDING, TREASURY, asset=asset)
    return Decimal(rows[0]["free"]) if rows else Decimal(0)


def test_wallet_type_1_pays_from_the_funding_wallet_and_leaves_spot_alone(h):
    """walletType=1: the funding wallet's USDT goes down by the amount, spot's does not move."""
    spot_before, funding_before = h.free("USDT"), funding_free(h)
    assert h.withdraw(amount="20", walletType=1).status == 200
    assert funding_free(h) == funding_before - 20 and h.free("USDT") == spot_before
    assert h.history()[0]["walletType"] == 1


def test_wallet_type_0_pays_from_spot(h):
    """walletType=0: spot pays, funding does not move."""
    funding_before = funding_free(h)
    h.withdraw(amount="20", walletType=0)
    assert h.free("USDT") == Decimal("99980") and funding_free(h) == funding_before


def test_without_wallet_type_the_accounts_selected_wallet_pays():
    """No walletType on an account whose selected deposit wallet is Funding: funding pays,
    as Binance documents; the history says which wallet it was."""
    h = funding_default_harness()
    spot_before, funding_before = h.free("USDT"), funding_free(h)
    h.withdraw(amount="20")
    assert funding_free(h) == funding_before - 20 and h.free("USDT") == spot_before
    assert h.history()[0]["walletType"] == 1


def test_a_funding_wallet_without_enough_is_refused_4026_even_with_spot_full(h):
    """Spot holds 100000 USDT, funding 500: 600 from funding is -4026, nothing booked."""
    assert h.error("POST", "/sapi/v1/capital/withdraw/apply", TREASURY, coin="USDT", network="TRX",
                   address=GOOD, amount="600", withdrawOrderId="big", walletType=1) == -4026
    assert h.history() == [] and funding_free(h) == Decimal(500)


def test_a_failed_withdrawal_from_funding_is_refunded_to_funding(h):
    """Status 5 gives the amount back to the wallet that paid, once."""
    h.withdraw(address=FAILING, amount="20", walletType=1)
    h.now += 3000
    assert h.history()[0]["status"] == 5
    assert funding_free(h) == Decimal(500) and h.free("USDT") == Decimal(100000)


@pytest.mark.parametrize("value", ["2", "-1", "spot"])
def test_a_wallet_type_other_than_0_or_1_is_refused_and_books_nothing(h, value):
    """walletType must be 0 or 1: an error answer, no withdrawal, no balance moved."""
    reply = h.withdraw(amount="20", walletType=value)
    assert reply.status == 400 and h.history() == [] and funding_free(h) == Decimal(500)


def test_get_funding_asset_lists_non_empty_assets_or_the_one_asked_for(h):
    """Without `asset`: every non-empty funding asset; with it: that one (empty list when none)."""
    rows = h.ok("POST", FUNDING, TREASURY)
    assert [r["asset"] for r in rows] == ["USDT"]
    assert set(rows[0]) >= {"asset", "free", "locked", "freeze", "withdrawing", "btcValuation"}
    assert h.ok("POST", FUNDING, TREASURY, asset="BTC") == []


def test_the_admin_api_sets_and_shows_the_funding_wallet(h):
    """POST /sandbox/balances with wallet=funding changes funding only; GET shows both."""
    status, body = h.admin("POST", "/sandbox/balances", {"asset": "BTC", "free": "2", "wallet": "funding"})
    assert status == 200 and body["funding"]["BTC"]["free"] == "2.00000000"
    assert body["balances"]["BTC"]["free"] == "1.00000000"
    assert h.admin("POST", "/sandbox/balances", {"asset": "BTC", "free": "2", "wallet": "earn"})[0] == 400
    assert json.loads(json.dumps(h.ok("POST", FUNDING, TREASURY, asset="BTC")))[0]["free"] == "2.00000000"
