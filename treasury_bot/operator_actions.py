"""Signed operator actions on the ledger, and the expiry of pending approvals (issue 13 item 3).

The same `act` runs for both roads a signed action takes: `treasuryctl approve|reject|
unfreeze --operator NAME` on the treasury host (via `local`), and the operator wire from an
operator's own machine (via `remote`, treasury_bot/operator_server.py). Each is one
`BEGIN IMMEDIATE` transaction: verify (treasury_bot/quorum.py: shape, a listed operator
with a key, the signature, the time), refuse a replay or a second vote by the same
operator, record the vote, count DISTINCT operators, and only at `quorum` of them move the
intent (pending_approval -> queued, after the same re-check `operator.approve` does), lift
the freeze, or release a pending loosening early (in force from the treasury's next
start); the first rejection rejects the intent. A refusal changes nothing.

The operators' public keys: `operators/NAME.pub.pem` in the folder of the policy file
(`operators_dir`); only the names listed in the policy's [approvals] operators count.

`ApprovalExpiry` is the treasury's background step: a pending intent older than the
policy's `ttl_hours` (from its `received_at`, both on the treasury's exchange-anchored
clock: a host clock step moves neither) becomes `rejected` / `approval_expired`, status
`denied`, uncounted from the windows and alerted, as an operator's rejection is.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from common.clock import Clock
from common.config import ConfigError
from common.logs import get_logger
from treasury_bot import freeze, lifecycle, quorum
from treasury_bot.ledger import Ledger
from treasury_bot.operator import ActionResult, OperatorError, approve_now, deny_now
from treasury_bot.policy_in_force import resolve_from_ledger
from treasury_bot.policy_model import Policy

log = get_logger("treasury.approvals")

OPERATORS_DIR = "operators"
PUBLIC_SUFFIX = ".pub.pem"
LOCAL, REMOTE = "local", "remote"
_HOUR_MS = 3_600_000
META_CHECKED_AT = "approvals.checked_at"   # the treasury's time of the last expiry check


def operators_dir(policy_file: Path) -> Path:
    """Where the operators' public keys live: `operators/` beside the policy file."""
    return Path(policy_file).parent / OPERATORS_DIR


def load_operator_keys(folder: Path) -> dict[str, Ed25519PublicKey]:
    """Every NAME.pub.pem in `folder` (none if it does not exist); a file that is not an
    Ed25519 public key is a ConfigError naming it."""
    keys: dict[str, Ed25519PublicKey] = {}
    if not folder.is_dir():
        return keys
    for path in sorted(folder.glob(f"*{PUBLIC_SUFFIX}")):
        try:
            keys[path.name[: -len(PUBLIC_SUFFIX)]] = quorum.load_public_key(path.read_bytes())
        except (OSError, ValueError) as exc:
            raise ConfigError(f"operator key {path}: {exc}") from None
    return keys


