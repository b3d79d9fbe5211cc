"""The limits, judged on the exchange's own record in true time (pure; issue 10).

Policy edits between restarts tighten and loosen the caps. A tightening takes effect at
once and a loosening only after its quarantine (DESIGN section 9), which is longer than
the soak, so the cap in force at any moment is the STRICTEST value configured up to then.
A withdrawal is judged against the caps in force at the earliest moment its intent could
have been decided (its first send, or the start of its approval): never against a cap
written after it was decided, so an edit can not make an honest decision look like a breach.

At every withdrawal, in true-time order: the rolling window sum (withdrawals not failed,
rejected or cancelled, within window_hours before it) per coin and per destination address,
the count of every withdrawal within the hour before it, and its own amount.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Mapping, Sequence

HOUR_MS = 3_600_000
OUT_OF_WINDOW = (1, 3, 5)        # cancelled, rejected, failed: policy drops them from window sums


@dataclass(frozen=True)
class Caps:
    max_transfers_per_hour: int
    max_per_transfer: Decimal
    coin_cap: Decimal
    cold_cap: Decimal
    hot_cap: Decimal

    def stricter(self, other: "Caps") -> "Caps":
        return Caps(min(self.max_transfers_per_hour, other.max_transfers_per_hour),
                    min(self.max_per_transfer, other.max_per_transfer),
                    min(self.coin_cap, other.coin_cap), min(self.cold_cap, other.cold_cap),
                    min(self.hot_cap, other.hot_cap))

    def with_value(self, name: str, value: int | Decimal) -> "Caps":
        return replace(self, **{name: value})


@dataclass(frozen=True)
class Judged:
    intent_id: str
    true_ms: int
    coin: str
    address: str
    amount: Decimal
    status: int
    decided_from_ms: int             # the earliest true moment its intent could be decided


def in_force_at(history: Sequence[tuple[int, Caps]], at_ms: int) -> Caps:
    """The strictest caps configured at or before `at_ms` (history: (true ms, caps), oldest
    first; the first entry is the initial policy and applies from the start)."""
    caps = history[0][1]
    for written_ms, configured in history[1:]:
        if written_ms <= at_ms:
            caps = caps.stricter(configured)
    return caps


def breaches(withdrawals: Sequence[Judged], history: Sequence[tuple[int, Caps]], window_hours: int,
             address_caps: Mapping[str, str]) -> list[str]:
    """Every moment a limit was exceeded; `address_caps` maps an address to the Caps field
    of its destination's window cap (addresses without one: only the coin cap)."""
    found: list[str] = []
    ordered = sorted(withdrawals, key=lambda w: w.true_ms)
    window_ms = window_hours * HOUR_MS
    for index, w in enumerate(ordered):
        caps = in_force_at(history, w.decided_from_ms)
        earlier = ordered[:index + 1]
        if w.amount > caps.max_per_transfer:
            found.append(f"{w.intent_id}: {w.amount} > max_per_transfer {caps.max_per_transfer}")
        in_hour = sum(1 for o in earlier if o.true_ms > w.true_ms - HOUR_MS)
        if in_hour > caps.max_transfers_per_hour:
            found.append(f"{w.intent_id}: {in_hour} withdrawals in the hour > max_transfers_per_hour "
                         f"{caps.max_transfers_per_hour}")
        if w.status in OUT_OF_WINDOW:
            continue
        in_window = [o for o in earlier if o.true_ms > w.true_ms - window_ms and o.status not in OUT_OF_WINDOW]
        coin_sum = sum((o.amount for o in in_window if o.coin == w.coin), Decimal(0))
        if coin_sum > caps.coin_cap:
            found.append(f"{w.intent_id}: {w.coin} window sum {coin_sum} > window_cap {caps.coin_cap}")
        field_name = address_caps.get(w.address)
        if field_name is not None:
            cap = getattr(caps, field_name)
            address_sum = sum((o.amount for o in in_window if o.address == w.address), Decimal(0))
            if address_sum > cap:
                found.append(f"{w.intent_id}: {w.address} window sum {address_sum} > window_cap {cap}")
    return found
