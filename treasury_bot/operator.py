"""The operator's actions on the ledger: approve, reject, resolve. Each is one transaction.

They run in `treasuryctl`, beside a running treasury: `BEGIN IMMEDIATE` makes each
check-and-write atomic against the treasury's own writers. The treasury's executor
picks an approved intent up from the ledger (status `queued`), and its server publishes
the status changes from the transitions table.
"""

from __future__ import annotations

from dataclasses import dataclass

from common.clock import Clock
from treasury_bot import lifecycle
from treasury_bot.alerts import raised
from treasury_bot.coin_rules import from_snapshot
from treasury_bot.destination_watch import saved_reading
from treasury_bot.decider import load_usage_excluding
from treasury_bot.ledger import IntentRecord, Ledger
from treasury_bot.policy import IntentFacts, recheck_for_approval
from treasury_bot.loosening import Resolution
from treasury_bot.policy_in_force import resolve_from_ledger
from treasury_bot.policy_model import Policy
from treasury_bot.trusted_clock import META_MEASURED_AT, META_OFFSET_MS
from treasury_bot.verdict import ACCEPTED, REJECTED

SOURCE = lifecycle.OPERATOR
OFFSET_FRESH_MS = 10 * 60_000   # the treasury re-measures every 60 s while it runs


class OperatorError(Exception):
    """The action cannot be done; `code` is stable, the message says why."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class ActionResult:
    intent_id: str
    status: str
    message: str


def _pending(ledger: Ledger, intent_id: str, wanted: str) -> IntentRecord:
    record = ledger.get_intent(intent_id)
    if record is None:
        raise OperatorError("unknown_intent", f"no intent {intent_id!r} in the ledger")
    if record.status != wanted:
        raise OperatorError("wrong_status", f"intent {intent_id} is {record.status}, not {wanted}")
    return record


def ledger_now(ledger: Ledger, clock: Clock) -> int:
    """treasuryctl's time for an approval: the host clock corrected by the offset the
    treasury last measured to the exchange (its own clock is the exchange's:
    treasury_bot/trusted_clock.py), and never earlier than the latest time already in the
    ledger. Call inside the transaction.

    Why later is the safe side: an approved intent counts in the windows from this stamp
    until window_hours after it. A stamp later than the truth keeps it counted longer (a
    transfer refused, never one allowed too many); an earlier one would let it expire
    early, or even be behind what the treasury's usage tracker has already expired, and so
    reopen capacity. So: an offset the treasury has not refreshed for OFFSET_FRESH_MS (it
    is stopped, or its checks fail) may be out of date, and is only allowed to move the
    stamp later, never earlier than the host's own reading; and the ledger's latest time
    bounds a host clock that is behind, whatever the offset."""
    host = clock.now_ms()
    corrected = host
    try:
        offset = int(ledger.get_meta(META_OFFSET_MS) or 0)
        measured_at = int(ledger.get_meta(META_MEASURED_AT) or 0)
    except ValueError:
        offset, measured_at = 0, 0
    if offset:
        corrected = host + offset
        if abs(corrected - measured_at) > OFFSET_FRESH_MS:
            corrected = max(host, corrected)
    return max(corrected, ledger.latest_transition_at())


def approve(ledger: Ledger, policy: Policy, intent_id: str, clock: Clock, note: str = "") -> ActionResult:
    """Approve a pending intent after re-checking rules 3-10 now; refuse with their code.
    From now on it counts in the window sums and the hourly count (docs/design.md section 9).
    Unsigned: only where the policy in force lists no [approvals] operators (issue 13)."""
    with ledger.transaction():
        now = ledger_now(ledger, clock)
        record = _pending(ledger, intent_id, lifecycle.PENDING_APPROVAL)
        # The policy IN FORCE (docs/design.md section 9): a loosening still in its quarantine does
        # not let the operator approve what the old, stricter value forbids.
        in_force = resolve_from_ledger(ledger, policy, now)
        _unsigned_allowed(in_force.effective)
        detail = f"approved by the operator{': ' + note if note else ''}"
        approve_now(ledger, in_force, record, now, detail)
    return ActionResult(intent_id, lifecycle.QUEUED, "approved: the treasury will withdraw it")


def _unsigned_allowed(policy: Policy) -> None:
    if policy.approvals.signed:
        raise OperatorError("signature_required", "the policy's [approvals] lists operators: approve or "
                            "reject with --operator NAME (a signed action)")


def approve_now(ledger: Ledger, in_force: Resolution, record: IntentRecord, now: int, detail: str) -> None:
    """Re-check rules 3-10 at `now` against the policy in force, then queue the intent and
    count it from `now`. Inside the caller's transaction; OperatorError changes nothing."""
    snapshot = ledger.load_coin_rules()
    if snapshot is None:
        raise OperatorError("no_coin_rules", "the treasury has not saved the exchange's coin rules yet")
    policy = in_force.effective
    facts = IntentFacts(intent_id=record.intent_id, client=record.client, coin=record.coin,
                        network=record.network, destination=record.destination,
                        amount=record.amount_value, created_at_ms=record.created_at)
    verdict = recheck_for_approval(
        facts, policy, load_usage_excluding(ledger, policy, now, record.intent_id),
        from_snapshot(snapshot[1]), in_force.usable_from, now,
        rules_fetched_at_ms=snapshot[0], address_book=saved_reading(ledger))
    if verdict.outcome != ACCEPTED:
        raise OperatorError(verdict.reason_code or "refused",
                            f"approval refused now: {verdict.reason_code}: {verdict.detail}")
    ledger.set_outcome(record, ACCEPTED, None, detail, now, SOURCE)
    ledger.set_status(record, lifecycle.QUEUED, now, SOURCE, detail)
    # Issue 10 defect 2: without this, an intent approved a window after it arrived
    # never counted, and the cap could be exceeded by every late approval.
    ledger.count_from(record, now)


