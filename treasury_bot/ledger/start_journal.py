"""The Ledger's memory across starts (a part of `Ledger`, on its connection).

- policy_starts: the policy file's hash at each start; destinations_seen: quarantine.
- policy_in_force, pending_loosenings: the policy in force and the loosenings waiting
  for their quarantine (treasury_bot/loosening.py).
- coin_rules: the last exchange coin rules snapshot, for treasuryctl's approvals.
- meta: small named values (the schema version, the last poll, the clock offset, a halt).
"""

from __future__ import annotations

import json
import sqlite3
from typing import Sequence


class StartJournal:
    _conn: sqlite3.Connection

    def last_policy_hash(self) -> str | None:
        row = self._conn.execute("SELECT sha256 FROM policy_starts ORDER BY seq DESC LIMIT 1").fetchone()
        return row[0] if row else None

    def record_policy_start(self, sha256: str, path: str, at: int) -> None:
        self._conn.execute("INSERT INTO policy_starts(started_at, sha256, path) VALUES (?,?,?)",
                           (at, sha256, path))

    def destinations_seen(self) -> dict[str, tuple]:
        return {row[0]: row[1:] for row in self._conn.execute(
            "SELECT label, coin, network, address, tag, first_seen_at, changed_at FROM destinations_seen")}

    def upsert_destination_seen(self, label: str, coin: str, network: str, address: str,
                                tag: str | None, first_seen_at: int, changed_at: int) -> None:
        self._conn.execute(
            "INSERT INTO destinations_seen(label, coin, network, address, tag, first_seen_at, changed_at)"
            " VALUES (?,?,?,?,?,?,?) ON CONFLICT(label) DO UPDATE SET coin=excluded.coin,"
            " network=excluded.network, address=excluded.address, tag=excluded.tag,"
            " changed_at=excluded.changed_at",
            (label, coin, network, address, tag, first_seen_at, changed_at))

    def save_coin_rules(self, body: object, at: int) -> None:
        self._conn.execute(
            "INSERT INTO coin_rules(id, fetched_at, body) VALUES (1, ?, ?)"
            " ON CONFLICT(id) DO UPDATE SET fetched_at = excluded.fetched_at, body = excluded.body",
            (at, json.dumps(body)))

    def load_coin_rules(self) -> tuple[int, object] | None:
        row = self._conn.execute("SELECT fetched_at, body FROM coin_rules WHERE id = 1").fetchone()
        return (row[0], json.loads(row[1])) if row else None

    # -- meta ------------------------------------------------------------------------------

    def get_meta(self, key: str) -> str | None:
        row = self._conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        self._conn.execute("INSERT INTO meta(key, value) VALUES (?, ?)"
                           " ON CONFLICT(key) DO UPDATE SET value = excluded.value", (key, value))

    def delete_meta(self, key: str) -> None:
        self._conn.execute("DELETE FROM meta WHERE key = ?", (key,))

    # -- tighten at once, loosen later (treasury_bot/loosening.py) ----------------------

    def policy_in_force(self) -> str | None:
        """The canonical JSON of the policy in force at the last start, if any."""
        row = self._conn.execute("SELECT body FROM policy_in_force WHERE id = 1").fetchone()
        return row[0] if row else None

    def pending_loosenings(self) -> list[tuple[str, str, str, int, int]]:
        """(setting, old_value, new_value, first_seen_at, effective_at), by setting."""
        return self._conn.execute(
            "SELECT setting, old_value, new_value, first_seen_at, effective_at"
            " FROM pending_loosenings ORDER BY setting").fetchall()

    def record_policy_in_force(self, body: str, pending: Sequence[tuple[str, str, str, int, int]],
                               at: int) -> None:
        """Replace the recorded policy in force and every pending loosening (one call, so
        that a dropped pending change goes in the same transaction as its replacement)."""
        self._conn.execute(
            "INSERT INTO policy_in_force(id, recorded_at, body) VALUES (1, ?, ?)"
            " ON CONFLICT(id) DO UPDATE SET recorded_at = excluded.recorded_at, body = excluded.body",
            (at, body))
        self._conn.execute("DELETE FROM pending_loosenings")
        self._conn.executemany(
            "INSERT INTO pending_loosenings(setting, old_value, new_value, first_seen_at, effective_at)"
            " VALUES (?,?,?,?,?)", pending)
