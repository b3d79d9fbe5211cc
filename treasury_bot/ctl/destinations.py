"""`treasuryctl check`'s issue-12 lines: each destination's tag against its network's rules,
each destination against the account's own address book, the wallet each destination is
paid from with its free balance, the account's 24-hour withdrawal quota, and the Travel
Rule route with each destination's questionnaire; one line per finding."""

from __future__ import annotations

from decimal import Decimal
from typing import Callable

from common.binance import ExchangeError
from treasury_bot.address_book import check_address_book, entries_from_reply
from treasury_bot.exchange import AddressBookSource, WithdrawQuotaSource
from treasury_bot.policy_model import Policy
from treasury_bot.tag_rules import check_tags
from treasury_bot.travel_rule import QuestionnaireError, travel_rule_for
from treasury_bot.withdraw_quota import QuotaError, QuotaReading, check_line
from treasury_bot.withdraw_rules import CoinRules

Line = tuple[bool | None, str, str]   # ok True, a warning None, a failure False


def tag_lines(policy: Policy, rules: CoinRules) -> list[Line]:
    findings = check_tags(policy, rules)
    if not findings:
        return [(True, "tags", "every destination's tag suits its network (withdrawTag, memoRegex)")]
    return [(False, "tag", f"destination {f.label}: {f.detail} (the treasury refuses to start)")
            for f in findings]


def address_book_lines(client: AddressBookSource, policy: Policy) -> list[Line]:
    try:
        entries = entries_from_reply(client.withdraw_address_list())
    except ExchangeError as exc:
        return [(False, "address book", f"cannot read the exchange's address book: {exc}")]
    findings = check_address_book(policy, entries)
    if not findings:
        return [(True, "address book", f"all {len(policy.destinations)} destination(s) in the "
                                       "exchange's address book, whitelisted")]
    return [(False, "address book", f"destination {f.label}: {f.detail}; add it on the exchange "
                                    "(its intents are refused: not_in_address_book)") for f in findings]


def wallet_lines(free_in_wallet: Callable[[str, str], Decimal], policy: Policy) -> list[Line]:
    """One line per (coin, wallet) the destinations are paid from: its free balance read from
    that wallet (spot: the account; funding: get-funding-asset), and which labels use it."""
    labels: dict[tuple[str, str], list[str]] = {}
    for destination in policy.destinations:
        labels.setdefault((destination.coin, destination.wallet), []).append(destination.label)
    lines: list[Line] = []
    for (coin, wallet), names in sorted(labels.items()):
        try:
            free = free_in_wallet(coin, wallet)
        except ExchangeError as exc:
            lines.append((False, f"wallet {wallet}", f"cannot read the {wallet} wallet's {coin}: {exc}"))
            continue
        empty = "; empty: withdrawals from it are refused (-4026) until it is funded" if free <= 0 else ""
        lines.append((True, f"wallet {wallet}", f"{coin} free {free} pays {', '.join(names)}{empty}"))
    return lines


def quota_lines(client: WithdrawQuotaSource) -> list[Line]:
    """Issue 12 item 4: the account's 24-hour withdrawal quota, a warning from 80 % used."""
    try:
        reply = client.withdraw_quota()
        reading = QuotaReading(total=Decimal(reply.wd_quota), used=Decimal(reply.used_wd_quota), read_at_ms=0)
    except (ExchangeError, QuotaError) as exc:
        return [(False, "withdraw quota", f"cannot read the exchange's 24-hour withdrawal quota: {exc}")]
    return [check_line(reading)]


def travel_rule_lines(requirements: Callable[[], str], policy: Policy) -> list[Line]:
    """Issue 12 item 5: which withdraw endpoints the account needs, and whether every
    destination has a valid questionnaire for its local entity."""
    try:
        country = requirements()
    except ExchangeError as exc:
        return [(False, "travel rule", f"cannot read questionnaire-requirements: {exc} (the treasury "
                                       "refuses to start without it)")]
    try:
        rule = travel_rule_for(country, policy.destinations)
    except QuestionnaireError as exc:
        return [(False, "travel rule", f"account under the {country.upper()} local entity: {exc} "
                                       "(the treasury refuses to start)")]
    if rule is None:
        return [(True, "travel rule", "not required (questionnaire-requirements: NIL); withdrawals "
                                      "go through /sapi/v1/capital/withdraw/apply")]
    return [(True, "travel rule", rule.describe())]
