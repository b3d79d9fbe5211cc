"""treasury_bot/tag_rules.py (issue 12): each destination's tag against its network's
`withdrawTag` and `memoRegex`, read from replies shaped as Binance documents them
(https://developers.binance.com/docs/wallet/capital/all-coins-info), and rule 7's use of it."""

from __future__ import annotations

from decimal import Decimal

import msgspec
import pytest

from common.binance import CoinConfig
from common.binance.models import dec_hook
from tests.support.treasury import COLD_ADDRESS
from tests.support.treasury_core import make_policy
from treasury_bot.coin_rules import from_snapshot, to_snapshot
from treasury_bot.policy import IntentFacts, decide
from treasury_bot.tag_rules import TAG_INVALID, TAG_NOT_TAKEN, TAG_REQUIRED, check_tags, refusal
from treasury_bot.usage import Usage
from treasury_bot.withdraw_rules import coin_rules_from_config

NOW = 1_700_000_000_000


def getall(*, withdraw_tag: bool | None, memo_regex: str) -> dict:
    """/sapi/v1/capital/config/getall with one USDT network, its fields as the page shows them."""
    network = {"network": "TRX", "coin": "USDT", "withdrawIntegerMultiple": "0.000001", "isDefault": True,
               "depositEnable": True, "withdrawEnable": True, "depositDesc": "", "withdrawDesc": "",
               "specialTips": "", "specialWithdrawTips": "", "name": "Tron (TRC20)", "resetAddressStatus": False,
               "addressRegex": "^T[1-9A-HJ-NP-Za-km-z]{33}$", "memoRegex": memo_regex, "withdrawFee": "1",
               "withdrawMin": "10", "withdrawMax": "9999999", "withdrawInternalMin": "0.01",
               "depositDust": "0.01", "minConfirm": 5, "unLockConfirm": 0, "sameAddress": False,
               "estimatedArrivalTime": 1, "busy": False}
    if withdraw_tag is not None:
        network["withdrawTag"] = withdraw_tag
    reply = [{"coin": "USDT", "depositAllEnable": True, "withdrawAllEnable": True, "name": "TetherUS",
              "free": "0", "locked": "0", "freeze": "0", "withdrawing": "0", "ipoing": "0", "ipoable": "0",
              "storage": "0", "isLegalMoney": False, "trading": True, "networkList": [network]}]
    coins = msgspec.json.decode(msgspec.json.encode(reply), type=list[CoinConfig], dec_hook=dec_hook)
    return coin_rules_from_config(coins)


@pytest.mark.parametrize("withdraw_tag, memo_regex, tag, expected", [
    pytest.param(False, "", "12345", TAG_NOT_TAKEN, id="tag-where-the-network-takes-none"),
    pytest.param(True, "^[0-9]{1,10}$", None, TAG_REQUIRED, id="no-tag-where-one-is-required"),
    pytest.param(True, "^[0-9]{1,10}$", "abc", TAG_INVALID, id="tag-failing-memoRegex"),
    pytest.param(False, "^[0-9]{1,10}$", "abc", TAG_INVALID, id="optional-tag-failing-memoRegex"),
    pytest.param(True, "(", "1", TAG_INVALID, id="memoRegex-that-does-not-compile-fails-closed"),
])
def test_a_tag_the_network_refuses_is_a_finding_naming_the_destination(withdraw_tag, memo_regex, tag, expected):
    """Each way a tag can be wrong for its network gives cold-wallet a finding of that code."""
    rules = getall(withdraw_tag=withdraw_tag, memo_regex=memo_regex)
    finding = {f.label: f for f in check_tags(make_policy(cold_tag=tag), rules)}["cold-wallet"]
    assert (finding.label, finding.code) == ("cold-wallet", expected)
    assert finding.line().startswith("destination cold-wallet: ")


@pytest.mark.parametrize("withdraw_tag, memo_regex, tag", [
    pytest.param(False, "", None, id="no-tag-on-a-tagless-network"),
    pytest.param(True, "^[0-9]{1,10}$", "12345", id="a-required-tag-that-matches"),
    pytest.param(False, "^[0-9]{1,10}$", None, id="an-optional-tag-left-out"),
    pytest.param(None, "", "12345", id="withdrawTag-absent-says-nothing"),
])
def test_a_tag_that_suits_its_network_is_no_finding(withdraw_tag, memo_regex, tag):
    """Tags the rules allow, and a reply without withdrawTag (the page is silent), pass."""
    findings = check_tags(make_policy(cold_tag=tag), getall(withdraw_tag=withdraw_tag, memo_regex=memo_regex))
    assert "cold-wallet" not in {f.label for f in findings}


def test_every_destination_without_a_required_tag_is_named():
    """withdrawTag true: cold-wallet and hot-wallet, both without a tag, are two findings."""
    findings = check_tags(make_policy(), getall(withdraw_tag=True, memo_regex="^[0-9]+$"))
    assert [(f.label, f.code) for f in findings] == [("cold-wallet", TAG_REQUIRED), ("hot-wallet", TAG_REQUIRED)]


def test_a_destination_on_a_network_the_exchange_does_not_offer_is_left_to_the_whitelist_audit():
    """No rule, no tag finding: rule 7 refuses it as withdrawals_disabled."""
    assert check_tags(make_policy(cold_tag="1"), {}) == []


def test_the_start_refusal_is_one_policy_error_line_naming_file_and_destination():
    """`FILE: destination LABEL: problem`, as the policy file's own errors read."""
    findings = check_tags(make_policy(cold_tag="12345"), getall(withdraw_tag=False, memo_regex=""))
    text = refusal("/etc/treasury.toml", findings)
    assert text.startswith("/etc/treasury.toml: destination cold-wallet: has a tag")
    assert "takes none for USDT on TRX" in text


def test_withdraw_tag_survives_the_saved_snapshot_and_old_snapshots_read_as_unknown():
    """treasuryctl approve re-checks with the saved rules: withdrawTag is kept; absent is None."""
    rules = getall(withdraw_tag=True, memo_regex="^[0-9]+$")
    assert from_snapshot(to_snapshot(rules)) == rules
    old = [{k: v for k, v in item.items() if k != "withdraw_tag"} for item in to_snapshot(rules)]
    assert from_snapshot(old)[("USDT", "TRX")].withdraw_tag is None


@pytest.mark.parametrize("withdraw_tag, memo_regex, tag, detail", [
    (False, "", "12345", "cold-wallet has a tag, and the exchange takes none for USDT on TRX"),
    (True, "^[0-9]+$", None, "cold-wallet has no tag, and the exchange requires one for USDT on TRX"),
    (True, "^[0-9]+$", "abc", "cold-wallet's tag does not match the exchange's memoRegex for USDT on TRX"),
])
def test_rule_7_refuses_the_destinations_intents_as_invalid_destination(withdraw_tag, memo_regex, tag, detail):
    """On every decision (so on every refresh's new rules) the tag rule refuses the intent."""
    policy = make_policy(cold_tag=tag)
    intent = IntentFacts("i-1", "signal", "USDT", "TRX", "cold-wallet", Decimal("100"), NOW)
    verdict = decide(intent, policy, Usage(), getall(withdraw_tag=withdraw_tag, memo_regex=memo_regex),
                     {"cold-wallet": 0}, NOW, rules_fetched_at_ms=NOW)
    assert (verdict.outcome, verdict.reason_code) == ("rejected", "invalid_destination")
    assert verdict.detail.startswith(detail), verdict.detail
    assert COLD_ADDRESS not in verdict.detail
