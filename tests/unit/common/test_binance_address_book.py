"""common/binance/client.py: `withdraw_address_list` (issue 12) against `responses`, with the
reply Binance documents (https://developers.binance.com/docs/wallet/capital/fetch-withdraw-address)."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

import pytest

from common.binance import AuthError, BadResponse, WithdrawAddress
from tests.support.binance_cases import API_KEY, BASE

URL = f"{BASE}/sapi/v1/capital/withdraw/address/list"
# Binance's documented example, word for word in its fields and values.
DOCUMENTED = [{"address": "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa", "addressTag": "", "coin": "BTC",
               "name": "Satoshi", "network": "BTC", "origin": "bla", "originType": "others",
               "whiteStatus": True}]



def test_the_documented_reply_decodes_to_typed_entries(client, mock):
    """Every documented field is read; addressTag "" stays "" (no tag)."""
    mock.get(URL, json=DOCUMENTED)
    [entry] = client.withdraw_address_list()
    assert entry == WithdrawAddress(address="1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa", coin="BTC", network="BTC",
                                    address_tag="", name="Satoshi", origin="bla", origin_type="others",
                                    white_status=True)


def test_it_is_a_signed_get_with_no_parameters_of_its_own(client, mock):
    """Only timestamp, recvWindow and the signature go out, with the key header."""
    mock.get(URL, json=[])
    assert client.withdraw_address_list() == []
    request = mock.calls[0].request
    assert [name for name, _ in parse_qsl(urlsplit(request.url).query)] == ["recvWindow", "timestamp", "signature"]
    assert request.headers["X-MBX-APIKEY"] == API_KEY


def test_an_entry_without_white_status_reads_as_not_whitelisted(client, mock):
    """A missing whiteStatus is the safe reading: not on the whitelist."""
    mock.get(URL, json=[{"address": "TAddr", "coin": "USDT", "network": "TRX"}])
    [entry] = client.withdraw_address_list()
    assert entry.white_status is False and entry.address_tag == ""


def test_a_key_without_the_right_is_an_auth_error(client, mock):
    """-2015 for this read is an AuthError, as for every signed call."""
    mock.get(URL, status=401, json={"code": -2015, "msg": "Invalid API-key, IP, or permissions for action."})
    with pytest.raises(AuthError):
        client.withdraw_address_list()


def test_a_reply_that_is_not_a_list_of_entries_is_a_bad_response(client, mock):
    """An entry missing its address is refused, not guessed."""
    mock.get(URL, json=[{"coin": "USDT", "network": "TRX"}])
    with pytest.raises(BadResponse):
        client.withdraw_address_list()
