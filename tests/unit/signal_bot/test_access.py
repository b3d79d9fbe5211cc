"""Who may call: the allow-list, its TradingView preset, X-Forwarded-For from trusted proxies only."""

from __future__ import annotations

import pytest

from signal_bot.access import AccessError, AccessRules, networks

TV = AccessRules.of(["tradingview"], ["127.0.0.1", "10.0.0.0/8"])


def test_the_tradingview_preset_admits_its_four_addresses_only():
    """TradingView's published addresses are allowed; any other is not."""
    for address in ("52.89.214.238", "34.212.75.30", "54.218.53.128", "52.32.178.7"):
        assert TV.allows(address)
    assert not TV.allows("52.89.214.239") and not TV.allows("not-an-address")


def test_forwarded_for_is_believed_only_from_a_trusted_proxy():
    """From the front the header names the caller; from anyone else it is ignored."""
    assert TV.caller("127.0.0.1", "52.89.214.238") == "52.89.214.238"
    assert TV.caller("203.0.113.9", "52.89.214.238") == "203.0.113.9"
    assert TV.caller("127.0.0.1", None) == "127.0.0.1"


def test_the_caller_is_the_rightmost_untrusted_hop():
    """A client cannot prepend a TradingView address: the hop the proxies saw is the caller."""
    assert TV.caller("127.0.0.1", "52.89.214.238, 198.51.100.7, 10.1.2.3") == "198.51.100.7"
    assert TV.caller("::ffff:127.0.0.1", "52.32.178.7") == "52.32.178.7"


def test_an_empty_allow_list_admits_anyone():
    """No [access] allow: the passphrase alone decides, as before."""
    assert AccessRules().allows("198.51.100.7")


def test_a_bad_entry_is_a_clear_error():
    """An entry that is no address, network or preset is refused; presets are not proxies."""
    with pytest.raises(AccessError):
        networks(["tradingviews"])
    with pytest.raises(AccessError):
        networks(["tradingview"], presets=False)
