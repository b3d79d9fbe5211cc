"""The intent lifecycle: its statuses, their sets, and every move a writer may make (pure).

The rules, in the manner of h11's `_state.py` (the drawing is in docs/architecture.md):

1. The decider creates an intent in `pending_approval`, `queued` or `denied`, never
   anywhere else.
2. Only an operator moves `pending_approval`: to `queued` (approve) or `denied` (reject).
3. Only the executor moves `queued`: to `submitting` (committed before the request
   leaves), to `failed` (the whitelist entry changed after the decision), or in shadow
   mode to `shadowed` (where live mode would have applied; nothing is sent).
4. `submitting` means "may have reached the exchange". The executor moves it back to
   `queued` only when the request provably never left or was proven absent, to `failed`
   when the exchange refused it, to `needs_review` when the outcome cannot be proven, or
   to `submitted` when the exchange answered (or reconciliation found it).
5. From `submitted` and the exchange's own open statuses, only the exchange's answer moves
   an intent: the poller moves it to whichever status the exchange reports
   (`EXCHANGE_STATUS`). The executor does so only from `submitted`, in the commit that
   adopts a withdrawal reconciliation found already further along.
6. `needs_review` is not terminal: only an operator closes it, as `completed` or `failed`.
7. Terminal statuses never move again.

Every move is (from, source) -> to; anything not in `ALLOWED` is refused by
`Ledger.set_status` with `IllegalTransition`. A status string outside this module is a
bug, except in the wire schema (common/messages.py) which the statuses here must equal
(tests/unit/treasury_bot/test_no_status_literals.py scans for one).
"""

from __future__ import annotations

from typing import Final, Mapping

from common.messages import STATUSES, TERMINAL_STATUSES

# -- the statuses ------------------------------------------------------------------------

PENDING_APPROVAL: Final = "pending_approval"
QUEUED: Final = "queued"
SUBMITTING: Final = "submitting"
SUBMITTED: Final = "submitted"
EMAIL_SENT: Final = "email_sent"
AWAITING_APPROVAL: Final = "awaiting_approval"
PROCESSING: Final = "processing"
COMPLETED: Final = "completed"
FAILED: Final = "failed"
REJECTED: Final = "rejected"
CANCELLED: Final = "cancelled"
NEEDS_REVIEW: Final = "needs_review"
DENIED: Final = "denied"
# Shadow mode (issue 13 item 7): the executor would have applied it now; nothing was sent.
# Terminal, so its id is used for ever: after the switch to live a replay gets `shadowed`,
# never a withdrawal. It keeps its amount counted, as a sent withdrawal would.
SHADOWED: Final = "shadowed"

ALL: Final = frozenset({PENDING_APPROVAL, QUEUED, SUBMITTING, SUBMITTED, EMAIL_SENT, AWAITING_APPROVAL,
                        PROCESSING, COMPLETED, FAILED, REJECTED, CANCELLED, NEEDS_REVIEW, DENIED, SHADOWED})
assert ALL == frozenset(STATUSES), "lifecycle and the wire schema disagree on the statuses"

# -- the sets ----------------------------------------------------------------------------

TERMINAL: Final = frozenset({COMPLETED, FAILED, REJECTED, CANCELLED, DENIED, SHADOWED})
assert TERMINAL == TERMINAL_STATUSES, "lifecycle and the wire schema disagree on the terminal statuses"
OPEN: Final = tuple(s for s in STATUSES if s not in TERMINAL)  # wire order, for stable queries
# Known to the exchange and not finished there: what the poller follows.
EXCHANGE_OPEN: Final = (SUBMITTED, EMAIL_SENT, AWAITING_APPROVAL, PROCESSING)
# How a withdrawal can end at the exchange (or by an operator's resolve of needs_review).
WITHDRAWAL_ENDS: Final = frozenset({COMPLETED, FAILED, REJECTED, CANCELLED})
# Of the intents counted against a window, the ones whose amount left or may still leave:
# failed, rejected and cancelled withdrawals give their amount back to the window.
GIVES_BACK_TO_WINDOW: Final = frozenset({FAILED, REJECTED, CANCELLED})
RESOLVE_AS: Final = (COMPLETED, FAILED)

# Binance withdraw-history status codes (docs/design.md section 2).
EXCHANGE_STATUS: Final[Mapping[int, str]] = {
    0: EMAIL_SENT, 1: CANCELLED, 2: AWAITING_APPROVAL, 3: REJECTED,
    4: PROCESSING, 5: FAILED, 6: COMPLETED,
}

# The decision's outcome -> the status the intent is created in (rule 1).
STATUS_OF_OUTCOME: Final[Mapping[str, str]] = {
    "accepted": QUEUED, "pending_approval": PENDING_APPROVAL, "rejected": DENIED,
}

# -- who moves what ----------------------------------------------------------------------

DECIDER: Final = "decider"
OPERATOR: Final = "operator"
EXECUTOR: Final = "executor"
POLLER: Final = "poller"
SOURCES: Final = frozenset({DECIDER, OPERATOR, EXECUTOR, POLLER})

_EXCHANGE_REPORTS: Final = frozenset(EXCHANGE_STATUS.values())


def _exchange_moves(source: str, froms: tuple[str, ...]) -> dict[tuple[str | None, str], frozenset[str]]:
    # Rule 5: the exchange may report any of its statuses, in any order it likes (an
    # email_sent after processing is its business); the intent follows.
    return {(status, source): _EXCHANGE_REPORTS - {status} for status in froms}


ALLOWED: Final[Mapping[tuple[str | None, str], frozenset[str]]] = {
    (None, DECIDER): frozenset({PENDING_APPROVAL, QUEUED, DENIED}),
    (PENDING_APPROVAL, OPERATOR): frozenset({QUEUED, DENIED}),
    (QUEUED, EXECUTOR): frozenset({SUBMITTING, FAILED, SHADOWED}),
    (SUBMITTING, EXECUTOR): frozenset({QUEUED, FAILED, NEEDS_REVIEW, SUBMITTED}),
    **_exchange_moves(EXECUTOR, (SUBMITTED,)),
    **_exchange_moves(POLLER, EXCHANGE_OPEN),
    (NEEDS_REVIEW, OPERATOR): frozenset(RESOLVE_AS),
}


class IllegalTransition(Exception):
    """A writer tried a move the lifecycle forbids; nothing was changed."""

    code = "illegal_transition"

    def __init__(self, from_status: str | None, source: str, to_status: str) -> None:
        self.from_status, self.source, self.to_status = from_status, source, to_status
        super().__init__(f"the {source} may not move an intent from {from_status or '(new)'} to {to_status}")


def is_allowed(from_status: str | None, source: str, to_status: str) -> bool:
    return to_status in ALLOWED.get((from_status, source), frozenset())


def require_allowed(from_status: str | None, source: str, to_status: str) -> None:
    if not is_allowed(from_status, source, to_status):
        raise IllegalTransition(from_status, source, to_status)


def is_terminal(status: str) -> bool:
    return status in TERMINAL


def counts_in_window(status: str) -> bool:
    """A counted intent in this status still uses its window (it left or may leave)."""
    return status not in GIVES_BACK_TO_WINDOW
