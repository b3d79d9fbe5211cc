"""Signed operator actions and the quorum count (issue 13 item 3). Pure: no I/O, no clock.

An operator's action is five fields, signed with the operator's own Ed25519 key
(`treasuryctl operators add NAME` makes the pair; the public half lives beside the policy
file, `operators/NAME.pub.pem`):

    action     approve | reject | unfreeze | loosen_early
    subject    the intent id (approve, reject), `freeze:SEQ`, the standing freeze (unfreeze),
               or `loosening:SETTING@FIRST_SEEN`, a pending loosening (loosen_early)
    operator   the operator's name, as listed in the policy's [approvals] operators
    signed_at  milliseconds since the epoch when it was signed (the operator's clock)
    nonce      32 lower-case hex digits, fresh for each signature

The signature is over `canonical_bytes`: a fixed header and one `key=value` line per field,
in this order, each value checked against its pattern first (so no value can carry a
newline and two different actions never have the same bytes).

The treasury (locally through `treasuryctl`, or over the operator wire) checks, in order:
the fields' shapes (`malformed_action`), that the operator is listed and has a key
(`unknown_operator`), the signature (`bad_signature`), that `signed_at` is within
`MAX_SKEW_MS` of the treasury's time either way (`stale_signature`), that the nonce was
never used (`replayed`, by the ledger's unique index) and that this operator has not voted
on this subject already (`already_voted`). Then `tally` counts DISTINCT approvers: the
subject moves at `quorum` of them; the first rejection rejects it.
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
from dataclasses import dataclass
from typing import Iterable, Mapping

import msgspec
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from treasury_bot.policy_model import CLIENT_NAME_PATTERN, Approvals

APPROVE, REJECT, UNFREEZE, LOOSEN_EARLY = "approve", "reject", "unfreeze", "loosen_early"
ACTIONS = (APPROVE, REJECT, UNFREEZE, LOOSEN_EARLY)
# The subject's kind for each action that does not name an intent.
_PREFIX = {UNFREEZE: "freeze:", LOOSEN_EARLY: "loosening:"}
HEADER = b"treasury-operator-action v1\n"
MAX_SKEW_MS = 10 * 60_000     # a signature older (or further ahead) than this is refused
FREEZE_SUBJECT = "freeze:"

_SUBJECT = re.compile(r"^(?:[A-Za-z0-9_-]{1,36}|freeze:[0-9]{1,18}|loosening:[A-Za-z0-9_.-]{1,160}@[0-9]{1,18})\Z")
_OPERATOR = re.compile(CLIENT_NAME_PATTERN)
_NONCE = re.compile(r"^[0-9a-f]{32}\Z")

# The refusal codes (stable; `treasuryctl` prints them in brackets).
MALFORMED = "malformed_action"
UNKNOWN_OPERATOR = "unknown_operator"
BAD_SIGNATURE = "bad_signature"
STALE_SIGNATURE = "stale_signature"
REPLAYED = "replayed"
ALREADY_VOTED = "already_voted"


class QuorumError(Exception):
    """A signed action is refused; `code` is stable, the message says why (never a key)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class SignedAction(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One operator action and its signature (base64 of the 64-byte Ed25519 signature)."""

    action: str
    subject: str
    operator: str
    signed_at: int
    nonce: str
    signature: str = ""


def freeze_subject(seq: int) -> str:
    return f"{FREEZE_SUBJECT}{seq}"


def loosening_subject(setting: str, first_seen_at: int) -> str:
    """A pending loosening, by its setting and the moment it was first seen (a different
    pending value of the same setting is another loosening, needing new votes)."""
    return f"{_PREFIX[LOOSEN_EARLY]}{setting}@{first_seen_at}"


def check_shape(action: SignedAction) -> None:
    """Every field against its pattern; QuorumError `malformed_action` names the first bad one."""
    if action.action not in ACTIONS:
        raise QuorumError(MALFORMED, f"action must be one of {', '.join(ACTIONS)}")
    if not isinstance(action.subject, str) or not _SUBJECT.match(action.subject):
        raise QuorumError(MALFORMED, "subject must be an intent id or freeze:SEQ")
    prefix = _PREFIX.get(action.action)
    kinds = [p for p in _PREFIX.values() if action.subject.startswith(p)]
    if (prefix is None and kinds) or (prefix is not None and kinds != [prefix]):
        raise QuorumError(MALFORMED, "unfreeze votes on freeze:SEQ, loosen_early on loosening:SETTING@FIRST_SEEN; "
                          "approve and reject on an intent id")
    if not isinstance(action.operator, str) or not _OPERATOR.match(action.operator):
        raise QuorumError(MALFORMED, "operator must be a plain name (letters, digits, _ . -)")
    if not isinstance(action.signed_at, int) or isinstance(action.signed_at, bool) or not (
            0 <= action.signed_at < 10 ** 15):
        raise QuorumError(MALFORMED, "signed_at must be milliseconds since the epoch")
    if not isinstance(action.nonce, str) or not _NONCE.match(action.nonce):
        raise QuorumError(MALFORMED, "nonce must be 32 lower-case hex digits")


def canonical_bytes(action: SignedAction) -> bytes:
    """The bytes an operator signs: the header, then action, subject, operator, signed_at,
    nonce, one `key=value\\n` line each (the signature itself is not part of them)."""
    check_shape(action)
    lines = (f"action={action.action}\nsubject={action.subject}\noperator={action.operator}\n"
             f"signed_at={action.signed_at}\nnonce={action.nonce}\n")
    return HEADER + lines.encode("ascii")


def new_nonce() -> str:
    return secrets.token_hex(16)


def sign(private: Ed25519PrivateKey, *, action: str, subject: str, operator: str, signed_at: int,
         nonce: str | None = None) -> SignedAction:
    """The operator's side: the action, signed."""
    unsigned = SignedAction(action=action, subject=subject, operator=operator, signed_at=signed_at,
                            nonce=nonce or new_nonce())
    signature = private.sign(canonical_bytes(unsigned))
    return msgspec.structs.replace(unsigned, signature=base64.b64encode(signature).decode("ascii"))


def load_public_key(pem: bytes) -> Ed25519PublicKey:
    """An operator's public key from its PEM; ValueError if it is not an Ed25519 public key."""
    try:
        key = serialization.load_pem_public_key(pem)
    except (ValueError, TypeError):
        raise ValueError("is not a public key in PEM format") from None
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("is not an Ed25519 public key")
    return key


def verify(action: SignedAction, approvals: Approvals, keys: Mapping[str, Ed25519PublicKey],
           now_ms: int, max_skew_ms: int = MAX_SKEW_MS) -> None:
    """The checks that need no ledger: shape, operator listed with a key, signature, time.
    Raises QuorumError; returns None when the action may be counted."""
    message = canonical_bytes(action)
    if action.operator not in approvals.operators:
        raise QuorumError(UNKNOWN_OPERATOR, f"{action.operator!r} is not listed in the policy's "
                          "[approvals] operators")
    key = keys.get(action.operator)
    if key is None:
        raise QuorumError(UNKNOWN_OPERATOR, f"no public key for operator {action.operator!r} "
                          "(operators/NAME.pub.pem beside the policy file)")
    try:
        signature = base64.b64decode(action.signature, validate=True)
    except (binascii.Error, ValueError):
        raise QuorumError(BAD_SIGNATURE, "the signature is not base64") from None
    try:
        key.verify(signature, message)
    except InvalidSignature:
        raise QuorumError(BAD_SIGNATURE, f"the signature does not verify with {action.operator}'s "
                          "public key") from None
    if abs(now_ms - action.signed_at) > max_skew_ms:
        raise QuorumError(STALE_SIGNATURE, f"signed {(now_ms - action.signed_at) // 1000} s from the "
                          f"treasury's time; at most {max_skew_ms // 1000} s either way (sign again)")


@dataclass(frozen=True)
class Vote:
    """A counted action on one subject, as the ledger keeps it."""

    action: str
    operator: str
    nonce: str


@dataclass(frozen=True)
class Tally:
    approvers: tuple[str, ...]     # distinct, in the order they voted
    rejected_by: str | None        # the first operator who rejected
    quorum: int

    @property
    def reached(self) -> bool:
        return self.rejected_by is None and len(self.approvers) >= self.quorum

    def describe(self) -> str:
        if self.rejected_by is not None:
            return f"rejected by {self.rejected_by}"
        return f"{len(self.approvers)} of {self.quorum} approvals ({', '.join(self.approvers) or 'none'})"


def admit(action: SignedAction, prior: Iterable[Vote]) -> None:
    """The checks against the votes already counted on this subject: a nonce used again
    (`replayed`) and a second vote by the same operator (`already_voted`)."""
    for vote in prior:
        if vote.nonce == action.nonce:
            raise QuorumError(REPLAYED, "this signed action was already used (sign a new one)")
        if vote.operator == action.operator:
            raise QuorumError(ALREADY_VOTED, f"{action.operator} has already voted on {action.subject} "
                              f"({vote.action}); another operator must")


def tally(votes: Iterable[Vote], quorum: int) -> Tally:
    """Distinct approvers (a repeated operator counts once) and the first rejection."""
    approvers: list[str] = []
    rejected_by = None
    for vote in votes:
        if vote.action == REJECT and rejected_by is None:
            rejected_by = vote.operator
        elif vote.action in (APPROVE, UNFREEZE, LOOSEN_EARLY) and vote.operator not in approvers:
            approvers.append(vote.operator)
    return Tally(tuple(approvers), rejected_by, quorum)
