"""The order desk: journal-as-claim, risk, rate, unknown outcomes, and recovery at start.

The exchange here is a scripted stand-in for common.binance.BinanceClient (its real
error types and reply structs); the desk and the state file (real SQLite) are real.
Time is a FakeClock: the desk's sleeps advance it.
"""

from __future__ import annotations

import logging

import pytest

from common import binance
from common.clock import FakeClock
from signal_bot.orders import (ABSENT_AFTER_MS, RECOVERY_LOOKUP_DELAYS, Handled, OrderDesk,
                               Retry, received_fields)
from signal_bot.signals import Signal
from signal_bot.state import StateStore
from tests.support.scripted_orders import (ABSENT, LIMITS, RECV_WINDOW_MS, RULES, SETTLE_MS, D, ScriptedExchange, result,
                                             signal)

@pytest.fixture
def desk_parts(tmp_path):
    store = StateStore(tmp_path / "state.sqlite").open()
    fills: list[str] = []
    clock = FakeClock()

    def make(exchange, store=store, **kw):
        return OrderDesk(exchange, store, RULES, LIMITS, clock, on_fill=fills.append,
                         recv_window_ms=RECV_WINDOW_MS, **kw)
    yield make, store, fills, clock
    store.close()


def submit(desk: OrderDesk, sig: Signal) -> Handled:
    """What the webhook and the worker do together: journal (the 202), then handle."""
    journaled = desk.accept(sig)
    assert journaled is not None
    return desk.handle(journaled)


def test_a_signal_becomes_one_rounded_order_and_a_fill(desk_parts):
    """The order carries the signal id as newClientOrderId, rounded down; a fill asks for a sweep."""
    make, store, fills, clock = desk_parts
    exchange = ScriptedExchange(clock)
    handled = submit(make(exchange), signal())
    assert handled.state == "placed" and handled.filled
    sent = exchange.sent[0]
    assert sent["new_client_order_id"] == "o1" and sent["quantity"] == D("0.010") and sent["price"] == D("20000.01")
    assert sent["time_in_force"] == "GTC" and sent["test"] is False
    row = store.signal("live", "o1")
    assert (row.state, row.quantity, row.price) == ("placed", "0.01", "20000.01") and fills == ["o1"]


def test_the_journal_row_is_the_claim_and_nothing_is_written_before_the_send(desk_parts, tmp_path):
    """When new_order runs, another connection sees the id committed as received, untouched since journaled."""
    make, _, _, clock = desk_parts
    seen_during_send = []

    class Peeking(ScriptedExchange):
        def new_order(self, **kwargs):
            other = StateStore(tmp_path / "state.sqlite").open()
            row = other.signal("live", kwargs["new_client_order_id"])
            seen_during_send.append((row.state, row.updated_at == row.received_at, row.quantity))
            other.close()
            return super().new_order(**kwargs)

    desk = make(Peeking(clock))
    journaled = desk.accept(signal())
    clock.advance(1)
    desk.handle(journaled)
    assert seen_during_send == [("received", True, "0.0109")]


def test_a_duplicate_id_is_journaled_once_and_places_one_order(desk_parts, caplog):
    """The same id twice: accept gives no Journaled the second time (logged duplicate), so nothing to send."""
    make, _, _, clock = desk_parts
    exchange = ScriptedExchange(clock)
    desk = make(exchange)
    submit(desk, signal())
    with caplog.at_level(logging.INFO):
        assert desk.accept(signal(quantity="0.5")) is None
    assert len(exchange.sent) == 1
    assert any(r.getMessage() == "order_refused" and r.fields["reason"] == "duplicate" for r in caplog.records)


def test_a_restart_does_not_retrade_a_seen_id(desk_parts, tmp_path):
    """A new desk over the same state file refuses an id the old one placed."""
    make, _, _, clock = desk_parts
    submit(make(ScriptedExchange(clock)), signal())
    store2 = StateStore(tmp_path / "state.sqlite").open()
    exchange = ScriptedExchange(clock)
    again = make(exchange, store=store2)
    assert again.accept(signal()) is None
    store2.close()
    assert exchange.sent == []