def act(ledger: Ledger, policy: Policy, signed: quorum.SignedAction, keys: dict[str, Ed25519PublicKey],
        now_of: Callable[[Ledger], int], via: str) -> ActionResult:
    """Verify, record and count one signed action (see the module). `now_of(ledger)` is the
    treasury's time, read inside the transaction. Raises QuorumError / OperatorError /
    freeze.FreezeError, changing nothing."""
    with ledger.transaction():
        now = now_of(ledger)
        in_force = resolve_from_ledger(ledger, policy, now)
        approvals = in_force.effective.approvals
        if not approvals.signed:
            raise quorum.QuorumError(quorum.UNKNOWN_OPERATOR, "the policy's [approvals] lists no operators: "
                                     "approve without --operator")
        quorum.verify(signed, approvals, keys, now)
        loosening = None
        if signed.action == quorum.UNFREEZE:
            standing = freeze.current(ledger)
            if standing is None:
                raise freeze.FreezeError("not_frozen", "the treasury is not frozen")
            if quorum.freeze_subject(standing.seq) != signed.subject:
                raise OperatorError("other_freeze", f"the standing freeze is {quorum.freeze_subject(standing.seq)}, "
                                    f"not {signed.subject} (sign again)")
            record = None
        elif signed.action == quorum.LOOSEN_EARLY:
            waiting = {quorum.loosening_subject(p.setting, p.first_seen_at): p for p in in_force.pending}
            loosening = waiting.get(signed.subject)
            if loosening is None:
                raise OperatorError("no_such_loosening", f"{signed.subject} is not a pending loosening now "
                                    "(treasuryctl status lists them)")
            record = None
        else:
            record = ledger.get_intent(signed.subject)
            if record is None:
                raise OperatorError("unknown_intent", f"no intent {signed.subject!r} in the ledger")
            if record.status != lifecycle.PENDING_APPROVAL:
                raise OperatorError("wrong_status", f"intent {record.intent_id} is {record.status}, "
                                    f"not {lifecycle.PENDING_APPROVAL}")
        if ledger.nonce_used(signed.nonce):
            raise quorum.QuorumError(quorum.REPLAYED, "this signed action was already used (sign a new one)")
        prior = ledger.operator_votes(signed.subject)
        quorum.admit(signed, prior)
        vote = quorum.Vote(signed.action, signed.operator, signed.nonce)
        count = quorum.tally([*prior, vote], approvals.quorum)
        ledger.insert_operator_action(signed, now, via, count.describe())
        if signed.action == quorum.REJECT:
            assert record is not None
            deny_now(ledger, record, "operator_rejected", f"rejected by operator {signed.operator}", now)
            return ActionResult(record.intent_id, lifecycle.DENIED, f"rejected by {signed.operator}")
        if not count.reached:
            waiting_as = {quorum.UNFREEZE: "frozen", quorum.LOOSEN_EARLY: "pending"}.get(
                signed.action, lifecycle.PENDING_APPROVAL)
            return ActionResult(signed.subject, waiting_as,
                                f"{count.describe()}: waiting for {approvals.quorum - len(count.approvers)} more")
        by = ", ".join(count.approvers)
        if signed.action == quorum.LOOSEN_EARLY:
            ledger.release_loosening(loosening.setting, loosening.first_seen_at, now, by)
            log.warning("loosening_released_early", setting=loosening.setting, by=by)
            from treasury_bot.alerts import events
            from treasury_bot.loosening import describe
            ledger.enqueue(events.loosening_released(at_ms=now, setting=loosening.setting, change=describe(loosening),
                                                     released_by=by, quarantine_ends_ms=loosening.effective_at))
            return ActionResult(signed.subject, "released", f"released early by {by}: in force from the "
                                "treasury's next start (restart it)")
        if record is None:
            freeze.unfreeze(ledger, by=by, note=f"quorum {approvals.quorum}: {by}", now=now)
            return ActionResult(signed.subject, "unfrozen", f"unfrozen by {by}")
        approve_now(ledger, in_force, record, now, f"approved by {by} (quorum {approvals.quorum})")
        return ActionResult(record.intent_id, lifecycle.QUEUED, f"approved by {by}: the treasury will withdraw it")


def expire_due(ledger: Ledger, policy: Policy, now: int) -> list[str]:
    """Reject every pending intent waiting longer than the in-force ttl_hours; one transaction.
    Returns the expired intent ids."""
    expired: list[str] = []
    with ledger.transaction():
        ttl_hours = resolve_from_ledger(ledger, policy, now).effective.approvals.ttl_hours
        for record in ledger.intents_with_status([lifecycle.PENDING_APPROVAL], limit=100_000):
            if now - record.received_at < ttl_hours * _HOUR_MS:
                continue
            deny_now(ledger, record, "approval_expired",
                     f"not approved within {ttl_hours} h ([approvals] ttl_hours)", now)
            expired.append(record.intent_id)
        ledger.set_meta(META_CHECKED_AT, str(now))
    return expired


@dataclass
class ApprovalExpiry:
    """The treasury's "approvals" thread step (run by supervised.Supervised): expire, then wait."""

    ledger: Ledger
    policy: Policy       # the file's; the in-force ttl is resolved at each step
    clock: Clock         # the treasury's exchange-anchored clock
    every_s: float = 30.0
    # Issue 16: the running treasury's LivePolicy; its `file` (a reload's too) replaces `policy`.
    live: Any = None

    def step(self) -> float:
        policy = self.live.file if self.live is not None else self.policy
        for intent_id in expire_due(self.ledger, policy, self.clock.now_ms()):
            log.warning("approval_expired", intent_id=intent_id)
        return self.every_s
