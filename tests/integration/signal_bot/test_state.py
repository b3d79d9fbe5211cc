"""The state file (real SQLite in a temp folder): the journal survives a restart; sweeps keep their exact content."""

from __future__ import annotations

import sqlite3
import threading

import pytest

from signal_bot.state import StateStore
from signal_bot.state_schema import SCHEMA_VERSION, StateFileError, SweepRow

ORDER = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "quantity": "0.01", "quote_order_qty": None,
         "price": "100", "time_in_force": "GTC"}
SENT = {**ORDER, "quantity": "0.01", "price": "99.99"}

# The version-1 table (before the journal), as an older bot left it.
V1_SIGNALS = """
CREATE TABLE signals (
    mode TEXT NOT NULL CHECK (mode IN ('live', 'test')), id TEXT NOT NULL, symbol TEXT NOT NULL,
    side TEXT NOT NULL, type TEXT NOT NULL, quantity TEXT, quote_order_qty TEXT, price TEXT,
    time_in_force TEXT,
    state TEXT NOT NULL CHECK (state IN ('placing', 'placed', 'rejected', 'failed', 'refused')),
    reason_code TEXT, order_id TEXT, order_status TEXT, executed_qty TEXT, cummulative_quote_qty TEXT,
    received_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, PRIMARY KEY (mode, id)) WITHOUT ROWID;
CREATE INDEX signals_placing ON signals (state) WHERE state = 'placing';
"""


def sweep_row(intent_id: str = "sw-1", created_at: int = 1000) -> SweepRow:
    return SweepRow(intent_id, "sig-1", "USDT", "TRX", "cold", "12.5", "sweep after order sig-1", created_at,
                    "unsent", None, None, None, 0, None, created_at)


def test_a_journaled_signal_is_seen_after_reopening(tmp_path):
    """journal commits durably: a new connection (a restart) sees it as received, as received."""
    path = tmp_path / "state.sqlite"
    store = StateStore(path).open()
    assert store.journal("live", "sig-1", ORDER, 1)
    store.close()
    again = StateStore(path).open()
    assert again.seen("live", "sig-1")
    (row,) = again.unfinished("live")
    assert (row.id, row.state, row.price, row.received_at, row.seq) == ("sig-1", "received", "100", 1, 1)


def test_the_journal_commits_with_synchronous_full(tmp_path):
    """The connection that journals runs synchronous=FULL (2): the commit is fsynced before it returns."""
    store = StateStore(tmp_path / "s.sqlite", shared=True).open()
    store.journal("live", "sig-1", ORDER, 1)
    assert store._db.execute("PRAGMA synchronous").fetchone()[0] == 2
    assert store._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_journaling_an_id_twice_reports_a_duplicate_and_keeps_the_first(tmp_path):
    """The second journal of one id returns False and changes nothing."""
    store = StateStore(tmp_path / "s.sqlite").open()
    assert store.journal("live", "sig-1", ORDER, 1)
    assert not store.journal("live", "sig-1", {**ORDER, "quantity": "9"}, 2)
    row = store.signal("live", "sig-1")
    assert (row.quantity, row.received_at, row.seq) == ("0.01", 1, 1)


def test_seq_is_the_arrival_order_across_modes(tmp_path):
    """Each journaled signal gets the next seq; unfinished() lists them in that order."""
    store = StateStore(tmp_path / "s.sqlite").open()
    for n, mode in enumerate(("live", "test", "live", "live")):
        store.journal(mode, f"s{n}", ORDER, 100 - n)     # received_at going back must not reorder
    assert [(r.id, r.seq) for r in store.unfinished("live")] == [("s0", 1), ("s2", 3), ("s3", 4)]


def test_live_and_test_modes_do_not_share_ids(tmp_path):
    """A --dry-run id does not block the same id trading live."""
    store = StateStore(tmp_path / "s.sqlite").open()
    assert store.journal("test", "sig-1", ORDER, 1)
    assert not store.seen("live", "sig-1")
    assert store.journal("live", "sig-1", ORDER, 1)


def test_finish_moves_an_open_row_to_its_outcome_once(tmp_path):
    """received -> placed records the order as sent; a later finish does not overwrite it."""
    store = StateStore(tmp_path / "s.sqlite").open()
    store.journal("live", "sig-1", ORDER, 1)
    assert store.finish("live", "sig-1", "placed", 2, order_id="7", order_status="FILLED", executed_qty="0.01",
                        cummulative_quote_qty="1", order=SENT)
    assert not store.finish("live", "sig-1", "failed", 3, reason_code="x")
    row = store.signal("live", "sig-1")
    assert (row.state, row.order_id, row.order_status, row.price, row.updated_at) == ("placed", "7", "FILLED",
                                                                                       "99.99", 2)
    assert store.unfinished("live") == []
    with pytest.raises(ValueError):
        store.finish("live", "sig-1", "placing", 4)


