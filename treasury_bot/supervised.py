"""A background loop that survives its own failures (issue 10 defect 8).

Each thread (coin-rules refresher, and any loop that adopts it) is one `step` run over and
over: a step returns how long to wait before the next. A step that raises anything is
logged with its traceback, retried after an exponential backoff (1 s doubling to 60 s),
and the first failure of an episode raises ONE `thread_failing` alert with the thread's
name and the exception's type only (its text may quote a signed URL or a request); the
first success after failures raises `thread_recovered`. The alert is written through the
`record` callback, which may fail too (a locked or full ledger): then it is retried at
the next failure, and never stops the loop.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Callable

from common.logs import get_logger

log = get_logger("treasury.supervised")

BACKOFF_START_S = 1.0
BACKOFF_MAX_S = 60.0

# record(kind, thread, error_type_or_None, failures): "failing" or "recovered".
Recorder = Callable[[str, str, str | None, int], None]


@dataclass
class Episode:
    failures: int = 0
    alerted: bool = False

    def backoff_s(self, start: float = BACKOFF_START_S, cap: float = BACKOFF_MAX_S) -> float:
        if self.failures == 0:
            return 0.0
        return min(cap, start * 2 ** min(self.failures - 1, 30))


class Supervised:
    """The per-iteration guard: `failed` and `succeeded` keep the episode; `run` loops."""

    def __init__(self, name: str, record: Recorder, *, backoff_start_s: float = BACKOFF_START_S,
                 backoff_max_s: float = BACKOFF_MAX_S) -> None:
        self.name = name
        self.record = record
        self.backoff_start_s = backoff_start_s
        self.backoff_max_s = backoff_max_s
        self.episode = Episode()

    def failed(self, exc: BaseException) -> float:
        """Note one failed step; return the backoff before the next."""
        self.episode.failures += 1
        log.error("thread_step_failed", thread=self.name, error_type=type(exc).__name__,
                  failures=self.episode.failures, exc_info=exc)
        if not self.episode.alerted:
            self.episode.alerted = self._record("failing", type(exc).__name__)
        return self.episode.backoff_s(self.backoff_start_s, self.backoff_max_s)

    def succeeded(self) -> None:
        if self.episode.failures:
            log.info("thread_recovered", thread=self.name, failures=self.episode.failures)
            if self.episode.alerted:
                self._record("recovered", None)
        self.episode = Episode()

    def run(self, stop: threading.Event, step: Callable[[], float]) -> None:
        while not stop.is_set():
            try:
                delay = step()
            except Exception as exc:  # every failure: the loop must never die of one
                delay = self.failed(exc)
            else:
                self.succeeded()
            stop.wait(delay)

    def _record(self, what: str, error_type: str | None) -> bool:
        try:
            self.record(what, self.name, error_type, self.episode.failures)
            return True
        except Exception:
            log.critical("thread_alert_not_recorded", thread=self.name, exc_info=True)
            return False


def ledger_recorder(open_ledger: Callable[[], object], clock) -> Recorder:
    """A Recorder that writes thread_failing / thread_recovered to the ledger's outbox."""
    from treasury_bot.alerts import raised

    def record(what: str, thread: str, error_type: str | None, failures: int) -> None:
        ledger = open_ledger()
        with ledger.transaction():  # type: ignore[attr-defined]
            if what == "failing":
                ledger.enqueue(raised.thread_failing(thread, error_type or "?", clock.now_ms()))  # type: ignore[attr-defined]
            else:
                ledger.enqueue(raised.thread_recovered(thread, failures, clock.now_ms()))  # type: ignore[attr-defined]
    return record
