"""What to do after a withdraw call, and while its outcome is unknown. Pure functions.

Rules (DESIGN section 4):
- A reply with an id: the withdrawal exists -> `submitted`.
- A refusal the exchange documents (-4026, -4022, ...) or any other error code: the
  request was judged and refused -> `failed`, code and message kept, never retried.
- Auth (-1022/-2014/-2015): nothing happened, but no withdrawal may go out until an
  operator fixes the key -> back to `queued`, withdrawals halted, CRITICAL alert.
- Rate limits (429/418/-1003/-4005), a clock skew the client could not cure, or no
  connection made: nothing happened -> back to `queued` after a delay.
- Anything else (timeout after sending, 5XX, connection dropped, unreadable 2XX):
  the outcome is UNKNOWN. The intent stays `submitting` and is reconciled: looked up by
  `withdrawOrderId` in the withdraw history. Found -> adopt it. Proven absent after the
  grace period -> submit again. Not provable before the deadline, after too many
  unknown attempts, or once the look-up window (under 7 days) would be exceeded ->
  `needs_review` and a CRITICAL alert; a person decides.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from common.binance import (AuthError, ClockSkewError, ExchangeError, ExchangeUnavailable,
                            OutcomeUnknown, RateLimitError, WithdrawRefused)

LOOKUP_WINDOW_LIMIT_MS = 6 * 24 * 3_600_000   # under Binance's 7 days, with a day to spare
MAX_UNKNOWN_ATTEMPTS = 3


class ApplyAction(enum.Enum):
    FAILED = "failed"
    REQUEUE = "requeue"
    HALT = "halt"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class ApplyVerdict:
    action: ApplyAction
    delay_s: float
    code: str
    message: str


def classify_apply_error(exc: Exception) -> ApplyVerdict:
    """Map an exception from `withdraw_apply` to what the executor must do next."""
    code = _code_of(exc)
    message = getattr(exc, "message", None) or type(exc).__name__
    match exc:
        case OutcomeUnknown():
            return ApplyVerdict(ApplyAction.UNKNOWN, 0.0, code, message)
        case AuthError():
            return ApplyVerdict(ApplyAction.HALT, 0.0, code, message)
        case RateLimitError():
            return ApplyVerdict(ApplyAction.REQUEUE, max(exc.retry_after, 1.0), code, message)
        case ClockSkewError():
            return ApplyVerdict(ApplyAction.REQUEUE, 5.0, code, message)
        case ExchangeUnavailable():
            return ApplyVerdict(ApplyAction.REQUEUE, 5.0, code, message)
        case WithdrawRefused() | ExchangeError():
            return ApplyVerdict(ApplyAction.FAILED, 0.0, code, message)
        case _:
            # A bug of ours after the request may have left: treat as unknown, never as
            # "not sent", so that reconciliation looks before anything is sent again.
            return ApplyVerdict(ApplyAction.UNKNOWN, 0.0, "internal", type(exc).__name__)


def _code_of(exc: Exception) -> str:
    binance_code = getattr(exc, "binance_code", None)
    if binance_code is not None:
        return str(binance_code)
    http_status = getattr(exc, "http_status", None)
    if http_status is not None:
        return f"http_{http_status}"
    return getattr(exc, "code", "error")


class ReconcileAction(enum.Enum):
    ADOPT = "adopt"            # found in history: take its id and status
    RESUBMIT = "resubmit"      # proven absent after the grace period
    WAIT = "wait"              # look again later
    NEEDS_REVIEW = "needs_review"


@dataclass(frozen=True)
class UnknownOutcome:
    """What we know of an intent whose last apply call has no known outcome."""

    first_attempt_at: int
    last_attempt_at: int
    unknown_since: int
    attempts: int


@dataclass(frozen=True)
class Lookup:
    """One look-up in the withdraw history: found, proven absent, or failed."""

    found_id: str | None
    found_status: int | None
    failed: bool
    # What the record already says, for one found at (or past) its end: the poller never
    # looks at an intent adopted straight into a final status, so these are kept now.
    found_tx_id: str | None = None
    found_info: str | None = None


def reconcile_step(state: UnknownOutcome, lookup: Lookup | None, now_ms: int, *,
                   grace_ms: int, deadline_ms: int) -> tuple[ReconcileAction, str]:
    """The next step for an unknown outcome, given the latest look-up (None: not looked yet)."""
    if lookup is not None and lookup.found_id is not None:
        return ReconcileAction.ADOPT, "found in withdraw history by withdrawOrderId"
    if now_ms - state.first_attempt_at >= LOOKUP_WINDOW_LIMIT_MS:
        return ReconcileAction.NEEDS_REVIEW, "too old to look up by withdrawOrderId (7-day window)"
    if lookup is None or lookup.failed:
        if now_ms - state.unknown_since >= deadline_ms:
            return ReconcileAction.NEEDS_REVIEW, "withdraw history could not be read before the deadline"
        return ReconcileAction.WAIT, "withdraw history not read yet"
    # The look-up succeeded and did not find it.
    if now_ms - state.last_attempt_at < grace_ms:
        return ReconcileAction.WAIT, "absent so far; waiting out the grace period"
    if state.attempts >= MAX_UNKNOWN_ATTEMPTS:
        return ReconcileAction.NEEDS_REVIEW, f"{state.attempts} attempts with unknown outcome"
    return ReconcileAction.RESUBMIT, "proven absent after the grace period"


def lookup_window(state: UnknownOutcome, now_ms: int) -> tuple[int, int]:
    """startTime/endTime for the look-up: from a margin before the first attempt to a
    margin after now (the exchange's clock may run ahead of ours)."""
    start = state.first_attempt_at - 10 * 60_000
    end = now_ms + 10 * 60_000
    return start, end
