"""Realised profit of closed trades, and the sweep it allows (pure; issue 15 item 5).

A trade is an entry and the order that closed it (an exit leg or a close signal's MARKET
order), each as its fills with their commissions (GET /api/v3/myTrades, journaled in
the state file's `fills`). All in Decimal, in the symbol's quote asset:
- long (BUY entry, SELL exit): the cost basis is what the entry paid plus its fees, per
  unit actually received (a fee taken in the base asset means fewer units held); the
  profit is the exit's proceeds less its fees, less that cost for the units sold;
- short (SELL entry, BUY exit): the entry's proceeds less fees per unit sold, for the
  units bought back, less what the buy-back cost with its fees;
- a fee in the base asset is valued at that order's average price; a fee in any other
  asset (BNB) cannot be valued here, so the trade's profit is refused (ProfitError):
  nothing is swept on a guess;
- the profit is floored to 1e-8 (a loss is floored too: never smaller than it was).
`profit_sweep`: the amount a `realised_profit` sweep sends: the realised total (losses
offset gains) less what was swept already, never leaving less than `keep` free, capped
at `max_amount`, floored to `step`, and nothing under `min_sweep`. Principal is never in it.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal
from typing import Iterable

from common.money import floor_to_step

ZERO = Decimal(0)
PROFIT_QUANTUM = Decimal("1e-8")


class ProfitError(ValueError):
    code = "profit_unknown"


@dataclass(frozen=True)
class TradeFill:
    price: Decimal
    qty: Decimal
    commission: Decimal
    commission_asset: str


@dataclass(frozen=True)
class Leg:
    """One order's side of a trade, as its fills."""
    side: str
    fills: tuple[TradeFill, ...]

    @property
    def qty(self) -> Decimal:
        return sum((f.qty for f in self.fills), ZERO)

    @property
    def quote(self) -> Decimal:
        return sum((f.price * f.qty for f in self.fills), ZERO)


def _fees(leg: Leg, base: str, quote: str) -> tuple[Decimal, Decimal]:
    """(fees in quote, fees in base) of one leg; ProfitError for a fee in another asset."""
    in_quote = in_base = ZERO
    for f in leg.fills:
        if f.commission == 0:
            continue
        if f.commission_asset == quote:
            in_quote += f.commission
        elif f.commission_asset == base:
            in_base += f.commission
        else:
            raise ProfitError(f"a fee in {f.commission_asset} cannot be valued in {quote}")
    return in_quote, in_base


def realised_profit(entry: Leg, exit: Leg, base: str, quote: str) -> Decimal:
    """The quote-asset profit (negative: a loss) of closing `exit.qty` units of `entry`."""
    if entry.side == exit.side or entry.qty <= 0 or exit.qty <= 0:
        raise ProfitError("a trade is an entry and an exit on the other side, both filled")
    entry_fee_q, entry_fee_b = _fees(entry, base, quote)
    exit_fee_q, exit_fee_b = _fees(exit, base, quote)
    entry_avg, exit_avg = entry.quote / entry.qty, exit.quote / exit.qty
    if entry.side == "BUY":
        held = entry.qty - entry_fee_b
        if held <= 0:
            raise ProfitError("the entry's fees took all it bought")
        unit_cost = (entry.quote + entry_fee_q) / held
        proceeds = exit.quote - exit_fee_q - exit_fee_b * exit_avg
        profit = proceeds - unit_cost * exit.qty
    else:
        unit_proceeds = (entry.quote - entry_fee_q - entry_fee_b * entry_avg) / entry.qty
        cost = exit.quote + exit_fee_q + exit_fee_b * exit_avg
        profit = unit_proceeds * exit.qty - cost
    return profit.quantize(PROFIT_QUANTUM, rounding=ROUND_FLOOR)


def profit_sweep(realised: Iterable[Decimal], swept: Iterable[Decimal], free: Decimal, keep: Decimal,
                 min_sweep: Decimal, step: Decimal, max_amount: Decimal | None = None) -> Decimal | None:
    """What a realised-profit sweep may send now, or None."""
    available = sum(realised, ZERO) - sum(swept, ZERO)
    amount = min(available, free - keep)
    if max_amount is not None:
        amount = min(amount, max_amount)
    if amount <= 0:
        return None
    amount = floor_to_step(amount, step)
    if amount <= 0 or amount < min_sweep:
        return None
    return amount
