"""Last trade prices for the MARKET-by-quantity notional check (BinanceClient.ticker_price).

A price is kept for `ttl` seconds: a cap check against a price a second old is as good
as a fresh one, and it keeps a round trip off the order path. No price (the endpoint
fails) means the order is refused (`no_reference_price`), never placed unchecked.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Callable

from common import binance
from common.clock import Clock, SystemClock
from common.logs import get_logger

log = get_logger("signal.prices")


class PriceSource:
    """Not thread-safe: used by the one thread that places orders."""

    def __init__(self, ticker_price: Callable[[str], Decimal], *, ttl: float = 2.0,
                 clock: Clock | None = None) -> None:
        self._ticker_price = ticker_price
        self._ttl = ttl
        self._clock = clock or SystemClock()
        self._cache: dict[str, tuple[float, Decimal]] = {}

    def last_price(self, symbol: str) -> Decimal | None:
        now = self._clock.monotonic()
        cached = self._cache.get(symbol)
        if cached and now - cached[0] < self._ttl:
            return cached[1]
        try:
            price = Decimal(self._ticker_price(symbol))
        except binance.ExchangeError as exc:
            log.warning("price_unavailable", symbol=symbol, error=exc.code, detail=exc.message)
            return None
        if not price.is_finite() or price <= 0:
            log.warning("price_unavailable", symbol=symbol, error="not_positive")
            return None
        self._cache[symbol] = (now, price)
        return price
