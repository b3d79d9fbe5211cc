"""An entry's exit, planned (pure): the OCO order list that takes profit or stops the loss.

After an entry fills, the position is closed by one OCO order list on the opposite side
(Binance "New Order list - OCO",
https://developers.binance.com/docs/binance-spot-api-docs/rest-api/trading-endpoints#new-order-list---oco-trade):
a LIMIT_MAKER leg at the take-profit price and a STOP_LOSS leg (a market order once the
price reaches its stopPrice). For a SELL exit (after a BUY) the LIMIT_MAKER is the above
leg and the STOP_LOSS the below one; for a BUY exit (after a SELL), the other way round;
Binance requires limit > last price > stop for a SELL list, limit < last < stop for a BUY.

Levels: a price ("61000") or a percentage of the entry's average fill price ("2%": 2 %
above the fill for a long's take-profit, 2 % below for its stop; mirrored for a short).

Rounding, always in the user's favour (never a worse price than asked, never more loss):
- the quantity is the entry's executed quantity floored to LOT_SIZE's step (never sells
  more than was bought);
- a SELL exit rounds both prices UP to the tick: the take-profit never sells for less
  than asked, the stop triggers at or above the asked stop (at most the loss asked for);
- a BUY exit rounds both DOWN: the take-profit never pays more, the stop triggers at or
  below the asked stop.
Refusal codes (stable, listed with the others in signal_bot/risk.py: REFUSAL_CODES):
exit_below_min_qty, exit_bad_level, exit_price_filter, exit_below_min_notional,
exit_would_trigger.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from common.money import canonical, floor_to_step
from signal_bot.risk import Refusal
from signal_bot.symbol_rules import SymbolRules

HUNDRED = Decimal(100)


@dataclass(frozen=True)
class ExitIds:
    """The exchange ids of one entry's exit, derived from the entry's id: a resend is the same list."""
    list_client_order_id: str
    take_profit: str
    stop_loss: str


def exit_ids(entry_id: str) -> ExitIds:
    """Deterministic, within Binance's client id pattern ^[.A-Z:/a-z0-9_-]{1,36}$ (35 characters)."""
    digest = hashlib.sha256(("exit:" + entry_id).encode()).hexdigest()[:32]
    return ExitIds("ol-" + digest, "tp-" + digest, "sl-" + digest)


@dataclass(frozen=True)
class ExitPlan:
    symbol: str
    side: str               # the exit's side: the entry's opposite
    quantity: Decimal
    take_profit: Decimal    # the LIMIT_MAKER leg's price
    stop_price: Decimal     # the STOP_LOSS leg's stopPrice
    ids: ExitIds

    def legs(self) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
        """(above, below) leg parameters for `BinanceClient.new_oco`."""
        limit = [("type", "LIMIT_MAKER"), ("price", canonical(self.take_profit)),
                 ("clientOrderId", self.ids.take_profit)]
        stop = [("type", "STOP_LOSS"), ("stopPrice", canonical(self.stop_price)),
                ("clientOrderId", self.ids.stop_loss)]
        return (limit, stop) if self.side == "SELL" else (stop, limit)

    def describe(self) -> dict[str, str]:
        return {"symbol": self.symbol, "side": self.side, "quantity": canonical(self.quantity),
                "take_profit": canonical(self.take_profit), "stop_price": canonical(self.stop_price),
                "list_client_order_id": self.ids.list_client_order_id}


def level_price(level: str, fill_price: Decimal, towards_profit: bool, long: bool) -> Decimal:
    """A level's price: itself, or a percentage of the fill, above or below it."""
    if not level.endswith("%"):
        return Decimal(level)
    share = Decimal(level[:-1]) / HUNDRED
    up = towards_profit == long
    return fill_price * (1 + share) if up else fill_price * (1 - share)


def _to_tick(price: Decimal, tick: Decimal, up: bool) -> Decimal:
    if tick <= 0:
        return price
    steps = (price / tick).to_integral_value(rounding=ROUND_CEILING if up else ROUND_FLOOR)
    return (steps * tick).normalize() if steps * tick != 0 else Decimal(0)


def plan_exit(entry_id: str, entry_side: str, executed_qty: Decimal, quote_qty: Decimal, take_profit: str,
              stop_loss: str, rules: SymbolRules, last_price: Decimal | None) -> ExitPlan | Refusal:
    """The exit of a filled entry, or why it cannot be placed (nothing is sent then)."""
    long = entry_side == "BUY"
    side = "SELL" if long else "BUY"
    quantity = floor_to_step(executed_qty, rules.lot.step) if rules.lot.step > 0 else executed_qty
    if quantity <= 0 or quantity < rules.lot.min_qty:
        return Refusal("exit_below_min_qty", f"executed {canonical(executed_qty)} floors to "
                                             f"{canonical(quantity)}, below minQty {canonical(rules.lot.min_qty)}")
    fill = quote_qty / executed_qty
    tp = level_price(take_profit, fill, towards_profit=True, long=long)
    stop = level_price(stop_loss, fill, towards_profit=False, long=long)
    up = side == "SELL"
    tp, stop = _to_tick(tp, rules.tick, up), _to_tick(stop, rules.tick, up)
    if stop <= 0 or (long and not tp > stop) or (not long and not tp < stop):
        return Refusal("exit_bad_level", f"take_profit {canonical(tp)} and stop {canonical(stop)} are on the "
                                         f"wrong sides for a {side} exit")
    for price in (tp, stop):
        if (rules.min_price > 0 and price < rules.min_price) or (rules.max_price > 0 and price > rules.max_price):
            return Refusal("exit_price_filter", f"price {canonical(price)} is outside PRICE_FILTER")
        if rules.min_notional is not None and quantity * price < rules.min_notional:
            return Refusal("exit_below_min_notional", f"{canonical(quantity)} x {canonical(price)} is below "
                                                      f"minNotional {canonical(rules.min_notional)}")
    if last_price is not None:
        ordered = tp > last_price > stop if long else tp < last_price < stop
        if not ordered:
            return Refusal("exit_would_trigger", f"last price {canonical(last_price)} is not between "
                                                 f"take_profit {canonical(tp)} and stop {canonical(stop)}")
    return ExitPlan(rules.symbol, side, quantity, tp, stop, exit_ids(entry_id))


def close_quantity(executed_qty: Decimal, rules: SymbolRules) -> Decimal:
    """A close's MARKET quantity: the entry's executed quantity floored to the market step."""
    step = rules.market_lot_rule().step
    return floor_to_step(executed_qty, step) if step > 0 else executed_qty
