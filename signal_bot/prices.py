"""Last trade prices for the MARKET-by-quantity notional check (GET /api/v3/ticker/price).

common.binance.BinanceClient has no ticker method yet; until it does, this reads the
public, unsigned endpoint itself (no key, no secret: nothing to leak). A price is kept
for `ttl` seconds: a cap check against a price a second old is as good as a fresh one,
and it keeps a round trip off the order path.
"""

from __future__ import annotations

import threading
from decimal import Decimal, InvalidOperation
from typing import Any, Callable

import msgspec
import requests

from common.clock import Clock, SystemClock
from common.logs import get_logger

log = get_logger("signal.prices")


class _Ticker(msgspec.Struct):
    symbol: str
    price: str


class PriceSource:
    def __init__(self, base_url: str, *, client: Any = None, ttl: float = 2.0,
                 timeout: tuple[float, float] = (3.05, 5.0), clock: Clock | None = None) -> None:
        self._base_url = base_url.rstrip("/")
        self._client = client
        self._ttl = ttl
        self._timeout = timeout
        self._clock = clock or SystemClock()
        self._session = requests.Session()
        self._cache: dict[str, tuple[float, Decimal]] = {}
        self._lock = threading.Lock()

    def last_price(self, symbol: str) -> Decimal | None:
        """The last price, or None when it cannot be had (the caller refuses the order)."""
        now = self._clock.monotonic()
        with self._lock:
            cached = self._cache.get(symbol)
        if cached and now - cached[0] < self._ttl:
            return cached[1]
        price = self._fetch(symbol)
        if price is not None:
            with self._lock:
                self._cache[symbol] = (now, price)
        return price

    def _fetch(self, symbol: str) -> Decimal | None:
        fetch: Callable[[str], Any] | None = getattr(self._client, "ticker_price", None)
        try:
            if fetch is not None:
                value = fetch(symbol)
                return Decimal(getattr(value, "price", value))
            response = self._session.get(f"{self._base_url}/api/v3/ticker/price",
                                         params={"symbol": symbol}, timeout=self._timeout)
            if response.status_code != 200:
                log.warning("price_unavailable", symbol=symbol, http_status=response.status_code)
                return None
            price = Decimal(msgspec.json.decode(response.content, type=_Ticker).price)
        except (requests.RequestException, msgspec.DecodeError, InvalidOperation, TypeError, ValueError,
                Exception) as exc:  # any failure: no price, and the order is refused
            log.warning("price_unavailable", symbol=symbol, error=type(exc).__name__)
            return None
        if not price.is_finite() or price <= 0:
            return None
        return price

    def close(self) -> None:
        self._session.close()