def test_risk_refusals_send_nothing_and_spend_the_id(desk_parts):
    """unknown_symbol / below_min_notional: nothing sent, the row refused with its code."""
    make, store, _, clock = desk_parts
    exchange = ScriptedExchange(clock)
    desk = make(exchange)
    assert submit(desk, signal("u1", symbol="ETHUSDT")).code == "unknown_symbol"
    assert submit(desk, signal("u2", quantity="0.001", price="10")).code == "below_min_notional"
    assert exchange.sent == []
    assert (store.signal("live", "u2").state, store.signal("live", "u2").reason_code) == ("refused",
                                                                                          "below_min_notional")
    assert desk.accept(signal("u2")) is None


def test_the_rate_limit_refuses_the_fourth_order_in_a_minute(desk_parts):
    """max_orders_per_minute=3: the fourth is rate_limited; a minute later orders go again."""
    make, store, _, clock = desk_parts
    exchange = ScriptedExchange(clock)
    desk = make(exchange)
    codes = [submit(desk, signal(f"r{n}")).code for n in range(4)]
    assert codes == [None, None, None, "rate_limited"]
    assert store.signal("live", "r3").price == "20000.01"        # refused after planning: the plan is kept
    clock.advance(60)
    assert submit(desk, signal("r5")).state == "placed"
    assert len(exchange.sent) == 4


def test_market_by_quantity_uses_the_last_price_for_the_cap(desk_parts):
    """A MARKET-by-quantity notional over the cap at the last price is refused; without a price too."""
    make, _, _, clock = desk_parts
    desk = make(ScriptedExchange(clock), last_price=lambda s: D("50000"))
    assert submit(desk, signal("m1", type="MARKET", price=None, quantity="0.03")).code == "over_max_quote"
    desk = make(ScriptedExchange(clock), last_price=lambda s: None)
    assert submit(desk, signal("m2", type="MARKET", price=None, quantity="0.01")).code == "no_reference_price"


def test_an_exchange_rejection_is_recorded_not_retried(desk_parts):
    """OrderRejected: state rejected with the code, one request only, no fill."""
    make, store, fills, clock = desk_parts
    exchange = ScriptedExchange(clock, orders=[binance.OrderRejected("Filter failure: LOT_SIZE", binance_code=-1013)])
    assert submit(make(exchange), signal()).state == "rejected"
    assert len(exchange.sent) == 1 and fills == []
    assert store.signal("live", "o1").reason_code == "order_rejected"


def test_an_unknown_outcome_is_looked_up_and_found_never_resent(desk_parts):
    """OutcomeUnknown then the look-up finds it: placed, and new_order was called once."""
    make, store, fills, clock = desk_parts
    exchange = ScriptedExchange(clock, orders=[binance.OutcomeUnknown("HTTP 503")],
                                lookups=[binance.ExchangeUnavailable("down"), result("o1")])
    handled = submit(make(exchange), signal())
    assert handled.state == "placed" and len(exchange.sent) == 1
    assert exchange.looked_up == ["o1", "o1"] and fills == ["o1"]
    assert store.signal("live", "o1").order_id == "42"


def test_an_unknown_outcome_is_called_absent_only_once_settled(desk_parts):
    """Absent at every look-up: failed order_absent, decided by a look-up recvWindow + margin after the send."""
    make, store, _, clock = desk_parts
    exchange = ScriptedExchange(clock, orders=[binance.OutcomeUnknown("timeout")], lookups=[ABSENT] * 4)
    desk = make(exchange)
    journaled = desk.accept(signal())
    sent_at = clock.now_ms()
    assert desk.handle(journaled).code == "order_absent"
    assert len(exchange.sent) == 1 and store.signal("live", "o1").state == "failed"
    assert exchange.looked_up_at[-1] >= sent_at + SETTLE_MS


def test_an_order_that_lands_late_is_found_by_the_settling_look_up(desk_parts):
    """Absent three times, then there (a held request executed late): placed, not failed, never resent."""
    make, store, fills, clock = desk_parts
    exchange = ScriptedExchange(clock, orders=[binance.OutcomeUnknown("connection reset")],
                                lookups=[ABSENT] * 3 + [result("o1")])
    assert submit(make(exchange), signal()).state == "placed"
    assert len(exchange.sent) == 1 and store.signal("live", "o1").state == "placed" and fills == ["o1"]


