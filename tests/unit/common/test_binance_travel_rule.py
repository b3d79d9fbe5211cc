"""common/binance/client.py: the Travel Rule endpoints (issue 12 item 5) against
`responses`, with the reply shapes Binance documents:
https://developers.binance.com/docs/wallet/travel-rule/withdraw (`{"trId", "accpted", "info"}`)
https://developers.binance.com/docs/wallet/travel-rule/withdraw-history"""

from __future__ import annotations

import json
from decimal import Decimal
from urllib.parse import parse_qsl, urlsplit

import pytest

from common.binance import BadResponse
from tests.support.binance_cases import BASE

REQUIREMENTS = f"{BASE}/sapi/v1/localentity/questionnaire-requirements"
APPLY = f"{BASE}/sapi/v1/localentity/withdraw/apply"
HISTORY = f"{BASE}/sapi/v1/localentity/withdraw/history"
DOCUMENTED_ROW = {
    "id": "b6ae22b3aa844210a7041aee7589627c", "trId": 1234456, "amount": "8.91000000",
    "transactionFee": "0.004", "coin": "USDT", "withdrawalStatus": 6, "travelRuleStatus": 0,
    "address": "0x94df8b352de7f46f64b01d3666bf6e936e44ce60", "addressTag": "1",
    "txId": "0xb5ef8c13b968a406cc62a93a8bd80f9e9a906ef1b3fcf20a2e48573c17659268",
    "applyTime": "2021-04-15 12:09:16", "network": "ETH", "transferType": 0,
    "withdrawOrderId": "WITHDRAWtest123", "info": "The address is not valid. Please confirm with the recipient",
    "confirmNo": 3, "walletType": 1, "txKey": "", "questionnaire": "{'question1':'answer1','question2':'answer2'}",
    "completeTime": "2023-03-23 16:52:41"}



def test_questionnaire_requirements_answers_the_country_code(client, mock):
    """NIL or a code, as sent."""
    mock.get(REQUIREMENTS, json={"questionnaireCountryCode": "NIL"})
    assert client.questionnaire_requirements() == "NIL"


def test_the_local_apply_sends_the_questionnaire_in_the_signed_body_and_returns_the_tr_id(client, mock):
    """questionnaire is percent-encoded JSON in the form body; the reply's trId comes back as text."""
    mock.post(APPLY, json={"trId": 123456, "accpted": True, "info": "Withdraw request accepted"})
    questionnaire = json.dumps({"isAddressOwner": 1, "city": "東京"}, ensure_ascii=False)
    assert client.local_withdraw_apply(coin="USDT", network="TRX", address="TAddr", amount=Decimal("10"),
                                       withdraw_order_id="i-1", questionnaire=questionnaire,
                                       wallet_type=0) == "123456"
    sent = dict(parse_qsl(mock.calls[0].request.body.decode()))
    assert json.loads(sent["questionnaire"]) == {"isAddressOwner": 1, "city": "東京"}
    assert sent["walletType"] == "0" and sent["withdrawOrderId"] == "i-1" and "signature" in sent
    assert "%" in mock.calls[0].request.body.decode()   # percent-encoded before signing


def test_an_empty_questionnaire_is_refused_before_sending(client, mock):
    """Nothing goes out without one."""
    with pytest.raises(ValueError, match="questionnaire"):
        client.local_withdraw_apply(coin="USDT", network="TRX", address="TAddr", amount=Decimal("10"),
                                    withdraw_order_id="i-1", questionnaire="")
    assert len(mock.calls) == 0


def test_the_documented_history_row_decodes_with_both_statuses(client, mock):
    """Binance's example row: trId, withdrawalStatus, travelRuleStatus, amounts as Decimals."""
    mock.get(HISTORY, json=[DOCUMENTED_ROW])
    [row] = client.local_withdraw_history(tr_id_list=["1234456"])
    assert (row.tr_id, row.withdrawal_status, row.travel_rule_status) == (1234456, 6, 0)
    assert row.amount == Decimal("8.91") and row.withdraw_order_id == "WITHDRAWtest123"
    assert dict(parse_qsl(urlsplit(mock.calls[0].request.url).query))["trId"] == "1234456"


def test_history_by_order_id_sends_withdraw_order_id_and_refuses_bad_queries(client, mock):
    """withdrawOrderId as given; an empty id list or one over 45 is refused before sending."""
    mock.get(HISTORY, json=[])
    assert client.local_withdraw_history(withdraw_order_id="i-9") == []
    assert dict(parse_qsl(urlsplit(mock.calls[0].request.url).query))["withdrawOrderId"] == "i-9"
    with pytest.raises(ValueError):
        client.local_withdraw_history(tr_id_list=[])
    with pytest.raises(ValueError):
        client.local_withdraw_history(tr_id_list=[str(n) for n in range(46)])


def test_an_amount_as_a_json_number_in_history_is_a_bad_reply(client, mock):
    """Money is never a float."""
    mock.get(HISTORY, json=[dict(DOCUMENTED_ROW, amount=8.91)])
    with pytest.raises(BadResponse):
        client.local_withdraw_history(withdraw_order_id="i-1")


@pytest.mark.parametrize("reply", [
    {"trId": 9, "accpted": True, "info": "Withdraw request accepted"},    # Binance's page
    {"trId": 9, "accepted": True, "info": "Withdraw request accepted"},   # the official SDK's model
    {"trId": 9},
])
def test_the_apply_reply_is_read_with_either_spelling_of_its_flag(client, mock, reply):
    """`accpted` (the page) or `accepted` (the SDK) or neither: the trId is what counts."""
    mock.post(APPLY, json=reply)
    assert client.local_withdraw_apply(coin="USDT", network="TRX", address="TAddr", amount=Decimal("10"),
                                       withdraw_order_id="i-1", questionnaire="{}") == "9"


@pytest.mark.parametrize("flag", ["accpted", "accepted"])
def test_an_apply_answered_not_accepted_is_a_refusal(client, mock, flag):
    """A reply that says it was not taken: WithdrawRefused (nothing moved), its info kept."""
    from common.binance import WithdrawRefused
    mock.post(APPLY, json={"trId": 9, flag: False, "info": "questionnaire rejected"})
    with pytest.raises(WithdrawRefused, match="questionnaire rejected"):
        client.local_withdraw_apply(coin="USDT", network="TRX", address="TAddr", amount=Decimal("10"),
                                    withdraw_order_id="i-1", questionnaire="{}")
