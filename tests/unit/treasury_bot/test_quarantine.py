"""Destination sightings: what is new or changed since the ledger last saw the whitelist.
When a destination becomes usable is tests/unit/treasury_bot/test_loosening.py's."""

from __future__ import annotations

import pytest

from tests.support.treasury import COLD_ADDRESS, HOT_ADDRESS
from tests.support.treasury_core import make_policy
from treasury_bot.quarantine import Seen, observe

NOW = 1_700_000_000_000
HOUR = 3_600_000
POLICY = make_policy(quarantine_hours="24", cold_tag="777")
COLD = Seen("USDT", "TRX", COLD_ADDRESS, "777", NOW - 10 * HOUR, NOW - 5 * HOUR)
HOT = Seen("USDT", "TRX", HOT_ADDRESS, None, NOW - 100 * HOUR, NOW - 100 * HOUR)


def test_a_label_never_seen_is_new_from_now():
    """First sight: first_seen_at and changed_at are now."""
    by_label = {o.label: o for o in observe(POLICY, {}, NOW)}
    assert by_label["cold-wallet"].change == "new"
    assert by_label["cold-wallet"].seen == Seen("USDT", "TRX", COLD_ADDRESS, "777", NOW, NOW)


def test_an_unchanged_label_keeps_what_the_ledger_saw():
    """Same entry: no change, the old times are kept."""
    by_label = {o.label: o for o in observe(POLICY, {"cold-wallet": COLD, "hot-wallet": HOT}, NOW)}
    assert by_label["cold-wallet"].change is None and by_label["cold-wallet"].seen == COLD


@pytest.mark.parametrize("field, value", [("address", HOT_ADDRESS), ("tag", "778"), ("tag", None),
                                          ("network", "BSC"), ("coin", "USDC")])
def test_any_change_of_the_entry_restarts_its_quarantine(field, value):
    """Address, tag, network or coin changed: 'changed', first sight kept, changed_at now."""
    old = Seen(**{**COLD.__dict__, field: value})
    [cold] = [o for o in observe(POLICY, {"cold-wallet": old}, NOW) if o.label == "cold-wallet"]
    assert cold.change == "changed"
    assert cold.seen.first_seen_at == COLD.first_seen_at and cold.seen.changed_at == NOW
    assert cold.seen.address == COLD_ADDRESS and cold.seen.tag == "777"


def test_labels_gone_from_the_policy_are_ignored():
    """A label the ledger saw but the policy dropped is not observed."""
    ghost = Seen("USDT", "TRX", COLD_ADDRESS, None, 0, 0)
    assert "ghost" not in {o.label for o in observe(POLICY, {"ghost": ghost}, NOW)}
