"""common/binance/client.py: `withdraw_quota` (issue 12 item 4) against `responses`, with the
reply Binance documents (https://developers.binance.com/docs/wallet/capital/fetch-withdraw-quota)."""

from __future__ import annotations

from decimal import Decimal
from urllib.parse import parse_qsl, urlsplit

import pytest

from common.binance import AuthError, BadResponse, WithdrawQuota
from tests.support.binance_cases import API_KEY, BASE

URL = f"{BASE}/sapi/v1/capital/withdraw/quota"
DOCUMENTED = {"wdQuota": "10000", "usedWdQuota": "1000"}



def test_the_documented_reply_decodes_to_decimals(client, mock):
    """wdQuota and usedWdQuota are read as exact Decimals."""
    mock.get(URL, json=DOCUMENTED)
    quota = client.withdraw_quota()
    assert quota == WithdrawQuota(wd_quota=Decimal("10000"), used_wd_quota=Decimal("1000"))
    assert isinstance(quota.wd_quota, Decimal) and quota.used_wd_quota == Decimal("1000")


def test_it_is_a_signed_get_with_no_parameters_of_its_own(client, mock):
    """Only recvWindow, timestamp and the signature go out, with the key header."""
    mock.get(URL, json=DOCUMENTED)
    client.withdraw_quota()
    request = mock.calls[0].request
    assert [name for name, _ in parse_qsl(urlsplit(request.url).query)] == ["recvWindow", "timestamp", "signature"]
    assert request.headers["X-MBX-APIKEY"] == API_KEY


@pytest.mark.parametrize("body", [{"wdQuota": 10000, "usedWdQuota": "1000"}, {"wdQuota": "10000"},
                                  {"wdQuota": "-1", "usedWdQuota": "0"}, []])
def test_a_reply_not_of_the_documented_shape_is_a_bad_response(client, mock, body):
    """A number for money, a missing field, a negative amount or a list are refused, not guessed."""
    mock.get(URL, json=body)
    with pytest.raises(BadResponse):
        client.withdraw_quota()


def test_a_key_without_the_right_is_an_auth_error(client, mock):
    """-2015 for this read is an AuthError, as for every signed call."""
    mock.get(URL, status=401, json={"code": -2015, "msg": "Invalid API-key, IP, or permissions for action."})
    with pytest.raises(AuthError):
        client.withdraw_quota()
