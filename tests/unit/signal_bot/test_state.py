"""The state file (real SQLite in a temp folder): seen ids survive a restart; sweeps keep their exact content."""

from __future__ import annotations

import sqlite3

import pytest

from signal_bot.state import StateStore, SweepRow

ORDER = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "quantity": "0.01", "quote_order_qty": None,
         "price": "100", "time_in_force": "GTC"}


def sweep_row(intent_id: str = "sw-1", created_at: int = 1000) -> SweepRow:
    return SweepRow(intent_id, "sig-1", "USDT", "TRX", "cold", "12.5", "sweep after order sig-1", created_at,
                    "unsent", None, None, None, 0, None, created_at)


def test_a_claimed_id_is_seen_after_reopening(tmp_path):
    """Claim commits durably: a new connection (a restart) sees it as placing."""
    path = tmp_path / "state.sqlite"
    store = StateStore(path)
    assert store.claim("live", "sig-1", ORDER, 1)
    store.close()
    again = StateStore(path)
    assert again.seen("live", "sig-1")
    assert [r.id for r in again.placing("live")] == ["sig-1"]
    assert again.placing("live")[0].price == "100"


def test_claiming_twice_reports_a_duplicate(tmp_path):
    """The second claim of one id returns False and changes nothing."""
    store = StateStore(tmp_path / "s.sqlite")
    assert store.claim("live", "sig-1", ORDER, 1)
    assert not store.claim("live", "sig-1", {**ORDER, "quantity": "9"}, 2)
    assert store.signal("live", "sig-1").quantity == "0.01"


def test_live_and_test_modes_do_not_share_ids(tmp_path):
    """A --dry-run id does not block the same id trading live."""
    store = StateStore(tmp_path / "s.sqlite")
    assert store.claim("test", "sig-1", ORDER, 1)
    assert not store.seen("live", "sig-1")
    assert store.claim("live", "sig-1", ORDER, 1)


def test_finish_moves_placing_to_its_outcome_once(tmp_path):
    """placing -> placed records the order; a later finish does not overwrite it."""
    store = StateStore(tmp_path / "s.sqlite")
    store.claim("live", "sig-1", ORDER, 1)
    store.finish("live", "sig-1", "placed", 2, order_id="7", order_status="FILLED", executed_qty="0.01",
                 cummulative_quote_qty="1")
    store.finish("live", "sig-1", "failed", 3, reason_code="x")
    row = store.signal("live", "sig-1")
    assert (row.state, row.order_id, row.order_status, row.updated_at) == ("placed", "7", "FILLED", 2)
    assert store.placing("live") == []
    with pytest.raises(ValueError):
        store.finish("live", "sig-1", "placing", 4)


def test_refusals_are_recorded_so_the_id_is_spent(tmp_path):
    """A refused id is kept with its code; the same id again is a duplicate."""
    store = StateStore(tmp_path / "s.sqlite")
    assert store.record_refusal("live", "sig-1", ORDER, "over_max_quote", 1)
    assert not store.record_refusal("live", "sig-1", ORDER, "over_max_quote", 2)
    assert not store.claim("live", "sig-1", ORDER, 3)
    assert store.signal("live", "sig-1").reason_code == "over_max_quote"


def test_the_state_column_refuses_unknown_states(tmp_path):
    """The schema itself guards the state machine's values."""
    store = StateStore(tmp_path / "s.sqlite")
    store.claim("live", "sig-1", ORDER, 1)
    db = sqlite3.connect(tmp_path / "s.sqlite")
    with pytest.raises(sqlite3.IntegrityError):
        db.execute("UPDATE signals SET state = 'whatever'")
    db.close()


def test_a_sweep_keeps_its_exact_content_until_decided(tmp_path):
    """Recorded before sending; open while unsent; reopening gives byte-identical fields."""
    path = tmp_path / "s.sqlite"
    store = StateStore(path)
    row = sweep_row()
    assert store.add_sweep(row)
    assert not store.add_sweep(sweep_row(created_at=2000))
    store.sweep_tried("sw-1", "treasury_unavailable", 1500)
    store.close()
    again = StateStore(path)
    kept = again.sweep("sw-1")
    assert (kept.amount, kept.reason, kept.created_at, kept.tries) == ("12.5", row.reason, 1000, 1)
    assert [r.intent_id for r in again.open_sweeps()] == ["sw-1"]


def test_a_sweep_stays_open_until_a_terminal_status(tmp_path):
    """accepted/queued is open; completed (terminal) closes it; stale closes it at once."""
    store = StateStore(tmp_path / "s.sqlite")
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
