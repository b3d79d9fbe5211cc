"""What the executor keeps about withdrawals beyond the `withdrawals` table (issue 10).

New tables only (the schema is CREATE IF NOT EXISTS; existing tables are never altered):
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
import sqlite3

SCHEMA = """
CREATE TABLE IF NOT EXISTS withdrawal_exchange_times (
    intent_seq          INTEGER PRIMARY KEY REFERENCES intents(seq),
    first_exchange_ms   INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS withdrawal_stalls (
    intent_seq   INTEGER PRIMARY KEY REFERENCES intents(seq),
    alerted_at   INTEGER NOT NULL,
    reason       TEXT NOT NULL
);
"""
HALTED_META_KEY = "executor_halted"


def ensure_schema(conn: sqlite3.Connection) -> None:
    for statement in (s.strip() for s in SCHEMA.split(";")):
        if statement:
            conn.execute(statement)


def record_first_exchange_ms(conn: sqlite3.Connection, intent_seq: int, exchange_ms: int) -> None:
    """Keep the estimate of the first attempt only: later attempts never move it."""
    conn.execute("INSERT OR IGNORE INTO withdrawal_exchange_times(intent_seq, first_exchange_ms)"
                 " VALUES (?, ?)", (intent_seq, exchange_ms))


def first_exchange_ms(conn: sqlite3.Connection, intent_seq: int) -> int | None:
    row = conn.execute("SELECT first_exchange_ms FROM withdrawal_exchange_times WHERE intent_seq = ?",
                       (intent_seq,)).fetchone()
    return int(row[0]) if row else None


def stalled_seqs(conn: sqlite3.Connection) -> set[int]:
    return {int(r[0]) for r in conn.execute("SELECT intent_seq FROM withdrawal_stalls")}


def record_stall(conn: sqlite3.Connection, intent_seq: int, at: int, reason: str) -> bool:
    """True if newly recorded (then the caller raises the one alert in the same commit)."""
    cursor = conn.execute("INSERT OR IGNORE INTO withdrawal_stalls(intent_seq, alerted_at, reason)"
                          " VALUES (?, ?, ?)", (intent_seq, at, reason))
    return cursor.rowcount == 1


def open_stalls(conn: sqlite3.Connection) -> list[tuple[str, int, str]]:
    """(intent_id, alerted_at, reason) of stalled intents still queued, oldest first."""
    try:
        rows = conn.execute(
            "SELECT i.intent_id, s.alerted_at, s.reason FROM withdrawal_stalls s"
            " JOIN intents i ON i.seq = s.intent_seq WHERE i.status = 'queued'"
            " ORDER BY s.alerted_at, i.seq").fetchall()
    except sqlite3.OperationalError:  # a ledger the executor never opened: no such table
        return []
    return [(str(a), int(b), str(c)) for a, b, c in rows]


def set_halted(conn: sqlite3.Connection, reason: str, at: int) -> None:
    conn.execute("INSERT INTO meta(key, value) VALUES (?, ?)"
                 " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                 (HALTED_META_KEY, json.dumps({"reason": reason, "at": at})))


def clear_halted(conn: sqlite3.Connection) -> None:
    conn.execute("DELETE FROM meta WHERE key = ?", (HALTED_META_KEY,))


def halted(conn: sqlite3.Connection) -> tuple[str, int] | None:
    """(reason, at) when withdrawals are halted, else None."""
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (HALTED_META_KEY,)).fetchone()
    if row is None:
        return None
    try:
        value = json.loads(row[0])
        return str(value["reason"]), int(value["at"])
    except (ValueError, KeyError, TypeError):
        return str(row[0]), 0
