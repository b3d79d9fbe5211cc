"""Destination quarantine: a whitelist entry is usable only `quarantine_hours` after the
treasury first saw it or after its address last changed. Pure functions.

So a compromised policy file cannot redirect funds at once: a new or re-pointed label
waits, and the change is mailed at the start that notices it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from treasury_bot.policy_file import Destination, Policy


@dataclass(frozen=True)
class Seen:
    """What the ledger remembers of a label: its entry and when it was first/last changed."""

    coin: str
    network: str
    address: str
    tag: str | None
    first_seen_at: int
    changed_at: int


@dataclass(frozen=True)
class Observation:
    label: str
    seen: Seen
    change: str | None   # "new", "changed" or None


def _entry(d: Destination) -> tuple:
    return (d.coin, d.network, d.address, d.tag)


def observe(policy: Policy, known: Mapping[str, Seen], now_ms: int) -> list[Observation]:
    """Compare the policy's destinations with what the ledger saw; say what is new or changed."""
    result = []
    for destination in policy.destinations:
        previous = known.get(destination.label)
        coin, network, address, tag = _entry(destination)
        if previous is None:
            result.append(Observation(destination.label,
                                      Seen(coin, network, address, tag, now_ms, now_ms), "new"))
        elif (previous.coin, previous.network, previous.address, previous.tag) != _entry(destination):
            result.append(Observation(destination.label,
                                      Seen(coin, network, address, tag, previous.first_seen_at, now_ms),
                                      "changed"))
        else:
            result.append(Observation(destination.label, previous, None))
    return result


def usable_from(policy: Policy, known: Mapping[str, Seen]) -> dict[str, int]:
    """When each current destination leaves quarantine (labels the ledger never saw: absent)."""
    result = {}
    for destination in policy.destinations:
        seen = known.get(destination.label)
        if seen is not None and (seen.coin, seen.network, seen.address, seen.tag) == _entry(destination):
            result[destination.label] = seen.changed_at + policy.quarantine_ms
    return result
