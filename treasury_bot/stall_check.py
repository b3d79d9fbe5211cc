"""The executor's stall check: one `withdrawal_stalled` alert per queued intent not sent in time.

The shell around stall.py (pure): it reads the queued intents through the open-status
index, skips the ones already alerted before any per-intent query, and records each
alert in `withdrawal_stalls` in the same commit as the alert (issue 10, defect 3). The
executor runs it even while withdrawals are halted or paused.
"""

from __future__ import annotations

from common.logs import get_logger
from treasury_bot import lifecycle
from treasury_bot.alerts import raised
from treasury_bot.ledger import Ledger
from treasury_bot.stall import Waiting, find_stalls

log = get_logger("treasury.executor")  # the executor's thread: its log lines keep its name


def check_stalled(ledger: Ledger, now: int, stuck_after_ms: int, halted: str | None) -> None:
    """One `withdrawal_stalled` alert for each queued intent not sent for
    stuck_after_minutes, recorded in `withdrawal_stalls` in the same commit; `halted`:
    the executor's halt reason, if withdrawals are halted."""
    waits = ledger.queued_waits()
    if not waits:
        return
    already = {w.seq for w in waits if w.stall_alerted}
    candidates = [Waiting(seq=w.seq, queued_since=w.queued_since, error_code=w.error_code,
                          error_message=w.error_message) for w in waits if not w.stall_alerted]
    by_seq = {c.seq: c for c in candidates}
    for stall in find_stalls(candidates, now, stuck_after_ms, halted, already):
        with ledger.transaction():
            current = ledger.get_intent_by_seq(stall.seq)
            if current is None or current.status != lifecycle.QUEUED:
                continue
            if ledger.record_stall(stall.seq, now, stall.reason):
                ledger.enqueue(raised.withdrawal_stalled(current, now, queued_since=by_seq[stall.seq].queued_since,
                                                         stuck_after_minutes=stuck_after_ms // 60_000,
                                                         reason=stall.reason))
        log.warning("withdrawal_stalled", intent_id=current.intent_id, waited_ms=stall.waited_ms,
                    why=stall.reason)
