"""The Ledger's withdrawal queries (a part of `Ledger`, on its connection).

- withdrawals: one row per accepted intent once the executor touches it: attempts,
  exchange id, tx id, errors, reconciliation and stuck-alert marks.
- withdrawal_exchange_times: the exchange-clock estimate (host time + the client's
  measured offset) when an intent's FIRST apply was signed, so that the "too old to look
  up" guard is measured in the exchange's clock, the one its 7-day history default uses
  (issue 10 defect 1).
- withdrawal_stalls: intents already alerted as `withdrawal_stalled`, so each is alerted
  once, across restarts too (issue 10 defect 3).
"""

from __future__ import annotations

import sqlite3

from treasury_bot import lifecycle
from treasury_bot.ledger import records
from treasury_bot.ledger.records import (INTENT_COLUMNS, INTENT_WIDTH, WITHDRAWAL_COLUMNS, WITHDRAWAL_FIELDS,
                                         IntentRecord, LedgerError, OpenStall, QueuedWait, WithdrawalRecord)
from treasury_bot.ledger.schema import OPEN_ONLY


class Withdrawals:
    _conn: sqlite3.Connection

    def withdrawal(self, intent_seq: int) -> WithdrawalRecord | None:
        row = self._conn.execute(
            f"SELECT {WITHDRAWAL_COLUMNS} FROM withdrawals w WHERE w.intent_seq = ?", (intent_seq,)).fetchone()
        return records.withdrawal(row) if row else None

    def update_withdrawal(self, intent_seq: int, **fields) -> None:
        """Create the intent's withdrawal row if needed and set the given columns."""
        unknown = set(fields) - WITHDRAWAL_FIELDS
        if unknown:
            raise LedgerError(f"unknown withdrawal columns {sorted(unknown)}")
        self._conn.execute("INSERT OR IGNORE INTO withdrawals(intent_seq) VALUES (?)", (intent_seq,))
        if fields:
            assignments = ", ".join(f"{name} = ?" for name in fields)
            self._conn.execute(f"UPDATE withdrawals SET {assignments} WHERE intent_seq = ?",
                               (*fields.values(), intent_seq))

    def open_withdrawals(self) -> list[tuple[IntentRecord, WithdrawalRecord]]:
        """Withdrawals the exchange knows and that have not reached a final status (one query)."""
        marks = ",".join("?" * len(lifecycle.EXCHANGE_OPEN))
        rows = self._conn.execute(
            f"SELECT {INTENT_COLUMNS}, {WITHDRAWAL_COLUMNS} FROM intents i"
            f" JOIN withdrawals w ON w.intent_seq = i.seq WHERE i.status IN ({marks})"
            f" AND {OPEN_ONLY} ORDER BY i.seq", lifecycle.EXCHANGE_OPEN).fetchall()
        return [(records.intent(row[:INTENT_WIDTH]), records.withdrawal(row[INTENT_WIDTH:])) for row in rows]

    def latest_apply_attempt_at(self) -> int | None:
        """When the executor last tried an apply (any intent, any process); None if never."""
        return self._conn.execute("SELECT MAX(last_attempt_at) FROM withdrawals").fetchone()[0]

    # -- the executor's notes (issue 10) ------------------------------------------------

    def record_first_exchange_ms(self, intent_seq: int, exchange_ms: int) -> None:
        """Keep the estimate of the first attempt only: later attempts never move it."""
        self._conn.execute("INSERT OR IGNORE INTO withdrawal_exchange_times(intent_seq, first_exchange_ms)"
                           " VALUES (?, ?)", (intent_seq, exchange_ms))

    def first_exchange_ms(self, intent_seq: int) -> int | None:
        row = self._conn.execute("SELECT first_exchange_ms FROM withdrawal_exchange_times WHERE intent_seq = ?",
                                 (intent_seq,)).fetchone()
        return int(row[0]) if row else None

    def queued_waits(self, limit: int = 1000) -> list[QueuedWait]:
        """Every queued intent (oldest first, at most `limit`) with when it FIRST became
        queued (accepted, or approved: a stall counts from there), its last apply error and
        whether its stall was already alerted: what the stall check needs, in one query."""
        rows = self._conn.execute(
            "SELECT i.seq, i.intent_id,"
            " COALESCE((SELECT MIN(t.at) FROM transitions t WHERE t.intent_seq = i.seq AND t.to_status = ?),"
            " i.updated_at), w.error_code, w.error_message, s.intent_seq IS NOT NULL"
            " FROM intents i LEFT JOIN withdrawals w ON w.intent_seq = i.seq"
            " LEFT JOIN withdrawal_stalls s ON s.intent_seq = i.seq"
            f" WHERE i.status = ? AND {OPEN_ONLY} ORDER BY i.seq LIMIT ?",
            (lifecycle.QUEUED, lifecycle.QUEUED, limit)).fetchall()
        return [records.queued_wait(row) for row in rows]

    def record_stall(self, intent_seq: int, at: int, reason: str) -> bool:
        """True if newly recorded (then the caller raises the one alert in the same commit)."""
        cursor = self._conn.execute("INSERT OR IGNORE INTO withdrawal_stalls(intent_seq, alerted_at, reason)"
                                    " VALUES (?, ?, ?)", (intent_seq, at, reason))
        return cursor.rowcount == 1

    def open_stalls(self) -> list[OpenStall]:
        """Stalled intents still queued, oldest alert first."""
        rows = self._conn.execute(
            "SELECT i.intent_id, s.alerted_at, s.reason FROM withdrawal_stalls s"
            " JOIN intents i ON i.seq = s.intent_seq WHERE i.status = ?"
            " ORDER BY s.alerted_at, i.seq", (lifecycle.QUEUED,)).fetchall()
        return [OpenStall(str(a), int(b), str(c)) for a, b, c in rows]
