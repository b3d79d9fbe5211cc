"""Destination sightings: what is new or changed in the whitelist since the ledger last
saw it (journaled in destinations_seen and mailed at the start that notices it). Pure.

WHEN a destination becomes usable is no longer computed here: it used to be
`changed_at + the CURRENT quarantine_ms`, so lowering `quarantine_hours` in the file
shortened quarantines already running, retroactively (issue 10 defect 5). A new or
changed destination is now a pending loosening (treasury_bot/loosening.py): its effective
time is stored when first seen, extended if the quarantine is raised, never shortened.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from treasury_bot.policy_model import Destination, Policy


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
