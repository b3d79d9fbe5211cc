"""The Ledger's signed operator actions (a part of `Ledger`, on its connection; issue 13 item 3).

- operator_actions: one row per counted signed action (approve, reject, unfreeze vote),
  the signature kept as received, `via` local (treasuryctl on the host) or remote (the
  operator wire). The nonce is unique for ever: a replayed signature is refused.
- loosenings_released: pending loosenings the quorum released before their quarantine
  ran out (by setting and first sighting); loosening.resolve honours them.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Callable

from treasury_bot.quorum import SignedAction, Vote


@dataclass(frozen=True)
class ActionRow:
    seq: int
    action: str
    subject: str
    operator: str
    signed_at: int
    received_at: int
    via: str
    result: str


class Approvals:
    _conn: sqlite3.Connection
    chain_row: Callable[[str, int], None]  # the Ledger's (ledger/chain.py)

    def nonce_used(self, nonce: str) -> bool:
        return self._conn.execute("SELECT 1 FROM operator_actions WHERE nonce = ?", (nonce,)).fetchone() is not None

    def operator_votes(self, subject: str) -> list[Vote]:
        """The counted actions on one subject, oldest first."""
        return [Vote(*row) for row in self._conn.execute(
            "SELECT action, operator, nonce FROM operator_actions WHERE subject = ? ORDER BY seq", (subject,))]

    def insert_operator_action(self, action: SignedAction, received_at: int, via: str, result: str) -> int:
        cursor = self._conn.execute(
            "INSERT INTO operator_actions(action, subject, operator, signed_at, nonce, signature, received_at,"
            " via, result) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (action.action, action.subject, action.operator, action.signed_at, action.nonce, action.signature,
             received_at, via, result))
        seq = int(cursor.lastrowid)
        self.chain_row("operator_actions", seq)  # sealed in the journal's hash chain (item 4)
        return seq

    def release_loosening(self, setting: str, first_seen_at: int, at: int, by: str) -> None:
        cursor = self._conn.execute("INSERT OR IGNORE INTO loosenings_released(setting, first_seen_at,"
                                    " released_at, released_by) VALUES (?, ?, ?, ?)", (setting, first_seen_at, at, by))
        if cursor.rowcount:
            self.chain_row("loosenings_released", int(cursor.lastrowid))

    def released_loosenings(self) -> frozenset[tuple[str, int]]:
        return frozenset((str(s), int(f)) for s, f in self._conn.execute(
            "SELECT setting, first_seen_at FROM loosenings_released"))

    def operator_actions_of(self, subject: str) -> list[ActionRow]:
        return [ActionRow(*row) for row in self._conn.execute(
            "SELECT seq, action, subject, operator, signed_at, received_at, via, result FROM operator_actions"
            " WHERE subject = ? ORDER BY seq", (subject,))]
