"""The circuit breakers: conditions that freeze the treasury by themselves (issue 13 item 2).

Each breaker is named in treasury_bot/freeze.py (`BREAKERS`) and switched in the policy's
`[circuit_breakers]` (docs/design.md section 9). A tripped breaker is a freeze like an
operator's: durable, mailed CRITICAL with what tripped it, lifted only by `treasuryctl
unfreeze` (with the quorum where one is set). The rules here are pure; `trip_if_enabled`
and the checks that read the ledger run inside the transaction of the change that caused
them, so the freeze commits with it.

- client_rejections: a client whose rejected intents exceed N within M minutes is probing
  the rules (a compromised signal host). Counted from the ledger since the later of
  M minutes ago and the last unfreeze, so an unfreeze is a fresh start and a restart
  resets nothing. Rejections the client did not cause are not counted: `frozen` (the
  freeze itself), the operator's own rejection and an approval's expiry.
- foreign_withdrawal, journal_broken: tripped by the watch and the chain's verification.
- reconciliation_mismatch: a withdrawal found by reconciliation differs from its intent.
- policy_changed: the policy file's bytes changed on disk while the treasury runs
  (PolicyFileWatch). The legitimate road is stop, edit, start; a change under a running
  treasury is either a mistake or someone else's hand.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass, field
from pathlib import Path

from common.clock import Clock
from common.logs import get_logger
from treasury_bot import freeze
from treasury_bot.ledger import Ledger
from treasury_bot.policy_model import CircuitBreakers, Policy

log = get_logger("treasury.breakers")

# Rejections a client did not cause by what it sent (see the module's docstring).
NOT_THE_CLIENTS = ("frozen", "operator_rejected", "approval_expired")
POLICY_WATCH_EVERY_S = 2.0

_SWITCHES = {
    freeze.FOREIGN_WITHDRAWAL: "foreign_withdrawal",
    freeze.RECONCILIATION_MISMATCH: "reconciliation_mismatch",
    freeze.JOURNAL_BROKEN: "journal_broken",
    freeze.POLICY_CHANGED: "policy_changed",
}


def enabled(breakers: CircuitBreakers, breaker: str) -> bool:
    """Whether the policy has this breaker on (client_rejections is always on: its
    threshold is its switch)."""
    if breaker == freeze.CLIENT_REJECTIONS:
        return True
    return bool(getattr(breakers, _SWITCHES[breaker]))


def trip_if_enabled(ledger: Ledger, policy: Policy, breaker: str, detail: str,
                    now: int) -> freeze.FreezeState | None:
    """Trip `breaker` when the policy has it on; else only log what it would have done."""
    if not enabled(policy.circuit_breakers, breaker):
        log.warning("breaker_off", breaker=breaker, detail=detail)
        return None
    log.critical("breaker_tripped", breaker=breaker, detail=detail)
    return freeze.trip(ledger, breaker, detail, now)


# -- client_rejections ------------------------------------------------------------------

def rejections_since(now: int, breakers: CircuitBreakers, last_unfrozen_at: int | None) -> int:
    """The start of the counting window (pure)."""
    since = now - breakers.client_rejections_minutes * 60_000
    if last_unfrozen_at is None:
        return since
    return max(since, last_unfrozen_at + 1)  # what came after the unfreeze, not with it


def over_rejections(count: int, breakers: CircuitBreakers) -> bool:
    """More than N: N rejections are allowed (a misconfigured signal may make a few)."""
    return count > breakers.client_rejections


def rejection_detail(client: str, count: int, breakers: CircuitBreakers) -> str:
    return (f"client {client}: {count} rejected intents within {breakers.client_rejections_minutes} "
            f"minutes (more than client_rejections = {breakers.client_rejections}): probing the rules?")


def check_client_rejections(ledger: Ledger, policy: Policy, clients: set[str], now: int) -> None:
    """After a batch with rejections by these clients, in its transaction: trip when one is
    over. Not while frozen (a frozen treasury rejects everything, and is already stopped)."""
    if not clients or freeze.current(ledger) is not None:
        return
    breakers = policy.circuit_breakers
    since = rejections_since(now, breakers, ledger.last_unfrozen_at())
    for client in sorted(clients):
        count = ledger.count_client_rejections(client, since, NOT_THE_CLIENTS)
        if over_rejections(count, breakers):
            trip_if_enabled(ledger, policy, freeze.CLIENT_REJECTIONS,
                            rejection_detail(client, count, breakers), now)
            return


# -- policy_changed ---------------------------------------------------------------------

def file_sha256(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None  # gone or unreadable: a change too (the caller says which)


@dataclass
class PolicyFileWatch:
    """Hashes the policy file every POLICY_WATCH_EVERY_S; a change from the bytes the
    treasury started with trips `policy_changed`, once per new content."""

    path: Path
    started_sha256: str
    policy: Policy
    clock: Clock
    _last_tripped: str | None = None
    # Issue 16: a change is given `grace_s` for the reload that adopts it (edit, then
    # `treasuryctl reload`); still not adopted after that, it trips. 0: trips at once.
    grace_s: float = 0.0
    _changed_seen: tuple[str, float] | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def adopt(self, sha256: str) -> None:
        """A reload loaded these bytes: they are the running policy's now, not a change."""
        with self._lock:
            self.started_sha256 = sha256
            self._changed_seen = None

    def check(self, ledger: Ledger) -> bool:
        """True when it tripped now."""
        with self._lock:
            return self._check(ledger)

    def _check(self, ledger: Ledger) -> bool:
        now_sha = file_sha256(self.path)
        if now_sha == self.started_sha256 or (now_sha or "missing") == self._last_tripped:
            self._changed_seen = None
            return False
        if self.grace_s > 0:
            mono = self.clock.monotonic()
            if self._changed_seen is None or self._changed_seen[0] != (now_sha or "missing"):
                self._changed_seen = (now_sha or "missing", mono)
            if mono - self._changed_seen[1] < self.grace_s:
                return False  # waiting for the reload that adopts it
        self._last_tripped = now_sha or "missing"
        what = (f"now sha256 {now_sha[:12]}" if now_sha else "now missing or unreadable")
        detail = (f"the policy file {self.path} changed on disk while the treasury runs "
                  f"(started with sha256 {self.started_sha256[:12]}, {what}); the running policy "
                  f"is unchanged: reload (treasuryctl reload) or restart to load it, then unfreeze")
        with ledger.transaction():
            return trip_if_enabled(ledger, self.policy, freeze.POLICY_CHANGED, detail,
                                   self.clock.now_ms()) is not None

    def run(self, ledger: Ledger, stop: threading.Event) -> None:
        """The watch's thread: survives its own failures (backoff, one alert per episode)."""
        from treasury_bot.supervised import Supervised, ledger_recorder
        guard = Supervised("policy-watch", ledger_recorder(lambda: ledger, self.clock))

        def step() -> float:
            self.check(ledger)
            return POLICY_WATCH_EVERY_S
        guard.run(stop, step)
