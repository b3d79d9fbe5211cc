"""The test-only offset clock: a shifted host wall clock whose offset a file can step."""

from __future__ import annotations

from common.clock import FakeClock, OffsetClock

T0 = 1_700_000_000_000


def test_the_offset_file_steps_a_running_clock_at_most_once_a_second(tmp_path):
    base = FakeClock(T0)
    path = tmp_path / "offset"
    clock = OffsetClock(base, 5, path)
    assert clock.now_ms() == T0 + 5                     # no file: the env's offset
    path.write_text("-60000\n")
    assert clock.now_ms() == T0 + 5                     # not re-read within the second
    base.advance(1)
    assert clock.now_ms() == T0 + 1000 - 60_000
    path.write_text("not a number")
    base.advance(1)
    assert clock.now_ms() == T0 + 2000 - 60_000         # a bad file keeps the last good value
    path.write_text("")
    base.advance(1)
    assert clock.now_ms() == T0 + 3000 + 5              # empty: back to the env's offset
    path.unlink()
    path.write_text("+7")
    base.advance(1)
    assert clock.now_ms() == T0 + 4000 + 7
