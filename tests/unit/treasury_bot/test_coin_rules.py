"""The exchange's withdraw rules: from /capital/config/getall, to and from the ledger's
snapshot, and the cache that refreshes them without ever waiting in a decision."""

from __future__ import annotations

import dataclasses
import json
from decimal import Decimal

from tests.support.seams import mismatches
from tests.support.treasury import TRX_RULE
from treasury_bot.coin_rules import from_snapshot, to_snapshot
from treasury_bot.exchange import CoinRulesSource
from treasury_bot.withdraw_rules import coin_rules_from_config as rules_from_config
from tests.support.coin_rules_cases import CONFIG, FakeConfigClient


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


def test_the_scripted_config_client_is_a_whole_coin_rules_source():
    """FakeConfigClient implements the refresher's seam (treasury_bot.exchange.CoinRulesSource)."""
    assert mismatches(FakeConfigClient(CONFIG), CoinRulesSource) == []
