"""Binance's trading filters and withdrawal checks (pure functions over plain data).

Filters follow `filters.md`: PRICE_FILTER (`minPrice`/`maxPrice`/`tickSize`, each disabled
when 0), LOT_SIZE and MARKET_LOT_SIZE (`minQty`/`maxQty`/`stepSize`), NOTIONAL
(`minNotional`/`maxNotional`, applied to MARKET orders per `applyMinToMarket` /
`applyMaxToMarket`) and MIN_NOTIONAL (`applyToMarket`). A failure is -1013
`Filter failure: NAME`. MARKET orders are priced at the symbol's configured price (the
sandbox's stand-in for the average price).

Withdrawal checks run in this order, each with Binance's wallet code: the account may
withdraw (-4015), the coin exists (-4018), the network exists and is open (-4019), amount
>= withdrawMin (-4022), <= withdrawMax (-4023), a multiple of withdrawIntegerMultiple
(-4021), above the fee (-4028), address matches addressRegex (-4033), tag matches
memoRegex (-4008; patterns must match the whole value; a tag where the network has no
memoRegex: -4106), the key's exchange-side whitelist and the account's (the address book,
sandbox/address_book.py) (-4035), free balance (-4026).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable
from decimal import ROUND_DOWN, Decimal

from sandbox import errors
from sandbox.config import CoinSettings, LotSize, NetworkSettings, PriceFilter, SymbolSettings

ZERO = Decimal(0)


def is_multiple(value: Decimal, step: Decimal) -> bool:
    return step == 0 or value % step == 0


def check_price_filter(price: Decimal, rule: PriceFilter) -> None:
    if rule.min_price > 0 and price < rule.min_price:
        raise errors.filter_failure("PRICE_FILTER")
    if rule.max_price > 0 and price > rule.max_price:
        raise errors.filter_failure("PRICE_FILTER")
    if not is_multiple(price, rule.tick_size):
        raise errors.filter_failure("PRICE_FILTER")


def check_lot_size(quantity: Decimal, rule: LotSize, name: str = "LOT_SIZE") -> None:
    if quantity < rule.min_qty:
        raise errors.filter_failure(name)
    if rule.max_qty > 0 and quantity > rule.max_qty:
        raise errors.filter_failure(name)
    if not is_multiple(quantity, rule.step_size):
        raise errors.filter_failure(name)


def check_notional(symbol: SymbolSettings, notional: Decimal, is_market: bool) -> None:
    rule = symbol.notional
    if rule is not None:
        if (not is_market or rule.apply_min_to_market) and notional < rule.min_notional:
            raise errors.filter_failure("NOTIONAL")
        if (not is_market or rule.apply_max_to_market) and rule.max_notional > 0 \
                and notional > rule.max_notional:
            raise errors.filter_failure("NOTIONAL")
    legacy = symbol.min_notional
    if legacy is not None and (not is_market or legacy.apply_to_market) \
            and notional < legacy.min_notional:
        raise errors.filter_failure("MIN_NOTIONAL")


def check_order_filters(symbol: SymbolSettings, quantity: Decimal, price: Decimal,
                        is_market: bool) -> None:
    """Every filter an order must pass; `price` is the limit price, or the market price."""
    if not is_market:
        check_price_filter(price, symbol.price_filter)
    check_lot_size(quantity, symbol.lot_size)
    if is_market and symbol.market_lot_size is not None:
        check_lot_size(quantity, symbol.market_lot_size, "MARKET_LOT_SIZE")
    check_notional(symbol, quantity * price, is_market)


def market_step(symbol: SymbolSettings) -> Decimal:
    """The quantity step a MARKET order must respect (MARKET_LOT_SIZE, else LOT_SIZE)."""
    market = symbol.market_lot_size
    if market is not None and market.step_size > 0:
        return market.step_size
    return symbol.lot_size.step_size


def quantity_for_quote(quote_amount: Decimal, price: Decimal, step: Decimal) -> Decimal:
    """The largest quantity on the step whose cost does not exceed `quote_amount`
    (Binance: a quoteOrderQty order "will not break LOT_SIZE")."""
    if step == 0:
        return (quote_amount / price).quantize(Decimal("0.00000001"), rounding=ROUND_DOWN)
    steps = quote_amount // (price * step)
    return steps * step


@dataclass(frozen=True)
class WithdrawRequest:
    coin: str
    network: str | None
    address: str
    address_tag: str | None
    amount: Decimal
    withdraw_order_id: str | None
    name: str | None
    wallet_type: int | None


@dataclass(frozen=True)
class WithdrawContext:
    """What the checks need besides the request: the account's, the key's and the balance."""
    account_can_withdraw: bool
    whitelist_enabled: bool
    whitelist: tuple[str, ...]
    free_balance: Decimal
    # Issue 12: the account's whitelist switch and address book (sandbox/address_book.py),
    # asked with the network the withdrawal resolves to.
    address_book_allows: Callable[[str], bool] = lambda network: True


def check_withdrawal(request: WithdrawRequest, coin: CoinSettings | None,
                     context: WithdrawContext) -> NetworkSettings:
    """Raise the first failing wallet check; return the network the withdrawal uses."""
    if not context.account_can_withdraw:
        raise errors.withdraw_limited()
    if coin is None:
        raise errors.asset_unknown()
    network = coin.find_network(request.network)
    if network is None or not network.withdraw_enable:
        raise errors.withdraw_disabled()
    amount = request.amount
    if amount < network.withdraw_min:
        raise errors.below_minimum(_plain(network.withdraw_min))
    if amount > network.withdraw_max:
        raise errors.above_maximum()
    if not is_multiple(amount, network.withdraw_integer_multiple):
        raise errors.not_a_multiple(_plain(network.withdraw_integer_multiple))
    if amount <= network.withdraw_fee:
        raise errors.not_above_fee()
    if not re.fullmatch(network.address_regex, request.address):
        raise errors.illegal_address()
    if request.address_tag and not network.memo_regex:
        raise errors.tag_not_taken()  # issue 12: this sandbox's networks without memoRegex take none
    if request.address_tag and network.memo_regex \
            and not re.fullmatch(network.memo_regex, request.address_tag):
        raise errors.tag_invalid()
    if context.whitelist_enabled and request.address not in context.whitelist:
        raise errors.not_whitelisted()
    if not context.address_book_allows(network.network):  # issue 12: the account's whitelist
        raise errors.not_whitelisted()
    if amount > context.free_balance:
        raise errors.withdraw_insufficient()
    return network


def _plain(value: Decimal) -> str:
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text
