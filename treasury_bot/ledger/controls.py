"""The Ledger's custody-control queries (a part of `Ledger`, on its connection).

- freezes: one row per freeze, by an operator (`treasuryctl freeze`) or a circuit breaker;
  the open one (unfrozen_at NULL; at most one, by a unique partial index) stops every
  apply (treasury_bot/freeze.py, docs/design.md section 9). Each freeze and each lifting
  is sealed in the journal's hash chain (chain.py: `freezes`, `unfreezes`).
- rejected intents by client, for the client_rejections breaker (treasury_bot/breakers.py).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from treasury_bot.ledger.chain import Sealer
from treasury_bot.ledger.schema import REJECTED_ONLY

_FREEZE_COLUMNS = ("seq, frozen_at, frozen_by, breaker, reason, unfrozen_at, unfrozen_by, unfreeze_note,"
                   " frozen_after_transition, unfrozen_after_transition")


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
    frozen_after_transition: int
    unfrozen_after_transition: int | None


class Controls:
    _conn: sqlite3.Connection
    _sealer: Sealer

    def open_freeze(self) -> FreezeRow | None:
        row = self._conn.execute(
            f"SELECT {_FREEZE_COLUMNS} FROM freezes WHERE unfrozen_at IS NULL").fetchone()
        return FreezeRow(*row) if row else None

    def insert_freeze(self, at: int, by: str, breaker: str | None, reason: str) -> int:
        cursor = self._conn.execute(
            "INSERT INTO freezes(frozen_at, frozen_by, breaker, reason, frozen_after_transition)"
            " VALUES (?, ?, ?, ?, (SELECT COALESCE(MAX(seq), 0) FROM transitions))", (at, by, breaker, reason))
        seq = int(cursor.lastrowid)
        self._sealer.inserted("freezes", seq)
        return seq

    def close_freeze(self, seq: int, at: int, by: str, note: str) -> None:
        changed = self._conn.execute(
            "UPDATE freezes SET unfrozen_at = ?, unfrozen_by = ?, unfreeze_note = ?,"
            " unfrozen_after_transition = (SELECT COALESCE(MAX(seq), 0) FROM transitions)"
            " WHERE seq = ? AND unfrozen_at IS NULL", (at, by, note, seq)).rowcount
        if changed:
            self._sealer.changed("unfreezes", seq)  # the lifting is an action of its own

    def last_unfrozen_at(self) -> int | None:
        row = self._conn.execute("SELECT MAX(unfrozen_at) FROM freezes").fetchone()
        return row[0] if row else None

    def count_client_rejections(self, client: str, since_ms: int, excluded_codes: tuple[str, ...]) -> int:
        """Intents of `client` received since `since_ms` and rejected, but for the codes given
        (the `intents_rejected` partial index: its WHERE clause is repeated word for word)."""
        marks = ", ".join("?" * len(excluded_codes)) or "''"
        row = self._conn.execute(
            f"SELECT COUNT(*) FROM intents WHERE {REJECTED_ONLY} AND client = ? AND received_at >= ?"
            f" AND COALESCE(reason_code, '') NOT IN ({marks})", (client, since_ms, *excluded_codes)).fetchone()
        return int(row[0])

    def freeze_history(self, limit: int = 20) -> list[FreezeRow]:
        rows = self._conn.execute(
            f"SELECT {_FREEZE_COLUMNS} FROM freezes ORDER BY seq DESC LIMIT ?", (limit,)).fetchall()
        return [FreezeRow(*row) for row in rows]
