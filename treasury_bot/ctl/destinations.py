"""`treasuryctl check`'s issue-12 lines: each destination's tag against its network's rules,
and each destination against the account's own address book; one line per finding."""

from __future__ import annotations

from common.binance import ExchangeError
from treasury_bot.address_book import check_address_book, entries_from_reply
from treasury_bot.exchange import AddressBookSource
from treasury_bot.policy_model import Policy
from treasury_bot.tag_rules import check_tags
from treasury_bot.withdraw_rules import CoinRules

Line = tuple[bool, str, str]


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
