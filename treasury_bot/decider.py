"""Deciding a batch of transfer intents in one ledger transaction (the group commit).

Per request, in order: identity (given by the server) -> idempotency -> policy -> journal.
The whole batch is one `BEGIN IMMEDIATE ... COMMIT`; replies are built here but sent by
the server only after the commit returns, so no decision is ever answered and lost.
Intents within one batch see each other: usage grows with each acceptance, and a
repeated intent_id later in the batch is answered as a replay of the earlier one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Mapping, Sequence

from common.messages import Decision, TransferIntent, WithdrawalEvent
from common.money import canonical
from treasury_bot.alerts import raised
from treasury_bot.ledger import IntentRecord, Ledger
from treasury_bot.policy import (CoinRules, CountedTransfer, IntentFacts, Usage, decide,
                                 summarize_usage, window_pressure)
from treasury_bot.policy_file import Policy

HOUR_MS = 3_600_000
SOURCE = "decider"


@dataclass(frozen=True)
class Incoming:
    """One well-formed transfer intent and who sent it (the CURVE certificate's name)."""

    client: str
    intent: TransferIntent
    raw: bytes


@dataclass(frozen=True)
class DecisionContext:
    policy: Policy
    coin_rules: CoinRules
    usable_from_ms: Mapping[str, int]
    now_ms: int
    # When coin_rules were fetched (issue 10 defect 8: exchange_rules_stale); the running
    # treasury always sets it from its cache.
    rules_fetched_at_ms: int | None = None


@dataclass
class BatchResult:
    replies: list[Decision] = field(default_factory=list)
    events: list[WithdrawalEvent] = field(default_factory=list)
    counted: list[CountedTransfer] = field(default_factory=list)   # newly accepted or pending


def same_intent(existing: IntentRecord, client: str, intent: TransferIntent) -> bool:
    """Same sender and same content ("20.000" equals "20")."""
    return (existing.client == client and existing.coin == intent.coin
            and existing.network == intent.network and existing.destination == intent.destination
            and Decimal(existing.amount) == intent.amount_value and existing.reason == intent.reason
            and existing.created_at == intent.created_at)


def replay_or_conflict(existing: IntentRecord, client: str, intent: TransferIntent) -> Decision:
    """The answer to an intent_id already decided: its decision as it stands, or a conflict."""
    if same_intent(existing, client, intent):
        return Decision(intent_id=existing.intent_id, outcome=existing.outcome,  # type: ignore[arg-type]
                        reason_code=existing.reason_code, detail=existing.detail,
                        status=existing.status)  # type: ignore[arg-type]
    return conflict_decision(existing.intent_id)


def conflict_decision(intent_id: str) -> Decision:
    return Decision(intent_id=intent_id, outcome="rejected", reason_code="intent_id_conflict",
                    detail="this intent_id is already taken by another intent; intent ids are never reused",
                    status="denied")


def load_usage(ledger: Ledger, policy: Policy, now_ms: int) -> Usage:
    """What counts against the limits now, from the ledger (a restart resets nothing)."""
    return load_usage_excluding(ledger, policy, now_ms, None)


def load_usage_excluding(ledger: Ledger, policy: Policy, now_ms: int, intent_id: str | None) -> Usage:
    window_ms = max(policy.limits.window_hours * HOUR_MS, HOUR_MS)
    rows = ledger.counted_since(now_ms - window_ms)
    return summarize_usage(counted_transfers(rows), now_ms, policy.limits.window_hours,
                           exclude_intent_id=intent_id)


def counted_transfers(rows) -> list[CountedTransfer]:
    """Ledger rows as the policy's CountedTransfer (failed/rejected/cancelled leave the window)."""
    return [CountedTransfer(intent_id=r.intent_id, coin=r.coin, destination=r.destination,
                            amount=Decimal(r.amount), accepted_at_ms=r.counted_at,
                            in_window=r.status not in ("failed", "rejected", "cancelled"))
            for r in rows]


def decide_batch(ledger: Ledger, items: Sequence[Incoming], ctx: DecisionContext,
                 usage: Usage | None = None, usage_as_of_seq: int | None = None) -> BatchResult:
    """Decide and journal every item in one transaction; return the replies in order.

    `usage` is what already counts against the limits (the server keeps it up to date in
    memory); without it, it is summed from the ledger inside the transaction.
    `usage_as_of_seq`: the last transition `usage` knows of; if another writer committed
    since, `usage` is summed afresh (an approval adds to it: issue 10 defect 2)."""
    result = BatchResult()
    with ledger.transaction():
        if usage_as_of_seq is not None and ledger.last_transition_seq() != usage_as_of_seq:
            usage = None  # inside the write lock: nothing can commit between this and the decisions
        existing = ledger.find_intents(item.intent.intent_id for item in items)
        if usage is None and len(existing) < len(items):
            usage = load_usage(ledger, ctx.policy, ctx.now_ms)
        seq = ledger.next_intent_seq()
        rows, decisions, transitions = [], [], []
        for item in items:
            intent = item.intent
            prior = existing.get(intent.intent_id)
            if prior is not None:
                reply = replay_or_conflict(prior, item.client, intent)
                if reply.reason_code == "intent_id_conflict":
                    ledger.insert_refused(intent.intent_id, item.client, item.raw, ctx.now_ms,
                                          "intent_id_conflict", reply.detail)
                    ledger.enqueue(raised.intent_rejected(_conflict_transfer(item), ctx.now_ms,
                                             "intent_id_conflict", reply.detail, intent.reason))
                result.replies.append(reply)
                continue
            facts = IntentFacts(intent_id=intent.intent_id, client=item.client, coin=intent.coin,
                                network=intent.network, destination=intent.destination,
                                amount=intent.amount_value, created_at_ms=intent.created_at)
            verdict = decide(facts, ctx.policy, usage, ctx.coin_rules, ctx.usable_from_ms, ctx.now_ms,
                             rules_fetched_at_ms=ctx.rules_fetched_at_ms)
            status = {"accepted": "queued", "pending_approval": "pending_approval"}.get(
                verdict.outcome, "denied")
            destination = ctx.policy.destination(intent.destination)
            counted = verdict.outcome in ("accepted", "pending_approval")
            record = IntentRecord(
                seq=seq, intent_id=intent.intent_id, client=item.client, coin=intent.coin,
                network=intent.network, destination=intent.destination,
                amount=canonical(intent.amount_value), reason=intent.reason,
                created_at=intent.created_at, received_at=ctx.now_ms,
                outcome=verdict.outcome, reason_code=verdict.reason_code, detail=verdict.detail,
                status=status, updated_at=ctx.now_ms,
                address=destination.address if (destination and counted) else None,
                tag=destination.tag if (destination and counted) else None,
                counted_at=ctx.now_ms if counted else None)
            rows.append(_row(record, item.raw))
            decisions.append((seq, ctx.now_ms, "policy", verdict.outcome, verdict.reason_code, verdict.detail))
            transitions.append((seq, ctx.now_ms, None, status, SOURCE, ""))
            if counted:
                before = usage
                usage = usage.plus(intent.coin, intent.destination, intent.amount_value)
                result.counted.append(CountedTransfer(
                    intent_id=intent.intent_id, coin=intent.coin, destination=intent.destination,
                    amount=intent.amount_value, accepted_at_ms=ctx.now_ms, in_window=True))
                for pressure in window_pressure(facts, ctx.policy, before, usage):
                    ledger.enqueue(raised.window_cap_80(record, pressure, ctx.now_ms))
            if verdict.outcome == "rejected":
                ledger.enqueue(raised.record_rejected(record, ctx.now_ms))
            elif verdict.outcome == "pending_approval":
                limits = ctx.policy.limits.coins.get(intent.coin)
                ledger.enqueue(raised.approval_needed(record, limits.approval_above if limits else None))
            existing[intent.intent_id] = record
            result.replies.append(Decision(intent_id=intent.intent_id, outcome=verdict.outcome,  # type: ignore[arg-type]
                                           reason_code=verdict.reason_code, detail=verdict.detail,
                                           status=status))  # type: ignore[arg-type]
            result.events.append(WithdrawalEvent(intent_id=intent.intent_id, status=status,  # type: ignore[arg-type]
                                                 withdrawal_id=None, tx_id=None, at=ctx.now_ms))
            seq += 1
        if rows:
            ledger.insert_intents(rows)
            ledger.insert_decisions(decisions)
            ledger.insert_transitions(transitions)
    return result


def _row(r: IntentRecord, raw: bytes) -> tuple:
    return (r.seq, r.intent_id, r.client, r.coin, r.network, r.destination, r.amount, r.reason,
            r.created_at, raw, r.received_at, r.outcome, r.reason_code, r.detail,
            r.status, r.updated_at, r.address, r.tag, r.counted_at)


def _conflict_transfer(item: Incoming):
    from treasury_bot.alerts.events import Transfer
    intent = item.intent
    return Transfer(intent_id=intent.intent_id, client=item.client, coin=intent.coin,
                    network=intent.network, amount=canonical(intent.amount_value),
                    destination=intent.destination)
