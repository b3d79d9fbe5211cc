"""What a decision answers: its outcome, its reason code (every code listed here, once) and a detail.

The rules that give each code are in treasury_bot/policy.py (docs/design.md section 3);
the numbers beside the codes are those rules' numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

ACCEPTED = "accepted"
REJECTED = "rejected"
PENDING_APPROVAL = "pending_approval"
OUTCOMES = (ACCEPTED, REJECTED, PENDING_APPROVAL)

REASON_CODES = (
    "intent_id_conflict",       # 1 (decided by the ledger)
    "stale_intent",             # 2
    "unknown_destination",      # 3
    "client_not_allowed",       # 4
    "coin_network_mismatch",    # 5
    "destination_quarantined",  # 6
    "withdrawals_disabled",     # 7
    "invalid_destination",      # 7
    "below_exchange_minimum",   # 7
    "above_exchange_maximum",   # 7
    "not_a_multiple",           # 7
    "over_transfer_limit",      # 8
    "too_many_transfers",       # 9
    "over_window_limit",        # 10
    "approval_required",        # 11 (outcome pending_approval)
    "operator_rejected",        # the operator's rejection of a pending intent
    # Issue 10 (docs/design.md section 9):
    "client_rate_limited",      # 1b (decided by the server's request budget, never journaled)
    "exchange_rules_stale",     # 7, before the other exchange rules
    # Issue 12: the account's own address book lacks the destination (treasury_bot/address_book.py).
    "not_in_address_book",      # 7, after exchange_rules_stale
    # Issue 13 (docs/design.md section 9): the custody controls.
    "frozen",                   # 1a (treasury_bot/freeze.py)
    "approval_expired",         # a pending intent not approved within [approvals] ttl_hours
)


@dataclass(frozen=True)
class Verdict:
    outcome: str  # accepted | rejected | pending_approval
    reason_code: str | None  # None when accepted
    detail: str  # one sentence for a person, with the numbers
