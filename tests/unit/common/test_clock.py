"""The test-only offset clock: a shifted host wall clock whose offset a file can step."""

from __future__ import annotations

from common.clock import FakeClock, OffsetClock

T0 = 1_700_000_000_000


def test_the_offset_shifts_the_wall_clock_only():
    base = FakeClock(T0)
    clock = OffsetClock(base, 21_600_000)
    assert clock.now_ms() == T0 + 21_600_000
    assert clock.monotonic() == base.monotonic()
    clock.sleep(2)
    assert clock.now_ms() == T0 + 2000 + 21_600_000
