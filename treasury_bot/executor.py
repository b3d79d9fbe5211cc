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

from common.binance import BinanceClient, ExchangeError
from common.clock import Clock
from common.logs import get_logger
from common.messages import EXCHANGE_STATUS
from treasury_bot import alerting
from treasury_bot.ledger import IntentRecord, Ledger
from treasury_bot.policy_file import Policy
from treasury_bot.reconcile import (ApplyAction, Lookup, ReconcileAction, UnknownOutcome,
                                    classify_apply_error, lookup_window, reconcile_step)

log = get_logger("treasury.executor")
SOURCE = "executor"
IDLE_WAIT_S = 0.2
# A signed apply stays executable until its timestamp is recvWindow old (Binance also takes
# timestamps up to 1 s ahead of its clock): before that, "absent from history" proves
# nothing, since the request may still land. The grace never ends sooner.
LATE_LANDING_MARGIN_MS = 2000


@dataclass
class _Schedule:
    """In-memory timers; the ledger holds the truth, these only pace the work."""

    next_apply_at: float = 0.0
    paused_until: float = 0.0
    next_reconcile_at: float = 0.0
    halted_reason: str | None = None


class Executor:
    def __init__(self, ledger: Ledger, client: BinanceClient, policy: Policy, clock: Clock,
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
                            getattr(client, "recv_window_ms", 5000) + LATE_LANDING_MARGIN_MS)
        self.deadline_ms = policy.executor.reconcile_deadline_minutes * 60_000

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
        with self.ledger.transaction():
            for record in self.ledger.intents_with_status(["submitting"]):
                withdrawal = self.ledger.withdrawal(record.seq)
                if withdrawal is None or withdrawal.unknown_since is None:
                    self.ledger.update_withdrawal(record.seq, unknown_since=now)
                    log.warning("recovering_unknown_outcome", intent_id=record.intent_id)
        # Keep the spacing across a restart: the last apply of the previous process counts.
        last = self.ledger.conn.execute("SELECT MAX(last_attempt_at) FROM withdrawals").fetchone()[0]
        if last is not None:
            wait_s = self.spacing_s - (now - last) / 1000
            self.schedule.next_apply_at = self.clock.monotonic() + max(0.0, wait_s)

    def step(self) -> bool:
        """Do one piece of work; return whether there was any."""
        mono = self.clock.monotonic()
        if mono < self.schedule.paused_until:
            return False
        if mono >= self.schedule.next_reconcile_at:
            self.schedule.next_reconcile_at = mono + self.reconcile_every_s
            if self.reconcile_all():
                return True
        if self.schedule.halted_reason or mono < self.schedule.next_apply_at:
            return False
        queued = self.ledger.intents_with_status(["queued"], limit=1)
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
            if current is None or current.status != "queued":
                return  # an operator acted meanwhile
            previous = self.ledger.withdrawal(record.seq)
            attempts = (previous.attempts if previous else 0) + 1
            self.ledger.set_status(current, "submitting", now, SOURCE, f"attempt {attempts}")
            self.ledger.update_withdrawal(
                record.seq, attempts=attempts, last_attempt_at=now, unknown_since=None,
                first_attempt_at=previous.first_attempt_at if previous and previous.first_attempt_at else now)
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
            self._after_error(record.seq, exc)
            return
        self._adopt(record.seq, withdrawal_id, None, "apply answered")

    def _destination_still_whitelisted(self, record: IntentRecord) -> bool:
        """The whitelist entry may have changed since the decision: never send to a stale one."""
        destination = self.policy.destination(record.destination)
        if destination and destination.address == record.address and destination.tag == record.tag \
                and destination.coin == record.coin and destination.network == record.network:
            return True
        now = self.clock.now_ms()
        with self.ledger.transaction():
            current = self.ledger.get_intent_by_seq(record.seq)
            if current is None or current.status != "queued":
                return False
            self.ledger.update_withdrawal(record.seq, error_code="destination_changed",
                                          error_message="the whitelist entry changed after the decision",
                                          finished_at=now)
            self.ledger.set_status(current, "failed", now, SOURCE, "destination changed since the decision")
            alerting.withdrawal_failed(self.ledger.conn, current, "destination_changed",
                                       "the whitelist entry changed after the decision", now)
        log.error("withdrawal_refused_destination_changed", intent_id=record.intent_id)
        return False

    def _after_error(self, seq: int, exc: Exception) -> None:
        verdict = classify_apply_error(exc)
        now = self.clock.now_ms()
        log_fields = dict(code=verdict.code, error=verdict.message, action=verdict.action.value)
        with self.ledger.transaction():
            record = self.ledger.get_intent_by_seq(seq)
            if record is None or record.status != "submitting":
                return
            if verdict.action is ApplyAction.UNKNOWN:
                self.ledger.update_withdrawal(seq, unknown_since=now, error_code=verdict.code,
                                              error_message=verdict.message)
            elif verdict.action is ApplyAction.FAILED:
                self.ledger.update_withdrawal(seq, error_code=verdict.code, error_message=verdict.message,
                                              finished_at=now)
                self.ledger.set_status(record, "failed", now, SOURCE, f"{verdict.code} {verdict.message}")
                alerting.withdrawal_failed(self.ledger.conn, record, verdict.code, verdict.message, now)
            else:  # REQUEUE or HALT: provably not executed
                self.ledger.update_withdrawal(seq, error_code=verdict.code, error_message=verdict.message)
                self.ledger.set_status(record, "queued", now, SOURCE, f"not sent: {verdict.code}")
                if verdict.action is ApplyAction.HALT:
                    alerting.exchange_auth_error(self.ledger.conn, record, self.api_key, verdict.code,
                                                 verdict.message, now)
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
               tx_id: str | None = None, info: str | None = None) -> None:
        """Record the exchange's id; the poller follows it from here."""
        now = self.clock.now_ms()
        with self.ledger.transaction():
            record = self.ledger.get_intent_by_seq(seq)
            if record is None or record.status != "submitting":
                return
            self.ledger.update_withdrawal(seq, withdrawal_id=withdrawal_id, submitted_at=now,
                                          unknown_since=None, exchange_status=exchange_status,
                                          tx_id=tx_id)
            self.ledger.set_status(record, "submitted", now, SOURCE, note)
            alerting.withdrawal_submitted(self.ledger.conn, record, withdrawal_id, now)
            later = EXCHANGE_STATUS.get(exchange_status) if exchange_status is not None else None
            if later and later != "submitted":
                # Found by reconciliation already further along: catch up in the same commit.
                moved = self.ledger.get_intent_by_seq(seq)
                self.ledger.set_status(moved, later, now, SOURCE, "status found by reconciliation")
                if later in ("completed", "failed", "rejected", "cancelled"):
                    self.ledger.update_withdrawal(seq, finished_at=now)
                    if info:  # as the poller keeps it: the exchange's reason for the end
                        self.ledger.update_withdrawal(seq, error_message=info[:500])
                    alerting.withdrawal_finished(self.ledger.conn, moved, later, now,
                                                 withdrawal_id=withdrawal_id, tx_id=tx_id, info=info)
        log.info("withdrawal_submitted", intent_id=record.intent_id, withdrawal_id=withdrawal_id, note=note)

    # -- reconciling -----------------------------------------------------------------------

    def reconcile_all(self) -> bool:
        """Look one unknown outcome up (the one looked at least recently): a history request
        costs 18,000 UID weight, so reconciliation is paced like polling."""
        now = self.clock.now_ms()
        pending = self.ledger.intents_with_status(["submitting"])
        if not pending:
            return False
        record = min(pending, key=lambda r: (self._looked_at.get(r.seq, 0.0), r.seq))
        self._looked_at[record.seq] = self.clock.monotonic()
        # This thread is the only one that applies, and it is here, not in an apply
        # call: every `submitting` intent has an unknown outcome, even one whose
        # recording failed half-way (unknown_since still empty).
        withdrawal = self.ledger.withdrawal(record.seq)
        since = (withdrawal.unknown_since or withdrawal.last_attempt_at or now) if withdrawal else now
        self.reconcile(record, UnknownOutcome(
            first_attempt_at=(withdrawal.first_attempt_at if withdrawal else None) or since,
            # The grace runs from the last moment a request of this attempt could have been
            # signed: the end of the apply call, or the restart that found it in flight.
            last_attempt_at=max((withdrawal.last_attempt_at if withdrawal else None) or since, since),
            unknown_since=since, attempts=withdrawal.attempts if withdrawal else 1))
        return True

    def reconcile(self, record: IntentRecord, state: UnknownOutcome) -> None:
        now = self.clock.now_ms()
        lookup = self._look_up(record, state, now)
        action, why = reconcile_step(state, lookup, now, grace_ms=self.grace_ms,
                                     deadline_ms=self.deadline_ms)
        log.info("reconcile_step", intent_id=record.intent_id, action=action.value, why=why)
        if action is ReconcileAction.ADOPT:
            self._adopt(record.seq, lookup.found_id, lookup.found_status, "found by reconciliation",
                        tx_id=lookup.found_tx_id, info=lookup.found_info)
        elif action is ReconcileAction.RESUBMIT:
            with self.ledger.transaction():
                current = self.ledger.get_intent_by_seq(record.seq)
                if current is not None and current.status == "submitting":
                    self.ledger.update_withdrawal(record.seq, unknown_since=None)
                    self.ledger.set_status(current, "queued", now, SOURCE, why)
        elif action is ReconcileAction.NEEDS_REVIEW:
            with self.ledger.transaction():
                current = self.ledger.get_intent_by_seq(record.seq)
                if current is not None and current.status == "submitting":
                    self.ledger.set_status(current, "needs_review", now, SOURCE, why)
                    alerting.needs_review(self.ledger.conn, current, why, now)
            log.critical("withdrawal_needs_review", intent_id=record.intent_id, why=why)

    def _look_up(self, record: IntentRecord, state: UnknownOutcome, now: int) -> Lookup:
        start, end = lookup_window(state, now)
        try:
            found = self.client.withdraw_history(withdraw_order_id=record.intent_id,
                                                 start_time=start, end_time=end)
        except (ExchangeError, ValueError) as exc:
            log.warning("reconcile_lookup_failed", intent_id=record.intent_id, error=str(exc))
            return Lookup(None, None, failed=True)
        for item in found:
            if item.withdraw_order_id == record.intent_id:
                return Lookup(item.id, item.status, failed=False, found_tx_id=item.tx_id or None,
                              found_info=item.info or None)
        return Lookup(None, None, failed=False)
