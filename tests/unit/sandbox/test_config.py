"""sandbox/config.py: the TOML schema is strict and its errors name the key."""

from __future__ import annotations

import re

import pytest

from sandbox.config import ConfigError, load_config, parse_config

NETWORK = """
[[coin]]
coin = "USDT"
  [[coin.network]]
  network = "TRX"
  withdraw_min = "10"
  withdraw_max = "100"
  withdraw_integer_multiple = "0.1"
  withdraw_fee = "1"
  address_regex = "^T.*$"
"""


def test_packaged_demo_config_loads_with_three_fake_keys():
    """demo.toml is valid: signal trades, treasury withdraws with IP restriction, reader reads."""
    config = load_config()
    signal, treasury, reader = (config.find_key_by_name(n) for n in ("signal", "treasury", "reader"))
    assert signal.can_trade and not signal.can_withdraw
    assert treasury.can_withdraw and not treasury.can_trade and treasury.ip_restrict
    assert reader.enable_reading and not (reader.can_trade or reader.can_withdraw)
    assert all("not-real" in k.api_secret for k in config.key)
    assert {s.symbol for s in config.symbol} == {"BTCUSDT", "ETHUSDT", "BNBUSDT"}
    btc = config.find_symbol("BTCUSDT")
    assert (str(btc.price_filter.tick_size), str(btc.lot_size.step_size), str(btc.notional.min_notional)) == \
        ("0.01", "0.00001", "5")


def test_demo_address_regexes_accept_the_demo_addresses():
    """The demo's TRX and EVM regexes match its documented demo addresses."""
    config = load_config()
    trx = config.find_coin("USDT").find_network("TRX")
    evm = config.find_coin("USDT").find_network("ETH")
    assert re.fullmatch(trx.address_regex, "TSandboxDemoCo1dWa11etAddress11111")
    assert re.fullmatch(evm.address_regex, "0x5a9d5a9d5a9d5a9d5a9d5a9d5a9d5a9d5a9d5a9d")
    assert not re.fullmatch(trx.address_regex, "TSandbox0OIl")


def test_float_amount_is_refused_with_the_key_named():
    """Amounts are TOML strings: a float is an error naming where it is."""
    with pytest.raises(ConfigError, match=r"x\.toml: .*decimal string.*\$\.coin\[0\]\.network\[0\]\.withdraw_fee"):
        parse_config(NETWORK.replace('withdraw_fee = "1"', "withdraw_fee = 1.0"), "x.toml")


def test_unknown_key_is_refused():
    """A misspelt setting is an error, not silently ignored."""
    with pytest.raises(ConfigError, match="complete_after_second"):
        parse_config("[exchange]\ncomplete_after_second = 3\n")


def test_bad_regex_and_min_above_max_are_refused():
    """Regexes must compile; withdraw_min may not exceed withdraw_max."""
    with pytest.raises(ConfigError, match="address_regex"):
        parse_config(NETWORK.replace('"^T.*$"', '"^T[$"'))
    with pytest.raises(ConfigError, match="withdraw_min"):
        parse_config(NETWORK.replace('withdraw_min = "10"', 'withdraw_min = "1000"'))


def test_duplicate_key_names_and_conflicting_address_lists_are_refused():
    """Two keys with one name, or an address both failing and rejecting, stop the start."""
    key = '[[key]]\nname = "a"\napi_key = "k{n}"\napi_secret = "s"\n'
    with pytest.raises(ConfigError, match="duplicate key name"):
        parse_config(key.format(n=1) + key.format(n=2))
    with pytest.raises(ConfigError, match="both failing and rejecting"):
        parse_config('[exchange]\nfailing_addresses = ["x"]\nrejecting_addresses = ["x"]\n')


def test_key_repr_never_shows_the_secret():
    """A key's repr names it, never its secret."""
    key = load_config().find_key_by_name("signal")
    assert "secret" not in repr(key) and key.api_secret not in repr(key)
