"""Tighten at once, loosen later (DESIGN section 9; issue 10 defect 5): the pure rule of
treasury_bot/loosening.py, setting by setting, over restarts, reverts and quarantine edits."""

from __future__ import annotations

from decimal import Decimal
from types import MappingProxyType
from typing import Any, Callable

import msgspec
import pytest

from tests.support.treasury import COIN_RULES, HOT_ADDRESS
from tests.support.treasury_core import T0, make_policy
from treasury_bot.policy import IntentFacts, decide
from treasury_bot.loosening import resolve
from treasury_bot.policy_file import LoadedPolicy, PolicyError, check_for_exchange
from treasury_bot.policy_model import CoinLimits, Destination, Policy
from treasury_bot.usage import Usage

HOUR = 3_600_000
Q = 24 * HOUR
BASE = make_policy(quarantine_hours="24", cold_window_cap="2000")   # cold: max 900, cap 2000


# -- policy builders (every change one field, on the frozen structs) ------------------------

def top(policy: Policy, **fields: Any) -> Policy:
    return msgspec.structs.replace(policy, **fields)


def limits(policy: Policy, **fields: Any) -> Policy:
    return top(policy, limits=msgspec.structs.replace(policy.limits, **fields))


def coins(policy: Policy, **tables: CoinLimits | None) -> Policy:
    merged = {**policy.limits.coins, **tables}
    return limits(policy, coins=MappingProxyType({k: v for k, v in merged.items() if v is not None}))


def usdt(policy: Policy, **fields: Any) -> Policy:
    return coins(policy, USDT=msgspec.structs.replace(policy.limits.coins["USDT"], **fields))


def dest(policy: Policy, label: str, **fields: Any) -> Policy:
    return top(policy, destinations=tuple(
        msgspec.structs.replace(d, **fields) if d.label == label else d for d in policy.destinations))


def without(policy: Policy, label: str) -> Policy:
    return top(policy, destinations=tuple(d for d in policy.destinations if d.label != label))


BTC = CoinLimits(max_per_transfer=Decimal("1"), window_cap=Decimal("2"))


def cold(p: Policy) -> Destination:
    return p.destination("cold-wallet")


def hot(p: Policy) -> Destination:
    return p.destination("hot-wallet")


# (id, in force, file, setting, how to read the setting, quarantine that applies)
Case = tuple[str, Policy, Policy, str, Callable[[Policy], Any], int]

LOOSENINGS: list[Case] = [
    ("quarantine-lowered", BASE, top(BASE, quarantine_hours=Decimal(2)), "quarantine_hours",
     lambda p: p.quarantine_hours, Q),
    ("trading-key-on", BASE, top(BASE, allow_trading_key=True), "allow_trading_key",
     lambda p: p.allow_trading_key, Q),
    ("unrestricted-ip-on", BASE, top(BASE, allow_unrestricted_ip=True), "allow_unrestricted_ip",
     lambda p: p.allow_unrestricted_ip, Q),
    ("window-hours-lowered", BASE, limits(BASE, window_hours=12), "limits.window_hours",
     lambda p: p.limits.window_hours, Q),
    ("per-hour-raised", BASE, limits(BASE, max_transfers_per_hour=40), "limits.max_transfers_per_hour",
     lambda p: p.limits.max_transfers_per_hour, Q),
    ("coin-max-raised", BASE, usdt(BASE, max_per_transfer=Decimal(2000)), "limits.coins.USDT.max_per_transfer",
     lambda p: p.limits.coins["USDT"].max_per_transfer, Q),
    ("coin-cap-raised", BASE, usdt(BASE, window_cap=Decimal(9000)), "limits.coins.USDT.window_cap",
     lambda p: p.limits.coins["USDT"].window_cap, Q),
    ("approval-raised", BASE, usdt(BASE, approval_above=Decimal(1600)), "limits.coins.USDT.approval_above",
     lambda p: p.limits.coins["USDT"].approval_above, Q),
    ("approval-removed", BASE, usdt(BASE, approval_above=None), "limits.coins.USDT.approval_above",
     lambda p: p.limits.coins["USDT"].approval_above, Q),
    ("coin-table-new", BASE, coins(BASE, BTC=BTC), "limits.coins.BTC",
     lambda p: p.limits.coins.get("BTC"), Q),
    ("dest-max-raised", BASE, dest(BASE, "cold-wallet", max_per_transfer=Decimal(950)),
     "destination.cold-wallet.max_per_transfer", lambda p: cold(p).max_per_transfer, Q),
    ("dest-max-removed", BASE, dest(BASE, "cold-wallet", max_per_transfer=None),
     "destination.cold-wallet.max_per_transfer", lambda p: cold(p).max_per_transfer, Q),
    ("dest-cap-raised", BASE, dest(BASE, "cold-wallet", window_cap=Decimal(3000)),
     "destination.cold-wallet.window_cap", lambda p: cold(p).window_cap, Q),
    ("dest-cap-removed", BASE, dest(BASE, "cold-wallet", window_cap=None),
     "destination.cold-wallet.window_cap", lambda p: cold(p).window_cap, Q),
    ("clients-widened", BASE, dest(BASE, "hot-wallet", clients=("other", "signal")),
     "destination.hot-wallet.clients", lambda p: hot(p).clients, Q),
    ("clients-all", BASE, dest(BASE, "hot-wallet", clients=None),
     "destination.hot-wallet.clients", lambda p: hot(p).clients, Q),
    # The stricter (longer) quarantine of the two applies: a raise comes at once, and the
    # loosening made with it waits the new, longer one.
    ("cap-raised-with-a-longer-quarantine", BASE,
     usdt(top(BASE, quarantine_hours=Decimal(48)), window_cap=Decimal(9000)),
     "limits.coins.USDT.window_cap", lambda p: p.limits.coins["USDT"].window_cap, 2 * Q),
]

