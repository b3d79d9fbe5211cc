"""The signal bot's TOML config: strict, amounts as strings, errors naming file and key."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from common.config import ConfigError
from signal_bot.config_file import load_config, parse_config

RISK = """
[risk]
symbols = ["BTCUSDT"]
max_quote_per_order = "500"
max_orders_per_minute = 10
"""
SWEEP = """
[sweep]
asset = "USDT"
coin = "USDT"
network = "TRX"
destination = "cold-wallet"
keep = "100"
min_sweep = "10"
step = "1"
"""


def test_minimal_config_gets_defaults():
    """Only [risk] is required; the rest has documented defaults."""
    config = parse_config(RISK)
    assert config.risk.max_quote == Decimal("500")
    assert config.orders.time_in_force == "GTC"
    assert config.sweep is None
    assert (config.treasury.timeout_seconds, config.treasury.retries) == (2.5, 3)


def test_a_sweep_table_is_read():
    """[sweep] names asset, coin, network, destination label and amounts."""
    config = parse_config(RISK + SWEEP)
    assert config.sweep.destination == "cold-wallet" and config.sweep.keep == "100"


def test_the_shipped_example_is_valid():
    """signal_bot/signal.example.toml loads as it is."""
    example = Path(__file__).resolve().parents[3] / "signal_bot" / "signal.example.toml"
    assert load_config(example).sweep is not None


@pytest.mark.parametrize("text, key", [
    (RISK.replace('"500"', "500"), "risk.max_quote_per_order"),
    (RISK.replace('"500"', '"0"'), "risk.max_quote_per_order"),
    (RISK.replace('"500"', '"-5"'), "risk.max_quote_per_order"),
    (RISK.replace("max_orders_per_minute = 10", "max_orders_per_minute = 0"), "risk.max_orders_per_minute"),
    (RISK.replace('["BTCUSDT"]', "[]"), "risk.symbols"),
    (RISK.replace('["BTCUSDT"]', '["BTCUSDT", "BTCUSDT"]'), "risk.symbols"),
    (RISK.replace('["BTCUSDT"]', '["btc-usdt"]'), "risk.symbols[0]"),
    (RISK.replace('max_quote_per_order = "500"\n', ""), "risk.max_quote_per_order"),
    (RISK + "extra = 1\n", "risk.extra"),
    ("stray = 1\n" + RISK, "stray"),
    (RISK + '[orders]\ntime_in_force = "DAY"\n', "orders.time_in_force"),
    (RISK + SWEEP.replace('step = "1"', 'step = "0"'), "sweep.step"),
    (RISK + SWEEP.replace('min_sweep = "10"', 'min_sweep = 10.0'), "sweep.min_sweep"),
    (RISK + SWEEP.replace('destination = "cold-wallet"', 'destination = "bad label!"'), "sweep.destination"),
    (RISK + SWEEP + 'max_amount = "5"\n', "sweep.max_amount"),
    (RISK + "[treasury]\nretries = 0\n", "treasury.retries"),
    (RISK + "[treasury]\ntimeout_seconds = -1\n", "treasury.timeout_seconds"),
])
def test_bad_values_are_refused_naming_the_key(text, key):
    """Every bad value is a one-line ConfigError that leads with the file and the dotted key."""
    with pytest.raises(ConfigError) as err:
        parse_config(text, "signal.toml")
    assert str(err.value).startswith(f"signal.toml: {key}: "), str(err.value)
    assert "\n" not in str(err.value)


def test_a_missing_risk_table_is_named():
    """[risk] is required."""
    with pytest.raises(ConfigError, match="signal.toml: risk: missing"):
        parse_config("", "signal.toml")


def test_exits_and_the_sweep_mode_have_safe_defaults_and_are_read():
    """No [exits]: LIMIT entries are never cancelled, polled every 5 s; sweep mode defaults to free_above_keep."""
    config = parse_config(RISK + SWEEP)
    assert (config.exits.limit_ttl_seconds, config.exits.poll_seconds, config.sweep.mode) == \
        (None, 5.0, "free_above_keep")
    config = parse_config(RISK + SWEEP + 'mode = "realised_profit"\n[exits]\nlimit_ttl_seconds = 300\n')
    assert (config.exits.limit_ttl_seconds, config.sweep.mode) == (300, "realised_profit")


@pytest.mark.parametrize("text, key", [
    (SWEEP + 'mode = "everything"\n', "sweep.mode"),
    ("[exits]\nlimit_ttl_seconds = 0\n", "exits.limit_ttl_seconds"),
    ("[exits]\npoll = 1\n", "exits.poll"),
])
def test_a_bad_exits_or_sweep_mode_key_is_named(text, key):
    """The ConfigError's line leads with the dotted key."""
    with pytest.raises(ConfigError) as caught:
        parse_config(RISK + text)
    assert f"signal.toml: {key}" in str(caught.value)
