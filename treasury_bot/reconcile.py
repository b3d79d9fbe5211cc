"""What to do after a withdraw call, and while its outcome is unknown. Pure functions.

Rules (docs/design.md section 4):
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

Clocks (issue 10, defect 1): the look-up sends `withdrawOrderId` with no time bounds, so
the exchange applies its own default, "the last 7 days" in ITS clock; the age guard is
measured in exchange time (host time + the client's measured offset); the grace before
"proven absent" runs on the monotonic clock, so a step of the host's wall clock can
neither make the window miss the withdrawal nor shorten the grace.

A found record is adopted only if it is the withdrawal we asked for (issue 10, defect 7):
same coin, network, address (and tag), and amount; anything else means the id was used
outside this ledger -> `needs_review`, CRITICAL, never `submitted`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from decimal import Decimal
from typing import Sequence

from common.binance import (AuthError, ClockSkewError, ExchangeError, ExchangeUnavailable,
                            OutcomeUnknown, RateLimitError, WithdrawRecord, WithdrawRefused)

# Under Binance's 7 days, with a day to spare: the spare day absorbs any error in our
# estimate of the exchange's clock (offset measurement, a host step between two syncs).
LOOKUP_WINDOW_LIMIT_MS = 6 * 24 * 3_600_000
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
    if not isinstance(exc, ExchangeError):
        # A bug of ours after the request may have left: treat as unknown, never as
        # "not sent", so that reconciliation looks before anything is sent again.
        return ApplyVerdict(ApplyAction.UNKNOWN, 0.0, "internal", type(exc).__name__)
    code, message = exc.cited_code, exc.message or type(exc).__name__
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
        case WithdrawRefused() | ExchangeError():  # an answered refusal: it was not made
            return ApplyVerdict(ApplyAction.FAILED, 0.0, code, message)


class ReconcileAction(enum.Enum):
    ADOPT = "adopt"            # found in history: take its id and status
    RESUBMIT = "resubmit"      # proven absent after the grace period
    WAIT = "wait"              # look again later
    NEEDS_REVIEW = "needs_review"


@dataclass(frozen=True)
class UnknownOutcome:
    """What we know of an intent whose last apply call has no known outcome.

    `exchange_age_ms`: how long ago, in the EXCHANGE's clock, the first attempt was
    signed (the larger of that and the host-clock age: the guard errs towards review).
    `since_attempt_ms`: monotonic time since the end of the last apply call of this
    attempt, or since the restart that found it in flight (issue 10, defect 1)."""

    unknown_since: int
    attempts: int
    exchange_age_ms: int
    since_attempt_ms: int


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
    # Set when a record with our withdrawOrderId is NOT the withdrawal we asked for.
    mismatch: str | None = None


def reconcile_step(state: UnknownOutcome, lookup: Lookup | None, now_ms: int, *,
                   grace_ms: int, deadline_ms: int) -> tuple[ReconcileAction, str]:
    """The next step for an unknown outcome, given the latest look-up (None: not looked yet)."""
    if lookup is not None and lookup.mismatch is not None:
        return ReconcileAction.NEEDS_REVIEW, f"withdrawOrderId used outside this ledger: {lookup.mismatch}"
    if lookup is not None and lookup.found_id is not None:
        return ReconcileAction.ADOPT, "found in withdraw history by withdrawOrderId"
    if state.exchange_age_ms >= LOOKUP_WINDOW_LIMIT_MS:
        return ReconcileAction.NEEDS_REVIEW, "too old to look up by withdrawOrderId (7-day window)"
    if lookup is None or lookup.failed:
        if now_ms - state.unknown_since >= deadline_ms:
            return ReconcileAction.NEEDS_REVIEW, "withdraw history could not be read before the deadline"
        return ReconcileAction.WAIT, "withdraw history not read yet"
    # The look-up succeeded and did not find it.
    if state.since_attempt_ms < grace_ms:
        return ReconcileAction.WAIT, "absent so far; waiting out the grace period"
    if state.attempts >= MAX_UNKNOWN_ATTEMPTS:
        return ReconcileAction.NEEDS_REVIEW, f"{state.attempts} attempts with unknown outcome"
    return ReconcileAction.RESUBMIT, "proven absent after the grace period"


def exchange_age_ms(*, first_exchange_ms: int | None, first_host_ms: int, host_now_ms: int,
                    offset_now_ms: int) -> int:
    """Age of the first attempt in the exchange's clock, erring old.

    `first_exchange_ms` is the exchange-time estimate recorded when the first attempt was
    signed (None for an attempt recorded before that was kept: then the host-clock age is
    all we have). The larger of the exchange-clock and the host-clock ages is returned: a
    too-large age only sends the intent to review sooner, a too-small one could let a
    look-up "prove" absence with a window that no longer holds the withdrawal."""
    host_age = host_now_ms - first_host_ms
    if first_exchange_ms is None:
        return host_age
    return max(host_age, host_now_ms + offset_now_ms - first_exchange_ms)


@dataclass(frozen=True)
class Intended:
    """The withdrawal we asked for, as the ledger holds it."""

    coin: str
    network: str
    address: str
    tag: str | None
    amount: Decimal


def compare_found(intended: Intended, record: WithdrawRecord) -> str | None:
    """None when the history record is the withdrawal we asked for; else what differs.

    Amount: Binance's history reports `amount` and `transactionFee` separately, and the
    docs do not pin whether `amount` is what was applied or what the recipient gets
    (applied minus the fee); the sandbox, like the live API today, reports it as applied.
    Either reading is our withdrawal, so both match, exactly (Decimal, no tolerance);
    any other amount is not ours (issue 10, defect 7)."""
    differs: list[str] = []
    if record.coin != intended.coin:
        differs.append(f"coin {record.coin} != {intended.coin}")
    if record.network is not None and record.network != intended.network:
        differs.append(f"network {record.network} != {intended.network}")
    if record.address != intended.address:
        differs.append(f"address {record.address} != {intended.address}")
    if intended.tag and (record.address_tag or "") != intended.tag:
        differs.append(f"addressTag {record.address_tag or '(none)'} != {intended.tag}")
    amount, fee = Decimal(record.amount), Decimal(record.transaction_fee)
    if amount != intended.amount and amount + fee != intended.amount:
        differs.append(f"amount {amount} (fee {fee}) != {intended.amount}")
    return "; ".join(differs) or None


def judge_found(intended: Intended, order_id: str, records: Sequence[WithdrawRecord]) -> Lookup:
    """The look-up's verdict from the records the history answered (pure).

    Only records carrying our withdrawOrderId count. More than one such record means a
    second withdrawal carries our id (ours sent twice, or the id reused elsewhere): never
    adopt one of them silently."""
    ours = [r for r in records if r.withdraw_order_id == order_id]
    if not ours:
        return Lookup(None, None, failed=False)
    if len(ours) > 1:
        return Lookup(None, None, failed=False,
                      mismatch=f"{len(ours)} withdrawals carry this withdrawOrderId: "
                               + ", ".join(r.id for r in ours))
    found = ours[0]
    differs = compare_found(intended, found)
    if differs is not None:
        return Lookup(None, None, failed=False, mismatch=f"withdrawal {found.id}: {differs}")
    return Lookup(found.id, found.status, failed=False, found_tx_id=found.tx_id or None,
                  found_info=found.info or None)
