"""The Ledger's custody-control queries (a part of `Ledger`, on its connection).

- freezes: one row per freeze, by an operator (`treasuryctl freeze`) or a circuit breaker;
  the open one (unfrozen_at NULL; at most one, by a unique partial index) stops every
  apply (treasury_bot/freeze.py, docs/design.md section 9). Each freeze and each lifting
  is sealed in the journal's hash chain (chain.py: `freezes`, `unfreezes`).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from treasury_bot.ledger.chain import Sealer

_FREEZE_COLUMNS = "seq, frozen_at, frozen_by, breaker, reason, unfrozen_at, unfrozen_by, unfreeze_note"


@dataclass(frozen=True)
class FreezeRow:
    seq: int
    frozen_at: int
    frozen_by: str
    breaker: str | None
    reason: str
    unfrozen_at: int | None
    unfrozen_by: str | None
    unfreeze_note: str | None


class Controls:
    _conn: sqlite3.Connection
    _sealer: Sealer

    def open_freeze(self) -> FreezeRow | None:
        row = self._conn.execute(
            f"SELECT {_FREEZE_COLUMNS} FROM freezes WHERE unfrozen_at IS NULL").fetchone()
        return FreezeRow(*row) if row else None

    def insert_freeze(self, at: int, by: str, breaker: str | None, reason: str) -> int:
        cursor = self._conn.execute(
            "INSERT INTO freezes(frozen_at, frozen_by, breaker, reason) VALUES (?, ?, ?, ?)",
            (at, by, breaker, reason))
        seq = int(cursor.lastrowid)
        self._sealer.inserted("freezes", seq)
        return seq

    def close_freeze(self, seq: int, at: int, by: str, note: str) -> None:
        changed = self._conn.execute("UPDATE freezes SET unfrozen_at = ?, unfrozen_by = ?, unfreeze_note = ?"
                                     " WHERE seq = ? AND unfrozen_at IS NULL", (at, by, note, seq)).rowcount
        if changed:
            self._sealer.changed("unfreezes", seq)  # the lifting is an action of its own

    def freeze_history(self, limit: int = 20) -> list[FreezeRow]:
        rows = self._conn.execute(
            f"SELECT {_FREEZE_COLUMNS} FROM freezes ORDER BY seq DESC LIMIT ?", (limit,)).fetchall()
        return [FreezeRow(*row) for row in rows]
