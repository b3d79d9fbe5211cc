"""Request weight used per minute, reported in Binance's headers and optionally enforced.

/api endpoints count against the IP limit (`X-MBX-USED-WEIGHT-1M`, 6000 a minute);
/sapi endpoints against an IP or a UID limit (`X-SAPI-USED-IP-WEIGHT-1M`, 12000;
`X-SAPI-USED-UID-WEIGHT-1M`, 180000). Windows are calendar minutes of the sandbox clock.
Successful orders report `X-MBX-ORDER-COUNT-10S` and `X-MBX-ORDER-COUNT-1D`.
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


@dataclass(frozen=True)
class Cost:
    bucket: Bucket
    weight: int


class WeightMeter:
    def __init__(self, enforce: bool = False) -> None:
        self._enforce = enforce
        self._lock = threading.Lock()
        self._used: dict[tuple[Bucket, int], int] = {}
        self._orders: dict[tuple[str, int], int] = {}

    def charge(self, cost: Cost, now_ms: int) -> dict[str, str]:
        """Add a request's weight; return the header to send. Over the limit (when
        enforced): 429 / -1003 with Retry-After until the minute ends, weight not added."""
        minute = now_ms // MINUTE_MS
        key = (cost.bucket, minute)
        with self._lock:
            used = self._used.get(key, 0)
            limit = LIMITS[cost.bucket]
            if self._enforce and used + cost.weight > limit:
                retry_after = max(1, -(-((minute + 1) * MINUTE_MS - now_ms) // 1000))
                error = errors.too_many_requests(
                    f"Too much request weight used; current limit is {limit} request weight per "
                    f"1 MINUTE. Please use WebSocket Streams for live updates to avoid polling the API.",
                    retry_after=retry_after)
                error.headers[HEADERS[cost.bucket]] = str(used)
                raise error
            used += cost.weight
            self._used = {k: v for k, v in self._used.items() if k[1] >= minute - 1}
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
