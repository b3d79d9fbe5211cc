"""Injected time: the system clock in production, a hand-driven one in tests."""

from __future__ import annotations

import os
import threading
import time
from typing import Protocol


class Clock(Protocol):
    def now_ms(self) -> int:
        """Wall-clock time in integer milliseconds since the epoch (UTC)."""

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back, for intervals and deadlines."""

    def sleep(self, seconds: float) -> None:
        """Wait; a fake clock advances instead."""


class SystemClock:
    def now_ms(self) -> int:
        return time.time_ns() // 1_000_000

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)


class FakeClock:
    """A clock that moves only when told to; `sleep` advances it at once."""

    def __init__(self, now_ms: int = 1_700_000_000_000) -> None:
        self._now_ms = now_ms
        self._mono = 1000.0
        self._lock = threading.Lock()

    def now_ms(self) -> int:
        with self._lock:
            return self._now_ms

    def monotonic(self) -> float:
        with self._lock:
            return self._mono

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now_ms += int(round(seconds * 1000))
            self._mono += seconds

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            self.advance(seconds)

    def step_wall(self, ms: int) -> None:
        """A wall-clock step (NTP, an operator, a VM resume): monotonic time does not move."""
        with self._lock:
            self._now_ms += ms


class OffsetClock:
    """The host clock shifted by a test-only offset, to play a skewed or stepped host clock
    in e2e and chaos tests (TREASURY_TEST_CLOCK_OFFSET_MS / TREASURY_TEST_CLOCK_OFFSET_FILE,
    refused unless the exchange is the loopback sandbox: common/config/treasury_settings.py).

    Only the wall clock moves: `monotonic` and `sleep` are the base clock's, as a real
    clock step leaves CLOCK_MONOTONIC alone. With `offset_file`, the file's integer (ms)
    replaces `offset_ms` while the file exists and holds one; it is read again at most
    once per `reread_s` (monotonic), so a test can step the clock of a running process.
    A file that cannot be read or parsed keeps the last good value.
    """

    def __init__(self, base: Clock, offset_ms: int = 0, offset_file: os.PathLike[str] | str | None = None,
                 *, reread_s: float = 1.0) -> None:
        self._base = base
        self._env_offset_ms = offset_ms
        self._offset_ms = offset_ms
        self._file = offset_file
        self._reread_s = reread_s
        self._next_read = float("-inf")
        self._lock = threading.Lock()

    def offset_ms(self) -> int:
        if self._file is None:
            return self._offset_ms
        with self._lock:
            mono = self._base.monotonic()
            if mono >= self._next_read:
                self._next_read = mono + self._reread_s
                self._offset_ms = _read_offset_file(self._file, self._env_offset_ms, self._offset_ms)
            return self._offset_ms

    def now_ms(self) -> int:
        return self._base.now_ms() + self.offset_ms()

    def monotonic(self) -> float:
        return self._base.monotonic()

    def sleep(self, seconds: float) -> None:
        self._base.sleep(seconds)


def _read_offset_file(path: os.PathLike[str] | str, default: int, last: int) -> int:
    """The file's offset; `default` when the file is absent or empty; `last` when unreadable."""
    try:
        with open(path, encoding="ascii") as handle:
            text = handle.read().strip()
    except FileNotFoundError:
        return default
    except (OSError, UnicodeDecodeError):
        return last
    if not text:
        return default
    try:
        return int(text)
    except ValueError:
        return last
