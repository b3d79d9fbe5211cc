"""Wait on a condition with a bound, never on a guess of how long something takes."""

from __future__ import annotations

import time
from typing import Callable, TypeVar

T = TypeVar("T")


class Timeout(AssertionError):
    pass


def wait_until(condition: Callable[[], T], *, timeout: float = 10.0, interval: float = 0.02,
               what: str = "condition") -> T:
    """Call `condition` until it returns something truthy; return that, or fail after `timeout`."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while True:
        try:
            value = condition()
            if value:
                return value
        except Exception as exc:  # a condition may fail while a process is still starting
            last_error = exc
        if time.monotonic() >= deadline:
            suffix = f" (last error: {last_error!r})" if last_error else ""
            raise Timeout(f"timed out after {timeout}s waiting for {what}{suffix}")
        time.sleep(interval)
