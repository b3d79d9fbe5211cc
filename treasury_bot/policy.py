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
    absent, or withdrawEnable false          -> withdrawals_disabled
    a rule value that is not a finite number >= 0 -> withdrawals_disabled (fail closed)
    address !~ addressRegex (re.search; "" = no constraint; a regex that does not
    compile fails closed), or a tag present and !~ memoRegex -> invalid_destination
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

Usage (summarize_usage): a transfer counts in the hour when accepted_at_ms > now - 1 h,
and in the window sums when it is in_window and accepted_at_ms > now - window_hours:
a transfer accepted exactly one hour (window) ago no longer counts.

Approving (recheck_for_approval) runs rules 3-10 at that moment: 6-10 as docs/design.md section 9 says,
and 3-5 as guards, because the destination may have left the whitelist or changed since
(a restart with an edited policy). Age (2) and approval (11) are not re-applied.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from types import MappingProxyType
from typing import Any, Optional

from common.money import MONEY_CONTEXT, add, canonical, is_multiple
from treasury_bot.policy_file import Destination, Policy

ACCEPTED = "accepted"
REJECTED = "rejected"
PENDING_APPROVAL = "pending_approval"
OUTCOMES = (ACCEPTED, REJECTED, PENDING_APPROVAL)

REASON_CODES = (
    "intent_id_conflict",       # 1 (decided by the ledger)
    "stale_intent",             # 2
    "unknown_destination",      # 3
    "client_not_allowed",       # 4
    "coin_network_mismatch",    # 5
    "destination_quarantined",  # 6
    "withdrawals_disabled",     # 7
    "invalid_destination",      # 7
    "below_exchange_minimum",   # 7
    "above_exchange_maximum",   # 7
    "not_a_multiple",           # 7
    "over_transfer_limit",      # 8
    "too_many_transfers",       # 9
    "over_window_limit",        # 10
    "approval_required",        # 11 (outcome pending_approval)
    "operator_rejected",        # the operator's rejection of a pending intent
    # Issue 10 (docs/design.md section 9):
    "client_rate_limited",      # 1b (decided by the server's request budget, never journaled)
    "exchange_rules_stale",     # 7, before the other exchange rules
)

HOUR_MS = 3_600_000
MAX_FUTURE_SKEW_MS = 30_000
WINDOW_WARNING_RATIO = Decimal("0.8")
_ZERO = Decimal(0)


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
                address_regex=net.address_regex or "", memo_regex=net.memo_regex or "")
    return rules


@dataclass(frozen=True)
class CountedTransfer:
    intent_id: str
    coin: str
    destination: str
    amount: Decimal
    accepted_at_ms: int
    in_window: bool  # False once failed, rejected or cancelled


def _frozen_sums(sums: Mapping[str, Decimal]) -> Mapping[str, Decimal]:
    return MappingProxyType(dict(sums))


@dataclass(frozen=True)
class Usage:
    """What already counts against the limits: the hourly count and the window sums."""

    hour_count: int = 0
    coin_sums: Mapping[str, Decimal] = field(default_factory=dict)
    destination_sums: Mapping[str, Decimal] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "coin_sums", _frozen_sums(self.coin_sums))
        object.__setattr__(self, "destination_sums", _frozen_sums(self.destination_sums))

    def coin_sum(self, coin: str) -> Decimal:
        return self.coin_sums.get(coin, _ZERO)

    def destination_sum(self, label: str) -> Decimal:
        return self.destination_sums.get(label, _ZERO)

    def plus(self, coin: str, destination: str, amount: Decimal) -> Usage:
        """This usage with one more accepted (or pending) transfer, for deciding a batch."""
        return Usage(
            hour_count=self.hour_count + 1,
            coin_sums={**self.coin_sums, coin: add(self.coin_sum(coin), amount)},
            destination_sums={**self.destination_sums,
                              destination: add(self.destination_sum(destination), amount)},
        )


def summarize_usage(transfers: Iterable[CountedTransfer], now_ms: int, window_hours: int,
                    exclude_intent_id: str | None = None) -> Usage:
    """Sum the transfers that count now (edges: see the module docstring)."""
    hour_start = now_ms - HOUR_MS
    window_start = now_ms - window_hours * HOUR_MS
    hour_count = 0
    coin_sums: dict[str, Decimal] = {}
    destination_sums: dict[str, Decimal] = {}
    for transfer in transfers:
        if exclude_intent_id is not None and transfer.intent_id == exclude_intent_id:
            continue
        if transfer.accepted_at_ms > hour_start:
            hour_count += 1
        if transfer.in_window and transfer.accepted_at_ms > window_start:
            coin_sums[transfer.coin] = add(coin_sums.get(transfer.coin, _ZERO), transfer.amount)
            destination_sums[transfer.destination] = add(
                destination_sums.get(transfer.destination, _ZERO), transfer.amount)
    return Usage(hour_count, coin_sums, destination_sums)


