"""The treasury's start-up self-audit of its API key and whitelist. Pure functions.

The key's own rights come from `apiRestrictions` only; `canWithdraw` on the account is
an account-level flag (false: the account cannot withdraw at all). The treasury refuses
to run when its key cannot withdraw, when it can trade (unless `allow_trading_key`),
when it has no IP restriction (unless `allow_unrestricted_ip`), or when the account
cannot withdraw. An operator's override is a warning at every start, never silent.

`policy` is the policy IN FORCE (treasury_bot/loosening.py), never the raw file: turning an
override on is a loosening, so it overrides only once its quarantine has run (docs/design.md
section 9); until then the refusal says when it will (`pending_until`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Mapping

from common.binance import Account, ApiRestrictions
from treasury_bot.policy_model import Policy
from treasury_bot.withdraw_rules import NetworkRule


@dataclass(frozen=True)
class Finding:
    """One line of the audit: `fatal` findings stop the start, the others are warned."""

    check: str
    ok: bool
    detail: str
    fatal: bool = False
    overridden: bool = False   # failed, but the policy file allows it (warned at every start)


def audit_key(restrictions: ApiRestrictions, account: Account, policy: Policy,
              pending_until: Mapping[str, int] | None = None) -> list[Finding]:
    """`pending_until`: setting -> when its pending loosening takes effect (ms)."""
    pending_until = pending_until or {}
    findings = [
        Finding("key can withdraw", restrictions.enable_withdrawals,
                "enableWithdrawals is true" if restrictions.enable_withdrawals
                else "the key has no withdraw permission (enableWithdrawals is false): tick Enable "
                     "Withdrawals for this key in Binance's API Management (it needs an IP restriction)",
                fatal=not restrictions.enable_withdrawals),
        _override("key cannot trade", not restrictions.enable_spot_and_margin_trading,
                  policy.allow_trading_key, "the key can trade (enableSpotAndMarginTrading)",
                  "allow_trading_key = true", pending_until.get("allow_trading_key")),
        _override("key is IP-restricted", restrictions.ip_restrict, policy.allow_unrestricted_ip,
                  "the key has no IP restriction (ipRestrict is false)", "allow_unrestricted_ip = true",
                  pending_until.get("allow_unrestricted_ip")),
        Finding("account can withdraw", account.can_withdraw,
                "canWithdraw is true" if account.can_withdraw
                else "the account cannot withdraw at all (canWithdraw is false)",
                fatal=not account.can_withdraw),
    ]
    extras = [name for name, on in (
        ("internal transfer", restrictions.enable_internal_transfer),
        ("universal transfer", restrictions.permits_universal_transfer),
        ("margin", restrictions.enable_margin),
        ("futures", restrictions.enable_futures),
        ("options", restrictions.enable_vanilla_options)) if on]
    if extras:
        findings.append(Finding("key has no extra rights", False,
                                "the key also allows " + ", ".join(extras) + "; a withdraw key needs none"))
    return findings


def _override(check: str, ok: bool, allowed: bool, problem: str, setting: str,
              pending_until: int | None = None) -> Finding:
    if ok:
        return Finding(check, True, "yes")
    if allowed:
        return Finding(check, False, f"{problem}; started anyway because the policy says {setting}",
                       overridden=True)
    if pending_until is not None:
        from treasury_bot.alerts.formats import iso_utc  # a pure formatter
        return Finding(check, False, f"{problem}; refusing to start ({setting} is a loosening in its "
                                     f"quarantine: it overrides from {iso_utc(pending_until)})", fatal=True)
    return Finding(check, False, f"{problem}; refusing to start (policy: {setting} overrides)", fatal=True)


def audit_whitelist(policy: Policy, rules: Mapping[tuple[str, str], NetworkRule]) -> list[Finding]:
    """Each whitelisted destination against the exchange's rules for its coin and network."""
    findings = []
    for destination in policy.destinations:
        rule = rules.get((destination.coin, destination.network))
        name = f"destination {destination.label}"
        if rule is None:
            findings.append(Finding(name, False, f"{destination.coin} on {destination.network} is not offered by the exchange"))
        elif not rule.withdraw_enable:
            findings.append(Finding(name, False, f"withdrawals of {destination.coin} on {destination.network} are disabled"))
        elif not _matches(rule.address_regex, destination.address):
            findings.append(Finding(name, False, f"address does not match the exchange's addressRegex for {destination.network}"))
        elif destination.tag is not None and not _matches(rule.memo_regex, destination.tag):
            findings.append(Finding(name, False, f"tag does not match the exchange's memoRegex for {destination.network}"))
        else:
            findings.append(Finding(name, True, "matches the exchange's rules"))
    return findings


def _matches(pattern: str, text: str) -> bool:
    if not pattern:
        return True
    try:
        return re.search(pattern, text) is not None
    except re.error:
        return False
