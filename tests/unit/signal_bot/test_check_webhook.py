"""`signal-bot check`'s webhook line: the feed profile and who may call."""

from __future__ import annotations

from signal_bot.check import OK, WARN, webhook_line
from signal_bot.config_file import parse_config

BASE = '[risk]\nsymbols = ["BTCUSDT"]\nmax_quote_per_order = "100"\nmax_orders_per_minute = 5\n'


def test_the_webhook_line_names_the_profile_and_the_callers():
    """OK with the profile, the allow-list and the trusted proxies."""
    config = parse_config(BASE + '[feed]\nprofile = "tradingview"\n[access]\nallow = ["tradingview"]\n'
                                 'trusted_proxies = ["127.0.0.1"]\n')
    level, _, text = webhook_line("127.0.0.1", config)
    assert level == OK and "profile tradingview" in text and "tradingview" in text.split("callers: ")[1]


def test_an_allow_list_on_loopback_without_a_trusted_proxy_warns():
    """Behind a local front every caller would be 127.0.0.1 and refused: WARN, saying what to add."""
    config = parse_config(BASE + '[access]\nallow = ["tradingview"]\n')
    level, _, text = webhook_line("127.0.0.1", config)
    assert level == WARN and "trusted_proxies" in text
