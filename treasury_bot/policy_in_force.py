"""The ledger side of "tighten at once, loosen later": read what treasury_bot/loosening.py
needs from the ledger, record what it decided, and keep the running treasury's policy
current as pending loosenings fall due (docs/design.md section 9; issue 10 defect 5).

Only the treasury's start records (journal_start); everyone else (the decider between
starts, `treasuryctl approve`, `check`, `status`) recomputes the same pure answer from the
same rows and the clock, so they agree without writing.
"""

from __future__ import annotations

import threading
from typing import Optional

from treasury_bot.ledger import Ledger
from treasury_bot.loosening import Pending, Resolution, decode_policy, encode_policy, resolve
from treasury_bot.policy_model import Policy
from treasury_bot.quarantine import Seen


def recorded_pending(ledger: Ledger) -> list[Pending]:
    return [Pending(*row) for row in ledger.pending_loosenings()]


def _legacy_changed_at(ledger: Ledger, file: Policy) -> dict[str, int]:
    """Destinations a ledger from before this rule already saw with the file's very entry."""
    result = {}
    seen = {label: Seen(*row) for label, row in ledger.destinations_seen().items()}
    for destination in file.destinations:
        s = seen.get(destination.label)
        if s is not None and (s.coin, s.network, s.address, s.tag) == (
                destination.coin, destination.network, destination.address, destination.tag):
            result[destination.label] = s.changed_at
    return result


def resolve_from_ledger(ledger: Ledger, file: Policy, now_ms: int) -> Resolution:
    """The effective policy at now_ms from the ledger's records and the file (no write)."""
    body = ledger.policy_in_force()
    in_force = decode_policy(body) if body is not None else None
    return resolve(in_force, file, recorded_pending(ledger), now_ms,
                   legacy_changed_at=_legacy_changed_at(ledger, file) if in_force is None else None,
                   released=ledger.released_loosenings())


def record(ledger: Ledger, resolution: Resolution, now_ms: int) -> None:
    """Record the policy in force and the pending loosenings (inside the caller's transaction)."""
    ledger.record_policy_in_force(
        encode_policy(resolution.in_force),
        [(p.setting, p.old, p.new, p.first_seen_at, p.effective_at) for p in resolution.pending], now_ms)


class LivePolicy:
    """The running treasury's policy: the resolution recorded at start, recomputed (purely,
    from the same records) the moment a pending loosening falls due, without a restart."""

    def __init__(self, file: Policy, recorded: Resolution) -> None:
        self._file = file
        self._in_force = recorded.in_force
        self._pending = recorded.pending
        self._current = recorded
        self._lock = threading.Lock()

    def at(self, now_ms: int) -> Resolution:
        with self._lock:
            due: Optional[int] = self._current.next_due_ms
            if due is not None and now_ms >= due:
                self._current = resolve(self._in_force, self._file, self._pending, now_ms)
            return self._current

    @property
    def file(self) -> Policy:
        """The policy file as last loaded (at start or by a reload): what code that resolves
        the policy in force itself (the approvals' expiry, the operator wire) starts from."""
        with self._lock:
            return self._file

    def swap(self, file: Policy, recorded: Resolution) -> None:
        """Issue 16 (a reload): from now on, the reloaded file's resolution (recorded by the
        caller, so tightening is in force at once and a loosening waits its quarantine)."""
        with self._lock:
            self._file, self._in_force, self._pending = file, recorded.in_force, recorded.pending
            self._current = recorded


class PolicyInForce:
    """A Policy-like view of a LivePolicy for the worker threads (executor, poller, watches):
    each attribute read is the policy in force now, so a reload reaches them without a
    restart of any thread (issue 16). Values a worker copied at its start (pacing) stay."""

    def __init__(self, live: LivePolicy, now_ms) -> None:
        self._live = live
        self._now_ms = now_ms

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._live.at(self._now_ms()).effective, name)
