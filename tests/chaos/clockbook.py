"""The clocks the chaos soak bends (issue 10, "Widen the proving ground"), and their record.

Two clocks are moved, and every move is written down with the true (unshifted host) time
around it, so that the judge can read the sandbox's apply times back into true time:

- the SANDBOX's clock (`POST /sandbox/clock` `offset_ms`): the exchange far ahead of or
  behind every host. It starts hours off, steps FORWARD by minutes at any moment (during
  unknown outcomes too), and steps BACK by hours only while the treasury is down and no
  withdrawal is unfinished. Why only then: a real exchange's clock never runs backwards
  under a withdrawal in flight, and the sandbox's would show artefacts no exchange has (a
  record dated after its now is outside the default history window; statuses are computed
  from the clock). Why forward steps stay under `forward_headroom_ms` above the lowest
  offset used so far: a treasury that takes its time from the exchange (DESIGN section 9)
  cannot tell a forward jump of the exchange's clock from time passing, while the judge
  counts the hour in true time; with the headroom plus the run's length under an hour,
  every jump is fair.
- the TREASURY's host clock (TREASURY_TEST_CLOCK_OFFSET_FILE, re-read about every second
  by a running treasury, and TREASURY_TEST_CLOCK_OFFSET_MS, read at start; both refused
  unless BINANCE_BASE_URL is loopback): stepped forward and back by minutes to hours, at
  any moment. A treasury that does not know these settings ignores them.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

MINUTE_MS = 60_000
HOUR_MS = 60 * MINUTE_MS
RECENT_MS = 150_000        # a treasury re-anchors on the exchange's clock about every minute


def true_ms() -> int:
    """The soak's own clock: this host's, never shifted."""
    return int(time.time() * 1000)


@dataclass(frozen=True)
class OffsetChange:
    before_ms: int          # true time just before the change was asked for
    after_ms: int           # true time once it was answered
    offset_ms: int
    why: str


@dataclass
class ClockBook:
    """What the soak did to the clocks. Thread-safe; the judge reads it after the run."""

    forward_headroom_ms: int
    sandbox: list[OffsetChange] = field(default_factory=list)
    host: list[OffsetChange] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    # -- the sandbox's clock -----------------------------------------------------------------

    def sandbox_offset(self) -> int:
        with self.lock:
            return self.sandbox[-1].offset_ms if self.sandbox else 0

    def sandbox_min(self) -> int:
        with self.lock:
            return min((c.offset_ms for c in self.sandbox), default=0)

    def sandbox_max(self) -> int:
        with self.lock:
            return max((c.offset_ms for c in self.sandbox), default=0)

    def forward_ceiling(self) -> int:
        """The highest sandbox offset a forward step may reach (see the module docstring)."""
        return self.sandbox_min() + self.forward_headroom_ms

    def set_sandbox(self, sandbox, offset_ms: int, why: str) -> None:
        before = true_ms()
        answer = sandbox.set_clock_offset(offset_ms)
        if answer.get("offset_ms") != offset_ms:
            raise AssertionError(f"the sandbox did not take offset {offset_ms}: {answer}")
        with self.lock:
            self.sandbox.append(OffsetChange(before, true_ms(), offset_ms, why))

    def sandbox_offsets_around(self, at_ms: float, margin_ms: int = 5_000) -> set[int]:
        """Every sandbox offset that may have been in force within `margin_ms` of `at_ms`."""
        with self.lock:
            changes = list(self.sandbox)
        found = {0} if not changes or changes[0].before_ms >= at_ms - margin_ms else set()
        for index, change in enumerate(changes):
            ends = changes[index + 1].after_ms if index + 1 < len(changes) else float("inf")
            if change.before_ms <= at_ms + margin_ms and ends >= at_ms - margin_ms:
                found.add(change.offset_ms)
        return found

    # -- the treasury's host clock ------------------------------------------------------------

    def host_offset(self) -> int:
        with self.lock:
            return self.host[-1].offset_ms if self.host else 0

    def note_host(self, offset_ms: int, why: str, before_ms: int) -> None:
        with self.lock:
            self.host.append(OffsetChange(before_ms, true_ms(), offset_ms, why))

    # -- what the clients stamp --------------------------------------------------------------

    def created_at_ms(self) -> int:
        """A `created_at` that every clock in play finds fresh: a little behind the earliest
        of the true time, the host offset and every sandbox offset in force lately (a
        treasury on the exchange's clock may still read the one before the last step).
        The policy's max_intent_age_seconds covers the whole spread of offsets."""
        now = true_ms()
        with self.lock:
            recent = [c.offset_ms for c in self.sandbox if c.after_ms >= now - RECENT_MS]
            if self.sandbox:
                recent.append(self.sandbox[-1].offset_ms)
            older = [c for c in self.sandbox if c.after_ms < now - RECENT_MS]
            if older:
                recent.append(older[-1].offset_ms)   # the one in force when the window began
            host = self.host[-1].offset_ms if self.host else 0
        return now + min([0, host, *recent]) - 5_000

    def counts(self) -> tuple[int, int]:
        """(sandbox clock changes, host clock steps), the initial setting included."""
        with self.lock:
            return len(self.sandbox), len(self.host)


def write_offset_file(path: Path, offset_ms: int | None) -> None:
    """Atomically (a reader sees the old or the new value); None: an empty file, so the
    treasury falls back to TREASURY_TEST_CLOCK_OFFSET_MS."""
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text("" if offset_ms is None else f"{offset_ms}\n", encoding="ascii")
    os.replace(temporary, path)


def true_apply_ms(withdrawal: dict, book: ClockBook) -> tuple[int, int | None]:
    """A sandbox withdrawal's apply time in true time, and the sandbox offset it was applied
    under: the apply time (the sandbox's clock) minus the offset in force, chosen among those
    in force around the moment the sandbox received the request (`receivedAt`, its own true
    host time) as the one that agrees with it. Offset None: no injected offset agrees within
    10 s (the harness's own bookkeeping is wrong: reported as a problem)."""
    received = float(withdrawal["receivedAt"])
    applied = int(withdrawal["applyTimeMs"])
    candidates = book.sandbox_offsets_around(received) or {book.sandbox_offset()}
    offset = min(candidates, key=lambda o: abs(applied - o - received))
    if abs(applied - offset - received) > 10_000:
        return int(received), None
    return applied - offset, offset
