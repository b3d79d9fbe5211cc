"""The exchange's withdraw rules per (coin, network), as plain data, and how rule 7 reads them (fail closed).

Rule 7 itself is in treasury_bot/policy.py; treasury_bot/coin_rules.py keeps them cached.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any


@dataclass(frozen=True)
class NetworkRule:
    """One network's withdraw rules from /sapi/v1/capital/config/getall."""

    coin: str
    network: str
    withdraw_enable: bool
    withdraw_min: Decimal
    withdraw_max: Decimal  # 0: no maximum
    withdraw_multiple: Decimal  # withdrawIntegerMultiple; 0: no constraint
    address_regex: str  # as Binance gives it; "": no constraint
    memo_regex: str
    # withdrawTag: a memo is required to withdraw on this network (issue 12,
    # treasury_bot/tag_rules.py); None when the exchange did not say.
    withdraw_tag: bool | None = None


CoinRules = Mapping[tuple[str, str], NetworkRule]


def coin_rules_from_config(coins: Iterable[Any]) -> dict[tuple[str, str], NetworkRule]:
    """CoinRules from common.binance's CoinConfig list (read by attribute, not imported)."""
    rules: dict[tuple[str, str], NetworkRule] = {}
    for coin in coins:
        for net in coin.network_list:
            rules[(coin.coin, net.network)] = NetworkRule(
                coin=coin.coin, network=net.network, withdraw_enable=bool(net.withdraw_enable),
                withdraw_min=Decimal(net.withdraw_min), withdraw_max=Decimal(net.withdraw_max),
                withdraw_multiple=Decimal(net.withdraw_integer_multiple),
                address_regex=net.address_regex or "", memo_regex=net.memo_regex or "",
                withdraw_tag=net.withdraw_tag)
    return rules


def sane_numbers(rule: NetworkRule) -> bool:
    """Every number finite and >= 0: a rule that is not cannot be trusted (withdrawals_disabled)."""
    values = (rule.withdraw_min, rule.withdraw_max, rule.withdraw_multiple)
    return all(isinstance(v, Decimal) and v.is_finite() and v >= 0 for v in values)


def regex_problem(regex: str, text: str, what: str, name: str, where: str) -> str | None:
    """Why `text` fails the exchange's regex (re.search; "" = no constraint; one that does not
    compile fails closed), or None."""
    if not regex:
        return None
    try:
        matched = re.search(regex, text) is not None
    except (re.error, OverflowError, RecursionError):
        return f"{what} cannot be checked: the exchange's {name} for {where} does not compile"
    return None if matched else f"{what} does not match the exchange's {name} for {where}"
