"""The signal bot's state file (SQLite, WAL): the signal journal and sweep intents.

Signals. A valid signal is journaled as `received` and committed durably
(synchronous=FULL) BEFORE the webhook answers 202 (or replay moves to the next line):
nothing accepted can be lost. That row is also the order's claim: the order worker
sends a `received` signal's order with no further write, so a `received` row means
"accepted; its order may have been sent". After the send the outcome is recorded
(`placed` / `rejected` / `failed`, or `placing` when the outcome stayed unknown), and a
risk refusal as `refused`; these updates are committed with synchronous=NORMAL: losing
one to a power cut leaves a `received` or `placing` row, which the next start looks up
on the exchange before anything is sent again (signal_bot/orders.py: `recover`).
A row's `seq` is its arrival order; every id is kept, so a repeat is a duplicate.

Sweeps. A sweep intent is recorded with its exact content BEFORE it is sent, so every
resend is the same intent.

One StateStore per thread, except the webhook's journal, which shares one connection
among the webhook's threads under a lock (`shared=True`).
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Mapping

from common.messages import TERMINAL_STATUSES

SCHEMA_VERSION = 2

SIGNALS_TABLE = """
CREATE TABLE IF NOT EXISTS signals (
    mode        TEXT NOT NULL CHECK (mode IN ('live', 'test')),   -- test: --dry-run
    id          TEXT NOT NULL,          -- the signal id = newClientOrderId
    symbol      TEXT NOT NULL,
    side        TEXT NOT NULL,
    type        TEXT NOT NULL,
    quantity    TEXT,                   -- as received, and once decided as sent (canonical)
    quote_order_qty TEXT,
    price       TEXT,
    time_in_force TEXT,
    state       TEXT NOT NULL CHECK (state IN ('received', 'placing', 'placed', 'rejected', 'failed',
                                               'refused')),
    reason_code TEXT,                   -- refusal / exchange error code
    order_id    TEXT,
    order_status TEXT,
    executed_qty TEXT,
    cummulative_quote_qty TEXT,
    received_at INTEGER NOT NULL,       -- ms, when journaled
    updated_at  INTEGER NOT NULL,       -- ms
    seq         INTEGER NOT NULL,       -- arrival order, 1, 2, ...
    PRIMARY KEY (mode, id)
) WITHOUT ROWID;
CREATE UNIQUE INDEX IF NOT EXISTS signals_seq ON signals (seq);
CREATE INDEX IF NOT EXISTS signals_open ON signals (mode, seq) WHERE state IN ('received', 'placing');
"""

SWEEPS_TABLE = """
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

# Version 1 (no `seq`, no `received` state): its rows are kept, numbered in their order.
_V1_COLUMNS = ("mode, id, symbol, side, type, quantity, quote_order_qty, price, time_in_force, state,"
               " reason_code, order_id, order_status, executed_qty, cummulative_quote_qty, received_at,"
               " updated_at")
MIGRATE_FROM_V1 = f"""
ALTER TABLE signals RENAME TO signals_v1;
DROP INDEX IF EXISTS signals_placing;
{SIGNALS_TABLE}
INSERT INTO signals ({_V1_COLUMNS}, seq)
    SELECT {_V1_COLUMNS}, ROW_NUMBER() OVER (ORDER BY received_at, mode, id) FROM signals_v1;
DROP TABLE signals_v1;
"""

OPEN_STATES = ("received", "placing")
FINAL_STATES = ("placed", "rejected", "failed")
ORDER_COLUMNS = ("symbol", "side", "type", "quantity", "quote_order_qty", "price", "time_in_force")

_OPEN_SWEEP = ("state = 'unsent' OR (state = 'decided' AND (status IS NULL OR status NOT IN ({})))"
               .format(", ".join(f"'{s}'" for s in sorted(TERMINAL_STATUSES))))


class StateFileError(Exception):
    """The state file is from a newer version of the bot (or damaged); `code` is stable."""

    code = "state_file_unusable"


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
    seq: int


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


def _statements(script: str) -> list[str]:
    return [s.strip() for s in script.split(";") if s.strip()]


OrderFields = Mapping[str, "str | None"]


class _NotOpen:
    """Stands for the connection of a store not opened yet: any use says so plainly."""

    def __getattr__(self, name: str):
        raise RuntimeError("StateStore used before open()")


_NOT_OPEN = _NotOpen()


