"""common/binance/client.py: which wallet pays (issue 12 item 1) against `responses`:
`walletType` on the apply, `funding_assets` with the reply Binance documents
(https://developers.binance.com/docs/wallet/asset/funding-wallet), `free_in_wallet`."""

from __future__ import annotations

from decimal import Decimal
from urllib.parse import parse_qsl

import pytest

from common.binance import BadResponse
from common.binance.models import FundingAsset
from tests.support.binance_cases import BASE

FUNDING_URL = f"{BASE}/sapi/v1/asset/get-funding-asset"
APPLY_URL = f"{BASE}/sapi/v1/capital/withdraw/apply"
ACCOUNT_URL = f"{BASE}/api/v3/account"
# Binance's documented example reply.
DOCUMENTED = [{"asset": "USDT", "free": "1", "locked": "0", "freeze": "0", "withdrawing": "0",
               "btcValuation": "0.00000091"}]



def body_of(call) -> dict[str, str]:
    return dict(parse_qsl(call.request.body.decode()))


def test_the_documented_funding_reply_decodes_to_decimals(client, mock):
    """Every amount is a Decimal from its string; btcValuation is not kept."""
    mock.post(FUNDING_URL, json=DOCUMENTED)
    assert client.funding_assets("USDT") == [FundingAsset(asset="USDT", free=Decimal("1"))]
    assert body_of(mock.calls[0])["asset"] == "USDT"


def test_funding_assets_is_a_signed_post_in_the_body(client, mock):
    """A POST that changes nothing, signed like every other, its parameters in the form body."""
    mock.post(FUNDING_URL, json=[])
    client.funding_assets()
    call = mock.calls[0]
    assert "?" not in call.request.url and list(body_of(call)) == ["recvWindow", "timestamp", "signature"]


def test_a_json_number_for_a_funding_amount_is_refused(client, mock):
    """Money as a JSON number is a bad reply, never a float."""
    mock.post(FUNDING_URL, json=[{"asset": "USDT", "free": 1.5}])
    with pytest.raises(BadResponse):
        client.funding_assets("USDT")


@pytest.mark.parametrize("wallet_type", [0, 1])
def test_the_apply_sends_wallet_type_when_given(client, mock, wallet_type):
    """walletType goes out as 0 or 1, after amount."""
    mock.post(APPLY_URL, json={"id": "w-1"})
    client.withdraw_apply(coin="USDT", network="TRX", address="TAddr", amount=Decimal("5"),
                          withdraw_order_id="i-1", wallet_type=wallet_type)
    sent = body_of(mock.calls[0])
    assert sent["walletType"] == str(wallet_type)


def test_a_wallet_type_other_than_0_or_1_is_refused_before_sending(client, mock):
    """A bad walletType is a ValueError and nothing is sent."""
    with pytest.raises(ValueError, match="wallet_type"):
        client.withdraw_apply(coin="USDT", network="TRX", address="TAddr", amount=Decimal("5"),
                              withdraw_order_id="i-1", wallet_type=2)
    assert len(mock.calls) == 0


def test_free_in_wallet_reads_the_funding_endpoint_or_the_account(client, mock):
    """funding: get-funding-asset (0 when the asset is absent); spot: the account's balance."""
    mock.post(FUNDING_URL, json=[])
    mock.get(ACCOUNT_URL, json={"canTrade": True, "canWithdraw": True, "canDeposit": True, "balances": [
        {"asset": "USDT", "free": "12.5", "locked": "0"}]})
    assert client.free_in_wallet("USDT", "funding") == Decimal(0)
    assert client.free_in_wallet("USDT", "spot") == Decimal("12.5")
    with pytest.raises(ValueError):
        client.free_in_wallet("USDT", "earn")
