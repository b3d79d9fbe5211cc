"""The start-up self-audit of the withdraw key and of the whitelist. Pure functions, tables."""

from __future__ import annotations

import dataclasses

import pytest

from common.binance import Account, ApiRestrictions
from tests.support.treasury import TRX_RULE
from tests.support.treasury_core import make_policy, policy_text
from treasury_bot.audit import Finding, audit_key, audit_whitelist
from treasury_bot.policy_file import parse_policy

STRICT = make_policy()
LENIENT = parse_policy(policy_text(allow_trading_key=True, allow_unrestricted_ip=True))


def restrictions(**over) -> ApiRestrictions:
    fields = dict(ip_restrict=True, enable_withdrawals=True, enable_spot_and_margin_trading=False,
                  enable_reading=True)
    fields.update(over)
    return ApiRestrictions(**fields)


def account(can_withdraw=True) -> Account:
    return Account(can_trade=False, can_withdraw=can_withdraw, can_deposit=True, balances=[])


def by_check(findings) -> dict[str, Finding]:
    return {f.check: f for f in findings}


def test_a_sound_key_passes_every_check():
    """Withdraw on, trading off, IP-restricted, account can withdraw: all OK, nothing fatal."""
    findings = audit_key(restrictions(), account(), STRICT)
    assert [f.check for f in findings] == ["key can withdraw", "key cannot trade", "key is IP-restricted",
                                           "account can withdraw"]
    assert all(f.ok and not f.fatal for f in findings)


@pytest.mark.parametrize("over, can_withdraw, policy, check, fatal, words", [
    (dict(enable_withdrawals=False), True, STRICT, "key can withdraw", True, "no withdraw permission"),
    (dict(enable_withdrawals=False), True, LENIENT, "key can withdraw", True, "no withdraw permission"),
    (dict(enable_spot_and_margin_trading=True), True, STRICT, "key cannot trade", True, "refusing to start"),
    (dict(enable_spot_and_margin_trading=True), True, LENIENT, "key cannot trade", False, "started anyway"),
    (dict(ip_restrict=False), True, STRICT, "key is IP-restricted", True, "allow_unrestricted_ip"),
    (dict(ip_restrict=False), True, LENIENT, "key is IP-restricted", False, "started anyway"),
    ({}, False, STRICT, "account can withdraw", True, "canWithdraw is false"),
    ({}, False, LENIENT, "account can withdraw", True, "canWithdraw is false"),
])
def test_each_key_problem_is_fatal_unless_the_policy_overrides_it(over, can_withdraw, policy, check, fatal, words):
    """No withdraw right or an account that cannot withdraw always stop the start; trading
    and a missing IP restriction stop it unless the policy allows them, then they are warned."""
    finding = by_check(audit_key(restrictions(**over), account(can_withdraw), policy))[check]
    assert not finding.ok and finding.fatal is fatal and words in finding.detail


@pytest.mark.parametrize("extra, word", [("enable_internal_transfer", "internal transfer"),
                                         ("permits_universal_transfer", "universal transfer"),
                                         ("enable_margin", "margin"), ("enable_futures", "futures"),
                                         ("enable_vanilla_options", "options")])
def test_extra_rights_are_warned_not_fatal(extra, word):
    """A withdraw key needs nothing else: other rights are a warning line."""
    finding = by_check(audit_key(restrictions(**{extra: True}), account(), STRICT))["key has no extra rights"]
    assert not finding.ok and not finding.fatal and word in finding.detail


@pytest.mark.parametrize("rules, policy, ok, words", [
    ({("USDT", "TRX"): TRX_RULE}, STRICT, True, "matches"),
    ({}, STRICT, False, "not offered"),
    ({("USDT", "TRX"): dataclasses.replace(TRX_RULE, withdraw_enable=False)}, STRICT, False, "disabled"),
    ({("USDT", "TRX"): dataclasses.replace(TRX_RULE, address_regex="^0x[0-9a-f]{40}$")}, STRICT, False,
     "addressRegex"),
    ({("USDT", "TRX"): dataclasses.replace(TRX_RULE, address_regex="")}, STRICT, True, "matches"),
    ({("USDT", "TRX"): dataclasses.replace(TRX_RULE, address_regex="([")}, STRICT, False, "addressRegex"),
    ({("USDT", "TRX"): dataclasses.replace(TRX_RULE, memo_regex="^[0-9]+$")}, make_policy(cold_tag="abc"), False,
     "memoRegex"),
    ({("USDT", "TRX"): dataclasses.replace(TRX_RULE, memo_regex="^[0-9]+$")}, make_policy(cold_tag="123"), True,
     "matches"),
    ({("USDT", "TRX"): dataclasses.replace(TRX_RULE, memo_regex="^[0-9]+$")}, STRICT, True, "matches"),
])
def test_each_whitelisted_address_is_checked_against_the_exchanges_rules(rules, policy, ok, words):
    """Offered, enabled, address (and tag, when there is one) matching; a broken regex fails closed."""
    finding = by_check(audit_whitelist(policy, rules))["destination cold-wallet"]
    assert finding.ok is ok and words in finding.detail and not finding.fatal


def test_every_destination_gets_a_line():
    """One finding per whitelisted destination, in policy order."""
    findings = audit_whitelist(STRICT, {("USDT", "TRX"): TRX_RULE})
    assert [f.check for f in findings] == ["destination cold-wallet", "destination hot-wallet"]
