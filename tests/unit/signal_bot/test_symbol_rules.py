"""Exchange filters -> SymbolRules."""

from __future__ import annotations

from decimal import Decimal

import pytest

from signal_bot.symbol_rules import LotRule, RulesError, rules_from_filters

FILTERS = [
    {"filterType": "PRICE_FILTER", "minPrice": "0.01000000", "maxPrice": "1000000.00000000", "tickSize": "0.01000000"},
    {"filterType": "LOT_SIZE", "minQty": "0.00001000", "maxQty": "9000.00000000", "stepSize": "0.00001000"},
    {"filterType": "MARKET_LOT_SIZE", "minQty": "0.00000000", "maxQty": "100.00000000", "stepSize": "0.00000000"},
    {"filterType": "NOTIONAL", "minNotional": "5.00000000", "applyMinToMarket": True,
     "maxNotional": "9000000.00000000", "applyMaxToMarket": False, "avgPriceMins": 5},
    {"filterType": "ICEBERG_PARTS", "limit": 10},
]


def test_binance_filters_are_read_as_decimals():
    """LOT_SIZE, PRICE_FILTER and NOTIONAL become exact Decimals."""
    rules = rules_from_filters("BTCUSDT", "TRADING", "BTC", "USDT", FILTERS)
    assert rules.lot == LotRule(Decimal("0.00001"), Decimal("9000"), Decimal("0.00001"))
    assert rules.tick == Decimal("0.01") and rules.min_notional == Decimal(5)
    assert rules.min_notional_for_market and not rules.max_notional_for_market


def test_market_lot_with_zero_step_keeps_lot_step_and_tighter_max():
    """A MARKET_LOT_SIZE stepSize of 0 means LOT_SIZE's step applies; maxes combine."""
    rules = rules_from_filters("BTCUSDT", "TRADING", "BTC", "USDT", FILTERS)
    assert rules.market_lot_rule() == LotRule(Decimal("0.00001"), Decimal("100"), Decimal("0.00001"))


def test_market_lot_with_its_own_step_wins():
    """A non-zero MARKET_LOT_SIZE stepSize is the MARKET step."""
    filters = [f for f in FILTERS if f["filterType"] != "MARKET_LOT_SIZE"] + [
        {"filterType": "MARKET_LOT_SIZE", "minQty": "0.001", "maxQty": "0", "stepSize": "0.001"}]
    rules = rules_from_filters("BTCUSDT", "TRADING", "BTC", "USDT", filters)
    assert rules.market_lot_rule() == LotRule(Decimal("0.001"), Decimal("9000"), Decimal("0.001"))


def test_legacy_min_notional_is_read():
    """MIN_NOTIONAL (older symbols) with applyToMarket."""
    filters = [f for f in FILTERS if f["filterType"] != "NOTIONAL"] + [
        {"filterType": "MIN_NOTIONAL", "minNotional": "10", "applyToMarket": False}]
    rules = rules_from_filters("X", "TRADING", "A", "B", filters)
    assert rules.min_notional == Decimal(10) and not rules.min_notional_for_market


@pytest.mark.parametrize("filters", [
    [f for f in FILTERS if f["filterType"] != "LOT_SIZE"],
    [{"filterType": "LOT_SIZE", "minQty": 1, "maxQty": "1", "stepSize": "1"}],
    [{"filterType": "LOT_SIZE", "minQty": "x", "maxQty": "1", "stepSize": "1"}],
    [{"filterType": "LOT_SIZE", "minQty": "-1", "maxQty": "1", "stepSize": "1"}],
])
def test_unusable_filters_are_refused(filters):
    """Missing LOT_SIZE or non-decimal values are a RulesError, not a guess."""
    with pytest.raises(RulesError):
        rules_from_filters("X", "TRADING", "A", "B", filters)
