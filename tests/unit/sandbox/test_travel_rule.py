"""The sandbox playing a Travel Rule account (issue 12 item 5): questionnaire-requirements,
the local-entity apply with its questionnaire, its history, and the capital apply refused."""

from __future__ import annotations

import json

import pytest

from sandbox.config import default_config_path, parse_config
from tests.support.sandbox_app_cases import GOOD, TREASURY, Harness

APPLY = "/sapi/v1/localentity/withdraw/apply"
HISTORY = "/sapi/v1/localentity/withdraw/history"
REQUIREMENTS = "/sapi/v1/localentity/questionnaire-requirements"
JAPAN = {"isAddressOwner": 1, "sendTo": 2, "country": "jp", "city": "tokyo", "isAttested": True}


def harness(country: str = "JP", failing: tuple[str, ...] = ()) -> Harness:
    text = default_config_path().read_text().replace('travel_rule_country = "NIL"',
                                                     f'travel_rule_country = "{country}"', 1)
    text = text.replace("travel_rule_failing_addresses = []",
                        f"travel_rule_failing_addresses = {json.dumps(list(failing))}", 1)
    return Harness(parse_config(text))


def booked(h: Harness) -> tuple[list, dict]:
    """What the sandbox booked and the apply calls it counted (its admin view)."""
    view = h.admin("GET", "/sandbox/withdrawals")[1]
    return view["withdrawals"], view["apply_calls"]


def local_apply(h: Harness, order_id: str = "tr-1", questionnaire=JAPAN, **extra):
    params = dict(coin="USDT", network="TRX", address=GOOD, amount="20", withdrawOrderId=order_id, **extra)
    if questionnaire is not None:
        params["questionnaire"] = questionnaire if isinstance(questionnaire, str) else json.dumps(questionnaire)
    return h.call("POST", APPLY, TREASURY, **params)


def test_requirements_say_nil_for_a_plain_account_and_the_country_for_a_travel_rule_one():
    """questionnaireCountryCode: "NIL" by default, the configured entity's code otherwise."""
    assert Harness().ok("GET", REQUIREMENTS, TREASURY) == {"questionnaireCountryCode": "NIL"}
    assert harness("JP").ok("GET", REQUIREMENTS, TREASURY) == {"questionnaireCountryCode": "JP"}


def test_a_local_entity_apply_books_one_withdrawal_and_answers_its_tr_id():
    """The reply is Binance's (accpted, sic); the withdrawal leaves the balance like any other."""
    h = harness()
    before = h.free("USDT")
    reply = local_apply(h)
    assert reply.status == 200, reply.body
    assert json.loads(reply.body) == {"trId": 1, "accpted": True, "info": "Withdraw request accepted"}
    assert h.free("USDT") == before - 20
    assert booked(h)[1] == {"tr-1": 1}


def test_the_capital_apply_is_refused_on_a_travel_rule_account_and_books_nothing():
    """-4190 (our code; Binance documents none), counted as a call, nothing booked."""
    h = harness()
    assert h.error("POST", "/sapi/v1/capital/withdraw/apply", TREASURY, coin="USDT", network="TRX",
                   address=GOOD, amount="20", withdrawOrderId="cap-1") == -4190
    assert booked(h) == ([], {"cap-1": 1})


def test_the_local_apply_is_refused_on_an_account_without_the_travel_rule():
    """A NIL account answers -4190 and books nothing."""
    h = Harness()
    assert json.loads(local_apply(h).body)["code"] == -4190 and booked(h)[0] == []


@pytest.mark.parametrize("questionnaire, code", [
    (None, -1102), ("  ", -1102), ("not json", -1130), ("[1, 2]", -1130), ("{}", -1130),
    ({"isAddressOwner": 1, "sendTo": 2}, -1130),     # Japan's always-required fields missing
])
def test_a_blank_or_malformed_questionnaire_is_refused_with_binances_messages(questionnaire, code):
    """Blank: "Questionnaire must not be blank"; not a JSON object, or Japan's fields
    missing: "Questionnaire format not valid."; nothing booked."""
    h = harness()
    reply = local_apply(h, questionnaire=questionnaire)
    body = json.loads(reply.body)
    assert reply.status == 400 and body["code"] == code
    assert body["msg"] in ("Questionnaire must not be blank", "Questionnaire format not valid.")
    assert booked(h)[0] == []


def test_the_local_history_finds_by_tr_id_and_withdraw_order_id_with_both_statuses():
    """Rows carry trId, withdrawalStatus and travelRuleStatus (1 pending, then 0 completed)."""
    h = harness()
    local_apply(h, "tr-a")
    local_apply(h, "tr-b")
    [by_order] = h.ok("GET", HISTORY, TREASURY, withdrawOrderId="tr-b")
    assert by_order["trId"] == 2 and by_order["withdrawOrderId"] == "tr-b"
    assert {r["trId"] for r in h.ok("GET", HISTORY, TREASURY, trId="1,2")} == {1, 2}
    h.now += 10_000
    [done] = h.ok("GET", HISTORY, TREASURY, trId="1")
    assert (done["withdrawalStatus"], done["travelRuleStatus"]) == (6, 0)
    assert json.loads(done["questionnaire"]) == JAPAN


def test_a_failed_travel_rule_check_is_status_2_and_the_withdrawal_rejected_and_refunded():
    """An address configured to fail the check: travelRuleStatus 2, withdrawalStatus 3, money back."""
    h = harness(failing=(GOOD,))
    before = h.free("USDT")
    local_apply(h, "tr-f")
    h.now += 10_000
    [row] = h.ok("GET", HISTORY, TREASURY, withdrawOrderId="tr-f")
    assert (row["withdrawalStatus"], row["travelRuleStatus"]) == (3, 2) and "Travel Rule" in row["info"]
    assert h.free("USDT") == before


def test_capital_withdrawals_are_not_in_the_local_history():
    """Only local-entity withdrawals are listed there."""
    h = Harness()
    h.withdraw(order_id="cap-2")
    assert h.ok("GET", HISTORY, TREASURY) == []
