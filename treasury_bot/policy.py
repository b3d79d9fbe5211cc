"""Deciding a transfer intent against the policy (docs/design.md section 3), as a pure function.

No I/O and no clock: the caller passes the time, the usage summed from the ledger, the
exchange's coin rules (cached) and when each destination leaves quarantine.

Rules, checked in this order; the first that fails gives the reason_code:
 1. intent_id already used with other content or by another client
        -> intent_id_conflict            (the ledger's job; the code is listed here)
 2. now - created_at > max_intent_age_seconds, or created_at - now > 30 s
        -> stale_intent                  (age == max is fine; exactly 30 s ahead is fine)
 3. the label is not in the whitelist       -> unknown_destination
 4. the destination's clients exclude this client -> client_not_allowed
 5. coin or network differ from the destination's -> coin_network_mismatch
 6. now < usable_from (first seen or address change + quarantine_hours), or no
    usable_from known for the label (fail closed) -> destination_quarantined
 7. the exchange's rules for (coin, network), in this order:
    exchange_rules_stale first, then the account's address book lacks the
    destination (address, network, tag; whiteStatus true) -> not_in_address_book
    absent, or withdrawEnable false          -> withdrawals_disabled
    a rule value that is not a finite number >= 0 -> withdrawals_disabled (fail closed)
    address !~ addressRegex (re.search; "" = no constraint; a regex that does not
    compile fails closed), or a tag present and !~ memoRegex, or a tag on a network
    that takes none, or none where withdrawTag requires one (tag_rules.py)
                                             -> invalid_destination
    amount < withdrawMin                     -> below_exchange_minimum
    withdrawMax > 0 and amount > withdrawMax -> above_exchange_maximum
    withdrawIntegerMultiple > 0 and amount not a whole multiple of it -> not_a_multiple
 8. amount > the coin's max_per_transfer, then > the destination's -> over_transfer_limit
    (a coin without a limits table cannot be withdrawn: also over_transfer_limit)
 9. hour_count + 1 > max_transfers_per_hour -> too_many_transfers
10. coin window sum + amount > the coin's window_cap, then the destination's
        -> over_window_limit
11. amount > approval_above -> outcome pending_approval, reason approval_required
    else                     -> accepted
Limits are inclusive: amount == max_per_transfer and sum + amount == window_cap pass.

Approving (recheck_for_approval) runs rules 3-10 at that moment: 6-10 as docs/design.md section 9 says,
and 3-5 as guards, because the destination may have left the whitelist or changed since
(a restart with an edited policy). Age (2) and approval (11) are not re-applied.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from typing import Optional

from common.money import add, canonical, is_multiple
from treasury_bot.address_book import AddressBookReading, book_refusal
from treasury_bot.policy_model import Destination, Policy
from treasury_bot.usage import Usage
from treasury_bot.verdict import ACCEPTED, PENDING_APPROVAL, REJECTED, Verdict
from treasury_bot.tag_rules import TAG_INVALID, tag_problem
from treasury_bot.withdraw_rules import CoinRules, NetworkRule, regex_problem, sane_numbers

MAX_FUTURE_SKEW_MS = 30_000


@dataclass(frozen=True)
class IntentFacts:
    intent_id: str
    client: str  # the CURVE certificate's name
    coin: str
    network: str
    destination: str  # the label
    amount: Decimal
    created_at_ms: int

    def __post_init__(self) -> None:
        if not isinstance(self.amount, Decimal) or not self.amount.is_finite() or self.amount <= 0:
            raise ValueError(f"amount must be a finite Decimal > 0, got {self.amount!r}")


def decide(intent: IntentFacts, policy: Policy, usage: Usage, coin_rules: CoinRules,
           usable_from_ms: Mapping[str, int], now_ms: int, *,
           rules_fetched_at_ms: int | None = None,
           address_book: AddressBookReading | None = None) -> Verdict:
    """Rules 2..11 in order (rule 1, idempotency, is the ledger's).

    `rules_fetched_at_ms`: when `coin_rules` were fetched (the treasury always passes it;
    None, for a caller that has no age to give, skips exchange_rules_stale).
    `address_book`: the exchange's address book as last read (issue 12; the treasury
    always passes it; None skips not_in_address_book)."""
    case = _Case(intent, policy, usage, coin_rules, usable_from_ms, now_ms,
                 policy.destination(intent.destination), rules_fetched_at_ms, address_book)
    return _first_failure(case, _DECISION_RULES) or _accepted(case)


def recheck_for_approval(intent: IntentFacts, policy: Policy, usage_without_it: Usage,
                         coin_rules: CoinRules, usable_from_ms: Mapping[str, int],
                         now_ms: int, *, rules_fetched_at_ms: int | None = None,
                         address_book: AddressBookReading | None = None) -> Verdict:
    """The operator approves: rules 3..10 now (usage must exclude this very intent)."""
    case = _Case(intent, policy, usage_without_it, coin_rules, usable_from_ms, now_ms,
                 policy.destination(intent.destination), rules_fetched_at_ms, address_book)
    return _first_failure(case, _APPROVAL_RULES) or _accepted(case)


# --- the rules ----------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class _Case:
    intent: IntentFacts
    policy: Policy
    usage: Usage
    coin_rules: CoinRules
    usable_from_ms: Mapping[str, int]
    now_ms: int
    destination: Optional[Destination]
    rules_fetched_at_ms: Optional[int] = None
    address_book: Optional[AddressBookReading] = None

    @property
    def dest(self) -> Destination:
        """The destination, for rules after 3 (which stops the label that has none)."""
        if self.destination is None:
            raise LookupError("a rule after unknown_destination ran without a destination")
        return self.destination

    @property
    def amount(self) -> str:
        return f"{canonical(self.intent.amount)} {self.intent.coin}"


Rule = Callable[[_Case], Optional[Verdict]]


def _first_failure(case: _Case, rules: tuple[Rule, ...]) -> Verdict | None:
    for rule in rules:
        verdict = rule(case)
        if verdict is not None:
            return verdict
    return None


def _reject(reason_code: str, detail: str) -> Verdict:
    return Verdict(REJECTED, reason_code, detail)


def _accepted(case: _Case) -> Verdict:
    return Verdict(ACCEPTED, None, f"{case.amount} to {case.intent.destination} accepted")


def _check_age(case: _Case) -> Verdict | None:
    age_ms = case.now_ms - case.intent.created_at_ms
    max_age_ms = case.policy.limits.max_intent_age_ms
    if age_ms > max_age_ms:
        return _reject("stale_intent", f"intent is {_seconds(age_ms)} s old, over "
                                       f"max_intent_age_seconds {case.policy.limits.max_intent_age_seconds}")
    if -age_ms > MAX_FUTURE_SKEW_MS:
        return _reject("stale_intent", f"created_at is {_seconds(-age_ms)} s in the future, over the "
                                       f"{MAX_FUTURE_SKEW_MS // 1000} s allowed for clock skew")
    return None


def _check_known_destination(case: _Case) -> Verdict | None:
    if case.destination is None:
        return _reject("unknown_destination",
                       f"no destination labelled {case.intent.destination!r} in the whitelist")
    return None


def _check_client(case: _Case) -> Verdict | None:
    if not case.dest.allows(case.intent.client):
        return _reject("client_not_allowed",
                       f"client {case.intent.client!r} may not use {case.dest.label}")
    return None


def _check_coin_network(case: _Case) -> Verdict | None:
    dest, intent = case.dest, case.intent
    if (intent.coin, intent.network) != (dest.coin, dest.network):
        return _reject("coin_network_mismatch", f"{dest.label} takes {dest.coin} on {dest.network}, "
                                                f"not {intent.coin} on {intent.network}")
    return None


def _check_quarantine(case: _Case) -> Verdict | None:
    label = case.dest.label
    usable_ms = case.usable_from_ms.get(label)
    if usable_ms is None:
        return _reject("destination_quarantined",
                       f"{label} has no first-seen time yet: treated as quarantined")
    if case.now_ms < usable_ms:
        return _reject("destination_quarantined",
                       f"{label} is quarantined until {_utc(usable_ms)} "
                       f"({_seconds(usable_ms - case.now_ms)} s from now)")
    return None


def _check_exchange_rules(case: _Case) -> Verdict | None:
    intent, dest = case.intent, case.dest
    where = f"{intent.coin} on {intent.network}"
    if case.rules_fetched_at_ms is not None:
        # docs/design.md section 9, rule 7 first: rules older than the policy allows are not trusted.
        age_ms = case.now_ms - case.rules_fetched_at_ms
        max_ms = case.policy.limits.max_exchange_rules_age_minutes * 60_000
        if age_ms > max_ms:
            return _reject("exchange_rules_stale",
                           f"the exchange's withdraw rules are {age_ms // 60_000} min old, over "
                           f"max_exchange_rules_age_minutes {case.policy.limits.max_exchange_rules_age_minutes}")
    if case.address_book is not None:  # issue 12, docs/design.md section 9: the account's address book
        refused = book_refusal(case.address_book, case.dest, case.now_ms,
                               case.policy.limits.max_exchange_rules_age_minutes)
        if refused is not None:
            return _reject(*refused)
    rule = case.coin_rules.get((intent.coin, intent.network))
    if rule is None:
        return _reject("withdrawals_disabled", f"the exchange lists no withdrawals of {where}")
    if not rule.withdraw_enable:
        return _reject("withdrawals_disabled", f"the exchange has withdrawals of {where} disabled")
    if not sane_numbers(rule):
        return _reject("withdrawals_disabled", f"the exchange's withdraw rules for {where} are "
                                               "not usable numbers")
    problem = regex_problem(rule.address_regex, dest.address, "address", "addressRegex", where)
    if problem is not None:
        return _reject("invalid_destination", f"{dest.label}'s {problem}")
    tag = tag_problem(rule, dest.tag)  # issue 12: withdrawTag and memoRegex (treasury_bot/tag_rules.py)
    if tag is not None:
        joiner = "'s " if tag[0] == TAG_INVALID else " "
        return _reject("invalid_destination", f"{dest.label}{joiner}{tag[1]}")
    return _check_exchange_amount(case, rule)


def _check_exchange_amount(case: _Case, rule: NetworkRule) -> Verdict | None:
    amount, shown = case.intent.amount, case.amount
    if amount < rule.withdraw_min:
        return _reject("below_exchange_minimum",
                       f"{shown} is below the exchange's withdrawMin {canonical(rule.withdraw_min)}")
    if rule.withdraw_max > 0 and amount > rule.withdraw_max:
        return _reject("above_exchange_maximum",
                       f"{shown} is above the exchange's withdrawMax {canonical(rule.withdraw_max)}")
    if not is_multiple(amount, rule.withdraw_multiple):
        return _reject("not_a_multiple", f"{shown} is not a multiple of the exchange's "
                                         f"withdrawIntegerMultiple {canonical(rule.withdraw_multiple)}")
    return None


def _check_transfer_caps(case: _Case) -> Verdict | None:
    amount, coin, dest = case.intent.amount, case.intent.coin, case.dest
    coin_limits = case.policy.limits.coins.get(coin)
    if coin_limits is None:
        return _reject("over_transfer_limit", f"{coin} has no [limits.coins.{coin}] table: "
                                              "it cannot be withdrawn")
    if amount > coin_limits.max_per_transfer:
        return _reject("over_transfer_limit", f"{case.amount} is over the {coin} max_per_transfer "
                                              f"{canonical(coin_limits.max_per_transfer)}")
    if dest.max_per_transfer is not None and amount > dest.max_per_transfer:
        return _reject("over_transfer_limit", f"{case.amount} is over {dest.label}'s max_per_transfer "
                                              f"{canonical(dest.max_per_transfer)}")
    return None


def _check_hourly_count(case: _Case) -> Verdict | None:
    limit = case.policy.limits.max_transfers_per_hour
    if case.usage.hour_count + 1 > limit:
        return _reject("too_many_transfers", f"{case.usage.hour_count} transfers accepted in the "
                                             f"last hour; max_transfers_per_hour is {limit}")
    return None


def _check_window_caps(case: _Case) -> Verdict | None:
    coin, dest = case.intent.coin, case.dest
    coin_limits = case.policy.limits.coins.get(coin)
    if coin_limits is None:  # rule 8 stops this first; kept so the rule stands alone
        return _reject("over_window_limit", f"{coin} has no [limits.coins.{coin}] table")
    caps = [(case.usage.coin_sum(coin), coin_limits.window_cap, f"the {coin}")]
    if dest.window_cap is not None:
        caps.append((case.usage.destination_sum(dest.label), dest.window_cap, f"{dest.label}'s"))
    for used, cap, owner in caps:
        after = add(used, case.intent.amount)
        if after > cap:
            return _reject("over_window_limit", f"{canonical(used)} {coin} in the last "
                           f"{case.policy.limits.window_hours} h + {case.amount} would be "
                           f"{canonical(after)}, over {owner} window_cap {canonical(cap)}")
    return None


def _check_approval(case: _Case) -> Verdict | None:
    coin_limits = case.policy.limits.coins.get(case.intent.coin)
    threshold = coin_limits.approval_above if coin_limits is not None else None
    if threshold is not None and case.intent.amount > threshold:
        return Verdict(PENDING_APPROVAL, "approval_required",
                       f"{case.amount} is above approval_above {canonical(threshold)}: "
                       "waiting for the operator")
    return None


_DECISION_RULES: tuple[Rule, ...] = (
    _check_age,                 # 2
    _check_known_destination,   # 3
    _check_client,              # 4
    _check_coin_network,        # 5
    _check_quarantine,          # 6
    _check_exchange_rules,      # 7
    _check_transfer_caps,       # 8
    _check_hourly_count,        # 9
    _check_window_caps,         # 10
    _check_approval,            # 11
)
_APPROVAL_RULES: tuple[Rule, ...] = _DECISION_RULES[1:-1]  # 3..10


# --- helpers ------------------------------------------------------------------------

def _seconds(ms: int) -> str:
    return canonical(Decimal(ms).scaleb(-3))


def _utc(ms: int) -> str:
    try:
        moment = datetime.fromtimestamp(ms / 1000, tz=timezone.utc)
    except (OverflowError, ValueError, OSError):  # outside datetime's years: show the number
        return f"{ms} ms"
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
