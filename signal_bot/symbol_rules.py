"""A symbol's trading rules, read once from `/api/v3/exchangeInfo` filters (pure).

Binance sends filters as dicts of strings ("0.00001000"). A zero means "no rule" for
tickSize, minPrice, maxPrice and MARKET_LOT_SIZE's stepSize, as Binance documents.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Iterable, Mapping


class RulesError(ValueError):
    code = "bad_exchange_info"


@dataclass(frozen=True)
class LotRule:
    min_qty: Decimal
    max_qty: Decimal  # 0: no maximum
    step: Decimal     # 0: any quantity


@dataclass(frozen=True)
class SymbolRules:
    symbol: str
    status: str
    base_asset: str
    quote_asset: str
    lot: LotRule
    market_lot: LotRule | None = None
    tick: Decimal = Decimal(0)
    min_price: Decimal = Decimal(0)
    max_price: Decimal = Decimal(0)
    min_notional: Decimal | None = None
    min_notional_for_market: bool = True
    max_notional: Decimal | None = None
    max_notional_for_market: bool = False

    @property
    def trading(self) -> bool:
        return self.status == "TRADING"

    def market_lot_rule(self) -> LotRule:
        """MARKET quantities: MARKET_LOT_SIZE where it sets a step, bounded by both filters."""
        if self.market_lot is None:
            return self.lot
        m = self.market_lot
        step = m.step if m.step > 0 else self.lot.step
        maxes = [x for x in (self.lot.max_qty, m.max_qty) if x > 0]
        return LotRule(max(self.lot.min_qty, m.min_qty), min(maxes) if maxes else Decimal(0), step)


def rules_from_filters(symbol: str, status: str, base_asset: str, quote_asset: str,
                       filters: Iterable[Mapping[str, Any]]) -> SymbolRules:
    by_type = {f.get("filterType"): f for f in filters if isinstance(f, Mapping)}
    lot = by_type.get("LOT_SIZE")
    if lot is None:
        raise RulesError(f"{symbol}: exchangeInfo has no LOT_SIZE filter")
    fields: dict[str, Any] = {
        "lot": _lot(symbol, lot),
        "market_lot": _lot(symbol, by_type["MARKET_LOT_SIZE"]) if "MARKET_LOT_SIZE" in by_type else None,
    }
    price = by_type.get("PRICE_FILTER")
    if price is not None:
        fields.update(tick=_dec(symbol, price, "tickSize"), min_price=_dec(symbol, price, "minPrice"),
                      max_price=_dec(symbol, price, "maxPrice"))
    notional = by_type.get("NOTIONAL")
    legacy = by_type.get("MIN_NOTIONAL")
    if notional is not None:
        fields.update(min_notional=_dec(symbol, notional, "minNotional"),
                      min_notional_for_market=bool(notional.get("applyMinToMarket", True)))
        if notional.get("maxNotional") is not None:
            fields.update(max_notional=_dec(symbol, notional, "maxNotional"),
                          max_notional_for_market=bool(notional.get("applyMaxToMarket", False)))
    elif legacy is not None:
        fields.update(min_notional=_dec(symbol, legacy, "minNotional"),
                      min_notional_for_market=bool(legacy.get("applyToMarket", True)))
    return SymbolRules(symbol, status, base_asset, quote_asset, **fields)


def rules_from_info(info: Any) -> SymbolRules:
    """From common.binance's SymbolInfo (symbol, status, base_asset, quote_asset, filters)."""
    return rules_from_filters(info.symbol, info.status, info.base_asset, info.quote_asset, info.filters)


def _lot(symbol: str, f: Mapping[str, Any]) -> LotRule:
    return LotRule(_dec(symbol, f, "minQty"), _dec(symbol, f, "maxQty"), _dec(symbol, f, "stepSize"))


def _dec(symbol: str, f: Mapping[str, Any], key: str) -> Decimal:
    raw = f.get(key)
    if not isinstance(raw, str):
        raise RulesError(f"{symbol}: {f.get('filterType')}.{key} is missing or not a string")
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise RulesError(f"{symbol}: {f.get('filterType')}.{key} is not a decimal") from None
    if not value.is_finite() or value < 0:
        raise RulesError(f"{symbol}: {f.get('filterType')}.{key} must be a finite decimal >= 0")
    return value
