"""A withdrawal's status as a function of the sandbox clock (pure).

Binance's codes: 0 email sent, 1 cancelled, 2 awaiting approval, 3 rejected,
4 processing, 5 failed, 6 completed. A withdrawal's fate is fixed when it is accepted
(its timeline: when the email phase ends, when it completes, how it ends); its status at
any moment is then computed from the clock alone, so it survives restarts and follows
the admin clock offset. An operator may force a status (e.g. cancelled) from a moment on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

EMAIL_SENT = 0
CANCELLED = 1
AWAITING_APPROVAL = 2
REJECTED = 3
PROCESSING = 4
FAILED = 5
COMPLETED = 6
ALL_STATUSES = (EMAIL_SENT, CANCELLED, AWAITING_APPROVAL, REJECTED, PROCESSING, FAILED, COMPLETED)
# The amount goes back to the account when a withdrawal ends in one of these.
REFUNDED = frozenset({CANCELLED, REJECTED, FAILED})

Outcome = Literal["complete", "fail", "reject"]

FAILED_INFO = "The sandbox is configured to fail withdrawals to this address."
REJECTED_INFO = "The sandbox is configured to reject withdrawals to this address."
CANCELLED_INFO = "Cancelled by the sandbox operator."


@dataclass(frozen=True)
class Timeline:
    apply_ms: int
    email_until_ms: int        # status 0 before this moment (equal to apply_ms: no email phase)
    settle_at_ms: int          # status 4 until this moment, then the outcome
    outcome: Outcome
    forced_status: int | None = None
    forced_at_ms: int | None = None
    forced_info: str | None = None
    # status 2 (awaiting approval) from email_until_ms until this moment; None: no such phase
    approval_until_ms: int | None = None


@dataclass(frozen=True)
class StatusView:
    status: int
    complete_time_ms: int | None   # only for a completed withdrawal
    info: str


def plan_timeline(apply_ms: int, address: str, email_sent_seconds: float,
                  complete_after_seconds: float, failing: tuple[str, ...],
                  rejecting: tuple[str, ...], awaiting_approval_seconds: float = 0.0) -> Timeline:
    """Fix a new withdrawal's fate from the configuration at the moment it is accepted.

    Phases: 0 (email sent) for `email_sent_seconds`, then 2 (awaiting approval: Binance's
    risk review, "2: Awaiting Approval" in the withdraw history's status codes,
    https://developers.binance.com/docs/wallet/capital/withdraw-history) for
    `awaiting_approval_seconds`, then 4 (processing) for `complete_after_seconds`, then the outcome.
    """
    email_until = apply_ms + round(email_sent_seconds * 1000)
    approval_until = email_until + round(awaiting_approval_seconds * 1000)
    settle_at = approval_until + round(complete_after_seconds * 1000)
    outcome: Outcome = "fail" if address in failing else "reject" if address in rejecting else "complete"
    return Timeline(apply_ms, email_until, settle_at, outcome,
                    approval_until_ms=approval_until if approval_until > email_until else None)


def status_at(timeline: Timeline, now_ms: int) -> StatusView:
    """The status the exchange reports at `now_ms`."""
    if timeline.forced_status is not None and timeline.forced_at_ms is not None \
            and now_ms >= timeline.forced_at_ms:
        return _forced(timeline)
    if now_ms < timeline.email_until_ms:
        return StatusView(EMAIL_SENT, None, "")
    if timeline.approval_until_ms is not None and now_ms < timeline.approval_until_ms:
        return StatusView(AWAITING_APPROVAL, None, "")
    if now_ms < timeline.settle_at_ms:
        return StatusView(PROCESSING, None, "")
    if timeline.outcome == "fail":
        return StatusView(FAILED, None, FAILED_INFO)
    if timeline.outcome == "reject":
        return StatusView(REJECTED, None, REJECTED_INFO)
    return StatusView(COMPLETED, timeline.settle_at_ms, "")


def _forced(timeline: Timeline) -> StatusView:
    status = timeline.forced_status
    assert status is not None and timeline.forced_at_ms is not None
    default_info = {CANCELLED: CANCELLED_INFO, FAILED: FAILED_INFO, REJECTED: REJECTED_INFO}.get(status, "")
    info = timeline.forced_info if timeline.forced_info is not None else default_info
    complete = timeline.forced_at_ms if status == COMPLETED else None
    return StatusView(status, complete, info)
