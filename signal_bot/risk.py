"""Risk checks and order building (pure): a Signal and the symbol's rules -> an OrderPlan or a Refusal.

Order of checks, the first failure giving the stable refusal code:
allow-list (unknown_symbol) -> symbol status (symbol_not_trading) -> price rounding and
PRICE_FILTER (below_min_price, above_max_price) -> quantity rounding and LOT_SIZE /
MARKET_LOT_SIZE (below_min_qty, above_max_qty) -> a price for the notional
(no_reference_price) -> NOTIONAL / MIN_NOTIONAL (below_min_notional, above_max_notional)
-> our own cap (over_max_quote). Rate (rate_limited) and duplicates (duplicate) need
state and are checked by the caller with `admit` and the state store.
Quantities are rounded DOWN: a signal never trades more than it asked for. A LIMIT price is
rounded to the tick on the side that is never worse than the signal's limit (issue 10
defect 9): a BUY rounds down (never pays more), a SELL rounds up (never sells for less).
The filters (PRICE_FILTER, NOTIONAL, our cap) are checked on the rounded price.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import AbstractSet

from common.money import MONEY_CONTEXT, canonical, floor_to_step
from signal_bot.signals import Signal
from signal_bot.symbol_rules import LotRule, SymbolRules

REFUSAL_CODES = (
    "unknown_symbol", "symbol_not_trading", "below_min_price", "above_max_price",
    "below_min_qty", "above_max_qty", "no_reference_price", "below_min_notional",
    "above_max_notional", "over_max_quote", "rate_limited", "duplicate",
    # Issue 15 item 4: an entry's exit (signal_bot/exit_plan.py) and close signals (signal_bot/exits.py).
    "exit_below_min_qty", "exit_bad_level", "exit_price_filter", "exit_below_min_notional", "exit_would_trigger",
    "nothing_to_close", "close_wrong_side", "already_exited", "exit_cancel_unknown",
)
RATE_WINDOW_SECONDS = 60.0


@dataclass(frozen=True)
class RiskLimits:
    symbols: AbstractSet[str]
    max_quote_per_order: Decimal
    max_orders_per_minute: int
    default_time_in_force: str = "GTC"


@dataclass(frozen=True)
class OrderPlan:
    """What goes to POST /api/v3/order; `notional` is the quote value we checked (estimated for MARKET)."""

    symbol: str
    side: str
    type: str
    client_order_id: str
    quantity: Decimal | None
    quote_order_qty: Decimal | None
    price: Decimal | None
    time_in_force: str | None
    notional: Decimal

    def describe(self) -> dict[str, str]:
        """Log fields, amounts in canonical spelling."""
        out = {"symbol": self.symbol, "side": self.side, "type": self.type}
        for name in ("quantity", "quote_order_qty", "price"):
            value = getattr(self, name)
            if value is not None:
                out[name] = canonical(value)
        if self.time_in_force:
            out["time_in_force"] = self.time_in_force
        return out


@dataclass(frozen=True)
class Refusal:
    code: str
    detail: str


def plan_order(signal: Signal, rules: SymbolRules | None, limits: RiskLimits,
               reference_price: Decimal | None = None) -> OrderPlan | Refusal:
    """Round and check one signal. `reference_price` (last trade) prices MARKET-by-quantity."""
    if signal.symbol not in limits.symbols or rules is None:
        return Refusal("unknown_symbol", f"{signal.symbol} is not an allowed symbol")
    if not rules.trading:
        return Refusal("symbol_not_trading", f"{signal.symbol} status is {rules.status}")
    if signal.type == "LIMIT":
        return _plan_limit(signal, rules, limits)
    if signal.quote_amount is not None:
        return _plan_market_quote(signal, rules, limits)
    return _plan_market_quantity(signal, rules, limits, reference_price)


def _plan_limit(signal: Signal, rules: SymbolRules, limits: RiskLimits) -> OrderPlan | Refusal:
    price = limit_price(signal.side, signal.price_value, rules.tick)
    refusal = _check_price(price, rules)
    if refusal:
        return refusal
    quantity, refusal = _round_quantity(signal.quantity_value, rules.lot)
    if refusal:
        return refusal
    notional = MONEY_CONTEXT.multiply(quantity, price)
    refusal = _check_notional(notional, rules, market=False) or _check_cap(notional, limits)
    if refusal:
        return refusal
    return OrderPlan(signal.symbol, signal.side, "LIMIT", signal.client_order_id, quantity, None, price,
                     signal.time_in_force or limits.default_time_in_force, notional)


def limit_price(side: str, price: Decimal, tick: Decimal) -> Decimal:
    """The signal's limit on the tick grid, never a worse price than asked (issue 10 defect 9).

    A BUY limit is the most we pay: round down. A SELL limit is the least we accept: round up.
    A price already on the tick is unchanged; a tick of 0 means no grid."""
    floor = floor_to_step(price, tick)
    if side == "SELL" and floor != price:
        return MONEY_CONTEXT.add(floor, tick)
    return floor


def _plan_market_quote(signal: Signal, rules: SymbolRules, limits: RiskLimits) -> OrderPlan | Refusal:
    quote = signal.quote_value
    refusal = _check_notional(quote, rules, market=True) or _check_cap(quote, limits)
    if refusal:
        return refusal
    return OrderPlan(signal.symbol, signal.side, "MARKET", signal.client_order_id, None, quote, None, None, quote)


def _plan_market_quantity(signal: Signal, rules: SymbolRules, limits: RiskLimits,
                          reference_price: Decimal | None) -> OrderPlan | Refusal:
    quantity, refusal = _round_quantity(signal.quantity_value, rules.market_lot_rule())
    if refusal:
        return refusal
    if reference_price is None or not reference_price.is_finite() or reference_price <= 0:
        # Without a price the quote cap cannot be enforced: refuse rather than guess.
        return Refusal("no_reference_price", f"no last price known for {signal.symbol}")
    notional = MONEY_CONTEXT.multiply(quantity, reference_price)
    refusal = _check_notional(notional, rules, market=True) or _check_cap(notional, limits)
    if refusal:
        return refusal
    return OrderPlan(signal.symbol, signal.side, "MARKET", signal.client_order_id, quantity, None, None, None, notional)


def _check_price(price: Decimal, rules: SymbolRules) -> Refusal | None:
    if price <= 0 or (rules.min_price > 0 and price < rules.min_price):
        return Refusal("below_min_price", f"price {canonical(price)} is below minPrice {canonical(rules.min_price)}")
    if rules.max_price > 0 and price > rules.max_price:
        return Refusal("above_max_price", f"price {canonical(price)} is above maxPrice {canonical(rules.max_price)}")
    return None


def _round_quantity(quantity: Decimal, lot: LotRule) -> tuple[Decimal, Refusal | None]:
    rounded = floor_to_step(quantity, lot.step)
    if rounded <= 0 or rounded < lot.min_qty:
        return rounded, Refusal("below_min_qty",
                                f"quantity {canonical(rounded)} after rounding is below minQty {canonical(lot.min_qty)}")
    if lot.max_qty > 0 and rounded > lot.max_qty:
        return rounded, Refusal("above_max_qty", f"quantity {canonical(rounded)} is above maxQty {canonical(lot.max_qty)}")
    return rounded, None


def _check_notional(notional: Decimal, rules: SymbolRules, *, market: bool) -> Refusal | None:
    if rules.min_notional is not None and (rules.min_notional_for_market or not market):
        if notional < rules.min_notional:
            return Refusal("below_min_notional",
                           f"notional {canonical(notional)} is under minNotional {canonical(rules.min_notional)}")
    if rules.max_notional is not None and rules.max_notional > 0 and (rules.max_notional_for_market or not market):
        if notional > rules.max_notional:
            return Refusal("above_max_notional",
                           f"notional {canonical(notional)} is above maxNotional {canonical(rules.max_notional)}")
    return None


def _check_cap(notional: Decimal, limits: RiskLimits) -> Refusal | None:
    if notional > limits.max_quote_per_order:
        return Refusal("over_max_quote", f"notional {canonical(notional)} is over max_quote_per_order "
                                         f"{canonical(limits.max_quote_per_order)}")
    return None


def admit(sent_at: tuple[float, ...], now: float, limit: int,
          window: float = RATE_WINDOW_SECONDS) -> tuple[bool, tuple[float, ...]]:
    """Sliding window: may one more order go at `now`? Returns (allowed, the window to keep).

    `sent_at` holds monotonic times of orders sent in the window, oldest first. An order
    sent exactly `window` seconds ago no longer counts.
    """
    recent = tuple(t for t in sent_at if now - t < window)
    if len(recent) >= limit:
        return False, recent
    return True, recent + (now,)
