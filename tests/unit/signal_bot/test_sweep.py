"""Sweeps: the pure amount and id, and the seam the sweep exchange must fill (the worker
against a fake treasury over real CURVE and SQLite is in tests/integration/signal_bot/test_sweep.py)."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from hypothesis import given, strategies as st

from common.money import is_multiple
from signal_bot.config_file import Sweep
from signal_bot.sweep import SweepExchange, plan_sweep, sweep_intent_id
from tests.support.seams import mismatches
from tests.support.sweep_cases import SWEEP, Balances

D = Decimal


@pytest.mark.parametrize("free, expected", [
    ("1050", None),          # exactly keep + min_sweep: not above it
    ("1050.5", D("50")),     # above keep + min_sweep; 50.5 floors to 50 = min_sweep
    ("1051", D("51")),
    ("1234.99", D("234")),
    ("999", None),
    ("0", None),
])
def test_plan_sweep_table(free, expected):
    """(free - keep) floored to step, only above keep + min_sweep."""
    assert plan_sweep(D(free), SWEEP) == expected


def test_plan_sweep_caps_at_max_amount():
    """max_amount bounds one sweep."""
    capped = Sweep(**{**{f: getattr(SWEEP, f) for f in SWEEP.__struct_fields__}, "max_amount": "100"})
    assert plan_sweep(D("5000"), capped) == D("100")


@given(st.decimals(min_value="0", max_value="1000000", places=8),
       st.sampled_from(["0", "10", "1000"]), st.sampled_from(["0.01", "1", "5"]), st.sampled_from(["1", "25"]))
def test_plan_sweep_never_sweeps_into_keep(free, keep, step, min_sweep):
    """A sweep leaves at least `keep`, is a whole number of steps and at least min_sweep."""
    sweep = Sweep(asset="USDT", coin="USDT", network="TRX", destination="c", keep=keep, min_sweep=min_sweep,
                  step=step)
    amount = plan_sweep(free, sweep)
    if amount is None:
        return
    assert free - amount >= D(keep) and is_multiple(amount, D(step)) and amount >= D(min_sweep)
    assert free > D(keep) + D(min_sweep)


def test_sweep_intent_id_is_deterministic_and_valid():
    """Same signal, same id; the id fits the wire's intent_id pattern."""
    a, b = sweep_intent_id("sig-1"), sweep_intent_id("sig-1")
    assert a == b != sweep_intent_id("sig-2")
    assert re.fullmatch(r"[A-Za-z0-9_-]{1,36}", a) and len(a) == 35


def test_the_balances_double_and_the_real_client_are_whole_sweep_exchanges():
    """What the worker is tested against (Balances) and runs against (BinanceClient) both
    implement its seam, so it calls account() and close() without probing for them."""
    from common.binance import BinanceClient
    client = BinanceClient("https://api.test.invalid", "test-key-not-real-0003-abcdefghijkl",
                           "test-secret-not-real-0003")
    try:
        assert mismatches(client, SweepExchange) == []
    finally:
        client.close()
    assert mismatches(Balances("1"), SweepExchange) == []
