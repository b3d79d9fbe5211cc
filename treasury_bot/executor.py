"""The single executor: submits accepted intents and reconciles unknown outcomes.

Its write-ahead rule: an intent is journaled `submitting` (committed) before the apply
request leaves, so after a crash at any point the ledger says which intents might have
reached the exchange. Those are never sent again blindly: they are looked up by
`withdrawOrderId` first (see reconcile.py). Withdrawals are spaced by the policy's
`min_seconds_between_withdrawals`.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from decimal import Decimal

from common.binance import ExchangeError
from common.clock import Clock
from common.logs import get_logger
from treasury_bot import lifecycle, withdrawal_notes
from treasury_bot.alerts import raised
from treasury_bot.exchange import WithdrawalDesk
from treasury_bot.ledger import IntentRecord, Ledger
from treasury_bot.policy_model import Policy
from treasury_bot.reconcile import (ApplyAction, Intended, Lookup, ReconcileAction, UnknownOutcome,
                                    classify_apply_error, exchange_age_ms, judge_found, reconcile_step)
from treasury_bot.stall import Waiting, find_stalls
from treasury_bot.withdrawal_end import finish_withdrawal

log = get_logger("treasury.executor")
SOURCE = lifecycle.EXECUTOR
IDLE_WAIT_S = 0.2
# A signed apply stays executable until its timestamp is recvWindow old (Binance also takes
# timestamps up to 1 s ahead of its clock): before that, "absent from history" proves
# nothing, since the request may still land. The grace never ends sooner.
LATE_LANDING_MARGIN_MS = 2000
# How often queued intents are checked for a stall (issue 10, defect 3): queued intents
# are read through the open-status index, and the ones already alerted are skipped before
# any per-intent query. It runs even while withdrawals are halted or paused.
STALL_CHECK_EVERY_S = 30.0


@dataclass
class _Schedule:
    """In-memory timers; the ledger holds the truth, these only pace the work."""

    next_apply_at: float = 0.0
    paused_until: float = 0.0
    next_reconcile_at: float = 0.0
    halted_reason: str | None = None
    next_stall_check_at: float = 0.0


class Executor:
    def __init__(self, ledger: Ledger, client: WithdrawalDesk, policy: Policy, clock: Clock,
                 *, api_key: str | None = None, reconcile_every_s: float = 5.0) -> None:
        self.ledger = ledger
        self.api_key = api_key  # only ever shown masked, in the auth-error alert
        self.client = client
        self.policy = policy
        self.clock = clock
        self.reconcile_every_s = reconcile_every_s
        self.schedule = _Schedule()
        self._looked_at: dict[int, float] = {}
        self.spacing_s = float(policy.limits.min_seconds_between_withdrawals)
        self.grace_ms = max(policy.executor.reconcile_grace_seconds * 1000,
                            client.recv_window_ms + LATE_LANDING_MARGIN_MS)
        self.deadline_ms = policy.executor.reconcile_deadline_minutes * 60_000
        self.stuck_after_ms = policy.limits.stuck_after_minutes * 60_000
        # Monotonic instant at which the last apply call of each `submitting` intent ended
        # (or this process found it in flight): the grace runs from there, on a clock a
        # step of the wall clock cannot move (issue 10, defect 1). Memory only: after a
        # restart, recover() starts every grace afresh, which only makes it longer.
        self._attempt_ended: dict[int, float] = {}

    # -- the loop -------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        from treasury_bot.supervised import Supervised, ledger_recorder  # issue 10 defect 8
        guard = Supervised("executor", ledger_recorder(lambda: self.ledger, self.clock))
        self.recover()
        while not stop.is_set():
            try:
                busy = self.step()
            except Exception as exc:
                log.critical("executor_step_failed", exc_info=True)
                busy = False
                self.schedule.paused_until = self.clock.monotonic() + guard.failed(exc)
            else:
                guard.succeeded()
            if not busy:
                stop.wait(IDLE_WAIT_S)

    def recover(self) -> None:
        """After a start: every `submitting` intent may have reached the exchange."""
        now = self.clock.now_ms()
        mono = self.clock.monotonic()
        with self.ledger.transaction():
            # A fresh start tries again: a key fixed meanwhile works, a still-bad one halts
            # (and records its reason) again at the first apply.
            withdrawal_notes.clear_halted(self.ledger)
            for record in self.ledger.intents_with_status([lifecycle.SUBMITTING]):
                self._attempt_ended[record.seq] = mono
                withdrawal = self.ledger.withdrawal(record.seq)
                if withdrawal is None or withdrawal.unknown_since is None:
                    self.ledger.update_withdrawal(record.seq, unknown_since=now)
                    log.warning("recovering_unknown_outcome", intent_id=record.intent_id)
        # Keep the spacing across a restart: the last apply of the previous process counts.
        last = self.ledger.latest_apply_attempt_at()
        if last is not None:
            # Never more than one spacing: a wall clock set back since that apply would
            # otherwise hold every withdrawal for as long as the step (found by the model
            # test, tests/integration/test_withdrawal_model.py).
            elapsed_s = max(0.0, (now - last) / 1000)
            wait_s = min(self.spacing_s, self.spacing_s - elapsed_s)
            self.schedule.next_apply_at = self.clock.monotonic() + max(0.0, wait_s)

    def step(self) -> bool:
        """Do one piece of work; return whether there was any."""
        mono = self.clock.monotonic()
        if mono >= self.schedule.next_stall_check_at:
            # Before the pause and halt checks: a stall must be told however it arose.
            self.schedule.next_stall_check_at = mono + STALL_CHECK_EVERY_S
            self.check_stalled()
        if mono < self.schedule.paused_until:
            return False
        if mono >= self.schedule.next_reconcile_at:
            self.schedule.next_reconcile_at = mono + self.reconcile_every_s
            if self.reconcile_next():
                return True
        if self.schedule.halted_reason or mono < self.schedule.next_apply_at:
            return False
        queued = self.ledger.intents_with_status([lifecycle.QUEUED], limit=1)
        if not queued:
            return False
        self.submit(queued[0])
        return True

    # -- submitting --------------------------------------------------------------------

    def submit(self, record: IntentRecord) -> None:
        if not self._destination_still_whitelisted(record):
            return
        now = self.clock.now_ms()
        with self.ledger.transaction():
            current = self.ledger.get_intent_by_seq(record.seq)
            if current is None or current.status != lifecycle.QUEUED:
                return  # an operator acted meanwhile
            previous = self.ledger.withdrawal(record.seq)
            attempts = (previous.attempts if previous else 0) + 1
            self.ledger.set_status(current, lifecycle.SUBMITTING, now, SOURCE, f"attempt {attempts}")
            self.ledger.update_withdrawal(
                record.seq, attempts=attempts, last_attempt_at=now, unknown_since=None,
                first_attempt_at=previous.first_attempt_at if previous and previous.first_attempt_at else now)
            # The exchange's clock at the first attempt, as the request's timestamp will say.
            self.ledger.record_first_exchange_ms(record.seq, now + self._offset_ms())
        self.schedule.next_apply_at = self.clock.monotonic() + self.spacing_s
        log.info("withdrawal_submitting", intent_id=record.intent_id, attempt=attempts,
                 coin=record.coin, network=record.network, amount=record.amount,
                 destination=record.destination)
        try:
            withdrawal_id = self.client.withdraw_apply(
                coin=record.coin, network=record.network, address=record.address or "",
                amount=Decimal(record.amount), withdraw_order_id=record.intent_id,
                address_tag=record.tag)
        except Exception as exc:  # every outcome, including our own bugs, is classified
            self._attempt_ended[record.seq] = self.clock.monotonic()
            self._after_error(record.seq, exc)
            return
        self._adopt(record.seq, withdrawal_id, None, "apply answered", key_worked=True)

    def _destination_still_whitelisted(self, record: IntentRecord) -> bool:
        """The whitelist entry may have changed since the decision: never send to a stale one."""
        destination = self.policy.destination(record.destination)
        if destination and destination.address == record.address and destination.tag == record.tag \
                and destination.coin == record.coin and destination.network == record.network:
            return True
        now = self.clock.now_ms()
        with self.ledger.transaction():
            current = self.ledger.get_intent_by_seq(record.seq)
            if current is None or current.status != lifecycle.QUEUED:
                return False
            self.ledger.update_withdrawal(record.seq, error_code="destination_changed",
                                          error_message="the whitelist entry changed after the decision",
                                          finished_at=now)
            self.ledger.set_status(current, lifecycle.FAILED, now, SOURCE, "destination changed since the decision")
            self.ledger.enqueue(raised.withdrawal_failed(current, "destination_changed",
                                       "the whitelist entry changed after the decision", now))
        log.error("withdrawal_refused_destination_changed", intent_id=record.intent_id)
        return False

    def _after_error(self, seq: int, exc: Exception) -> None:
        verdict = classify_apply_error(exc)
        now = self.clock.now_ms()
        log_fields = dict(code=verdict.code, error=verdict.message, action=verdict.action.value)
        with self.ledger.transaction():
            record = self.ledger.get_intent_by_seq(seq)
            if record is None or record.status != lifecycle.SUBMITTING:
                return
            if verdict.action is ApplyAction.UNKNOWN:
                self.ledger.update_withdrawal(seq, unknown_since=now, error_code=verdict.code,
                                              error_message=verdict.message)
            elif verdict.action is ApplyAction.FAILED:
                self.ledger.update_withdrawal(seq, error_code=verdict.code, error_message=verdict.message,
                                              finished_at=now)
                self.ledger.set_status(record, lifecycle.FAILED, now, SOURCE, f"{verdict.code} {verdict.message}")
                self.ledger.enqueue(raised.withdrawal_failed(record, verdict.code, verdict.message, now))
            else:  # REQUEUE or HALT: provably not executed
                self.ledger.update_withdrawal(seq, error_code=verdict.code, error_message=verdict.message)
                self.ledger.set_status(record, lifecycle.QUEUED, now, SOURCE, f"not sent: {verdict.code}")
                if verdict.action is ApplyAction.HALT:
                    self.ledger.enqueue(raised.exchange_auth_error(record, self.api_key, verdict.code,
                                                 verdict.message, now))
                    withdrawal_notes.set_halted(self.ledger, f"{verdict.code} {verdict.message}", now)
        if verdict.action is ApplyAction.HALT:
            self.schedule.halted_reason = f"{verdict.code} {verdict.message}"
            log.critical("withdrawals_halted", intent_id=record.intent_id, **log_fields)
        elif verdict.action is ApplyAction.REQUEUE:
            self.schedule.paused_until = self.clock.monotonic() + verdict.delay_s
            log.warning("withdrawal_requeued", intent_id=record.intent_id, delay_s=verdict.delay_s, **log_fields)
        elif verdict.action is ApplyAction.UNKNOWN:
            self.schedule.next_reconcile_at = self.clock.monotonic() + 1.0
            log.warning("withdrawal_outcome_unknown", intent_id=record.intent_id, **log_fields)
        else:
            log.error("withdrawal_failed", intent_id=record.intent_id, **log_fields)

    def _adopt(self, seq: int, withdrawal_id: str, exchange_status: int | None, note: str, *,
               tx_id: str | None = None, info: str | None = None, key_worked: bool = False) -> None:
        """Record the exchange's id; the poller follows it from here. `key_worked`: the
        apply itself was answered, so the key works and a recorded halt no longer stands."""
        now = self.clock.now_ms()
        with self.ledger.transaction():
            record = self.ledger.get_intent_by_seq(seq)
            if record is None or record.status != lifecycle.SUBMITTING:
                return
            self.ledger.update_withdrawal(seq, withdrawal_id=withdrawal_id, submitted_at=now,
                                          unknown_since=None, exchange_status=exchange_status,
                                          tx_id=tx_id)
            self.ledger.set_status(record, lifecycle.SUBMITTED, now, SOURCE, note)
            self.ledger.enqueue(raised.withdrawal_submitted(record, withdrawal_id, now))
            if key_worked:  # the apply was answered: no halt stands (issue 10, defect 3)
                withdrawal_notes.clear_halted(self.ledger)
            later = lifecycle.EXCHANGE_STATUS.get(exchange_status) if exchange_status is not None else None
            if later and later != lifecycle.SUBMITTED:
                # Found by reconciliation already further along: catch up in the same commit.
                moved = self.ledger.get_intent_by_seq(seq)
                note = "status found by reconciliation"
                if later in lifecycle.WITHDRAWAL_ENDS:  # the same end step as the poller's
                    finish_withdrawal(self.ledger, moved, later, now, SOURCE, note,
                                      withdrawal_id=withdrawal_id, tx_id=tx_id, info=info)
                else:
                    self.ledger.set_status(moved, later, now, SOURCE, note)
        log.info("withdrawal_submitted", intent_id=record.intent_id, withdrawal_id=withdrawal_id, note=note)

    # -- reconciling -----------------------------------------------------------------------

    def reconcile_next(self) -> bool:
        """Look one unknown outcome up (the one looked at least recently): a history request
        costs 18,000 UID weight, so reconciliation is paced like polling."""
        now = self.clock.now_ms()
        pending = self.ledger.intents_with_status([lifecycle.SUBMITTING])
        if not pending:
            return False
        record = min(pending, key=lambda r: (self._looked_at.get(r.seq, 0.0), r.seq))
        self._looked_at[record.seq] = self.clock.monotonic()
        # This thread is the only one that applies, and it is here, not in an apply
        # call: every `submitting` intent has an unknown outcome, even one whose
        # recording failed half-way (unknown_since still empty).
        withdrawal = self.ledger.withdrawal(record.seq)
        since = (withdrawal.unknown_since or withdrawal.last_attempt_at or now) if withdrawal else now
        first_host = (withdrawal.first_attempt_at if withdrawal else None) or since
        # The grace runs from the last moment a request of this attempt could have been
        # signed: the end of the apply call, or the moment this process found it in flight
        # (monotonic; an intent without a mark was found just now).
        ended = self._attempt_ended.setdefault(record.seq, self.clock.monotonic())
        self.reconcile(record, UnknownOutcome(
            unknown_since=since, attempts=withdrawal.attempts if withdrawal else 1,
            exchange_age_ms=exchange_age_ms(
                first_exchange_ms=self.ledger.first_exchange_ms(record.seq),
                first_host_ms=first_host, host_now_ms=now, offset_now_ms=self._offset_ms()),
            since_attempt_ms=int((self.clock.monotonic() - ended) * 1000)))
        return True

    def _offset_ms(self) -> int:
        """The client's measured exchange-clock offset (0 before its first measure)."""
        return self.client.time_offset_ms

    def reconcile(self, record: IntentRecord, state: UnknownOutcome) -> None:
        now = self.clock.now_ms()
        lookup = self._look_up(record, state, now)
        action, why = reconcile_step(state, lookup, now, grace_ms=self.grace_ms,
                                     deadline_ms=self.deadline_ms)
        log.info("reconcile_step", intent_id=record.intent_id, action=action.value, why=why)
        if action is not ReconcileAction.WAIT:
            self._attempt_ended.pop(record.seq, None)
        if action is ReconcileAction.ADOPT:
            self._adopt(record.seq, lookup.found_id, lookup.found_status, "found by reconciliation",
                        tx_id=lookup.found_tx_id, info=lookup.found_info)
        elif action is ReconcileAction.RESUBMIT:
            with self.ledger.transaction():
                current = self.ledger.get_intent_by_seq(record.seq)
                if current is not None and current.status == lifecycle.SUBMITTING:
                    self.ledger.update_withdrawal(record.seq, unknown_since=None)
                    self.ledger.set_status(current, lifecycle.QUEUED, now, SOURCE, why)
        elif action is ReconcileAction.NEEDS_REVIEW:
            with self.ledger.transaction():
                current = self.ledger.get_intent_by_seq(record.seq)
                if current is not None and current.status == lifecycle.SUBMITTING:
                    self.ledger.set_status(current, lifecycle.NEEDS_REVIEW, now, SOURCE, why)
                    self.ledger.enqueue(raised.needs_review(current, why, now))
            log.critical("withdrawal_needs_review", intent_id=record.intent_id, why=why)

    def _look_up(self, record: IntentRecord, state: UnknownOutcome, now: int) -> Lookup:
        # No startTime/endTime: "if withdrawOrderId is sent without startTime and endTime,
        # the last 7 days are returned" -- 7 days of the EXCHANGE's clock
        # (https://developers.binance.com/docs/wallet/capital/withdraw-history). Bounds
        # built from our clock would miss a withdrawal when the host clock is off by more
        # than their margin (issue 10, defect 1); the age guard in reconcile_step keeps
        # the first attempt a day inside those 7 days.
        try:
            found = self.client.withdraw_history(withdraw_order_id=record.intent_id)
        except (ExchangeError, ValueError) as exc:
            log.warning("reconcile_lookup_failed", intent_id=record.intent_id, error=str(exc))
            return Lookup(None, None, failed=True)
        lookup = judge_found(Intended(coin=record.coin, network=record.network, address=record.address or "",
                                      tag=record.tag, amount=Decimal(record.amount)),
                             record.intent_id, found)
        if lookup.mismatch is not None:
            log.critical("reconcile_found_mismatch", intent_id=record.intent_id, mismatch=lookup.mismatch)
        return lookup

    # -- stalls (issue 10, defect 3) --------------------------------------------------------

    def check_stalled(self) -> None:
        """One `withdrawal_stalled` alert for each queued intent not sent for
        stuck_after_minutes, recorded in `withdrawal_stalls` in the same commit."""
        now = self.clock.now_ms()
        waits = self.ledger.queued_waits()
        if not waits:
            return
        already = {w.seq for w in waits if w.stall_alerted}
        candidates = [Waiting(seq=w.seq, queued_since=w.queued_since, error_code=w.error_code,
                              error_message=w.error_message) for w in waits if not w.stall_alerted]
        halted = self.schedule.halted_reason
        by_seq = {c.seq: c for c in candidates}
        for stall in find_stalls(candidates, now, self.stuck_after_ms, halted, already):
            with self.ledger.transaction():
                current = self.ledger.get_intent_by_seq(stall.seq)
                if current is None or current.status != lifecycle.QUEUED:
                    continue
                if self.ledger.record_stall(stall.seq, now, stall.reason):
                    self.ledger.enqueue(raised.withdrawal_stalled(current, now, queued_since=by_seq[stall.seq].queued_since,
                                                stuck_after_minutes=self.stuck_after_ms // 60_000,
                                                reason=stall.reason))
            log.warning("withdrawal_stalled", intent_id=current.intent_id, waited_ms=stall.waited_ms,
                        why=stall.reason)
