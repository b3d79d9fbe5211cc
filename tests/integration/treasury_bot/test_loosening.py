"""Tighten at once, loosen later (DESIGN section 9; issue 10 defect 5): the pure rule of
treasury_bot/loosening.py, setting by setting, over restarts, reverts and quarantine edits."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.support.treasury import COIN_RULES, HOT_ADDRESS
from tests.support.treasury_core import T0
from treasury_bot.policy import IntentFacts, decide
from treasury_bot.loosening import resolve
from treasury_bot.policy_file import LoadedPolicy, PolicyError, check_for_exchange
from treasury_bot.usage import Usage
from tests.support.loosening_cases import (HOUR, Q, BASE, top, dest)


# -- the review's reproduction ----------------------------------------------------------------

def test_a_re_pointed_destination_with_quarantine_zero_gets_nothing_at_the_next_start(tmp_path):
    """Issue 10 defect 5, as reproduced: the file re-points cold-wallet and sets
    quarantine_hours = 0 (allowed: loopback exchange). The next intent is refused as
    quarantined, for the in-force 24 h, and does not go to the new address."""
    edited = top(dest(BASE, "cold-wallet", address=HOT_ADDRESS), quarantine_hours=Decimal(0))
    check_for_exchange(LoadedPolicy(edited, "0" * 64, tmp_path / "treasury.toml"), "http://127.0.0.1:9")
    now = T0 + HOUR
    result = resolve(BASE, edited, [], now)
    assert result.usable_from["cold-wallet"] == now + Q
    facts = IntentFacts(intent_id="steal-1", client="signal", coin="USDT", network="TRX",
                        destination="cold-wallet", amount=Decimal(100), created_at_ms=now)
    verdict = decide(facts, result.effective, Usage(0, {}, {}), COIN_RULES, result.usable_from, now)
    assert (verdict.outcome, verdict.reason_code) == ("rejected", "destination_quarantined")
    # Under the old code the file was used as is: accepted, to the new address.
    assert decide(facts, edited, Usage(0, {}, {}), COIN_RULES, {"cold-wallet": 0}, now).outcome == "accepted"


@pytest.mark.parametrize("url", ["https://api.binance.com", "https://10.0.0.1:8443", "http://localhost.evil"])
def test_quarantine_zero_is_refused_against_a_real_exchange(tmp_path, url):
    """quarantine_hours = 0 is a policy-file error unless BINANCE_BASE_URL is loopback."""
    zero = LoadedPolicy(top(BASE, quarantine_hours=Decimal(0)), "0" * 64, tmp_path / "treasury.toml")
    with pytest.raises(PolicyError) as caught:
        check_for_exchange(zero, url)
    assert "quarantine_hours" in str(caught.value) and "loopback" in str(caught.value)


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080", "http://localhost:1", "http://[::1]:2"])
def test_quarantine_zero_is_allowed_against_the_sandbox(tmp_path, url):
    zero = LoadedPolicy(top(BASE, quarantine_hours=Decimal(0)), "0" * 64, tmp_path / "treasury.toml")
    assert check_for_exchange(zero, url) is zero


def test_a_quarantine_above_zero_is_allowed_anywhere(tmp_path):
    loaded = LoadedPolicy(top(BASE, quarantine_hours=Decimal("0.5")), "0" * 64, tmp_path / "t.toml")
    assert check_for_exchange(loaded, "https://api.binance.com") is loaded