class StateStore:
    """One connection to the state file. Building one touches nothing; `open` connects
    (creating the file and its schema, or upgrading it), so the bootstrap can wire a store
    that the thread using it opens later."""

    def __init__(self, path: Path, *, shared: bool = False, autocheckpoint: bool = True) -> None:
        """`shared`: the connection may be used from several threads, serialised by the caller.
        `autocheckpoint=False`: this connection's commits never run a WAL checkpoint (the
        webhook's journal: a checkpoint's extra fsyncs stay off the path to the 202; the
        other connections' commits, after the orders, run them)."""
        self.path = path
        self._shared = shared
        self._autocheckpoint = autocheckpoint
        self._db: sqlite3.Connection = _NOT_OPEN  # type: ignore[assignment]
        self._durable: bool | None = None

    def open(self) -> "StateStore":
        """Connect, set WAL and bring the schema up to date; raises StateFileError. Once only."""
        if self._db is not _NOT_OPEN:
            return self
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(self.path), isolation_level=None, timeout=10.0,
                                   check_same_thread=not self._shared)
        self._db.execute("PRAGMA busy_timeout=10000")
        self._set_durable(True)
        self._prepare()
        if not self._autocheckpoint:
            self._db.execute("PRAGMA wal_autocheckpoint=0")
        return self

    def _prepare(self) -> None:
        """WAL and the schema. Two connections creating one file at once can meet SQLITE_BUSY
        without the busy handler being consulted (a journal-mode change), so retry briefly."""
        for attempt in range(50):
            try:
                if self._db.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                    self._db.execute("PRAGMA journal_mode=WAL")
                self._upgrade()
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or attempt == 49:
                    raise
                time.sleep(0.05)

    def _upgrade(self) -> None:
        """Create the schema, or bring a version-1 file (no journal) up to this one, in one transaction."""
        if self._db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION:
            return
        with self._tx(durable=True) as db:
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version == SCHEMA_VERSION:
                return
            if version > SCHEMA_VERSION:
                raise StateFileError(f"{self.path}: state file version {version} is newer than this bot's "
                                     f"({SCHEMA_VERSION})")
            columns = {r[1] for r in db.execute("PRAGMA table_info(signals)")}
            script = MIGRATE_FROM_V1 if columns and "seq" not in columns else SIGNALS_TABLE
            for statement in _statements(script + SWEEPS_TABLE):
                db.execute(statement)
            db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

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
        if self._db is not _NOT_OPEN:
            self._db.close()

    # -- signals ----------------------------------------------------------------------------
    def seen(self, mode: str, signal_id: str) -> bool:
        row = self._db.execute("SELECT 1 FROM signals WHERE mode = ? AND id = ?", (mode, signal_id)).fetchone()
        return row is not None

    def journal(self, mode: str, signal_id: str, order: OrderFields, now_ms: int) -> bool:
        """Record an accepted signal as `received`, durably (fsync); False if the id was seen before."""
        with self._tx(durable=True) as db:
            cur = db.execute(
                "INSERT OR IGNORE INTO signals (mode, id, symbol, side, type, quantity, quote_order_qty,"
                " price, time_in_force, state, received_at, updated_at, seq)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'received', ?, ?,"
                " (SELECT COALESCE(MAX(seq), 0) + 1 FROM signals))",
                (mode, signal_id, order["symbol"], order["side"], order["type"], order.get("quantity"),
                 order.get("quote_order_qty"), order.get("price"), order.get("time_in_force"), now_ms, now_ms))
            return cur.rowcount == 1

    def refuse(self, mode: str, signal_id: str, code: str, now_ms: int, order: OrderFields | None = None) -> bool:
        """received -> refused (a risk check said no; nothing was sent). False if it was not `received`."""
        return self._decide(mode, signal_id, "refused", now_ms, ("received",), order, reason_code=code)

    def finish(self, mode: str, signal_id: str, state: str, now_ms: int, *, reason_code: str | None = None,
               order_id: str | None = None, order_status: str | None = None, executed_qty: str | None = None,
               cummulative_quote_qty: str | None = None, order: OrderFields | None = None) -> bool:
        """received/placing -> placed, rejected or failed, once. False if the row was already decided."""
        if state not in FINAL_STATES:
            raise ValueError(f"not a final state: {state}")
        return self._decide(mode, signal_id, state, now_ms, OPEN_STATES, order, reason_code=reason_code,
                            order_id=order_id, order_status=order_status, executed_qty=executed_qty,
                            cummulative_quote_qty=cummulative_quote_qty)

    def mark_placing(self, mode: str, signal_id: str, now_ms: int, order: OrderFields | None = None) -> bool:
        """received -> placing: its order went out and the outcome is still unknown (looked up later)."""
        return self._decide(mode, signal_id, "placing", now_ms, ("received",), order,
                            reason_code="outcome_unknown")

    def _decide(self, mode: str, signal_id: str, state: str, now_ms: int, from_states: tuple[str, ...],
                order: OrderFields | None, **columns: str | None) -> bool:
        sets = dict(columns)
        if order is not None:
            sets.update({name: order.get(name) for name in ORDER_COLUMNS})
        assignments = ", ".join(f"{name} = ?" for name in sets)
        marks = ", ".join("?" * len(from_states))
        with self._tx() as db:
            cur = db.execute(
                f"UPDATE signals SET state = ?, {assignments}, updated_at = ?"
                f" WHERE mode = ? AND id = ? AND state IN ({marks})",
                (state, *sets.values(), now_ms, mode, signal_id, *from_states))
            return cur.rowcount == 1

    def placing(self, mode: str) -> list[SignalRow]:
        return self._rows("SELECT * FROM signals WHERE mode = ? AND state = 'placing' ORDER BY seq", (mode,))

    def unfinished(self, mode: str) -> list[SignalRow]:
        """Rows still `received` or `placing`, in arrival order."""
        return self._rows("SELECT * FROM signals WHERE mode = ? AND state IN ('received', 'placing')"
                          " ORDER BY seq", (mode,))

    def signal(self, mode: str, signal_id: str) -> SignalRow | None:
        row = self._db.execute("SELECT * FROM signals WHERE mode = ? AND id = ?", (mode, signal_id)).fetchone()
        return SignalRow(*row) if row else None

    def signals(self) -> Iterator[SignalRow]:
        for row in self._db.execute("SELECT * FROM signals ORDER BY seq"):
            yield SignalRow(*row)

    def _rows(self, sql: str, params: tuple) -> list[SignalRow]:
        return [SignalRow(*r) for r in self._db.execute(sql, params)]

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
