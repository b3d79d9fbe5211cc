"""Rate-limit usage the exchange reports in reply headers, and its thread-safe record."""

from __future__ import annotations

import threading
from typing import Mapping

WEIGHT_HEADER_PREFIXES = (
    "x-mbx-used-weight",       # /api: IP weight, e.g. x-mbx-used-weight-1m
    "x-sapi-used-ip-weight",   # /sapi endpoints limited by IP
    "x-sapi-used-uid-weight",  # /sapi endpoints limited by account (withdraw apply/history)
    "x-mbx-order-count",       # orders placed per interval
)


def weights_from_headers(headers: Mapping[str, str]) -> dict[str, int]:
    """The used-weight and order-count headers of one reply, names lower-cased."""
    found: dict[str, int] = {}
    for name, value in headers.items():
        lower = name.lower()
        if lower.startswith(WEIGHT_HEADER_PREFIXES):
            try:
                found[lower] = int(str(value).strip())
            except ValueError:
                continue
    return found


class UsedWeights:
    """The last value seen of each used-weight / order-count header, error replies included."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._weights: dict[str, int] = {}

    def record(self, headers: Mapping[str, str]) -> None:
        seen = weights_from_headers(headers)
        if seen:
            with self._lock:
                self._weights.update(seen)

    def snapshot(self) -> dict[str, int]:
        """A copy: the caller may keep or change it."""
        with self._lock:
            return dict(self._weights)