TIGHTENINGS: list[Case] = [
    ("quarantine-raised", BASE, top(BASE, quarantine_hours=Decimal(48)), "", lambda p: p.quarantine_hours, 0),
    ("trading-key-off", top(BASE, allow_trading_key=True), BASE, "", lambda p: p.allow_trading_key, 0),
    ("unrestricted-ip-off", top(BASE, allow_unrestricted_ip=True), BASE, "",
     lambda p: p.allow_unrestricted_ip, 0),
    ("window-hours-raised", BASE, limits(BASE, window_hours=48), "", lambda p: p.limits.window_hours, 0),
    ("per-hour-lowered", BASE, limits(BASE, max_transfers_per_hour=5), "",
     lambda p: p.limits.max_transfers_per_hour, 0),
    ("coin-max-lowered", BASE, usdt(BASE, max_per_transfer=Decimal(10)), "",
     lambda p: p.limits.coins["USDT"].max_per_transfer, 0),
    ("coin-cap-lowered", BASE, usdt(BASE, window_cap=Decimal(10)), "",
     lambda p: p.limits.coins["USDT"].window_cap, 0),
    ("approval-lowered", BASE, usdt(BASE, approval_above=Decimal(1)), "",
     lambda p: p.limits.coins["USDT"].approval_above, 0),
    ("approval-added", usdt(BASE, approval_above=None), BASE, "",
     lambda p: p.limits.coins["USDT"].approval_above, 0),
    ("coin-table-removed", coins(BASE, BTC=BTC), BASE, "", lambda p: p.limits.coins.get("BTC"), 0),
    ("dest-max-lowered", BASE, dest(BASE, "cold-wallet", max_per_transfer=Decimal(1)), "",
     lambda p: cold(p).max_per_transfer, 0),
    ("dest-max-added", dest(BASE, "cold-wallet", max_per_transfer=None), BASE, "",
     lambda p: cold(p).max_per_transfer, 0),
    ("dest-cap-lowered", BASE, dest(BASE, "cold-wallet", window_cap=Decimal(1)), "",
     lambda p: cold(p).window_cap, 0),
    ("dest-cap-added", dest(BASE, "cold-wallet", window_cap=None), BASE, "", lambda p: cold(p).window_cap, 0),
    ("clients-narrowed", dest(BASE, "hot-wallet", clients=("other", "signal")), BASE, "",
     lambda p: hot(p).clients, 0),
    ("clients-from-all", dest(BASE, "hot-wallet", clients=None), BASE, "", lambda p: hot(p).clients, 0),
    ("destination-removed", BASE, without(BASE, "hot-wallet"), "", lambda p: p.destination("hot-wallet"), 0),
]


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


# -- where the operator sees them --------------------------------------------------------------
