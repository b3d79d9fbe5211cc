"""What tests/unit/treasury_bot/test_loosening.py and
tests/integration/treasury_bot/test_loosening.py share: HOUR, Q, BASE, top, limits, coins,
usdt, dest, without, BTC, cold, hot, Case, LOOSENINGS, TIGHTENINGS."""

from __future__ import annotations

from decimal import Decimal
from types import MappingProxyType
from typing import Any, Callable

import msgspec

from tests.support.treasury_core import make_policy
from treasury_bot.policy_model import CoinLimits, Destination, Policy

HOUR = 3_600_000

Q = 24 * HOUR

BASE = make_policy(quarantine_hours="24", cold_window_cap="2000")   # cold: max 900, cap 2000


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


def breakers(policy: Policy, **fields: Any) -> Policy:
    return top(policy, circuit_breakers=msgspec.structs.replace(policy.circuit_breakers, **fields))

def approvals(policy: Policy, **fields: Any) -> Policy:
    return msgspec.structs.replace(policy, approvals=msgspec.structs.replace(policy.approvals, **fields))


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
    # Issue 13 item 3: [approvals].
    ("quorum-lowered", approvals(BASE, quorum=2, operators=("alice", "bob")),
     approvals(BASE, quorum=1, operators=("alice", "bob")), "approvals.quorum", lambda p: p.approvals.quorum, Q),
    ("ttl-raised", BASE, approvals(BASE, ttl_hours=96), "approvals.ttl_hours", lambda p: p.approvals.ttl_hours, Q),
    ("operator-added", approvals(BASE, operators=("alice",)), approvals(BASE, operators=("alice", "mallory")),
     "approvals.operators", lambda p: p.approvals.operators, Q),
    ("operators-emptied", approvals(BASE, operators=("alice",)), BASE,
     "approvals.operators", lambda p: p.approvals.operators, Q),
    # The stricter (longer) quarantine of the two applies: a raise comes at once, and the
    # loosening made with it waits the new, longer one.
    # Issue 13: a circuit breaker turned off or made harder to trip.
    *[(f"breaker-{switch}-off", BASE, breakers(BASE, **{switch: False}), f"circuit_breakers.{switch}",
       (lambda name: lambda p: getattr(p.circuit_breakers, name))(switch), Q)
      for switch in ("foreign_withdrawal", "reconciliation_mismatch", "journal_broken", "policy_changed")],
    ("breaker-rejections-raised", BASE, breakers(BASE, client_rejections=500), "circuit_breakers.client_rejections",
     lambda p: p.circuit_breakers.client_rejections, Q),
    ("breaker-minutes-lowered", BASE, breakers(BASE, client_rejections_minutes=1),
     "circuit_breakers.client_rejections_minutes", lambda p: p.circuit_breakers.client_rejections_minutes, Q),
    ("cap-raised-with-a-longer-quarantine", BASE,
     usdt(top(BASE, quarantine_hours=Decimal(48)), window_cap=Decimal(9000)),
     "limits.coins.USDT.window_cap", lambda p: p.limits.coins["USDT"].window_cap, 2 * Q),
]

TIGHTENINGS: list[Case] = [
    ("breaker-on", breakers(BASE, policy_changed=False), BASE, "", lambda p: p.circuit_breakers.policy_changed, 0),
    ("breaker-rejections-lowered", BASE, breakers(BASE, client_rejections=2), "",
     lambda p: p.circuit_breakers.client_rejections, 0),
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
    ("quorum-raised", approvals(BASE, operators=("alice", "bob")),
     approvals(BASE, quorum=2, operators=("alice", "bob")), "", lambda p: p.approvals.quorum, 0),
    ("ttl-lowered", BASE, approvals(BASE, ttl_hours=1), "", lambda p: p.approvals.ttl_hours, 0),
    ("operators-first-listed", BASE, approvals(BASE, operators=("alice", "bob")), "",
     lambda p: p.approvals.operators, 0),
    ("operator-removed", approvals(BASE, operators=("alice", "bob")), approvals(BASE, operators=("alice",)), "",
     lambda p: p.approvals.operators, 0),
]
