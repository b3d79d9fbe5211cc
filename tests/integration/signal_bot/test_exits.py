"""signal_bot/exits.py over a real state file and a scripted exchange: an exit is journaled
before it is sent, looked up before it is resent, followed to its filled leg; closes; fees."""

from __future__ import annotations

from decimal import Decimal

import pytest

from common.clock import FakeClock
from signal_bot.exit_plan import exit_ids
from signal_bot.exits import ExitDesk
from signal_bot.signals import Signal
from signal_bot.state import StateStore
from signal_bot.symbol_rules import LotRule, SymbolRules
from tests.support.scripted_exits import UNKNOWN, ScriptedExits, order, trade

D = Decimal
RULES = {"BNBUSDT": SymbolRules("BNBUSDT", "TRADING", "BNB", "USDT", LotRule(D("0.001"), D("9000"), D("0.001")),
                                tick=D("0.01"), min_notional=D("5"))}
SETTLE_MS = 7000
ENTRY = {"symbol": "BNBUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.1", "quote_order_qty": None,
         "price": None, "time_in_force": None, "take_profit": "2%", "stop_loss": "1%", "action": "open",
         "closes": None}


@pytest.fixture
def world(tmp_path):
    clock = FakeClock()
    store = StateStore(tmp_path / "state.sqlite").open()
    exchange = ScriptedExits(clock)
    exited: list[str] = []

    def desk(locked_at_ms: int | None = None) -> ExitDesk:
        return ExitDesk(exchange, store, RULES, clock, settle_ms=SETTLE_MS,
                        locked_at_ms=clock.now_ms() if locked_at_ms is None else locked_at_ms,
                        limit_ttl_ms=2000, last_price=lambda symbol: D("600"), on_exit=exited.append)
    yield clock, store, exchange, desk, exited
    store.close()


def filled_entry(store: StateStore, clock: FakeClock, entry_id: str = "e-1", executed: str = "0.1") -> None:
    store.journal("live", entry_id, ENTRY, clock.now_ms())
    store.finish("live", entry_id, "placed", clock.now_ms(), order_id="7", order_status="FILLED",
                 executed_qty=executed, cummulative_quote_qty=str(D(executed) * 600))


def test_an_exit_whose_reply_was_lost_is_found_and_never_sent_twice(world):
    """The OCO is booked but its reply lost: it is looked up by listClientOrderId and opened, not resent."""
    clock, store, exchange, desk, _ = world
    filled_entry(store, clock)
    exchange.oco_answers = ["keep+unknown"]
    exits = desk()
    exits.tick(force=True)
    assert store.exit("e-1").state == "open" and len(exchange.oco_sent) == 1
    clock.advance(60)
    exits.tick(force=True)
    assert store.exit("e-1").order_list_id == "1" and len(exchange.oco_sent) == 1


def test_an_absent_exit_is_resent_with_the_same_ids_only_once_its_absence_is_proven(world):
    """Lost before the exchange: no resend before journaling + recvWindow + margin; then one, same ids."""
    clock, store, exchange, desk, _ = world
    filled_entry(store, clock)
    exchange.oco_answers = [UNKNOWN]
    exits = desk()
    exits.tick(force=True)
    clock.advance(SETTLE_MS / 1000 - 1)
    exits.tick(force=True)
    assert len(exchange.oco_sent) == 1
    clock.advance(2)
    exits.tick(force=True)
    assert len(exchange.oco_sent) == 2 and exchange.oco_sent[0] == exchange.oco_sent[1]
    assert store.exit("e-1").state == "open"


def test_a_filled_leg_ends_the_exit_and_records_its_profit_from_the_journaled_fills(world):
    """ALL_DONE with the take-profit FILLED: `done` by take_profit; profit 61.2 - 60 - 0.0612 fee = 1.1388."""
    clock, store, exchange, desk, exited = world
    filled_entry(store, clock)
    exits = desk()
    exits.tick(force=True)
    ids = exit_ids("e-1")
    exchange.end_list(ids.list_client_order_id)
    exchange.orders[ids.take_profit] = order(ids.take_profit, "FILLED", "0.1", "61.2", order_id=100)
    exchange.trades = {7: [trade(1, 7, "600", "0.1")],
                       100: [trade(2, 100, "612", "0.1", "0.0612", "USDT", buyer=False)]}
    exits.tick(force=True)
    ex = store.exit("e-1")
    assert (ex.state, ex.ended_by, ex.exit_quote) == ("done", "take_profit", "61.2")
    assert store.profits("USDT") == ["1.1388"]
    assert exited == ["profit:" + ids.list_client_order_id]


def test_a_base_asset_fee_on_the_entry_shrinks_the_exit_quantity(world):
    """Bought 0.1 BNB paying 0.0001 BNB: the OCO sells 0.099 (0.0999 floored to the 0.001 step)."""
    clock, store, exchange, desk, _ = world
    filled_entry(store, clock)
    exchange.trades = {7: [trade(1, 7, "600", "0.1", "0.0001", "BNB")]}
    desk().tick(force=True)
    assert exchange.oco_sent[0]["quantity"] == D("0.099")


def test_a_close_after_the_exit_filled_is_refused_and_a_close_cancels_an_open_exit(world):
    """An ended list makes a close `already_exited`; an open one is cancelled and its quantity returned."""
    clock, store, exchange, desk, _ = world
    close = Signal(id="c-1", symbol="BNBUSDT", side="SELL", type="MARKET", action="close", closes="e-1")
    filled_entry(store, clock)
    filled_entry(store, clock, "e-2")
    exits = desk()
    exits.tick(force=True)
    first = exit_ids("e-1")
    exchange.end_list(first.list_client_order_id)
    exchange.orders[first.take_profit] = order(first.take_profit, "FILLED", "0.1", "61.2", order_id=100)
    refusal = exits.prepare_close(close)
    assert getattr(refusal, "code", None) == "already_exited"
    other = Signal(id="c-2", symbol="BNBUSDT", side="SELL", type="MARKET", action="close", closes="e-2")
    assert exits.prepare_close(other) == D("0.1")
    assert exchange.cancelled_lists == [exit_ids("e-2").list_client_order_id]
    assert store.exit("e-2").ended_by == "close"
    assert exits.prepare_close(Signal(id="c-3", symbol="BNBUSDT", side="BUY", type="MARKET", action="close",
                                      closes="e-2")).code == "close_wrong_side"


def test_a_limit_entry_past_its_ttl_is_cancelled_and_its_partial_fill_gets_an_exit(world):
    """NEW with 0.05 filled after 2 s: cancelled, recorded CANCELED 0.05, and an OCO for 0.05 follows."""
    clock, store, exchange, desk, _ = world
    store.journal("live", "l-1", {**ENTRY, "type": "LIMIT", "price": "600", "time_in_force": "GTC"}, clock.now_ms())
    store.finish("live", "l-1", "placed", clock.now_ms(), order_id="7", order_status="NEW", executed_qty="0",
                 cummulative_quote_qty="0")
    exchange.orders["l-1"] = order("l-1", "PARTIALLY_FILLED", "0.05", "30", side="BUY")
    exits = desk()
    exits.tick(force=True)
    assert exchange.oco_sent == [] and store.signal("live", "l-1").order_status == "PARTIALLY_FILLED"
    clock.advance(2)
    exits.tick(force=True)
    row = store.signal("live", "l-1")
    assert (row.order_status, row.executed_qty) == ("CANCELED", "0.05")
    exits.tick(force=True)
    assert exchange.oco_sent[0]["quantity"] == D("0.05")
