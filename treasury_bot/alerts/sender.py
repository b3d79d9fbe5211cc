"""The background sender: a daemon thread that runs the outbox drain (`drain.py`) over SMTP.

It runs with its own `Ledger` (its own connection), opened in the thread that drains.
It runs a pass whenever woken or every poll, at once again while a batch came back full,
and after a pass that could not reach the server (or that raised) it backs off 1, 2,
4 ... 30 s, so the outbox drains within a minute of the server's return. A pass that
keeps raising is one `thread_failing` alert per episode (`supervised.py`).
"""

from __future__ import annotations

import threading
from pathlib import Path

from common.clock import Clock, SystemClock
from common.config import SmtpSettings
from common.logs import get_logger
from treasury_bot.alerts import events, pacing, transport
from treasury_bot.alerts.drain import PLAN_BATCH, DrainResult, OutboxDrain, SenderStats
from treasury_bot.alerts.formats import describe_error
from treasury_bot.ledger import Ledger
from treasury_bot.supervised import Supervised

log = get_logger("treasury.alerts")


class AlertSender:
    """Drains the outbox in a background thread: `start()`, then `stop()` at shutdown.

    `wake()` (cheap, thread-safe) asks for a pass now instead of at the next poll; the
    treasury may call it after committing an alert. `drain_once()` runs one pass on the
    caller's thread, for tests with a fake clock and for tools; do not mix it with a
    started thread.
    """

    def __init__(self, ledger_path: Path | str, smtp: SmtpSettings | None, clock: Clock | None = None,
                 window_s: float = 60.0, poll_s: float = 0.5, *, batch_size: int = PLAN_BATCH,
                 backoff_start_s: float = pacing.BACKOFF_START_S,
                 backoff_max_s: float = pacing.BACKOFF_MAX_S,
                 smtp_timeout_s: float = transport.SMTP_TIMEOUT_S) -> None:
        if window_s <= 0 or poll_s <= 0 or batch_size <= 0:
            raise ValueError("window_s, poll_s and batch_size must be positive")
        self._path = Path(ledger_path)
        self._smtp = smtp
        self._clock = clock or SystemClock()
        self._poll_s = poll_s
        self._backoff_start = backoff_start_s
        self._backoff_max = backoff_max_s
        self._pass = OutboxDrain(smtp, self._clock, max(1, int(round(window_s * 1000))),
                                 batch_size=batch_size, backoff_start_s=backoff_start_s,
                                 backoff_max_s=backoff_max_s, smtp_timeout_s=smtp_timeout_s)
        self._ledger: Ledger | None = None
        # Issue 10 defect 8: one thread_failing alert per episode of exceptions (SMTP being
        # unreachable is not one: it has its own backoff and the mails wait in the outbox).
        self._guard = Supervised("alert-sender", self._record_thread_alert)
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    # -- lifecycle -----------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("AlertSender already started")
        if self._smtp is None:
            log.warning("alerts_log_only", detail="SMTP_HOST is not set: alerts are only logged")
        self._thread = threading.Thread(target=self._run, name="alert-sender", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> bool:
        """Ask the thread to finish its current step and wait; True once it has ended."""
        self._stop.set()
        self._wake.set()
        if self._thread is None:
            self._close()
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def wake(self) -> None:
        self._wake.set()

    def set_shadow(self, shadow: bool) -> None:
        """Shadow mode (issue 13 item 7): every mail from now on says SHADOW."""
        self._pass.shadow = shadow

    @property
    def stats(self) -> SenderStats:
        """Counters since start (read from any thread)."""
        return self._pass.stats

    def drain_once(self) -> DrainResult:
        """One pass on the caller's thread: plan, connect once if anything is due, record,
        send, mark."""
        try:
            ledger = self._db()
        except Exception as exc:
            self.stats.last_error = describe_error(exc)
            raise
        return self._pass.drain_once(ledger)

    def _run(self) -> None:
        backoff = 0.0
        try:
            while not self._stop.is_set():
                try:
                    result = self.drain_once()
                    failed = result.unreachable
                except Exception as exc:  # a locked or broken ledger: log, back off, go on
                    log.error("alert_sender_error", exc_info=True, error=describe_error(exc))
                    self._guard.failed(exc)
                    result, failed = DrainResult(), True
                else:
                    self._guard.succeeded()
                if failed:
                    backoff = pacing.next_backoff(backoff, self._backoff_start, self._backoff_max)
                    log.warning("alert_sender_backoff", retry_in_s=backoff)
                    self._stop.wait(backoff)  # wake() must not defeat the backoff
                    continue
                backoff = 0.0
                if not result.more:
                    self._wake.wait(self._poll_s)
                    self._wake.clear()
        finally:
            self._close()

    def _record_thread_alert(self, what: str, thread: str, error_type: str | None, failures: int) -> None:
        ledger = self._db()
        now = self._clock.now_ms()
        alert = (events.thread_failing(at_ms=now, thread=thread, error_type=error_type or "?", failures=failures)
                 if what == "failing" else events.thread_recovered(at_ms=now, thread=thread, failures=failures))
        with ledger.transaction():
            ledger.enqueue(alert)

    def _db(self) -> Ledger:
        """The sender's own Ledger, opened on first use in the thread that drains."""
        if self._ledger is None:
            self._ledger = Ledger(self._path)
        return self._ledger

    def _close(self) -> None:
        if self._ledger is not None:
            self._ledger.close()
            self._ledger = None
