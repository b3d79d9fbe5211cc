"""The state file's version 3 (issue 15): exits, fills and profits in real SQLite; a version-2 file is upgraded."""

from __future__ import annotations

import sqlite3

from signal_bot.state import StateStore
from signal_bot.state_schema import SCHEMA_VERSION, SWEEPS_TABLE, ExitRow

V2_SIGNALS = """
CREATE TABLE signals (
    mode TEXT NOT NULL CHECK (mode IN ('live', 'test')), id TEXT NOT NULL, symbol TEXT NOT NULL,
    side TEXT NOT NULL, type TEXT NOT NULL, quantity TEXT, quote_order_qty TEXT, price TEXT, time_in_force TEXT,
    state TEXT NOT NULL CHECK (state IN ('received', 'placing', 'placed', 'rejected', 'failed', 'refused')),
    reason_code TEXT, order_id TEXT, order_status TEXT, executed_qty TEXT, cummulative_quote_qty TEXT,
    received_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, seq INTEGER NOT NULL,
    PRIMARY KEY (mode, id)) WITHOUT ROWID;
"""
ENTRY = {"symbol": "BNBUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.1", "quote_order_qty": None,
         "price": None, "time_in_force": None, "take_profit": "2%", "stop_loss": "1%", "action": "open",
         "closes": None}


def test_a_version_2_file_is_upgraded_in_place_keeping_its_rows(tmp_path):
    """Its signals keep their columns and read as plain entries (action open, no exits); the new tables exist."""
    path = tmp_path / "v2.sqlite"
    db = sqlite3.connect(path)
    db.executescript(V2_SIGNALS + SWEEPS_TABLE)
    db.execute("INSERT INTO signals (mode, id, symbol, side, type, quantity, state, received_at, updated_at, seq)"
               " VALUES ('live', 'old-1', 'BTCUSDT', 'BUY', 'MARKET', '1', 'placed', 10, 11, 1)")
    db.execute("PRAGMA user_version=2")
    db.commit()
    db.close()
    store = StateStore(path).open()
    (row,) = store.signals()
    assert (row.id, row.seq, row.action, row.take_profit, row.closes) == ("old-1", 1, "open", None, None)
    assert store._db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 3
    assert store.exits("sending", "open") == [] and store.profits("USDT") == []
    assert store.journal("live", "new-1", ENTRY, 20) and store.signal("live", "new-1").take_profit == "2%"


def test_an_entry_without_exit_is_listed_until_its_exit_is_journaled(tmp_path):
    """A filled entry asking for exits is listed; once its `sending` exit row is committed it is not, across a reopen."""
    path = tmp_path / "s.sqlite"
    store = StateStore(path).open()
    store.journal("live", "e-1", ENTRY, 1)
    store.finish("live", "e-1", "placed", 2, order_id="7", order_status="FILLED", executed_qty="0.1",
                 cummulative_quote_qty="60")
    assert [r.id for r in store.entries_without_exit("live")] == ["e-1"]
    assert store.add_exit(ExitRow("e-1", "ol-x", "BNBUSDT", "SELL", "0.1", "612", "594", "sending", None, None,
                                  None, None, None, 3, 3))
    assert not store.add_exit(ExitRow("e-1", "ol-y", "BNBUSDT", "SELL", "0.1", "612", "594", "sending", None,
                                      None, None, None, None, 4, 4))
    store.close()
    again = StateStore(path).open()
    assert again.entries_without_exit("live") == []
    (ex,) = again.exits("sending")
    assert (ex.list_client_order_id, ex.take_profit, ex.stop_price) == ("ol-x", "612", "594")
    assert again.exit_update("e-1", "done", 5, ended_by="take_profit", exit_qty="0.1", exit_quote="61.2")
    assert again.exit("e-1").ended_by == "take_profit" and again.exits("sending", "open") == []


def test_fills_are_journaled_once_and_profits_are_kept_per_closing_order(tmp_path):
    """A fill seen twice is one row; a profit recorded twice for one closing id is one amount."""
    store = StateStore(tmp_path / "s.sqlite").open()
    fill = ("BNBUSDT", 1, "7", "e-1", "BUY", "600", "0.1", "0", "USDT")
    store.add_fills([fill])
    store.add_fills([fill, ("BNBUSDT", 2, "7", "e-1", "BUY", "601", "0.1", "0", "USDT")])
    assert [r[1] for r in store.fills_of("BNBUSDT", "7")] == ["600", "601"]
    assert store.add_profit("ol-x", "e-1", "USDT", "1.2", 1)
    assert not store.add_profit("ol-x", "e-1", "USDT", "9", 2)
    assert store.profits("USDT") == ["1.2"]
