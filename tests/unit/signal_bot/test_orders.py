"""The order desk: duplicates, risk, rate, claim-before-send, and reconciliation of unknown outcomes.

The exchange here is a scripted stand-in for common.binance.BinanceClient (its real
error types and reply structs); the desk and the state file (real SQLite) are real.
"""

from __future__ import annotations

import logging
from decimal import Decimal

import pytest

from common import binance
from common.binance import Amount, OrderResult
from common.clock import FakeClock
from signal_bot.orders import ABSENT_AFTER_MS, OrderDesk
from signal_bot.risk import RiskLimits
from signal_bot.signals import Signal
from signal_bot.state import StateStore
from signal_bot.symbol_rules import LotRule, SymbolRules

D = Decimal
RULES = {"BTCUSDT": SymbolRules("BTCUSDT", "TRADING", "BTC", "USDT", LotRule(D("0.001"), D("100"), D("0.001")),
                                tick=D("0.01"), min_notional=D("5"))}
LIMITS = RiskLimits(frozenset({"BTCUSDT"}), D("1000"), 3, "GTC")


def result(client_id: str, executed: str = "0.01", status: str = "FILLED") -> OrderResult:
    return OrderResult(symbol="BTCUSDT", order_id=42, client_order_id=client_id, status=status,
                       executed_qty=Amount(executed), cummulative_quote_qty=Amount("200"),
                       orig_qty=Amount("0.01"), price=Amount("0"), side="BUY", type="MARKET")


class ScriptedExchange:
    """new_order / get_order answers taken from lists, in order; every call is kept."""

    def __init__(self, orders=(), lookups=()) -> None:
        self.orders = list(orders)
        self.lookups = list(lookups)
        self.sent: list[dict] = []
        self.looked_up: list[str] = []

    def new_order(self, **kwargs):
        self.sent.append(kwargs)
        answer = self.orders.pop(0) if self.orders else result(kwargs["new_client_order_id"])
        if isinstance(answer, Exception):
            raise answer
        return None if kwargs.get("test") else answer

    def get_order(self, *, symbol, orig_client_order_id):
        self.looked_up.append(orig_client_order_id)
        answer = self.lookups.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def signal(id_: str = "o1", **kw) -> Signal:
    base = dict(id=id_, symbol="BTCUSDT", side="BUY", type="LIMIT", quantity="0.0109", price="20000.019")
    base.update(kw)
    return Signal(**{k: v for k, v in base.items() if v is not None})


@pytest.fixture
def desk_parts(tmp_path):
    store = StateStore(tmp_path / "state.sqlite")
    fills: list[str] = []
    clock = FakeClock()

    def make(exchange, **kw):
        return OrderDesk(exchange, store, RULES, LIMITS, clock, on_fill=fills.append, **kw)
    yield make, store, fills, clock
    store.close()


def test_a_signal_becomes_one_rounded_order_and_a_fill(desk_parts):
    """The order carries the signal id as newClientOrderId, rounded down; a fill asks for a sweep."""
    make, store, fills, _ = desk_parts
    exchange = ScriptedExchange()
    handled = make(exchange).handle(signal())
    assert handled.state == "placed" and handled.filled
    sent = exchange.sent[0]
    assert sent["new_client_order_id"] == "o1" and sent["quantity"] == D("0.010") and sent["price"] == D("20000.01")
    assert sent["time_in_force"] == "GTC" and sent["test"] is False
    assert store.signal("live", "o1").state == "placed" and fills == ["o1"]


def test_the_order_is_claimed_before_it_is_sent(desk_parts, tmp_path):
    """When new_order runs, the id is already committed as placing (seen by another connection)."""
    make, _, _, _ = desk_parts
    seen_during_send = []

    class Peeking(ScriptedExchange):
        def new_order(self, **kwargs):
            other = StateStore(tmp_path / "state.sqlite")
            seen_during_send.append(other.signal("live", kwargs["new_client_order_id"]).state)
            other.close()
            return super().new_order(**kwargs)

    make(Peeking()).handle(signal())
    assert seen_during_send == ["placing"]


