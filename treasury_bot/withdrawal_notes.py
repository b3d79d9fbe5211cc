"""What the executor keeps about withdrawals beyond the `withdrawals` table (issue 10).

Two tables of the ledger's schema (treasury_bot/ledger.py; new tables, so a ledger from
before is upgraded by CREATE IF NOT EXISTS):
- `withdrawal_exchange_times`: the exchange-clock estimate (host time + the client's
  measured offset) when an intent's FIRST apply was signed, so that the "too old to look
  up" guard is measured in the exchange's clock, the clock its 7-day history default
  uses (defect 1).
- `withdrawal_stalls`: intents already alerted as `withdrawal_stalled`, so each is
  alerted once, across restarts too (defect 3).
And one meta key, `executor_halted`: why withdrawals are halted (an auth error), for
`treasuryctl status`; cleared on a fresh start and on an apply that succeeds.
"""

from __future__ import annotations

import json

from treasury_bot import lifecycle
from treasury_bot.ledger import Ledger

HALTED_META_KEY = "executor_halted"


def record_first_exchange_ms(ledger: Ledger, intent_seq: int, exchange_ms: int) -> None:
    """Keep the estimate of the first attempt only: later attempts never move it."""
    ledger.conn.execute("INSERT OR IGNORE INTO withdrawal_exchange_times(intent_seq, first_exchange_ms)"
                        " VALUES (?, ?)", (intent_seq, exchange_ms))


def first_exchange_ms(ledger: Ledger, intent_seq: int) -> int | None:
    row = ledger.conn.execute("SELECT first_exchange_ms FROM withdrawal_exchange_times WHERE intent_seq = ?",
                              (intent_seq,)).fetchone()
    return int(row[0]) if row else None


def first_queued_at(ledger: Ledger, intent_seq: int) -> int | None:
    """When the intent first became queued (accepted, or approved): a stall counts from there."""
    row = ledger.conn.execute("SELECT MIN(at) FROM transitions WHERE intent_seq = ? AND to_status = ?",
                              (intent_seq, lifecycle.QUEUED)).fetchone()
    return row[0] if row else None


def stalled_seqs(ledger: Ledger) -> set[int]:
    return {int(r[0]) for r in ledger.conn.execute("SELECT intent_seq FROM withdrawal_stalls")}


def record_stall(ledger: Ledger, intent_seq: int, at: int, reason: str) -> bool:
    """True if newly recorded (then the caller raises the one alert in the same commit)."""
    cursor = ledger.conn.execute("INSERT OR IGNORE INTO withdrawal_stalls(intent_seq, alerted_at, reason)"
                                 " VALUES (?, ?, ?)", (intent_seq, at, reason))
    return cursor.rowcount == 1


def open_stalls(ledger: Ledger) -> list[tuple[str, int, str]]:
    """(intent_id, alerted_at, reason) of stalled intents still queued, oldest first."""
    rows = ledger.conn.execute(
        "SELECT i.intent_id, s.alerted_at, s.reason FROM withdrawal_stalls s"
        " JOIN intents i ON i.seq = s.intent_seq WHERE i.status = ?"
        " ORDER BY s.alerted_at, i.seq", (lifecycle.QUEUED,)).fetchall()
    return [(str(a), int(b), str(c)) for a, b, c in rows]


def set_halted(ledger: Ledger, reason: str, at: int) -> None:
    ledger.set_meta(HALTED_META_KEY, json.dumps({"reason": reason, "at": at}))


def clear_halted(ledger: Ledger) -> None:
    ledger.conn.execute("DELETE FROM meta WHERE key = ?", (HALTED_META_KEY,))


def halted(ledger: Ledger) -> tuple[str, int] | None:
    """(reason, at) when withdrawals are halted, else None."""
    text = ledger.get_meta(HALTED_META_KEY)
    if text is None:
        return None
    try:
        value = json.loads(text)
        return str(value["reason"]), int(value["at"])
    except (ValueError, KeyError, TypeError):
        return text, 0
