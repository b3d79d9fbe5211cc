"""The freeze: one durable switch that stops every apply (docs/design.md section 9, issue 13).

A freeze is a row of the ledger's `freezes` table, so it survives restarts and is seen
by every process that opens the ledger: `treasuryctl freeze` writes it beside a running
treasury, and the executor reads it before each apply (an apply already sent finishes and
is followed to its end). While frozen, new intents are rejected with `frozen` (rule 1a,
after idempotency); polling, reconciliation and alerts go on.

Two roads lead here: an operator (`freeze`) and a circuit breaker (`trip`, by the name of
a breaker in `BREAKERS`). Both are idempotent: freezing a frozen treasury keeps the first
freeze (who and why it stopped), and a breaker that trips while frozen is still mailed.
Every function here runs inside the caller's ledger transaction when one is open, so the
freeze, its alert and the change that caused it commit together; else in its own.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

from treasury_bot.alerts import events
from treasury_bot.ledger import FreezeRow, Ledger

# The circuit breakers (policy [circuit_breakers]); also the `reason` label of the frozen
# state in status and metrics. Defined once, here.
CLIENT_REJECTIONS = "client_rejections"            # a client's rejections over N in M minutes
FOREIGN_WITHDRAWAL = "foreign_withdrawal"          # the exchange shows a withdrawal we did not make
RECONCILIATION_MISMATCH = "reconciliation_mismatch"  # a found withdrawal differs from its intent
JOURNAL_BROKEN = "journal_broken"                  # the hash chain failed verification
POLICY_CHANGED = "policy_changed"                  # the policy file changed on disk while running
BREAKERS = (CLIENT_REJECTIONS, FOREIGN_WITHDRAWAL, RECONCILIATION_MISMATCH, JOURNAL_BROKEN, POLICY_CHANGED)
OPERATOR = "operator"                              # the reason label of an operator's freeze

MAX_REASON = 500


class FreezeError(Exception):
    """A freeze action cannot be done; `code` is stable, the message says why."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class FreezeState:
    """The standing freeze: who froze, when, why, and the breaker if one tripped."""

    seq: int
    frozen_at: int
    frozen_by: str
    reason: str
    breaker: str | None

    @property
    def label(self) -> str:
        """A small fixed set (BREAKERS + operator), fit for a metric label."""
        return self.breaker or OPERATOR

    def describe(self) -> str:
        return f"frozen by {self.frozen_by}: {self.reason}"


def _state(row: FreezeRow | None) -> FreezeState | None:
    if row is None:
        return None
    return FreezeState(row.seq, row.frozen_at, row.frozen_by, row.reason, row.breaker)


@contextmanager
def _in_transaction(ledger: Ledger) -> Iterator[None]:
    if ledger.in_transaction:
        yield
    else:
        with ledger.transaction():
            yield


def current(ledger: Ledger) -> FreezeState | None:
    """The standing freeze, or None."""
    return _state(ledger.open_freeze())


def _clean(text: str, what: str) -> str:
    text = " ".join(str(text).split())
    if not text:
        raise FreezeError(f"{what}_required", f"a {what} is required: say why")
    return text[:MAX_REASON]


def freeze(ledger: Ledger, *, by: str, reason: str, now: int) -> FreezeState:
    """An operator's freeze; a CRITICAL `frozen` mail says who and why. Already frozen:
    the standing freeze is kept (and returned), nothing is mailed again."""
    reason = _clean(reason, "reason")
    by = _clean(by, "operator")
    with _in_transaction(ledger):
        standing = current(ledger)
        if standing is not None:
            return standing
        seq = ledger.insert_freeze(now, by, None, reason)
        ledger.enqueue(events.frozen(at_ms=now, frozen_by=by, reason=reason))
        return FreezeState(seq, now, by, reason, None)


def trip(ledger: Ledger, breaker: str, detail: str, now: int) -> FreezeState:
    """A circuit breaker freezes the treasury by itself; a CRITICAL `breaker_tripped` mail
    says which and what tripped it (also when already frozen: it is news either way)."""
    if breaker not in BREAKERS:
        raise FreezeError("unknown_breaker", f"{breaker!r} is not a circuit breaker")
    detail = _clean(detail, "detail")
    with _in_transaction(ledger):
        standing = current(ledger)
        ledger.enqueue(events.breaker_tripped(at_ms=now, breaker=breaker, detail=detail,
                                              already_frozen=standing is not None))
        if standing is not None:
            return standing
        seq = ledger.insert_freeze(now, f"breaker {breaker}", breaker, detail)
        return FreezeState(seq, now, f"breaker {breaker}", detail, breaker)


def unfreeze(ledger: Ledger, *, by: str, note: str, now: int) -> FreezeState:
    """Lift the standing freeze (the caller has checked the quorum where one is set); a
    CRITICAL `unfrozen` mail says by whom. Not frozen: FreezeError `not_frozen`."""
    by = _clean(by, "operator")
    note = " ".join(str(note).split())[:MAX_REASON]
    with _in_transaction(ledger):
        standing = current(ledger)
        if standing is None:
            raise FreezeError("not_frozen", "the treasury is not frozen")
        ledger.close_freeze(standing.seq, now, by, note)
        ledger.enqueue(events.unfrozen(at_ms=now, unfrozen_by=by, note=note, frozen_by=standing.frozen_by,
                                       reason=standing.reason, frozen_at_ms=standing.frozen_at))
        return standing
