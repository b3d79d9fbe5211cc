"""The supervised loop (issue 10 defect 8): every failure caught, capped exponential backoff,
one alert per failure episode, one when it recovers."""

from __future__ import annotations

import threading

from treasury_bot.supervised import BACKOFF_MAX_S, Episode, Supervised


def test_backoff_doubles_from_one_second_and_is_capped_at_sixty():
    delays = [Episode(failures=n).backoff_s() for n in range(1, 10)]
    assert delays == [1, 2, 4, 8, 16, 32, 60, 60, 60] and BACKOFF_MAX_S == 60
    assert Episode(failures=10_000).backoff_s() == 60


def test_one_alert_per_episode_and_one_on_recovery():
    recorded = []
    guard = Supervised("poller", lambda *args: recorded.append(args))
    assert [guard.failed(RuntimeError("x")) for _ in range(3)] == [1, 2, 4]
    guard.succeeded()
    guard.succeeded()
    guard.failed(OSError("y"))
    assert recorded == [("failing", "poller", "RuntimeError", 1), ("recovered", "poller", None, 3),
                        ("failing", "poller", "OSError", 1)]


def test_an_alert_that_cannot_be_recorded_is_retried_at_the_next_failure():
    calls = []

    def record(*args):
        calls.append(args)
        if len(calls) == 1:
            raise OSError("disk full")

    guard = Supervised("executor", record)
    guard.failed(RuntimeError())
    guard.failed(RuntimeError())
    guard.failed(RuntimeError())
    assert [c[0] for c in calls] == ["failing", "failing"]


def test_the_loop_survives_any_exception_and_stops_when_told():
    stop = threading.Event()
    steps = []

    def step() -> float:
        steps.append(len(steps))
        if len(steps) < 4:
            raise [KeyError, ZeroDivisionError, AssertionError][len(steps) - 1]()
        stop.set()
        return 0.0

    Supervised("t", lambda *a: None, backoff_start_s=0.001).run(stop, step)
    assert steps == [0, 1, 2, 3]
