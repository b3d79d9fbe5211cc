"""What became of an order whose outcome was unknown, and what to do next: typed outcomes (pure).

A look-up by client order id says `Found` (recorded placed), `Absent` (the exchange
answered "no such order") or `LookupFailed` (nothing learned). Whether an absence is a
proof depends on time (signal_bot/orders.py, "settled"), so the next step is decided
here from the verdict and the clock's distance to that moment: `Retry(after_s)`, `Gone`
(failed `order_absent`, never resent), `TradeNow` (never on the exchange, decide it now)
or `Unresolved` (stays `placing`, looked up again later). signal_bot/orders.py matches
on them and does the I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

# The periodic pass calls a `placing` order absent only this long after it was marked so
# (after its new_order returned): far past any recvWindow.
ABSENT_AFTER_MS = 60_000
# At start, a look-up that fails is tried again after these pauses, then left `placing`.
RECOVERY_LOOKUP_DELAYS = (0.5, 1.0, 2.0, 4.0)


@dataclass(frozen=True)
class Handled:
    """What became of one signal: state is placed / rejected / failed / refused / unknown."""

    signal_id: str
    state: str
    code: str | None = None
    filled: bool = False


# A look-up of an order by its client order id says one of three things:
@dataclass(frozen=True)
class Found:
    """The exchange has the order; it is recorded `placed` (and swept): `handled` says so."""

    handled: Handled


@dataclass(frozen=True)
class Absent:
    """The exchange answered "no such order": a proof only once settled (signal_bot/orders.py)."""


@dataclass(frozen=True)
class LookupFailed:
    """The look-up itself failed (no answer, an error): nothing was learned."""

    code: str


LookUp = Found | Absent | LookupFailed


# What to do next with a row whose outcome was unknown:
@dataclass(frozen=True)
class Retry:
    """Look again after `after_s` seconds (not yet settled, or the look-up failed)."""

    after_s: float


@dataclass(frozen=True)
class Gone:
    """Its outcome was unknown and it is proven absent: `failed` `order_absent`, never resent."""


@dataclass(frozen=True)
class TradeNow:
    """Journaled `received`, proven never on the exchange: decide and send it now."""


@dataclass(frozen=True)
class Unresolved:
    """Still unknown: it stays (or becomes) `placing`, looked up again later."""


RecoveryStep = Found | Retry | Gone | TradeNow | Unresolved
PendingStep = Found | Gone | Unresolved


def recovery_step(state: str, verdict: LookUp, wait_ms: int, attempt: int) -> RecoveryStep:
    """At start, one row left `received` or `placing` by an earlier process.

    `wait_ms`: how long until no request of that process can still be executed;
    `attempt`: how many times this row was looked up already.
    """
    match verdict:
        case Found():
            return verdict
        case Absent():
            if wait_ms > 0:
                return Retry(wait_ms / 1000)
            return Gone() if state == "placing" else TradeNow()
        case LookupFailed():
            if attempt < len(RECOVERY_LOOKUP_DELAYS):
                return Retry(RECOVERY_LOOKUP_DELAYS[attempt])
            return Unresolved()


def pending_step(verdict: LookUp, placing_for_ms: int) -> PendingStep:
    """The periodic pass over a `placing` row marked so `placing_for_ms` ago."""
    match verdict:
        case Found():
            return verdict
        case Absent() if placing_for_ms >= ABSENT_AFTER_MS:
            return Gone()
        case _:
            return Unresolved()
