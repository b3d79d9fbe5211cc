"""Request weight used, reported in Binance's headers and enforced (unless a test turns it off).

- /api endpoints share one IP limit (`X-MBX-USED-WEIGHT-1M`, 6000 a minute).
- Each /sapi endpoint has its own limit, IP or UID ("Each IP-limited endpoint has an
  independent 12,000 per minute; each UID-limited endpoint an independent 180,000 per
  minute": https://developers.binance.com/docs/products/caas/basics/4.rate-limits), so
  one endpoint's use never blocks another; `X-SAPI-USED-IP-WEIGHT-1M` /
  `X-SAPI-USED-UID-WEIGHT-1M` report that endpoint's use.
- Withdraw history is counted per second: weight 18000 against 180000, "10 requests per
  second" (Binance's wallet API, GET /sapi/v1/capital/withdraw/history), its header the
  current second's use.
Windows are calendar minutes (or seconds) of the sandbox clock. Successful orders report
`X-MBX-ORDER-COUNT-10S` and `X-MBX-ORDER-COUNT-1D`.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Literal

from sandbox import errors

Bucket = Literal["ip", "sapi_ip", "sapi_uid"]
MINUTE_MS = 60_000
HEADERS: dict[Bucket, str] = {
    "ip": "X-MBX-USED-WEIGHT-1M",
    "sapi_ip": "X-SAPI-USED-IP-WEIGHT-1M",
    "sapi_uid": "X-SAPI-USED-UID-WEIGHT-1M",
}
LIMITS: dict[Bucket, int] = {"ip": 6000, "sapi_ip": 12000, "sapi_uid": 180000}


SECOND_MS = 1000


@dataclass(frozen=True)
class Cost:
    bucket: Bucket
    weight: int
    window_ms: int = MINUTE_MS     # SECOND_MS for the per-second endpoints (withdraw history)


class WeightMeter:
    def __init__(self, enforce: bool = False) -> None:
        self._enforce = enforce
        self._lock = threading.Lock()
        # (bucket, scope, window length, window index) -> weight; scope: "" for /api (one
        # shared IP limit), the path for each /sapi endpoint (a limit of its own).
        self._used: dict[tuple[Bucket, str, int, int], int] = {}
        self._orders: dict[tuple[str, int], int] = {}

    def charge(self, cost: Cost, now_ms: int, path: str = "") -> dict[str, str]:
        """Add a request's weight; return the header to send. Over the limit (when
        enforced): 429 / -1003 with Retry-After until the window ends, weight not added."""
        window = now_ms // cost.window_ms
        scope = "" if cost.bucket == "ip" else path
        key = (cost.bucket, scope, cost.window_ms, window)
        with self._lock:
            used = self._used.get(key, 0)
            limit = LIMITS[cost.bucket]
            if self._enforce and used + cost.weight > limit:
                retry_after = max(1, -(-((window + 1) * cost.window_ms - now_ms) // 1000))
                unit = "SECOND" if cost.window_ms == SECOND_MS else "MINUTE"
                error = errors.too_many_requests(
                    f"Too much request weight used; current limit is {limit} request weight per "
                    f"1 {unit}. Please use WebSocket Streams for live updates to avoid polling the API.",
                    retry_after=retry_after)
                error.headers[HEADERS[cost.bucket]] = str(used)
                raise error
            used += cost.weight
            self._used = {k: v for k, v in self._used.items() if k[3] >= now_ms // k[2] - 1}
            self._used[key] = used
        return {HEADERS[cost.bucket]: str(used)}

    def count_order(self, now_ms: int) -> dict[str, str]:
        windows = {"10S": now_ms // 10_000, "1D": now_ms // 86_400_000}
        headers = {}
        with self._lock:
            for name, window in windows.items():
                key = (name, window)
                self._orders[key] = self._orders.get(key, 0) + 1
                headers[f"X-MBX-ORDER-COUNT-{name}"] = str(self._orders[key])
            self._orders = {k: v for k, v in self._orders.items() if k[1] >= windows[k[0]]}
        return headers
