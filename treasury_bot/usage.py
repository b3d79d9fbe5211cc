"""What counts against the limits: counted transfers, their hourly count and window sums, 80% warnings.

Pure, like the rules that read it (treasury_bot/policy.py, rules 9 and 10).

Usage (summarize_usage): a transfer counts in the hour when accepted_at_ms > now - 1 h,
and in the window sums when it is in_window and accepted_at_ms > now - window_hours:
a transfer accepted exactly one hour (window) ago no longer counts.
treasury_bot/usage_tracker.py keeps the same figures incrementally.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from types import MappingProxyType
from typing import TYPE_CHECKING

from common.money import MONEY_CONTEXT, add, canonical
from treasury_bot.policy_model import Policy

if TYPE_CHECKING:  # only an annotation: policy.py imports this module
    from treasury_bot.policy import IntentFacts

HOUR_MS = 3_600_000
WINDOW_WARNING_RATIO = Decimal("0.8")
_ZERO = Decimal(0)


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
