"""The exchange-anchored clock (issue 10 defect 4): host wall-clock steps do not move it,
it follows the exchange's clock forward and never goes back; the disagreement episodes."""

from __future__ import annotations

import pytest

from common.clock import FakeClock
from treasury_bot.trusted_clock import BACK_IN_LINE_MS, DISAGREE_MS, AnchoredClock, episode_step

HOUR_MS = 3_600_000
T0 = 1_700_000_000_000


class Exchange:
    """The exchange's clock: true time, which the host's monotonic clock follows."""

    def __init__(self, host: FakeClock, offset_ms: int = 0) -> None:
        self.host = host
        self.offset_ms = offset_ms
        self.mono0 = host.monotonic()
        self.calls = 0

    def time(self) -> int:
        self.calls += 1
        return T0 + self.offset_ms + int((self.host.monotonic() - self.mono0) * 1000)


def anchored(offset_ms: int = 0) -> tuple[FakeClock, Exchange, AnchoredClock]:
    host = FakeClock(T0)
    exchange = Exchange(host, offset_ms)
    clock = AnchoredClock(host, exchange.time)
    clock.measure()
    return host, exchange, clock


@pytest.mark.parametrize("step_ms", [6 * HOUR_MS, -6 * HOUR_MS, 90_000, -1])
def test_a_host_wall_clock_step_does_not_move_the_anchored_clock(step_ms):
    host, exchange, clock = anchored()
    before = clock.now_ms()
    host.step_wall(step_ms)
    assert clock.now_ms() == before
    host.advance(10)
    assert clock.now_ms() == before + 10_000 == exchange.time()
    host.step_wall(-step_ms)  # and its correction
    assert clock.now_ms() == before + 10_000


def test_the_anchored_clock_reads_the_exchange_not_the_host():
    host, exchange, clock = anchored(offset_ms=-11 * 60_000)
    host.step_wall(6 * HOUR_MS)
    assert clock.now_ms() == exchange.time() == T0 - 11 * 60_000
    measurement = clock.measure()
    assert measurement.offset_ms == -11 * 60_000 - 6 * HOUR_MS  # exchange minus host


def test_a_re_anchor_behind_the_last_reading_holds_the_clock_until_it_catches_up():
    """Never back within a process: the usage tracker has expired up to the last reading."""
    host, exchange, clock = anchored()
    host.advance(5)
    latest = clock.now_ms()
    exchange.offset_ms = -3000          # the exchange's clock moved back 3 s
    clock.measure()
    assert clock.now_ms() == latest
    host.advance(2.999)
    assert clock.now_ms() == latest
    host.advance(1.001)
    assert clock.now_ms() == latest + 1000 == exchange.time()


def test_a_re_anchor_ahead_is_followed_at_once():
    host, exchange, clock = anchored()
    exchange.offset_ms = 4000
    clock.measure()
    assert clock.now_ms() == exchange.time() == T0 + 4000


def test_readings_never_decrease_whatever_the_anchors():
    host, exchange, clock = anchored()
    readings = []
    for offset, seconds in [(0, 1), (-50_000, 0.5), (20_000, 3), (-HOUR_MS, 1), (0, 0)]:
        exchange.offset_ms = offset
        clock.measure()
        host.advance(seconds)
        host.step_wall(-offset)
        readings.append(clock.now_ms())
    assert readings == sorted(readings)


def test_before_the_first_anchor_it_reads_the_host_and_remembers_nothing():
    """Only the alert sender runs that early; a host clock ahead must not hold the exchange's back."""
    host = FakeClock(T0 + 6 * HOUR_MS)
    exchange = Exchange(host)
    clock = AnchoredClock(host, exchange.time)
    assert not clock.anchored and clock.now_ms() == T0 + 6 * HOUR_MS
    clock.measure()
    assert clock.anchored and clock.now_ms() == T0


def test_the_anchor_is_the_round_trip_midpoint():
    host = FakeClock(T0)

    def slow_exchange() -> int:
        host.advance(0.4)        # 400 ms each way
        value = T0 + 400
        host.advance(0.4)
        return value

    clock = AnchoredClock(host, slow_exchange)
    measurement = clock.measure()
    assert measurement.round_trip_ms == 800
    assert measurement.host_ms == T0 + 400 and measurement.offset_ms == 0
    assert clock.now_ms() == T0 + 800


def test_a_slow_answer_measures_but_does_not_re_anchor():
    host, exchange, clock = anchored()
    reading = clock.now_ms()

    def very_slow() -> int:
        host.advance(5)
        return T0 + 99_999_999

    clock._exchange_time = very_slow
    clock.measure()
    assert clock.now_ms() == reading + 5000


@pytest.mark.parametrize("open_since, offset, expected", [
    (None, 0, (None, None)),
    (None, DISAGREE_MS, (None, None)),                     # exactly 60 s is not "more than"
    (None, DISAGREE_MS + 1, (T0, "started")),
    (None, -DISAGREE_MS - 1, (T0, "started")),
    (5, DISAGREE_MS + 1, (5, None)),                       # one alert per episode
    (5, BACK_IN_LINE_MS + 1, (5, None)),                   # hysteresis: not back yet
    (5, -BACK_IN_LINE_MS, (None, "ended")),
])
def test_one_disagreement_episode_starts_and_ends_once(open_since, offset, expected):
    assert episode_step(open_since, offset, T0) == expected