def test_an_unresolvable_outcome_stays_placing_for_later(desk_parts):
    """Look-ups that all fail leave the id placing (still a duplicate for new signals)."""
    make, store, _, clock = desk_parts
    exchange = ScriptedExchange(clock, orders=[binance.OutcomeUnknown("timeout")],
                                lookups=[binance.ExchangeUnavailable("down")] * 3)
    desk = make(exchange)
    assert submit(desk, signal()).code == "outcome_unknown"
    assert store.signal("live", "o1").state == "placing"
    assert desk.accept(signal()) is None and len(exchange.sent) == 1


def test_periodic_reconcile_waits_before_calling_an_order_absent(desk_parts):
    """A placing row found absent stays placing until ABSENT_AFTER_MS after it was marked; then failed."""
    make, store, _, clock = desk_parts
    store.journal("live", "p1", received_fields(signal("p1")), clock.now_ms())
    clock.advance(600)                              # queued for ten minutes, then sent: outcome unknown
    store.mark_placing("live", "p1", clock.now_ms())
    exchange = ScriptedExchange(clock, lookups=[ABSENT] * 2)
    desk = make(exchange)
    assert desk.reconcile_pending()[0].state == "unknown"
    clock.advance(ABSENT_AFTER_MS / 1000)
    assert desk.reconcile_pending()[0].state == "failed"
    assert exchange.sent == []


def test_dry_run_uses_the_test_endpoint_and_never_sweeps(desk_parts):
    """--dry-run: new_order(test=True), recorded in test mode, no fill callback."""
    make, store, fills, clock = desk_parts
    exchange = ScriptedExchange(clock)
    assert submit(make(exchange, dry_run=True), signal()).state == "placed"
    assert exchange.sent[0]["test"] is True and fills == []
    assert store.signal("test", "o1").order_status == "TEST" and not store.seen("live", "o1")


# -- recovery at start: rows an earlier (killed) process left -----------------------------------

def journaled(store: StateStore, clock: FakeClock, *ids: str, **kw) -> None:
    for id_ in ids:
        store.journal("live", id_, received_fields(signal(id_, **kw)), clock.now_ms())


def test_recovery_lists_placing_rows_first_then_received_in_arrival_order(desk_parts):
    """unfinished(): the reconciliation of placing rows comes before the journal's received rows."""
    make, store, _, clock = desk_parts
    journaled(store, clock, "a", "b", "c", "d")
    store.mark_placing("live", "c", clock.now_ms())
    store.refuse("live", "b", "over_max_quote", clock.now_ms())
    assert [r.id for r in make(ScriptedExchange(clock)).unfinished()] == ["c", "a", "d"]


def test_a_received_row_found_on_the_exchange_is_placed_without_a_send(desk_parts):
    """The killed process had sent it: the look-up finds it; placed and swept, nothing sent again."""
    make, store, fills, clock = desk_parts
    journaled(store, clock, "k1")
    exchange = ScriptedExchange(clock, lookups=[result("k1")])
    desk = make(exchange)
    (row,) = desk.unfinished()
    assert desk.recover(row, settled_at_ms=clock.now_ms() + SETTLE_MS) == Handled("k1", "placed", filled=True)
    assert exchange.sent == [] and fills == ["k1"] and store.signal("live", "k1").state == "placed"


def test_a_received_row_absent_before_settling_waits_then_is_traded_once(desk_parts):
    """Absent while a request of the dead process could still land: wait; absent once settled: sent once."""
    make, store, _, clock = desk_parts
    journaled(store, clock, "k2")
    settled_at = clock.now_ms() + SETTLE_MS
    exchange = ScriptedExchange(clock, lookups=[ABSENT, ABSENT])
    desk = make(exchange)
    (row,) = desk.unfinished()
    wait = desk.recover(row, settled_at)
    assert wait == Retry(SETTLE_MS / 1000) and exchange.sent == []
    clock.sleep(wait.after_s)
    assert desk.recover(row, settled_at, attempt=1).state == "placed"
    assert [s["new_client_order_id"] for s in exchange.sent] == ["k2"]
    assert exchange.looked_up_at == [settled_at - SETTLE_MS, settled_at]
    assert store.signal("live", "k2").state == "placed"


