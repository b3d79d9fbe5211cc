"""The signal bot's state file layout: its tables, their row types, the schema version and upgrades.

Version 2 is current: the signal journal (`signals`, numbered by arrival in `seq`) and
the sweep intents (`sweeps`). A version-1 file (no `seq`, no `received` state) is
brought up to it in one transaction, its rows kept and numbered in their order; a file
from a newer bot is refused (StateFileError). The queries over these tables are
signal_bot/state.py's; the row types follow the tables' column order (`SELECT *`).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from common.messages import TERMINAL_STATUSES

SCHEMA_VERSION = 3

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
    take_profit TEXT,                   -- version 3 (issue 15 item 4): as received
    stop_loss   TEXT,
    action      TEXT NOT NULL DEFAULT 'open',
    closes      TEXT,
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

# Version 3 (issue 15 item 4): an entry's exit, an OCO order list (signal_bot/exits.py).
EXITS_TABLE = """
CREATE TABLE IF NOT EXISTS exits (
    signal_id   TEXT PRIMARY KEY,       -- the entry's id (live mode only)
    list_client_order_id TEXT NOT NULL UNIQUE,
    symbol      TEXT NOT NULL,
    side        TEXT NOT NULL,          -- the exit's side (the entry's opposite)
    quantity    TEXT NOT NULL,          -- exactly as sent
    take_profit TEXT NOT NULL,          -- the LIMIT_MAKER leg's price, as sent
    stop_price  TEXT NOT NULL,          -- the STOP_LOSS leg's stopPrice, as sent
    state       TEXT NOT NULL CHECK (state IN ('sending', 'open', 'done', 'closed', 'failed')),
    order_list_id TEXT,
    ended_by    TEXT,                   -- take_profit | stop_loss | close | canceled
    exit_qty    TEXT,
    exit_quote  TEXT,
    reason_code TEXT,
    created_at  INTEGER NOT NULL,       -- ms, journaled (before the first send)
    updated_at  INTEGER NOT NULL        -- ms, for `sending` the latest (re)send's journaling
);
"""
# Issue 15 item 5: the fills of entries and exits as the exchange reported them (commissions
# included), and each closed trade's realised profit, computed from them (signal_bot/profit.py).
FILLS_TABLE = """
CREATE TABLE IF NOT EXISTS fills (
    symbol      TEXT NOT NULL,
    trade_id    INTEGER NOT NULL,
    order_id    TEXT NOT NULL,
    client_order_id TEXT NOT NULL,      -- the entry's id, a leg's id or a close's id
    side        TEXT NOT NULL,
    price       TEXT NOT NULL,
    qty         TEXT NOT NULL,
    commission  TEXT NOT NULL,
    commission_asset TEXT NOT NULL,
    PRIMARY KEY (symbol, trade_id)
);
CREATE TABLE IF NOT EXISTS profits (
    closing_id  TEXT PRIMARY KEY,       -- the exit's list id, or the close signal's id
    entry_id    TEXT NOT NULL,
    asset       TEXT NOT NULL,          -- the symbol's quote asset
    amount      TEXT NOT NULL,          -- realised profit, negative for a loss, floored to 1e-8
    created_at  INTEGER NOT NULL
);
"""
V2_TO_V3 = """
ALTER TABLE signals ADD COLUMN take_profit TEXT;
ALTER TABLE signals ADD COLUMN stop_loss TEXT;
ALTER TABLE signals ADD COLUMN action TEXT NOT NULL DEFAULT 'open';
ALTER TABLE signals ADD COLUMN closes TEXT;
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
    take_profit: str | None = None
    stop_loss: str | None = None
    action: str = "open"
    closes: str | None = None


@dataclass(frozen=True)
class ExitRow:
    signal_id: str
    list_client_order_id: str
    symbol: str
    side: str
    quantity: str
    take_profit: str
    stop_price: str
    state: str
    order_list_id: str | None
    ended_by: str | None
    exit_qty: str | None
    exit_quote: str | None
    reason_code: str | None
    created_at: int
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


def _statements(script: str) -> list[str]:
    return [s.strip() for s in script.split(";") if s.strip()]


def is_current(db: sqlite3.Connection) -> bool:
    """Whether the file's schema is this version (read without a transaction)."""
    return db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def upgrade(db: sqlite3.Connection, path: Path) -> None:
    """Create the schema, or bring a version-1 file (no journal) up to this one. Call it
    inside the caller's (durable) transaction; raises StateFileError for a newer file."""
    version = db.execute("PRAGMA user_version").fetchone()[0]
    if version == SCHEMA_VERSION:
        return
    if version > SCHEMA_VERSION:
        raise StateFileError(f"{path}: state file version {version} is newer than this bot's "
                             f"({SCHEMA_VERSION})")
    columns = {r[1] for r in db.execute("PRAGMA table_info(signals)")}
    if version == 2:
        script = V2_TO_V3
    else:
        script = MIGRATE_FROM_V1 if columns and "seq" not in columns else SIGNALS_TABLE
    for statement in _statements(script + SWEEPS_TABLE + EXITS_TABLE + FILLS_TABLE):
        db.execute(statement)
    db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
