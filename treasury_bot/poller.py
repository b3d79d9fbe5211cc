"""The poller: follows open withdrawals to their end with one history request per interval.

One request per `poll_interval_seconds` (never under 6 s: the history endpoint costs
18,000 of the 180,000 UID weight a minute) covers up to 45 open withdrawals through
`idList`; with more open, the least recently polled go first. Each status change is
journaled, published (by the server, from the transitions table) and, where it
matters, mailed. A withdrawal open longer than `stuck_after_minutes` is alerted once.
Rate limits (429/418/-1003/-4005) pause polling for `Retry-After`; other errors back off
exponentially up to ten intervals.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Iterable, Sequence

from common.binance import ExchangeError, RateLimitError, WithdrawRecord
from common.clock import Clock
from common.logs import get_logger
from treasury_bot import lifecycle
from treasury_bot.alerts import raised
from treasury_bot.exchange import WithdrawalHistory
from treasury_bot.ledger import IntentRecord, Ledger, WithdrawalRecord
from treasury_bot.withdrawal_end import finish_withdrawal

log = get_logger("treasury.poller")
SOURCE = lifecycle.POLLER
MAX_IDS = 45


@dataclass(frozen=True)
class StatusChange:
    seq: int
    to_status: str
    exchange_status: int
    tx_id: str | None
    info: str | None


def pick_batch(open_items: Sequence[tuple[IntentRecord, WithdrawalRecord]],
               limit: int = MAX_IDS) -> list[tuple[IntentRecord, WithdrawalRecord]]:
    """The least recently polled open withdrawals (never polled first), at most `limit`."""
    ordered = sorted(open_items, key=lambda item: (item[1].last_polled_at or 0, item[0].seq))
    return [item for item in ordered if item[1].withdrawal_id][:limit]


def changes(polled: Iterable[tuple[IntentRecord, WithdrawalRecord]],
            found: Iterable[WithdrawRecord]) -> list[StatusChange]:
    """The status changes the exchange reports for the polled withdrawals."""
    by_id = {record.id: record for record in found}
    result = []
    for intent, withdrawal in polled:
        record = by_id.get(withdrawal.withdrawal_id or "")
        if record is None:
            continue
        status = lifecycle.EXCHANGE_STATUS.get(record.status)
        if status is None:
            continue
        if status != intent.status or (record.tx_id or None) != (withdrawal.tx_id or None):
            result.append(StatusChange(intent.seq, status, record.status, record.tx_id or None,
                                       record.info or None))
    return result


def stuck(open_items: Iterable[tuple[IntentRecord, WithdrawalRecord]], now_ms: int,
          stuck_after_ms: int) -> list[IntentRecord]:
    """Open withdrawals submitted longer ago than the limit and not yet alerted."""
    return [intent for intent, withdrawal in open_items
            if not withdrawal.stuck_alerted and withdrawal.submitted_at is not None
            and now_ms - withdrawal.submitted_at > stuck_after_ms]


class Poller:
    def __init__(self, ledger: Ledger, client: WithdrawalHistory, clock: Clock, *,
                 interval_s: float, stuck_after_minutes: int) -> None:
        self.ledger = ledger
        self.client = client
        self.clock = clock
        self.interval_s = interval_s
        self.stuck_after_ms = stuck_after_minutes * 60_000
        self.failures = 0

    def run(self, stop: threading.Event) -> None:
        from treasury_bot.supervised import Supervised, ledger_recorder  # issue 10 defect 8
        guard = Supervised("poller", ledger_recorder(lambda: self.ledger, self.clock))
        while not stop.is_set():
            try:
                delay = self.poll_once()
            except Exception as exc:
                log.critical("poll_failed", exc_info=True)
                delay = max(self.interval_s, guard.failed(exc))
            else:
                guard.succeeded()
            stop.wait(delay)

    def poll_once(self) -> float:
        """One round; returns how long to wait before the next."""
        open_items = self.ledger.open_withdrawals()
        now = self.clock.now_ms()
        self._alert_stuck(open_items, now)
        batch = pick_batch(open_items)
        if not batch:
            return self.interval_s
        try:
            found = self.client.withdraw_history(id_list=[w.withdrawal_id for _, w in batch])
        except RateLimitError as exc:
            log.warning("poll_rate_limited", retry_after=exc.retry_after)
            return max(self.interval_s, exc.retry_after)
        except ExchangeError as exc:
            self.failures += 1
            log.warning("poll_exchange_error", error=str(exc), failures=self.failures)
            return min(self.interval_s * (2 ** min(self.failures, 4)), self.interval_s * 10)
        self.failures = 0
        self._apply(batch, changes(batch, found), self.clock.now_ms())
        return self.interval_s

    def _apply(self, batch, status_changes: list[StatusChange], now: int) -> None:
        withdrawal_ids = {w.intent_seq: w.withdrawal_id for _, w in batch}
        with self.ledger.transaction():
            self.ledger.set_meta("last_poll_at", str(now))
            for _, withdrawal in batch:
                self.ledger.update_withdrawal(withdrawal.intent_seq, last_polled_at=now)
            for change in status_changes:
                record = self.ledger.get_intent_by_seq(change.seq)
                # Only what the exchange still has open follows its answer (lifecycle rule
                # 5): an ended intent never moves again, and needs_review is the operator's.
                if record is None or record.status not in lifecycle.EXCHANGE_OPEN:
                    continue
                self.ledger.update_withdrawal(change.seq, exchange_status=change.exchange_status,
                                              tx_id=change.tx_id)
                note = f"exchange status {change.exchange_status}"
                if change.to_status in lifecycle.WITHDRAWAL_ENDS:  # the same end step as the executor's
                    finish_withdrawal(self.ledger, record, change.to_status, now, SOURCE, note,
                                      withdrawal_id=withdrawal_ids.get(change.seq),
                                      tx_id=change.tx_id, info=change.info)
                elif change.to_status != record.status:
                    self.ledger.set_status(record, change.to_status, now, SOURCE, note)
                log.info("withdrawal_status", intent_id=record.intent_id, status=change.to_status,
                         tx_id=change.tx_id)

    def _alert_stuck(self, open_items, now: int) -> None:
        late = stuck(open_items, now, self.stuck_after_ms)
        submitted = {w.intent_seq: w.submitted_at for _, w in open_items}
        if not late:
            return
        with self.ledger.transaction():
            for record in late:
                self.ledger.update_withdrawal(record.seq, stuck_alerted=1)
                self.ledger.enqueue(raised.withdrawal_stuck(record, now, submitted_at=submitted.get(record.seq),
                                          stuck_after_minutes=self.stuck_after_ms // 60_000))
                log.warning("withdrawal_stuck", intent_id=record.intent_id, status=record.status)
