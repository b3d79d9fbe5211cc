"""The signal bot's state file (SQLite, WAL): seen signal ids and sweep intents.

A signal id is claimed as `placing` and committed durably (synchronous=FULL) BEFORE its
order is sent, so a restart never trades it twice; a `placing` row left by a crash is
reconciled with GET /api/v3/order at the next start. A sweep intent is recorded with its
exact content BEFORE it is sent, so every resend is the same intent. Outcome updates
are committed with synchronous=NORMAL: losing one to a power cut leaves a `placing` or
`unsent` row, which is reconciled or resent, never redone blindly.

One StateStore per thread (sqlite3 connections are not shared).
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from common.messages import TERMINAL_STATUSES

SCHEMA = """
CREATE TABLE IF NOT EXISTS signals (
    mode        TEXT NOT NULL CHECK (mode IN ('live', 'test')),   -- test: --dry-run
    id          TEXT NOT NULL,          -- the signal id = newClientOrderId
    symbol      TEXT NOT NULL,
    side        TEXT NOT NULL,
    type        TEXT NOT NULL,
    quantity    TEXT,                   -- as sent, canonical decimal
    quote_order_qty TEXT,
    price       TEXT,
    time_in_force TEXT,
    state       TEXT NOT NULL CHECK (state IN ('placing', 'placed', 'rejected', 'failed', 'refused')),
    reason_code TEXT,                   -- refusal / exchange error code
    order_id    TEXT,
    order_status TEXT,
    executed_qty TEXT,
    cummulative_quote_qty TEXT,
    received_at INTEGER NOT NULL,       -- ms
    updated_at  INTEGER NOT NULL,       -- ms
    PRIMARY KEY (mode, id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS signals_placing ON signals (state) WHERE state = 'placing';
CREATE TABLE IF NOT EXISTS sweeps (
    intent_id   TEXT PRIMARY KEY,       -- "sw-" + 32 hex of sha256(signal id)
    signal_id   TEXT NOT NULL,
    coin        TEXT NOT NULL,
    network     TEXT NOT NULL,
    destination TEXT NOT NULL,
    amount      TEXT NOT NULL,          -- exactly as sent
    reason      TEXT NOT NULL,
    created_at  INTEGER NOT NULL,       -- ms, exactly as sent
    state       TEXT NOT NULL CHECK (state IN ('unsent', 'decided', 'stale', 'invalid')),
    outcome     TEXT,                   -- accepted | rejected | pending_approval
    reason_code TEXT,
    status      TEXT,                   -- the treasury's status of the intent
    tries       INTEGER NOT NULL DEFAULT 0,
    last_error  TEXT,
    updated_at  INTEGER NOT NULL
);
"""

_OPEN_SWEEP = ("state = 'unsent' OR (state = 'decided' AND (status IS NULL OR status NOT IN ({})))"
               .format(", ".join(f"'{s}'" for s in sorted(TERMINAL_STATUSES))))


@dataclass(frozen=True)
class SignalRow:
    mode: str
    id: str
    symbol: str
    side: str
    type: str
    quantity: str | None
    quote_order_qty: str | None
    price: str | None
    time_in_force: str | None
    state: str
    reason_code: str | None
    order_id: str | None
    order_status: str | None
    executed_qty: str | None
    cummulative_quote_qty: str | None
    received_at: int
    updated_at: int


@dataclass(frozen=True)
class SweepRow:
    intent_id: str
    signal_id: str
    coin: str
    network: str
    destination: str
    amount: str
    reason: str
    created_at: int
    state: str
    outcome: str | None
    reason_code: str | None
    status: str | None
    tries: int
    last_error: str | None
    updated_at: int

    @property
    def is_open(self) -> bool:
        return self.state == "unsent" or (self.state == "decided" and self.status not in TERMINAL_STATUSES)


class StateStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), isolation_level=None, timeout=10.0,
                                   check_same_thread=True)
        self._db.execute("PRAGMA busy_timeout=10000")
        self._durable: bool | None = None
        self._set_durable(True)
        self._prepare()

    def _prepare(self) -> None:
        """WAL and the schema. Two connections creating one file at once can meet SQLITE_BUSY
        without the busy handler being consulted (a journal-mode change), so retry briefly."""
        for attempt in range(50):
            try:
                if self._db.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                    self._db.execute("PRAGMA journal_mode=WAL")
                self._db.executescript(SCHEMA)
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or attempt == 49:
                    raise
                time.sleep(0.05)

    # -- plumbing ---------------------------------------------------------------------------
    def _set_durable(self, durable: bool) -> None:
        if self._durable is not durable:
            self._db.execute("PRAGMA synchronous=" + ("FULL" if durable else "NORMAL"))
            self._durable = durable

    class _Tx:
        def __init__(self, db: sqlite3.Connection) -> None:
            self.db = db

        def __enter__(self) -> sqlite3.Connection:
            self.db.execute("BEGIN IMMEDIATE")
            return self.db

        def __exit__(self, exc_type, exc, tb) -> None:
            self.db.execute("ROLLBACK" if exc_type else "COMMIT")

    def _tx(self, durable: bool = False) -> "StateStore._Tx":
        self._set_durable(durable)
        return StateStore._Tx(self._db)

    def close(self) -> None:
        self._db.close()

    # -- signals ----------------------------------------------------------------------------
    def seen(self, mode: str, signal_id: str) -> bool:
        row = self._db.execute("SELECT 1 FROM signals WHERE mode = ? AND id = ?", (mode, signal_id)).fetchone()
        return row is not None

    def claim(self, mode: str, signal_id: str, order: dict[str, str | None], now_ms: int) -> bool:
        """Record the id as `placing`, durably. False if it was already there (a duplicate)."""
        with self._tx(durable=True) as db:
            cur = db.execute(
                "INSERT OR IGNORE INTO signals (mode, id, symbol, side, type, quantity, quote_order_qty,"
                " price, time_in_force, state, received_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'placing', ?, ?)",
                (mode, signal_id, order["symbol"], order["side"], order["type"], order.get("quantity"),
                 order.get("quote_order_qty"), order.get("price"), order.get("time_in_force"), now_ms, now_ms))
            return cur.rowcount == 1

    def record_refusal(self, mode: str, signal_id: str, order: dict[str, str | None], code: str,
                       now_ms: int) -> bool:
        """Keep a refused id too, so the same id later is a duplicate; False if already seen."""
        with self._tx() as db:
            cur = db.execute(
                "INSERT OR IGNORE INTO signals (mode, id, symbol, side, type, quantity, quote_order_qty,"
                " price, time_in_force, state, reason_code, received_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'refused', ?, ?, ?)",
                (mode, signal_id, order["symbol"], order["side"], order["type"], order.get("quantity"),
                 order.get("quote_order_qty"), order.get("price"), order.get("time_in_force"), code,
                 now_ms, now_ms))
            return cur.rowcount == 1

    def finish(self, mode: str, signal_id: str, state: str, now_ms: int, *, reason_code: str | None = None,
               order_id: str | None = None, order_status: str | None = None, executed_qty: str | None = None,
               cummulative_quote_qty: str | None = None) -> None:
        if state not in ("placed", "rejected", "failed"):
            raise ValueError(f"not a final state: {state}")
        with self._tx() as db:
            db.execute(
                "UPDATE signals SET state = ?, reason_code = ?, order_id = ?, order_status = ?,"
                " executed_qty = ?, cummulative_quote_qty = ?, updated_at = ?"
                " WHERE mode = ? AND id = ? AND state = 'placing'",
                (state, reason_code, order_id, order_status, executed_qty, cummulative_quote_qty, now_ms,
                 mode, signal_id))

    def placing(self, mode: str) -> list[SignalRow]:
        return [SignalRow(*r) for r in self._db.execute(
            "SELECT * FROM signals WHERE state = 'placing' AND mode = ? ORDER BY received_at", (mode,))]

    def signal(self, mode: str, signal_id: str) -> SignalRow | None:
        row = self._db.execute("SELECT * FROM signals WHERE mode = ? AND id = ?", (mode, signal_id)).fetchone()
        return SignalRow(*row) if row else None

    def signals(self) -> Iterator[SignalRow]:
        for row in self._db.execute("SELECT * FROM signals ORDER BY received_at"):
            yield SignalRow(*row)

    # -- sweeps -----------------------------------------------------------------------------
    def add_sweep(self, row: SweepRow) -> bool:
        """Record a new sweep intent durably before it is sent; False if its id exists."""
        with self._tx(durable=True) as db:
            cur = db.execute(
                "INSERT OR IGNORE INTO sweeps (intent_id, signal_id, coin, network, destination, amount,"
                " reason, created_at, state, tries, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'unsent', 0, ?)",
                (row.intent_id, row.signal_id, row.coin, row.network, row.destination, row.amount,
                 row.reason, row.created_at, row.updated_at))
            return cur.rowcount == 1

    def sweep(self, intent_id: str) -> SweepRow | None:
        row = self._db.execute("SELECT * FROM sweeps WHERE intent_id = ?", (intent_id,)).fetchone()
        return SweepRow(*row) if row else None

    def open_sweeps(self) -> list[SweepRow]:
        return [SweepRow(*r) for r in self._db.execute(
            f"SELECT * FROM sweeps WHERE {_OPEN_SWEEP} ORDER BY created_at")]

    def sweeps(self) -> list[SweepRow]:
        return [SweepRow(*r) for r in self._db.execute("SELECT * FROM sweeps ORDER BY created_at")]

    def sweep_tried(self, intent_id: str, error: str, now_ms: int) -> None:
        with self._tx() as db:
            db.execute("UPDATE sweeps SET tries = tries + 1, last_error = ?, updated_at = ? WHERE intent_id = ?",
                       (error, now_ms, intent_id))

    def sweep_decided(self, intent_id: str, outcome: str, reason_code: str | None, status: str,
                      now_ms: int) -> None:
        with self._tx(durable=True) as db:
            db.execute("UPDATE sweeps SET state = 'decided', outcome = ?, reason_code = ?, status = ?,"
                       " tries = tries + 1, last_error = NULL, updated_at = ? WHERE intent_id = ?",
                       (outcome, reason_code, status, now_ms, intent_id))

    def sweep_closed(self, intent_id: str, state: str, reason_code: str | None, detail: str, now_ms: int) -> None:
        """`stale` (the treasury called it stale_intent: never resent) or `invalid` (an error reply)."""
        if state not in ("stale", "invalid"):
            raise ValueError(f"not a closing state: {state}")
        with self._tx(durable=True) as db:
            db.execute("UPDATE sweeps SET state = ?, outcome = 'rejected', reason_code = ?, last_error = ?,"
                       " tries = tries + 1, updated_at = ? WHERE intent_id = ?",
                       (state, reason_code, detail[:300], now_ms, intent_id))

    def sweep_status(self, intent_id: str, status: str, now_ms: int) -> bool:
        """A later status of a decided intent (from intent_status or an event); True if it changed."""
        with self._tx() as db:
            cur = db.execute("UPDATE sweeps SET status = ?, updated_at = ? WHERE intent_id = ?"
                             " AND state = 'decided' AND (status IS NULL OR status != ?)",
                             (status, now_ms, intent_id, status))
            return cur.rowcount == 1
