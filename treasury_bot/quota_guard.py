"""The executor's quota look before an apply (issue 12 item 4): thin I/O over the pure
treasury_bot/withdraw_quota.py.

Before each apply the executor reads the account's 24-hour withdrawal quota (one
`GET /sapi/v1/capital/withdraw/quota`, IP weight 10:
https://developers.binance.com/docs/wallet/capital/fetch-withdraw-quota). A stablecoin
intent whose amount is above what is left is not sent: it stays `queued` and is retried
later (`RETRY_S`); the quota refills as the 24 hours roll. Each reading is saved in the
ledger (meta `withdraw_quota`) for `treasuryctl status`, and so is one taken after each
coin-rules refresh (`observe`: use grows with the account's other withdrawals too, so the
80 % alert does not wait for our next apply); the 80 % alert goes once per
crossing and the hold alert once per intent, both in the transaction that saves the
reading. A reading that fails (any ExchangeError) blocks nothing: the exchange decides.
"""

from __future__ import annotations

from decimal import Decimal

from common.binance import ExchangeError
from common.logs import get_logger
from treasury_bot import lifecycle
from treasury_bot.alerts import raised
from treasury_bot.exchange import WithdrawQuotaSource
from treasury_bot.ledger import IntentRecord, Ledger
from treasury_bot.withdraw_quota import (META_KEY, QuotaError, QuotaNote, QuotaReading, after_hold,
                                         after_reading, after_release, hold_for, note_from_json,
                                         note_to_json)

log = get_logger("treasury.executor")
RETRY_S = 60.0   # a held intent is tried again this much later (one reading, weight 10, a minute)


def saved_note(ledger: Ledger) -> QuotaNote:
    """The last reading and alert state the treasury saved (a fresh note when none)."""
    return note_from_json(ledger.get_meta(META_KEY))


class QuotaGuard:
    def __init__(self, source: WithdrawQuotaSource) -> None:
        self.source = source

    def _read(self, now: int, **log_fields) -> QuotaReading | None:
        try:
            reply = self.source.withdraw_quota()
            return QuotaReading(total=Decimal(reply.wd_quota), used=Decimal(reply.used_wd_quota),
                                read_at_ms=now)
        except (ExchangeError, QuotaError) as exc:
            log.warning("withdraw_quota_unread", error=str(exc), **log_fields)
            return None

    def _crossing(self, ledger: Ledger, reading: QuotaReading, now: int) -> tuple[QuotaNote, bool]:
        """Inside a transaction: the note after this reading, the 80 % alert enqueued if due."""
        note, crossed = after_reading(saved_note(ledger), reading)
        if crossed:
            ledger.enqueue(raised.withdraw_quota_80(reading.used, reading.total, now))
            log.warning("withdraw_quota_80", used=str(reading.used), total=str(reading.total))
        return note, crossed

    def observe(self, ledger: Ledger, now: int) -> None:
        """A reading with no intent at stake (after each coin-rules refresh): saved for
        `treasuryctl status`, and the 80 % alert if it is crossed (use may grow without
        the treasury: other withdrawals on the same account count too)."""
        reading = self._read(now)
        if reading is None:
            return
        with ledger.transaction():
            note, _ = self._crossing(ledger, reading, now)
            ledger.set_meta(META_KEY, note_to_json(note))

    def holds(self, ledger: Ledger, record: IntentRecord, now: int) -> bool:
        """Read the quota; True when this queued intent must wait for it."""
        reading = self._read(now, intent_id=record.intent_id)
        if reading is None:
            return False  # no reading: the exchange decides, as before this check existed
        hold = hold_for(reading, record.coin, Decimal(record.amount))
        with ledger.transaction():
            note, _ = self._crossing(ledger, reading, now)
            current = ledger.get_intent_by_seq(record.seq)
            if hold is not None and current is not None and current.status == lifecycle.QUEUED:
                note, first = after_hold(note, record.intent_id)
                if first:
                    ledger.enqueue(raised.withdraw_quota_held(current, hold.value_usdt, hold.remaining,
                                                              hold.total, now))
            elif hold is None:
                note = after_release(note, record.intent_id)
            ledger.set_meta(META_KEY, note_to_json(note))
        if hold is not None:
            log.warning("withdrawal_held_for_quota", intent_id=record.intent_id, detail=hold.detail())
        return hold is not None
