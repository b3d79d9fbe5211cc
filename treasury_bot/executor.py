"""The single executor: submits accepted intents and reconciles unknown outcomes.

Its write-ahead rule: an intent is journaled `submitting` (committed) before the apply
request leaves, so after a crash at any point the ledger says which intents might have
reached the exchange. Those are never sent again blindly: they are looked up by
`withdrawOrderId` first (reconciler.py, over the pure reconcile.py). Withdrawals are
spaced by the policy's `min_seconds_between_withdrawals`. This module is the loop, its
schedule and the submit path; the stall check is stall_check.py.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from decimal import Decimal

from common.binance import AuthError, ExchangeError
from common.binance.errors import CAUSE_KEY_REFUSED
from common.binance.endpoints import WALLET_TYPES
from common.binance.key_refusal import KeyDiagnosis, diagnose_apply
from common.clock import Clock
from common.logs import get_logger
from treasury_bot import freeze, lifecycle, withdrawal_notes
from treasury_bot.address_book_guard import fail_if_unlisted
from treasury_bot.alerts import raised
from treasury_bot.exchange import KeyPermissions, WithdrawalDesk
from treasury_bot.ledger import IntentRecord, Ledger
from treasury_bot.policy_model import Policy
from treasury_bot.quota_guard import RETRY_S as QUOTA_RETRY_S, QuotaGuard
from treasury_bot.reconcile import ApplyAction, classify_apply_error
from treasury_bot.reconciler import Reconciler
from treasury_bot.stall_check import check_stalled
from treasury_bot.withdrawal_end import finish_withdrawal

log = get_logger("treasury.executor")
SOURCE = lifecycle.EXECUTOR
IDLE_WAIT_S = 0.2
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
    frozen_seen: int | None = None  # the freeze already logged (issue 13)


class Executor:
    def __init__(self, ledger: Ledger, client: WithdrawalDesk, policy: Policy, clock: Clock,
                 *, api_key: str | None = None, reconcile_every_s: float = 5.0,
                 key_check: KeyPermissions | None = None, quota: QuotaGuard | None = None) -> None:
        self.ledger = ledger
        self.key_check = key_check  # asked once after a key refusal, to name its cause
        self.quota = quota  # issue 12 item 4: read before each apply; None: not checked
        self.api_key = api_key  # only ever shown masked, in the auth-error alert
        self.client = client
        self.policy = policy
        self.clock = clock
        self.reconcile_every_s = reconcile_every_s
        self.schedule = _Schedule()
        self.spacing_s = float(policy.limits.min_seconds_between_withdrawals)
        self.stuck_after_ms = policy.limits.stuck_after_minutes * 60_000
        self.reconciler = Reconciler(ledger, client, policy, clock, adopt=self._adopt)

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
                self.reconciler.attempt_ended(record.seq, mono)
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
            check_stalled(self.ledger, self.clock.now_ms(), self.stuck_after_ms,
                          self.schedule.halted_reason)
        if mono < self.schedule.paused_until:
            return False
        if mono >= self.schedule.next_reconcile_at:
            self.schedule.next_reconcile_at = mono + self.reconcile_every_s
            if self.reconciler.reconcile_next():
                return True
        if self.schedule.halted_reason or mono < self.schedule.next_apply_at:
            return False
        queued = self.ledger.intents_with_status([lifecycle.QUEUED], limit=1)
        if not queued:
            return False
        standing = freeze.current(self.ledger)
        if standing is not None:
            # Issue 13 item 1: read each step (IDLE_WAIT_S apart), and again in submit's
            # transaction, so a freeze stops the next apply within a second.
            if self.schedule.frozen_seen != standing.seq:
                self.schedule.frozen_seen = standing.seq
                log.critical("withdrawals_frozen", frozen_by=standing.frozen_by, reason=standing.reason,
                             breaker=standing.breaker, waiting=queued[0].intent_id)
            return False
        self.submit(queued[0])
        return True

    # -- submitting --------------------------------------------------------------------

    def submit(self, record: IntentRecord) -> None:
        if self._adopt_found_on_exchange(record):
            return  # issue 13: a restored ledger's intent the exchange already has: never again
        if not self._destination_still_whitelisted(record):
            return
        if fail_if_unlisted(self.ledger, self.policy, record, self.clock.now_ms()):
            return  # issue 12: the exchange's address book lost it since the decision
        if self.quota is not None and self.quota.holds(self.ledger, record, self.clock.now_ms()):
            # Issue 12 item 4: over the exchange's 24-hour quota: it stays queued (the queue
            # waits behind it, in order) and is tried again later, not sent now.
            self.schedule.next_apply_at = self.clock.monotonic() + QUOTA_RETRY_S
            return
        if self.policy.shadow:
            self._shadow(record)
            return
        now = self.clock.now_ms()
        with self.ledger.transaction():
            current = self.ledger.get_intent_by_seq(record.seq)
            if current is None or current.status != lifecycle.QUEUED:
                return  # an operator acted meanwhile
            if freeze.current(self.ledger) is not None:
                return  # frozen since the step's look: under the write lock, nothing is sent
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
                address_tag=record.tag, wallet_type=self._wallet_type(record))
        except Exception as exc:  # every outcome, including our own bugs, is classified
            self.reconciler.attempt_ended(record.seq, self.clock.monotonic())
            diagnosis = self._key_diagnosis(exc) if isinstance(exc, AuthError) else None
            self._after_error(record.seq, exc, diagnosis)
            return
        self._adopt(record.seq, withdrawal_id, None, "apply answered", key_worked=True)

    def _shadow(self, record: IntentRecord) -> None:
        """Shadow mode (issue 13 item 7): every check live mode makes has passed, and here live
        mode would apply. Nothing is sent: the intent ends `shadowed` with a `would_withdraw`
        mail, paced by the same spacing as live applies."""
        now = self.clock.now_ms()
        with self.ledger.transaction():
            current = self.ledger.get_intent_by_seq(record.seq)
            if current is None or current.status != lifecycle.QUEUED:
                return
            self.ledger.update_withdrawal(record.seq, finished_at=now)
            self.ledger.set_status(current, lifecycle.SHADOWED, now, SOURCE, "shadow mode: not sent")
            self.ledger.enqueue(raised.would_withdraw(current, now))
        self.schedule.next_apply_at = self.clock.monotonic() + self.spacing_s
        log.info("withdrawal_shadowed", intent_id=record.intent_id, coin=record.coin, network=record.network,
                 amount=record.amount, destination=record.destination)

    def _adopt_found_on_exchange(self, record: IntentRecord) -> bool:
        """The foreign-withdrawal watch found a withdrawal with this intent's id that the
        ledger never recorded (a ledger restored from an older copy): adopt it, never apply
        again. Its status is then the poller's to follow; a mismatch is left for review."""
        found = self.ledger.foreign_for_intent(record.seq)
        if found is None:
            return False
        now = self.clock.now_ms()
        with self.ledger.transaction():
            current = self.ledger.get_intent_by_seq(record.seq)
            if current is None or current.status != lifecycle.QUEUED:
                return True
            self.ledger.set_status(current, lifecycle.SUBMITTING, now, SOURCE,
                                   "found on the exchange by the foreign-withdrawal watch: not sent again")
        log.critical("withdrawal_adopted_from_exchange", intent_id=record.intent_id,
                     withdrawal_id=found.withdrawal_id)
        self._adopt(record.seq, found.withdrawal_id, found.exchange_status,
                    "found on the exchange by the foreign-withdrawal watch (the ledger had lost it)")
        return True

    def _wallet_type(self, record: IntentRecord) -> int:
        """The destination's wallet, always sent (docs/design.md: `wallet`); spot when the
        entry is gone, which cannot happen here: submit checked it is still whitelisted."""
        destination = self.policy.destination(record.destination)
        return WALLET_TYPES[destination.wallet if destination else "spot"]

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

    def _key_diagnosis(self, exc: AuthError) -> KeyDiagnosis:
        """Binance's -2015 names three causes (deleted/expired key, IP not allowed, no
        withdraw permission): one apiRestrictions read (weight 1), outside any transaction,
        tells them apart as far as Binance lets us (common/binance/key_refusal.py)."""
        follow_up = None
        if self.key_check is not None and exc.cause == CAUSE_KEY_REFUSED:
            try:
                follow_up = self.key_check.api_restrictions()
            except ExchangeError as read_error:
                follow_up = read_error
            except Exception:  # the diagnosis is a courtesy: the halt stands without it
                log.warning("key_check_failed", exc_info=True)
        diagnosis = diagnose_apply(exc, follow_up)
        log.critical("api_key_refused", cause=diagnosis.cause, detail=diagnosis.what)
        return diagnosis

    def _after_error(self, seq: int, exc: Exception, diagnosis: KeyDiagnosis | None = None) -> None:
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
                    # Issue 16: the key the client signs with now (a reload may have rotated it).
                    api_key = getattr(self.key_check, "api_key_in_use", None) or self.api_key
                    self.ledger.enqueue(raised.exchange_auth_error(record, api_key, verdict.code,
                                                 verdict.message, now, diagnosis=diagnosis))
                    withdrawal_notes.set_halted(self.ledger, f"{verdict.code} {verdict.message}", now,
                                                diagnosis=diagnosis)
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

    def _offset_ms(self) -> int:
        """The client's measured exchange-clock offset (0 before its first measure)."""
        return self.client.time_offset_ms
