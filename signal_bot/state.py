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
among the webhook's threads under a lock (`shared=True`). This module is the connection
and the queries; the tables, their row types and the upgrades are state_schema.py.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Iterator, Mapping

from common.messages import TERMINAL_STATUSES
from signal_bot import state_schema
from signal_bot.state_schema import ExitRow, SignalRow, StateFileError, SweepRow

OPEN_STATES = ("received", "placing")
FINAL_STATES = ("placed", "rejected", "failed")
ORDER_COLUMNS = ("symbol", "side", "type", "quantity", "quote_order_qty", "price", "time_in_force")

_OPEN_SWEEP = ("state = 'unsent' OR (state = 'decided' AND (status IS NULL OR status NOT IN ({})))"
               .format(", ".join(f"'{s}'" for s in sorted(TERMINAL_STATUSES))))

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
        if state_schema.is_current(self._db):
            return
        with self._tx(durable=True) as db:
            state_schema.upgrade(db, self.path)

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
                " price, time_in_force, state, received_at, updated_at, seq, take_profit, stop_loss, action,"
                " closes) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'received', ?, ?,"
                " (SELECT COALESCE(MAX(seq), 0) + 1 FROM signals), ?, ?, ?, ?)",
                (mode, signal_id, order["symbol"], order["side"], order["type"], order.get("quantity"),
                 order.get("quote_order_qty"), order.get("price"), order.get("time_in_force"), now_ms, now_ms,
                 order.get("take_profit"), order.get("stop_loss"), order.get("action") or "open",
                 order.get("closes")))
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

    # -- exits (issue 15 item 4; signal_bot/exits.py) -----------------------------------------
    def working_entries(self, mode: str) -> list[SignalRow]:
        """Placed orders still working on the exchange (a resting LIMIT entry), in arrival order."""
        return self._rows("SELECT * FROM signals WHERE mode = ? AND state = 'placed' AND action = 'open'"
                          " AND order_status IN ('NEW', 'PARTIALLY_FILLED') ORDER BY seq", (mode,))

    def entry_update(self, mode: str, signal_id: str, order_status: str, executed_qty: str,
                     cummulative_quote_qty: str, now_ms: int) -> bool:
        """A placed order's later status and fill (from a look-up or a cancel); True if it changed."""
        with self._tx() as db:
            cur = db.execute("UPDATE signals SET order_status = ?, executed_qty = ?, cummulative_quote_qty = ?,"
                             " updated_at = ? WHERE mode = ? AND id = ? AND state = 'placed' AND"
                             " (order_status IS NOT ? OR executed_qty IS NOT ?)",
                             (order_status, executed_qty, cummulative_quote_qty, now_ms, mode, signal_id,
                              order_status, executed_qty))
            return cur.rowcount == 1

    def entries_without_exit(self, mode: str) -> list[SignalRow]:
        """Entries done on the exchange, with a fill and exits asked for, that have no exit yet."""
        return self._rows("SELECT * FROM signals s WHERE mode = ? AND state = 'placed' AND action = 'open'"
                          " AND take_profit IS NOT NULL AND order_status IN ('FILLED', 'CANCELED', 'EXPIRED')"
                          " AND executed_qty IS NOT NULL AND executed_qty != '0'"
                          " AND NOT EXISTS (SELECT 1 FROM exits e WHERE e.signal_id = s.id) ORDER BY seq",
                          (mode,))

    def closes_of(self, mode: str, entry_id: str, other_than: str) -> list[SignalRow]:
        """Close signals of an entry that were (or may have been) sent, other than `other_than`."""
        return self._rows("SELECT * FROM signals WHERE mode = ? AND action = 'close' AND closes = ? AND id != ?"
                          " AND state IN ('placed', 'placing') ORDER BY seq", (mode, entry_id, other_than))

    def add_exit(self, row: ExitRow) -> bool:
        """Journal an exit durably BEFORE its order list is sent; False if the entry has one."""
        with self._tx(durable=True) as db:
            cur = db.execute("INSERT OR IGNORE INTO exits VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                             tuple(row.__dict__.values()))
            return cur.rowcount == 1

    def exit(self, signal_id: str) -> ExitRow | None:
        row = self._db.execute("SELECT * FROM exits WHERE signal_id = ?", (signal_id,)).fetchone()
        return ExitRow(*row) if row else None

    def exits(self, *states: str) -> list[ExitRow]:
        marks = ", ".join("?" * len(states))
        return [ExitRow(*r) for r in self._db.execute(
            f"SELECT * FROM exits WHERE state IN ({marks}) ORDER BY created_at", states)]

    def exit_update(self, signal_id: str, state: str, now_ms: int, *, durable: bool = False,
                    **columns: str | None) -> bool:
        sets = {"state": state, **columns, "updated_at": now_ms}
        assignments = ", ".join(f"{name} = ?" for name in sets)
        with self._tx(durable=durable) as db:
            cur = db.execute(f"UPDATE exits SET {assignments} WHERE signal_id = ?", (*sets.values(), signal_id))
            return cur.rowcount == 1

    # -- fills and realised profits (issue 15 item 5; signal_bot/profit.py) --------------------
    def add_fills(self, rows: list[tuple[str, int, str, str, str, str, str, str, str]]) -> None:
        """Journal fills (symbol, trade_id, order_id, client_order_id, side, price, qty, commission,
        commission_asset) as the exchange reported them; a fill seen before is kept as it was."""
        with self._tx() as db:
            db.executemany("INSERT OR IGNORE INTO fills VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)

    def fills_of(self, symbol: str, order_id: str) -> list[tuple[str, str, str, str, str]]:
        """(side, price, qty, commission, commission_asset) of one order's journaled fills."""
        return list(self._db.execute("SELECT side, price, qty, commission, commission_asset FROM fills"
                                     " WHERE symbol = ? AND order_id = ? ORDER BY trade_id", (symbol, order_id)))

    def add_profit(self, closing_id: str, entry_id: str, asset: str, amount: str, now_ms: int) -> bool:
        with self._tx(durable=True) as db:
            cur = db.execute("INSERT OR IGNORE INTO profits VALUES (?, ?, ?, ?, ?)",
                             (closing_id, entry_id, asset, amount, now_ms))
            return cur.rowcount == 1

    def profits(self, asset: str) -> list[str]:
        return [r[0] for r in self._db.execute("SELECT amount FROM profits WHERE asset = ? ORDER BY created_at",
                                               (asset,))]

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


def describe(path: Path) -> str:
    """One line on the state file for `signal-bot check`, read-only (never creates or
    upgrades it); raises StateFileError for a file this bot cannot use."""
    if not path.exists():
        return f"{path} (not created yet: the first run creates it)"
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5.0)
    except sqlite3.Error as exc:
        raise StateFileError(f"{path}: cannot open: {exc}") from None
    try:
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version > state_schema.SCHEMA_VERSION:
            raise StateFileError(f"{path}: state file version {version} is newer than this bot's "
                                 f"({state_schema.SCHEMA_VERSION})")
        signals = db.execute("SELECT COUNT(*) FROM signals").fetchone()[0]
        sweeps = db.execute("SELECT COUNT(*) FROM sweeps").fetchone()[0] if version >= 2 else 0
    except sqlite3.Error as exc:
        raise StateFileError(f"{path}: not a usable state file: {exc}") from None
    finally:
        db.close()
    upgrade = "" if version == state_schema.SCHEMA_VERSION else f", upgraded to {state_schema.SCHEMA_VERSION} at the next run"
    return f"{path} (version {version}{upgrade}; {signals} signals, {sweeps} sweeps)"