def test_an_unknown_outcome_moves_received_to_placing_and_then_to_its_outcome(tmp_path):
    """mark_placing only from received; placing rows are what the periodic pass looks up."""
    store = StateStore(tmp_path / "s.sqlite").open()
    store.journal("live", "sig-1", ORDER, 1)
    assert store.mark_placing("live", "sig-1", 5, SENT)
    assert not store.mark_placing("live", "sig-1", 6)
    (row,) = store.placing("live")
    assert (row.state, row.reason_code, row.updated_at, row.price) == ("placing", "outcome_unknown", 5, "99.99")
    assert store.finish("live", "sig-1", "failed", 7, reason_code="order_absent")
    assert store.placing("live") == []


def test_refusals_are_recorded_so_the_id_is_spent(tmp_path):
    """A refused id is kept with its code; refuse works only on a received row; the id stays a duplicate."""
    store = StateStore(tmp_path / "s.sqlite").open()
    store.journal("live", "sig-1", ORDER, 1)
    assert store.refuse("live", "sig-1", "over_max_quote", 2)
    assert not store.refuse("live", "sig-1", "rate_limited", 3)
    assert not store.journal("live", "sig-1", ORDER, 4)
    row = store.signal("live", "sig-1")
    assert (row.state, row.reason_code, row.quantity) == ("refused", "over_max_quote", "0.01")


def test_the_state_column_refuses_unknown_states(tmp_path):
    """The schema itself guards the state machine's values."""
    store = StateStore(tmp_path / "s.sqlite").open()
    store.journal("live", "sig-1", ORDER, 1)
    db = sqlite3.connect(tmp_path / "s.sqlite")
    with pytest.raises(sqlite3.IntegrityError):
        db.execute("UPDATE signals SET state = 'whatever'")
    db.close()


def test_a_version_1_file_is_upgraded_keeping_its_rows_in_order(tmp_path):
    """An older bot's file (no journal): rows kept, numbered by received_at, placing rows still open."""
    path = tmp_path / "old.sqlite"
    db = sqlite3.connect(path)
    db.executescript(V1_SIGNALS)
    db.executemany("INSERT INTO signals (mode, id, symbol, side, type, quantity, state, received_at, updated_at)"
                   " VALUES ('live', ?, 'BTCUSDT', 'BUY', 'MARKET', '1', ?, ?, ?)",
                   [("late", "placing", 30, 30), ("early", "placed", 10, 11), ("mid", "refused", 20, 20)])
    db.commit()
    db.close()
    store = StateStore(path).open()
    assert [(r.id, r.seq, r.state) for r in store.signals()] == [
        ("early", 1, "placed"), ("mid", 2, "refused"), ("late", 3, "placing")]
    assert [r.id for r in store.unfinished("live")] == ["late"]
    assert store.journal("live", "new", ORDER, 40) and store.signal("live", "new").seq == 4
    assert store._db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    store.close()
    assert [r.id for r in StateStore(path).open().signals()] == ["early", "mid", "late", "new"]   # once only


def test_a_file_from_a_newer_bot_is_refused(tmp_path):
    """A schema version above ours is not guessed at: StateFileError with a stable code."""
    path = tmp_path / "new.sqlite"
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    db.close()
    with pytest.raises(StateFileError) as caught:
        StateStore(path).open()
    assert caught.value.code == "state_file_unusable"


def test_connections_opening_one_new_file_at_once_all_succeed(tmp_path):
    """The bot's threads open the file together at start: the schema is made once, nobody fails."""
    path = tmp_path / "s.sqlite"
    errors: list[BaseException] = []

    def open_and_journal(n: int) -> None:
        try:
            store = StateStore(path).open()
            store.journal("live", f"s{n}", ORDER, n)
            store.close()
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)
    threads = [threading.Thread(target=open_and_journal, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(r.seq for r in StateStore(path).open().signals()) == list(range(1, 9))

def test_a_sweep_keeps_its_exact_content_until_decided(tmp_path):
    """Recorded before sending; open while unsent; reopening gives byte-identical fields."""
    path = tmp_path / "s.sqlite"
    store = StateStore(path).open()
    row = sweep_row()
    assert store.add_sweep(row)
    assert not store.add_sweep(sweep_row(created_at=2000))
    store.sweep_tried("sw-1", "treasury_unavailable", 1500)
    store.close()
    again = StateStore(path).open()
    kept = again.sweep("sw-1")
    assert (kept.amount, kept.reason, kept.created_at, kept.tries) == ("12.5", row.reason, 1000, 1)
    assert [r.intent_id for r in again.open_sweeps()] == ["sw-1"]


def test_a_sweep_stays_open_until_a_terminal_status(tmp_path):
    """accepted/queued is open; completed (terminal) closes it; stale closes it at once."""
    store = StateStore(tmp_path / "s.sqlite").open()
    store.add_sweep(sweep_row("sw-1"))
    store.add_sweep(sweep_row("sw-2"))
    store.sweep_decided("sw-1", "accepted", None, "queued", 2)
    store.sweep_closed("sw-2", "stale", "stale_intent", "too old", 2)
    assert [r.intent_id for r in store.open_sweeps()] == ["sw-1"]
    assert store.sweep_status("sw-1", "processing", 3)
    assert not store.sweep_status("sw-1", "processing", 4)       # unchanged
    assert store.sweep_status("sw-1", "completed", 5)
    assert store.open_sweeps() == []
    assert not store.sweep_status("sw-2", "completed", 6)        # a stale intent takes no status
    assert store.sweep("sw-2").state == "stale"
