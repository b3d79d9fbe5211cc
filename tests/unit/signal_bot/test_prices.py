"""The price source the risk check reads: cached within its ttl, None on any doubt."""

from __future__ import annotations

from decimal import Decimal

from common import binance
from common.clock import FakeClock
from signal_bot.prices import PriceSource

D = Decimal


def test_the_price_source_caches_and_refuses_on_errors():
    """A price is reused within its ttl; an exchange error or a zero price gives None."""
    calls = []

    def ticker(symbol):
        calls.append(symbol)
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    answers = [D("100"), binance.ExchangeUnavailable("down"), D("0")]
    clock = FakeClock()
    prices = PriceSource(ticker, ttl=2.0, clock=clock)
    assert prices.last_price("BTCUSDT") == D("100") and prices.last_price("BTCUSDT") == D("100")
    clock.advance(2)
    assert prices.last_price("BTCUSDT") is None
    assert prices.last_price("BTCUSDT") is None
    assert calls == ["BTCUSDT"] * 3
