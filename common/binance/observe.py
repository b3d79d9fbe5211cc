"""One hook for every exchange request of this process (issue 14's metrics): the client
calls `notify(endpoint_label, result, weights)` after each request, and a bot's metrics set
the observer once at start. No observer: nothing happens (one global read per request).

`result` is a small fixed set: "ok", or the error's stable `code` (common/binance/errors.py:
e.g. "rate_limited", "clock_skew", "transport", "auth"), never a message.
"""

from __future__ import annotations

from typing import Callable, Mapping

Observer = Callable[[str, str, Mapping[str, int]], None]

_observer: Observer | None = None


def set_observer(observer: Observer | None) -> None:
    global _observer
    _observer = observer


def notify(endpoint: str, result: str, weights: Mapping[str, int]) -> None:
    observer = _observer
    if observer is not None:
        try:
            observer(endpoint, result, weights)
        except Exception:  # metrics never break a request
            pass