@dataclass(frozen=True)
class Verdict:
    outcome: str  # accepted | rejected | pending_approval
    reason_code: str | None  # None when accepted
    detail: str  # one sentence for a person, with the numbers


def decide(intent: IntentFacts, policy: Policy, usage: Usage, coin_rules: CoinRules,
           usable_from_ms: Mapping[str, int], now_ms: int, *,
           rules_fetched_at_ms: int | None = None) -> Verdict:
    """Rules 2..11 in order (rule 1, idempotency, is the ledger's).

    `rules_fetched_at_ms`: when `coin_rules` were fetched (the treasury always passes it;
    None, for a caller that has no age to give, skips exchange_rules_stale)."""
    case = _Case(intent, policy, usage, coin_rules, usable_from_ms, now_ms,
                 policy.destination(intent.destination), rules_fetched_at_ms)
    return _first_failure(case, _DECISION_RULES) or _accepted(case)


def recheck_for_approval(intent: IntentFacts, policy: Policy, usage_without_it: Usage,
                         coin_rules: CoinRules, usable_from_ms: Mapping[str, int],
                         now_ms: int, *, rules_fetched_at_ms: int | None = None) -> Verdict:
    """The operator approves: rules 3..10 now (usage must exclude this very intent)."""
    case = _Case(intent, policy, usage_without_it, coin_rules, usable_from_ms, now_ms,
                 policy.destination(intent.destination), rules_fetched_at_ms)
    return _first_failure(case, _APPROVAL_RULES) or _accepted(case)


@dataclass(frozen=True)
class WindowPressure:
    """A window cap that this transfer took from under 80% to 80% or more."""

    scope: str  # "coin" or "destination"
    name: str  # the coin, or the destination's label
    coin: str
    used: Decimal  # the window sum with this transfer
    cap: Decimal
    window_hours: int

    @property
    def detail(self) -> str:
        percent = int(self.used * 100 / self.cap)
        owner = f"the {self.name}" if self.scope == "coin" else f"{self.name}'s"
        return (f"{canonical(self.used)} {self.coin} in {self.window_hours} h is {percent}% "
                f"of {owner} window_cap {canonical(self.cap)}")


def window_pressure(intent: IntentFacts, policy: Policy, before: Usage,
                    after: Usage) -> tuple[WindowPressure, ...]:
    """Caps that crossed 80% with this transfer: under 80% before, 80% or more after."""
    coin, label = intent.coin, intent.destination
    caps = []  # (scope, name, before, after, cap)
    coin_limits = policy.limits.coins.get(coin)
    if coin_limits is not None:
        caps.append(("coin", coin, before.coin_sum(coin), after.coin_sum(coin), coin_limits.window_cap))
    destination = policy.destination(label)
    if destination is not None and destination.window_cap is not None:
        caps.append(("destination", label, before.destination_sum(label),
                     after.destination_sum(label), destination.window_cap))
    return tuple(WindowPressure(scope, name, coin, used_after, cap, policy.limits.window_hours)
                 for scope, name, used_before, used_after, cap in caps
                 if _crossed(used_before, used_after, cap))


def _crossed(before: Decimal, after: Decimal, cap: Decimal) -> bool:
    threshold = MONEY_CONTEXT.multiply(cap, WINDOW_WARNING_RATIO)
    return before < threshold <= after


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
    rule = case.coin_rules.get((intent.coin, intent.network))
    if rule is None:
        return _reject("withdrawals_disabled", f"the exchange lists no withdrawals of {where}")
    if not rule.withdraw_enable:
        return _reject("withdrawals_disabled", f"the exchange has withdrawals of {where} disabled")
    if not _sane_numbers(rule):
        return _reject("withdrawals_disabled", f"the exchange's withdraw rules for {where} are "
                                               "not usable numbers")
    problem = _regex_problem(rule.address_regex, dest.address, "address", "addressRegex", where)
    if problem is None and dest.tag is not None:
        problem = _regex_problem(rule.memo_regex, dest.tag, "tag", "memoRegex", where)
    if problem is not None:
        return _reject("invalid_destination", f"{dest.label}'s {problem}")
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

def _sane_numbers(rule: NetworkRule) -> bool:
    values = (rule.withdraw_min, rule.withdraw_max, rule.withdraw_multiple)
    return all(isinstance(v, Decimal) and v.is_finite() and v >= 0 for v in values)


def _regex_problem(regex: str, text: str, what: str, name: str, where: str) -> str | None:
    if not regex:
        return None
    try:
        matched = re.search(regex, text) is not None
    except (re.error, OverflowError, RecursionError):
        return f"{what} cannot be checked: the exchange's {name} for {where} does not compile"
    return None if matched else f"{what} does not match the exchange's {name} for {where}"


def _seconds(ms: int) -> str:
    return canonical(Decimal(ms).scaleb(-3))


def _utc(ms: int) -> str:
    try:
        moment = datetime.fromtimestamp(ms / 1000, tz=timezone.utc)
    except (OverflowError, ValueError, OSError):  # outside datetime's years: show the number
        return f"{ms} ms"
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
