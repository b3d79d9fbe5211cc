"""Which queued intents have waited too long to be sent, and why (issue 10, defect 3).
Pure: the executor feeds it what the ledger says and raises one alert per stall.

An accepted intent that failures keep re-queueing (no connection, DNS, 429/418 without
end, -1021 after a resync, a halt on an auth error) would otherwise wait for ever with
only log lines. Its wait counts from when it FIRST became queued (accepted, or approved):
every re-queue moves it back to `queued`, so counting from the latest one would never end.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable


@dataclass(frozen=True)
class Waiting:
    """A queued intent, as the stall check needs it."""

    seq: int
    queued_since: int            # first time it became `queued` (ms, ledger clock)
    error_code: str | None       # the last apply error, if any
    error_message: str | None


@dataclass(frozen=True)
class Stall:
    seq: int
    waited_ms: int
    reason: str


def stall_reason(waiting: Waiting, halted_reason: str | None) -> str:
    """Why it could not be sent: the halt first (nothing is sent while halted), then the
    last apply error, else that it was never tried (spacing, pause, a backlog)."""
    if halted_reason:
        return f"withdrawals halted: {halted_reason}"
    if waiting.error_code or waiting.error_message:
        return f"last error {waiting.error_code or '?'}: {waiting.error_message or ''}".rstrip(": ")
    return "not sent yet (no apply error recorded)"


def find_stalls(candidates: Iterable[Waiting], now_ms: int, stuck_after_ms: int,
                halted_reason: str | None, already: set[int]) -> list[Stall]:
    """The queued intents waiting `stuck_after_ms` or longer and not alerted yet."""
    found: list[Stall] = []
    for waiting in candidates:
        waited = now_ms - waiting.queued_since
        if waiting.seq in already or waited < stuck_after_ms:
            continue
        found.append(Stall(waiting.seq, waited, stall_reason(waiting, halted_reason)))
    return found
