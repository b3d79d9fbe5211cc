"""signal_bot/exit_plan.py: an entry's OCO exit, its ids, levels and safe rounding (pure)."""

from __future__ import annotations

import re
from decimal import Decimal as D

from signal_bot.exit_plan import close_quantity, exit_ids, plan_exit
from signal_bot.risk import REFUSAL_CODES, Refusal
from signal_bot.symbol_rules import LotRule, SymbolRules

RULES = SymbolRules("BNBUSDT", "TRADING", "BNB", "USDT", LotRule(D("0.001"), D("9000"), D("0.001")),
                    tick=D("0.01"), min_price=D("0.01"), max_price=D("100000"), min_notional=D("5"))


def test_exit_ids_are_deterministic_distinct_and_within_binances_pattern():
    """Same entry, same ids; each id matches ^[.A-Z:/a-z0-9_-]{1,36}$."""
    ids = exit_ids("entry-1")
    assert ids == exit_ids("entry-1") and ids != exit_ids("entry-2")
    for value in (ids.list_client_order_id, ids.take_profit, ids.stop_loss):
        assert re.fullmatch(r"[\.A-Z\:/a-z0-9_-]{1,36}", value)


def test_a_long_exit_with_percentages_sells_above_and_stops_below_the_fill():
    """BUY 0.1005 filled at 600: SELL 0.100 (floored), LIMIT_MAKER 612 above, STOP_LOSS 594 below."""
    plan = plan_exit("e", "BUY", D("0.1005"), D("60.3"), "2%", "1%", RULES, D("600"))
    assert not isinstance(plan, Refusal)
    assert (plan.side, plan.quantity, plan.take_profit, plan.stop_price) == ("SELL", D("0.1"), D("612"), D("594"))
    above, below = plan.legs()
    assert dict(above)["type"] == "LIMIT_MAKER" and dict(below) == {
        "type": "STOP_LOSS", "stopPrice": "594", "clientOrderId": plan.ids.stop_loss}


def test_a_sell_exit_rounds_both_prices_up_so_the_loss_is_never_more_than_asked():
    """take_profit 620.001 -> 620.01, stop 593.991 -> 594.00 (the stop triggers earlier, never later)."""
    plan = plan_exit("e", "BUY", D("0.1"), D("60"), "620.001", "593.991", RULES, D("600"))
    assert not isinstance(plan, Refusal) and (plan.take_profit, plan.stop_price) == (D("620.01"), D("594"))


def test_a_buy_exit_rounds_both_prices_down_and_puts_the_stop_above():
    """After a SELL: take-profit 580.009 -> 580.00 below, stop 610.009 -> 610.00 above (STOP_LOSS is the above leg)."""
    plan = plan_exit("e", "SELL", D("0.1"), D("60"), "580.009", "610.009", RULES, D("600"))
    assert not isinstance(plan, Refusal)
    assert (plan.side, plan.take_profit, plan.stop_price) == ("BUY", D("580"), D("610"))
    above, below = plan.legs()
    assert dict(above)["type"] == "STOP_LOSS" and dict(below)["type"] == "LIMIT_MAKER"


def test_levels_on_the_wrong_side_or_already_crossed_are_refused():
    """A long's take-profit under its stop, and a last price past the stop, are refusals with stable codes."""
    assert plan_exit("e", "BUY", D("0.1"), D("60"), "590", "610", RULES, D("600")).code == "exit_bad_level"
    assert plan_exit("e", "BUY", D("0.1"), D("60"), "2%", "1%", RULES, D("590")).code == "exit_would_trigger"


def test_a_fill_too_small_for_the_lot_or_the_notional_is_refused():
    """0.0005 floors to 0 (below minQty); 0.008 x 594 is under minNotional 5."""
    assert plan_exit("e", "BUY", D("0.0005"), D("0.3"), "2%", "1%", RULES, None).code == "exit_below_min_qty"
    assert plan_exit("e", "BUY", D("0.008"), D("4.8"), "2%", "1%", RULES, None).code == "exit_below_min_notional"


def test_a_close_sells_the_executed_quantity_floored_to_the_step():
    """0.1237 floors to 0.123 on a 0.001 step."""
    assert close_quantity(D("0.1237"), RULES) == D("0.123")


def test_every_exit_refusal_code_is_listed_with_the_others():
    """The codes plan_exit gives are in signal_bot/risk.py's REFUSAL_CODES."""
    refusals = [plan_exit("e", "BUY", D("0.1"), D("60"), "590", "610", RULES, D("600")),
                plan_exit("e", "BUY", D("0.1"), D("60"), "2%", "1%", RULES, D("590")),
                plan_exit("e", "BUY", D("0.0005"), D("0.3"), "2%", "1%", RULES, None),
                plan_exit("e", "BUY", D("0.008"), D("4.8"), "2%", "1%", RULES, None),
                plan_exit("e", "BUY", D("0.1"), D("60"), "200000", "1%", RULES, None)]
    assert {r.code for r in refusals} == {"exit_bad_level", "exit_would_trigger", "exit_below_min_qty",
                                          "exit_below_min_notional", "exit_price_filter"}
    assert {r.code for r in refusals} <= set(REFUSAL_CODES)
