"""Ids people can write against the real state file: old rows keep working, a derived id is
the journal's key, and a body-hash id is a duplicate within its window and across its edge."""

from __future__ import annotations

from common.clock import FakeClock
from signal_bot.intake import Intake
from signal_bot.orders import signal_of
from signal_bot.signal_ids import body_id, client_order_id
from signal_bot.signals import Signal
from signal_bot.state import StateStore
from signal_bot.webhook import ACCEPTED, DUPLICATE, Dedupe, judge_body

FIELDS = {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quote_amount": "25"}


def make(tmp_path, clock) -> Intake:
    return Intake(StateStore(tmp_path / "state.sqlite", shared=True).open(), "live", 10, clock)


def test_an_id_journaled_before_issue_15_is_still_a_duplicate_under_its_own_name(tmp_path):
    """A row written by the old code (its id as the key) blocks a resend of that id; the key is unchanged."""
    store = StateStore(tmp_path / "state.sqlite").open()
    assert store.journal("live", "sig-old-1", {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET",
                                               "quote_order_qty": "25"}, 1_000)
    store.close()
    intake = make(tmp_path, FakeClock())
    assert intake.submit(Signal(id="sig-old-1", **FIELDS)) == DUPLICATE
    intake.close()


def test_a_written_id_is_journaled_under_its_client_order_id_and_recovers_to_the_same_order(tmp_path):
    """`BTCUSDT-2019-08-27T09:56:00Z` is keyed by its derived id; the row rebuilt keeps that id."""
    intake = make(tmp_path, FakeClock())
    text = "BTCUSDT-2019-08-27T09:56:00Z"
    assert intake.submit(Signal(id=text, **FIELDS)) == ACCEPTED
    assert intake.submit(Signal(id=text, **FIELDS)) == DUPLICATE
    intake.close()
    reader = StateStore(tmp_path / "state.sqlite").open()
    row = reader.signal("live", client_order_id(text))
    reader.close()
    assert row is not None and signal_of(row).client_order_id == row.id == client_order_id(text)


def test_a_body_without_an_id_is_a_duplicate_within_the_window_and_across_its_edge(tmp_path):
    """The same body 50 s later, in the next window, is still a duplicate; 130 s later it is new."""
    clock = FakeClock()
    intake = make(tmp_path, clock)
    body = b'{"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quote_amount": "25", "passphrase": "p"}'
    base = (clock.now_ms() // 60_000) * 60_000 + 30_000        # the middle of a window

    def send(at_ms: int) -> str:
        judged = judge_body(body, None, "p", now_ms=at_ms)
        assert isinstance(judged.dedupe, Dedupe)
        clock.advance((at_ms - clock.now_ms()) / 1000)
        return intake.submit(judged.signal, judged.dedupe)
    assert send(base) == ACCEPTED
    assert send(base + 10_000) == DUPLICATE                    # same window
    assert send(base + 50_000) == DUPLICATE                    # next window, 50 s after the first
    assert send(base + 130_000) == ACCEPTED                    # two windows on: a new signal
    assert body_id({**FIELDS}, base // 60_000) != body_id({**FIELDS}, (base + 130_000) // 60_000)
    intake.close()