def test_a_received_row_that_lands_while_waiting_is_not_sent_again(desk_parts):
    """Absent at first, there at the settled look-up (the dead process's request was held): placed, no send."""
    make, store, fills, clock = desk_parts
    journaled(store, clock, "k3")
    settled_at = clock.now_ms() + SETTLE_MS
    exchange = ScriptedExchange(clock, lookups=[ABSENT, result("k3")])
    desk = make(exchange)
    (row,) = desk.unfinished()
    wait = desk.recover(row, settled_at)
    assert isinstance(wait, Retry)
    clock.sleep(wait.after_s)
    assert desk.recover(row, settled_at, attempt=1).state == "placed"
    assert exchange.sent == [] and fills == ["k3"]


def test_a_recovered_signal_still_meets_the_risk_checks(desk_parts):
    """A journaled signal that is absent is decided now like a new one: a risk refusal sends nothing."""
    make, store, _, clock = desk_parts
    journaled(store, clock, "k4", symbol="ETHUSDT")            # not on the allow-list
    exchange = ScriptedExchange(clock, lookups=[ABSENT])
    desk = make(exchange)
    (row,) = desk.unfinished()
    assert desk.recover(row, settled_at_ms=clock.now_ms()).code == "unknown_symbol"
    assert exchange.sent == [] and store.signal("live", "k4").state == "refused"


def test_a_placing_row_proven_absent_fails_and_is_not_resent(desk_parts):
    """placing (unknown outcome at run time) absent once settled: failed order_absent, as at run time."""
    make, store, _, clock = desk_parts
    journaled(store, clock, "p1")
    store.mark_placing("live", "p1", clock.now_ms())
    exchange = ScriptedExchange(clock, lookups=[ABSENT])
    desk = make(exchange)
    (row,) = desk.unfinished()
    assert desk.recover(row, settled_at_ms=clock.now_ms()) == Handled("p1", "failed", "order_absent")
    assert exchange.sent == []


def test_failing_look_ups_at_start_are_retried_then_left_placing(desk_parts):
    """The exchange cannot answer: retried after each RECOVERY_LOOKUP_DELAYS pause, then placing; nothing sent."""
    make, store, _, clock = desk_parts
    journaled(store, clock, "k5")
    tries = len(RECOVERY_LOOKUP_DELAYS) + 1
    exchange = ScriptedExchange(clock, lookups=[binance.ExchangeUnavailable("down")] * tries)
    desk = make(exchange)
    (row,) = desk.unfinished()
    waits = [desk.recover(row, clock.now_ms(), attempt) for attempt in range(tries)]
    assert waits[:-1] == [Retry(d) for d in RECOVERY_LOOKUP_DELAYS] and waits[-1].code == "outcome_unknown"
    assert exchange.sent == [] and store.signal("live", "k5").state == "placing"


def test_dry_run_recovery_revalidates_received_rows_and_fails_placing_ones(desk_parts):
    """Test orders leave nothing to look up: a received row is validated again, a placing one is interrupted."""
    make, store, _, clock = desk_parts
    for id_ in ("t1", "t2"):
        store.journal("test", id_, received_fields(signal(id_)), clock.now_ms())
    store.mark_placing("test", "t2", clock.now_ms())
    exchange = ScriptedExchange(clock)
    desk = make(exchange, dry_run=True)
    outcomes = [desk.recover(row, clock.now_ms() + SETTLE_MS) for row in desk.unfinished()]
    assert [(h.signal_id, h.state) for h in outcomes] == [("t2", "failed"), ("t1", "placed")]
    assert [s["new_client_order_id"] for s in exchange.sent] == ["t1"] and exchange.looked_up == []


def test_a_recovered_signal_older_than_the_age_limit_is_refused_not_traded(desk_parts):
    """After a long stop a journaled signal is stale: refused stale_signal, nothing sent."""
    make, store, _, clock = desk_parts
    journaled(store, clock, "old-1")
    settled_at = clock.now_ms() + SETTLE_MS
    clock.sleep(121)  # past the default 120 s
    exchange = ScriptedExchange(clock, lookups=[ABSENT])
    desk = make(exchange)
    (row,) = desk.unfinished()
    handled = desk.recover(row, settled_at)
    assert (handled.state, handled.code) == ("refused", "stale_signal")
    assert exchange.sent == [] and store.signal("live", "old-1").state == "refused"