def test_a_duplicate_id_places_no_second_order(desk_parts, caplog):
    """The same id twice: one order, the second is refused as duplicate."""
    make, _, _, _ = desk_parts
    exchange = ScriptedExchange()
    desk = make(exchange)
    desk.handle(signal())
    with caplog.at_level(logging.INFO):
        assert desk.handle(signal(quantity="0.5")).code == "duplicate"
    assert len(exchange.sent) == 1
    assert any(r.getMessage() == "order_refused" and r.fields["reason"] == "duplicate" for r in caplog.records)


def test_a_restart_does_not_retrade_a_seen_id(desk_parts, tmp_path):
    """A new desk over the same state file refuses an id the old one placed."""
    make, store, _, clock = desk_parts
    make(ScriptedExchange()).handle(signal())
    store2 = StateStore(tmp_path / "state.sqlite")
    exchange = ScriptedExchange()
    again = OrderDesk(exchange, store2, RULES, LIMITS, clock).handle(signal())
    store2.close()
    assert again.code == "duplicate" and exchange.sent == []


def test_risk_refusals_send_nothing_and_spend_the_id(desk_parts):
    """unknown_symbol / below_min_notional: nothing sent, recorded as refused."""
    make, store, _, _ = desk_parts
    exchange = ScriptedExchange()
    desk = make(exchange)
    assert desk.handle(signal("u1", symbol="ETHUSDT")).code == "unknown_symbol"
    assert desk.handle(signal("u2", quantity="0.001", price="10")).code == "below_min_notional"
    assert exchange.sent == []
    assert store.signal("live", "u2").state == "refused"


def test_the_rate_limit_refuses_the_fourth_order_in_a_minute(desk_parts):
    """max_orders_per_minute=3: the fourth is rate_limited; a minute later orders go again."""
    make, _, _, clock = desk_parts
    exchange = ScriptedExchange()
    desk = make(exchange)
    codes = [desk.handle(signal(f"r{n}")).code for n in range(4)]
    assert codes == [None, None, None, "rate_limited"]
    clock.advance(60)
    assert desk.handle(signal("r5")).state == "placed"
    assert len(exchange.sent) == 4


def test_market_by_quantity_uses_the_last_price_for_the_cap(desk_parts):
    """A MARKET-by-quantity notional over the cap at the last price is refused; without a price too."""
    make, _, _, _ = desk_parts
    desk = make(ScriptedExchange(), last_price=lambda s: D("50000"))
    assert desk.handle(signal("m1", type="MARKET", price=None, quantity="0.03")).code == "over_max_quote"
    desk = make(ScriptedExchange(), last_price=lambda s: None)
    assert desk.handle(signal("m2", type="MARKET", price=None, quantity="0.01")).code == "no_reference_price"


def test_an_exchange_rejection_is_recorded_not_retried(desk_parts):
    """OrderRejected: state rejected with the code, one request only, no fill."""
    make, store, fills, _ = desk_parts
    exchange = ScriptedExchange(orders=[binance.OrderRejected("Filter failure: LOT_SIZE", binance_code=-1013)])
    assert make(exchange).handle(signal()).state == "rejected"
    assert len(exchange.sent) == 1 and fills == []
    assert store.signal("live", "o1").reason_code == "order_rejected"


def test_an_unknown_outcome_is_looked_up_and_found_never_resent(desk_parts):
    """OutcomeUnknown then the look-up finds it: placed, and new_order was called once."""
    make, store, fills, _ = desk_parts
    exchange = ScriptedExchange(orders=[binance.OutcomeUnknown("HTTP 503")],
                                lookups=[binance.ExchangeUnavailable("down"), result("o1")])
    handled = make(exchange).handle(signal())
    assert handled.state == "placed" and len(exchange.sent) == 1
    assert exchange.looked_up == ["o1", "o1"] and fills == ["o1"]
    assert store.signal("live", "o1").order_id == "42"


