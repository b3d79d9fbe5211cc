"""The exchange's withdraw rules: from /capital/config/getall, to and from the ledger's
snapshot, and the cache that refreshes them without ever waiting in a decision."""

from __future__ import annotations

import dataclasses
import json
from decimal import Decimal

from common.binance import Amount, CoinConfig, NetworkConfig
from tests.support.seams import mismatches
from tests.support.treasury import TRX_RULE
from treasury_bot.coin_rules import from_snapshot, to_snapshot
from treasury_bot.exchange import CoinRulesSource
from treasury_bot.withdraw_rules import coin_rules_from_config as rules_from_config


def network(name: str, **over) -> NetworkConfig:
    fields = dict(network=name, coin="USDT", withdraw_enable=True, withdraw_min=Amount("10"),
                  withdraw_max=Amount("100000"), withdraw_integer_multiple=Amount("0.000001"),
                  withdraw_fee=Amount("1"), address_regex="^T[1-9A-HJ-NP-Za-km-z]{33}$", memo_regex="")
    fields.update(over)
    return NetworkConfig(**fields)


CONFIG = [CoinConfig(coin="USDT", network_list=[network("TRX"), network("BSC", withdraw_enable=False,
                                                                          address_regex="^0x[0-9a-fA-F]{40}$",
                                                                          memo_regex="^[0-9]+$")]),
          CoinConfig(coin="BTC", network_list=[network("BTC", coin="BTC", withdraw_min=Amount("0.0005"),
                                                       withdraw_max=Amount("0"))])]


def test_rules_from_config_keys_every_network_by_coin_and_network():
    """One NetworkRule per (coin, network), with Decimal limits and the regexes as given."""
    rules = rules_from_config(CONFIG)
    assert set(rules) == {("USDT", "TRX"), ("USDT", "BSC"), ("BTC", "BTC")}
    assert rules[("USDT", "TRX")] == TRX_RULE
    assert rules[("USDT", "BSC")].withdraw_enable is False and rules[("USDT", "BSC")].memo_regex == "^[0-9]+$"
    assert rules[("BTC", "BTC")].withdraw_min == Decimal("0.0005") and rules[("BTC", "BTC")].withdraw_max == 0


def test_the_snapshot_round_trips_through_json():
    """to_snapshot -> JSON -> from_snapshot gives back equal rules (Decimals exact, as strings)."""
    rules = rules_from_config(CONFIG)
    tricky = dataclasses.replace(TRX_RULE, withdraw_min=Decimal("0.000000000000000001"),
                                 withdraw_multiple=Decimal("1E-8"))
    rules[("USDT", "TRX")] = tricky
    assert from_snapshot(json.loads(json.dumps(to_snapshot(rules)))) == rules
    assert all(isinstance(item["withdraw_min"], str) for item in to_snapshot(rules))


def test_an_empty_snapshot_is_no_rules():
    """Nothing saved is nothing allowed (every withdrawal then fails closed in the policy)."""
    assert from_snapshot([]) == {}


class FakeConfigClient:
    """Our port's coin_config only, scripted: raise the queued errors, then answer."""

    def __init__(self, config, errors=()) -> None:
        self.config = config
        self.errors = list(errors)
        self.calls = 0

    def coin_config(self):
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return self.config


def test_the_scripted_config_client_is_a_whole_coin_rules_source():
    """FakeConfigClient implements the refresher's seam (treasury_bot.exchange.CoinRulesSource)."""
    assert mismatches(FakeConfigClient(CONFIG), CoinRulesSource) == []
