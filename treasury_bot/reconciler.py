"""The executor's reconciliation of unknown outcomes: looks each up on the exchange and acts.

An intent left `submitting` (an apply that timed out, a crash between the commit and
the answer) may have reached the exchange. It is never sent again blindly: it is looked
up by `withdrawOrderId`, and the pure `reconcile_step` (reconcile.py) says whether to
adopt what was found, send it again, wait, or ask for review. This runs in the
executor's thread, the only one that applies, paced by the executor's schedule.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Protocol

from common.binance import ExchangeError
from common.clock import Clock
from common.logs import get_logger
from treasury_bot import breakers, freeze, lifecycle
from treasury_bot.alerts import raised
from treasury_bot.exchange import WithdrawalDesk
from treasury_bot.ledger import IntentRecord, Ledger
from treasury_bot.policy_model import Policy
from treasury_bot.reconcile import (Intended, Lookup, ReconcileAction, UnknownOutcome, exchange_age_ms,
                                    judge_found, reconcile_step)

log = get_logger("treasury.executor")  # the executor's thread: its log lines keep its name
SOURCE = lifecycle.EXECUTOR
# A signed apply stays executable until its timestamp is recvWindow old (Binance also takes
# timestamps up to 1 s ahead of its clock): before that, "absent from history" proves
# nothing, since the request may still land. The grace never ends sooner.
LATE_LANDING_MARGIN_MS = 2000


class Adopt(Protocol):
    """The executor's step that records an exchange id found for a `submitting` intent."""

    def __call__(self, seq: int, withdrawal_id: str, exchange_status: int | None, note: str, *,
                 tx_id: str | None = None, info: str | None = None) -> None: ...


class Reconciler:
    """Paces and carries out the look-ups of the `submitting` intents, one per call."""

    def __init__(self, ledger: Ledger, client: WithdrawalDesk, policy: Policy, clock: Clock,
                 adopt: Adopt) -> None:
        self.ledger = ledger
        self.client = client
        self.clock = clock
        self.policy = policy  # its [circuit_breakers]: a mismatch freezes (issue 13)
        self._adopt = adopt
        self._looked_at: dict[int, float] = {}
        self.grace_ms = max(policy.executor.reconcile_grace_seconds * 1000,
                            client.recv_window_ms + LATE_LANDING_MARGIN_MS)
        self.deadline_ms = policy.executor.reconcile_deadline_minutes * 60_000
        # Monotonic instant at which the last apply call of each `submitting` intent ended
        # (or this process found it in flight): the grace runs from there, on a clock a
        # step of the wall clock cannot move (issue 10, defect 1). Memory only: after a
        # restart, recover() starts every grace afresh, which only makes it longer.
        self._attempt_ended: dict[int, float] = {}

    def attempt_ended(self, seq: int, mono: float) -> None:
        """The last apply call of `seq` ended (or was found in flight) at `mono`."""
        self._attempt_ended[seq] = mono

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
                    if lookup is not None and lookup.mismatch is not None:
                        # Issue 13 item 2: the exchange holds a withdrawal under our id that
                        # is not what we asked for: stop everything until a person looks.
                        breakers.trip_if_enabled(self.ledger, self.policy, freeze.RECONCILIATION_MISMATCH,
                                                 f"intent {record.intent_id}: {lookup.mismatch}", now)
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
