"""Deciding a batch of transfer intents in one ledger transaction (the group commit).

The deciding itself is pure (`batch_plan.plan_batch`); this module is its shell: it reads
what the plan needs from the ledger, and `journal` writes the plan. The whole batch is one
`BEGIN IMMEDIATE ... COMMIT`; the server sends the plan's replies only after the commit
returns, so no decision is ever answered and lost.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import Iterable, Sequence

from treasury_bot import breakers, freeze, lifecycle
# Incoming and DecisionContext are the plan's; re-exported because callers (the server,
# the treasury's wiring, the tests) have always found them here.
from treasury_bot.batch_plan import BatchPlan, DecisionContext, Incoming, plan_batch  # noqa: F401
from treasury_bot.ledger import CountedRow, Ledger
from treasury_bot.policy_model import Policy
from treasury_bot.usage import CountedTransfer, Usage, summarize_usage
from treasury_bot.verdict import REJECTED

HOUR_MS = 3_600_000


def load_usage(ledger: Ledger, policy: Policy, now_ms: int) -> Usage:
    """What counts against the limits now, from the ledger (a restart resets nothing)."""
    return load_usage_excluding(ledger, policy, now_ms, None)


def load_usage_excluding(ledger: Ledger, policy: Policy, now_ms: int, intent_id: str | None) -> Usage:
    window_ms = max(policy.limits.window_hours * HOUR_MS, HOUR_MS)
    rows = ledger.counted_since(now_ms - window_ms)
    return summarize_usage(counted_transfers(rows), now_ms, policy.limits.window_hours,
                           exclude_intent_id=intent_id)


def counted_transfers(rows: Iterable[CountedRow]) -> list[CountedTransfer]:
    """Ledger rows as the policy's CountedTransfer (failed/rejected/cancelled leave the window)."""
    return [CountedTransfer(intent_id=r.intent_id, coin=r.coin, destination=r.destination,
                            amount=Decimal(r.amount), accepted_at_ms=r.counted_at,
                            in_window=lifecycle.counts_in_window(r.status))
            for r in rows]


def decide_batch(ledger: Ledger, items: Sequence[Incoming], ctx: DecisionContext,
                 usage: Usage | None = None, usage_as_of_seq: int | None = None) -> BatchPlan:
    """Decide and journal every item in one transaction; the plan's replies are in order.

    `usage` is what already counts against the limits (the server keeps it up to date in
    memory); without it, it is summed from the ledger inside the transaction.
    `usage_as_of_seq`: the last transition `usage` knows of; if another writer committed
    since, `usage` is summed afresh (an approval adds to it: issue 10 defect 2)."""
    with ledger.transaction():
        if usage_as_of_seq is not None and ledger.last_transition_seq() != usage_as_of_seq:
            usage = None  # inside the write lock: nothing can commit between this and the decisions
        existing = ledger.find_intents(item.intent.intent_id for item in items)
        # Issue 13: ids a withdrawal on the account used that this ledger never had.
        used = frozenset(ledger.used_order_ids(i.intent.intent_id for i in items if i.intent.intent_id not in existing))
        if usage is None and len(existing) < len(items):
            usage = load_usage(ledger, ctx.policy, ctx.now_ms)
        standing = freeze.current(ledger)  # rule 1a, read under the write lock
        if standing is not None:
            ctx = replace(ctx, frozen=standing.describe())
        plan = plan_batch(existing, items, ctx, usage, ledger.next_intent_seq(), used)
        journal(ledger, plan)
        # Issue 13 item 2: a client probing the rules trips the breaker in this same commit.
        breakers.check_client_rejections(ledger, ctx.policy, rejecting_clients(plan), ctx.now_ms)
    return plan


def rejecting_clients(plan: BatchPlan) -> set[str]:
    """The clients of the plan's new rejections that count for the breaker."""
    return {row.client for row in plan.intents
            if row.outcome == REJECTED and row.reason_code not in breakers.NOT_THE_CLIENTS}


def journal(ledger: Ledger, plan: BatchPlan) -> None:
    """Write a plan; inside the caller's transaction, so it commits or rolls back whole."""
    if plan.intents:
        ledger.insert_intents(plan.intents)
        ledger.insert_decisions(plan.decisions)
        ledger.insert_transitions(plan.transitions)
    for refused in plan.refused:
        ledger.insert_refused(*refused)
    for alert in plan.alerts:
        ledger.enqueue(alert)
