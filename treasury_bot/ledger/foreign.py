"""The Ledger's foreign-withdrawal queries (a part of `Ledger`, on its connection; issue 13 item 5).

- foreign_withdrawals: one row per withdrawal the watch found on the exchange that the
  ledger did not make (treasury_bot/foreign_watch.py), inserted with its CRITICAL alert, so
  each is alerted once across restarts. Its `withdraw_order_id` is used for ever: a new
  intent with that id is refused (treasury_bot/batch_plan.py), and an intent the ledger
  holds with that id (`intent_seq`, a restored ledger) is never applied: the executor
  adopts the withdrawal found instead.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Iterable

_COLUMNS = ("withdrawal_id, withdraw_order_id, coin, network, address, address_tag, amount,"
            " exchange_status, apply_time, intent_seq, found_at, detail")


@dataclass(frozen=True)
class ForeignRow:
    withdrawal_id: str
    withdraw_order_id: str | None
    coin: str
    network: str | None
    address: str | None
    address_tag: str | None
    amount: str
    exchange_status: int | None
    apply_time: str | None
    intent_seq: int | None
    found_at: int
    detail: str


def _chunks(values: Iterable[str], size: int = 500) -> Iterable[list[str]]:
    items = list(dict.fromkeys(values))
    for start in range(0, len(items), size):
        yield items[start:start + size]


class ForeignWithdrawals:
    _conn: sqlite3.Connection

    def _present(self, sql: str, values: Iterable[str]) -> set[str]:
        found: set[str] = set()
        for chunk in _chunks(values):
            marks = ",".join("?" * len(chunk))
            found.update(row[0] for row in self._conn.execute(sql.format(marks=marks), chunk))
        return found

    def known_withdrawal_ids(self, withdrawal_ids: Iterable[str]) -> set[str]:
        """Of these exchange ids, the ones the ledger's own withdrawals hold."""
        return self._present("SELECT withdrawal_id FROM withdrawals WHERE withdrawal_id IN ({marks})",
                             withdrawal_ids)

    def foreign_withdrawal_ids(self, withdrawal_ids: Iterable[str]) -> set[str]:
        """Of these exchange ids, the ones already recorded (and alerted) as foreign."""
        return self._present("SELECT withdrawal_id FROM foreign_withdrawals WHERE withdrawal_id IN ({marks})",
                             withdrawal_ids)

    def used_order_ids(self, intent_ids: Iterable[str]) -> set[str]:
        """Of these intent ids, the ones a foreign withdrawal used while the ledger holds no
        intent with it: such an id is never decided (a replay after a restore is refused)."""
        return self._present("SELECT withdraw_order_id FROM foreign_withdrawals"
                             " WHERE intent_seq IS NULL AND withdraw_order_id IN ({marks})", intent_ids)

    def insert_foreign_withdrawal(self, row: ForeignRow) -> bool:
        """Record one; False when it was already recorded (nothing changes)."""
        cursor = self._conn.execute(
            f"INSERT OR IGNORE INTO foreign_withdrawals({_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            (row.withdrawal_id, row.withdraw_order_id, row.coin, row.network, row.address, row.address_tag,
             row.amount, row.exchange_status, row.apply_time, row.intent_seq, row.found_at, row.detail))
        return cursor.rowcount == 1

    def foreign_for_intent(self, intent_seq: int) -> ForeignRow | None:
        """The withdrawal found on the exchange with this intent's id that the ledger never
        recorded (the newest if several), or None."""
        row = self._conn.execute(f"SELECT {_COLUMNS} FROM foreign_withdrawals WHERE intent_seq = ?"
                                 " ORDER BY found_at DESC LIMIT 1", (intent_seq,)).fetchone()
        return ForeignRow(*row) if row else None

    def foreign_withdrawals(self, limit: int = 20) -> list[ForeignRow]:
        rows = self._conn.execute(f"SELECT {_COLUMNS} FROM foreign_withdrawals ORDER BY found_at DESC,"
                                  " withdrawal_id LIMIT ?", (limit,)).fetchall()
        return [ForeignRow(*row) for row in rows]

    def ledger_born_at(self) -> int | None:
        """When this ledger first started a treasury (or first decided), the watch's look-back."""
        row = self._conn.execute(
            "SELECT MIN(t) FROM (SELECT MIN(started_at) AS t FROM policy_starts"
            " UNION ALL SELECT MIN(received_at) FROM intents)").fetchone()
        return row[0] if row and row[0] is not None else None