def test_an_unknown_outcome_proven_absent_fails_without_a_resend(desk_parts):
    """Two look-ups saying -2013: failed with order_absent, and no second new_order."""
    make, store, _, _ = desk_parts
    exchange = ScriptedExchange(orders=[binance.OutcomeUnknown("timeout")],
                                lookups=[binance.OrderNotFound("no order", binance_code=-2013)] * 2)
    assert make(exchange).handle(signal()).code == "order_absent"
    assert len(exchange.sent) == 1 and store.signal("live", "o1").state == "failed"


def test_an_unresolvable_outcome_stays_placing_for_later(desk_parts):
    """Look-ups that all fail leave the id placing (still a duplicate for new signals)."""
    make, store, _, _ = desk_parts
    exchange = ScriptedExchange(orders=[binance.OutcomeUnknown("timeout")],
                                lookups=[binance.ExchangeUnavailable("down")] * 3)
    desk = make(exchange)
    assert desk.handle(signal()).code == "outcome_unknown"
    assert store.signal("live", "o1").state == "placing"
    assert desk.handle(signal()).code == "duplicate" and len(exchange.sent) == 1


def test_reconcile_at_start_settles_placing_rows(desk_parts):
    """At start every placing id is looked up: found -> placed (and swept), absent -> failed."""
    make, store, fills, _ = desk_parts
    order = {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.01"}
    store.claim("live", "p1", order, 1)
    store.claim("live", "p2", order, 2)
    exchange = ScriptedExchange(lookups=[result("p1"), binance.OrderNotFound("no", binance_code=-2013)])
    handled = make(exchange).reconcile_pending(at_start=True)
    assert [(h.signal_id, h.state) for h in handled] == [("p1", "placed"), ("p2", "failed")]
    assert exchange.sent == [] and fills == ["p1"]


def test_periodic_reconcile_waits_before_calling_an_order_absent(desk_parts):
    """Outside start, a young placing row found absent stays placing until ABSENT_AFTER_MS."""
    make, store, _, clock = desk_parts
    store.claim("live", "p1", {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "1"},
                clock.now_ms())
    exchange = ScriptedExchange(lookups=[binance.OrderNotFound("no", binance_code=-2013)] * 2)
    desk = make(exchange)
    assert desk.reconcile_pending()[0].state == "unknown"
    clock.advance(ABSENT_AFTER_MS / 1000)
    assert desk.reconcile_pending()[0].state == "failed"


def test_dry_run_uses_the_test_endpoint_and_never_sweeps(desk_parts):
    """--dry-run: new_order(test=True), recorded in test mode, no fill callback."""
    make, store, fills, _ = desk_parts
    exchange = ScriptedExchange()
    assert make(exchange, dry_run=True).handle(signal()).state == "placed"
    assert exchange.sent[0]["test"] is True and fills == []
    assert store.signal("test", "o1").order_status == "TEST" and not store.seen("live", "o1")


def test_the_price_source_caches_and_refuses_on_errors():
    """A price is reused within its ttl; an exchange error or a zero price gives None."""
    from signal_bot.prices import PriceSource
    calls = []

    def ticker(symbol):
        calls.append(symbol)
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    answers = [D("100"), binance.ExchangeUnavailable("down"), D("0")]
    clock = FakeClock()
    prices = PriceSource(ticker, ttl=2.0, clock=clock)
    assert prices.last_price("BTCUSDT") == D("100") and prices.last_price("BTCUSDT") == D("100")
    clock.advance(2)
    assert prices.last_price("BTCUSDT") is None
    assert prices.last_price("BTCUSDT") is None
    assert calls == ["BTCUSDT"] * 3