def deny_now(ledger: Ledger, record: IntentRecord, reason_code: str, detail: str, now: int) -> None:
    """A pending intent rejected (by an operator, or expired): rejected/REASON, status denied,
    out of the windows, alerted. Inside the caller's transaction."""
    ledger.set_outcome(record, REJECTED, reason_code, detail, now, SOURCE)
    ledger.set_status(record, lifecycle.DENIED, now, SOURCE, detail)
    ledger.uncount(record)
    ledger.enqueue(raised.record_rejected(ledger.get_intent(record.intent_id), now))


def reject(ledger: Ledger, intent_id: str, clock: Clock, note: str = "",
           policy: Policy | None = None) -> ActionResult:
    """Reject a pending intent: rejected/operator_rejected, status denied, out of the windows.
    With `policy`: refused when its [approvals] lists operators (reject signed instead)."""
    now = clock.now_ms()
    with ledger.transaction():
        record = _pending(ledger, intent_id, lifecycle.PENDING_APPROVAL)
        if policy is not None:
            _unsigned_allowed(resolve_from_ledger(ledger, policy, ledger_now(ledger, clock)).effective)
        detail = f"rejected by the operator{': ' + note if note else ''}"
        deny_now(ledger, record, "operator_rejected", detail, now)
    return ActionResult(intent_id, lifecycle.DENIED, REJECTED)  # says the outcome


def resolve(ledger: Ledger, intent_id: str, as_status: str, note: str, clock: Clock) -> ActionResult:
    """Close a needs_review intent as completed or failed, after the operator checked the exchange."""
    if as_status not in lifecycle.RESOLVE_AS:
        raise OperatorError("bad_status", "--as must be completed or failed")
    if not note.strip():
        raise OperatorError("note_required", "--note is required: say what you checked")
    now = clock.now_ms()
    with ledger.transaction():
        record = _pending(ledger, intent_id, lifecycle.NEEDS_REVIEW)
        text = f"resolved by the operator as {as_status}: {note.strip()}"
        ledger.update_withdrawal(record.seq, finished_at=now)
        ledger.set_status(record, as_status, now, SOURCE, text)
        ledger.insert_decisions([(record.seq, now, SOURCE, record.outcome, None, text)])
        ledger.enqueue(raised.withdrawal_finished(ledger.get_intent(intent_id), as_status, now, info=text))
    return ActionResult(intent_id, as_status, text)
