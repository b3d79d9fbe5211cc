"""A main loop's heartbeat (issue 14's /healthz): one float store a turn, read by the
health listener's thread. No lock: a float attribute write is atomic in CPython."""

from __future__ import annotations

import time
from typing import Callable


class Heartbeat:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self.at: float | None = None

    def beat(self) -> None:
        self.at = self._clock()

    def age(self) -> float | None:
        """Seconds since the last beat; None before the first."""
        return None if self.at is None else self._clock() - self.at
