"""Deciding a batch of transfer intents, as a value (pure: no ledger, no clock, no I/O).

`plan_batch` takes what the ledger already holds for the batch's intent ids, the batch,
the decision context, the usage that already counts and the next intent seq, and returns
a `BatchPlan`: every row to append, every alert to raise and every reply, event and
counted transfer, in order. `decider.journal` writes it inside the caller's transaction;
the server sends the replies only after that commit returns, so no decision is ever
answered and lost.

Per request, in order: identity (given by the server) -> idempotency (rule 1) -> the freeze
(rule 1a) -> policy.
Intents within one batch see each other: usage grows with each acceptance, and a
repeated intent_id later in the batch is answered as a replay of the earlier one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, NamedTuple, Sequence

from common.messages import Decision, TransferIntent, WithdrawalEvent
from common.money import canonical
from treasury_bot import lifecycle
from treasury_bot.alerts import events, raised
from treasury_bot.address_book import AddressBookReading
from treasury_bot.alerts.model import Alert
from treasury_bot.ledger import IntentRecord
from treasury_bot.policy import IntentFacts, decide
from treasury_bot.policy_model import Policy
from treasury_bot.usage import CountedTransfer, Usage, window_pressure
from treasury_bot.verdict import PENDING_APPROVAL, REJECTED, Verdict
from treasury_bot.withdraw_rules import CoinRules

INTENT_ID_CONFLICT = "intent_id_conflict"
CONFLICT_DETAIL = "this intent_id is already taken by another intent; intent ids are never reused"
# Issue 13 items 5 and 6: a withdrawal on the account used this id, and the ledger holds no
# intent with it (a ledger restored from an older copy): it must never be decided again.
USED_ON_EXCHANGE_DETAIL = ("this intent_id was used by a withdrawal on the exchange that this ledger does not "
                           "hold (found by the foreign-withdrawal watch); intent ids are never reused")
DECIDED_BY = "policy"   # the decisions table's decided_by for the decider's own verdicts
# The outcomes that count against the limits from the moment of the decision.
_COUNTED_OUTCOMES = frozenset(o for o, s in lifecycle.STATUS_OF_OUTCOME.items() if s != lifecycle.DENIED)


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
    # The exchange's address book as last read (issue 12: not_in_address_book); None skips it.
    address_book: AddressBookReading | None = None
    # Rule 1a (issue 13, docs/design.md section 9): the standing freeze, as its one-line
    # description, read by decider.decide_batch inside the batch's transaction; None: not frozen.
    frozen: str | None = None


FROZEN = "frozen"


def frozen_verdict(description: str) -> Verdict:
    """Rule 1a: after idempotency (a replay still gets its decision as it stands)."""
    return Verdict(REJECTED, FROZEN, f"the treasury is frozen ({description}): no transfer is "
                                     "decided until an operator unfreezes it")


# The rows in the shapes `Ledger.insert_*` take (a NamedTuple is the tuple it expects).
class IntentRow(NamedTuple):
    seq: int
    intent_id: str
    client: str
    coin: str
    network: str
    destination: str
    amount: str
    reason: str
    created_at: int
    raw_request: bytes
    received_at: int
    outcome: str
    reason_code: str | None
    detail: str
    status: str
    updated_at: int
    address: str | None
    tag: str | None
    counted_at: int | None


class DecisionRow(NamedTuple):
    intent_seq: int
    decided_at: int
    decided_by: str
    outcome: str
    reason_code: str | None
    detail: str


class TransitionRow(NamedTuple):
    intent_seq: int
    at: int
    from_status: str | None
    to_status: str
    source: str
    note: str


class RefusedRow(NamedTuple):
    """A request refused without an intent row (an intent_id conflict)."""

    intent_id: str
    client: str
    raw: bytes
    at: int
    reason_code: str
    detail: str


@dataclass(frozen=True)
class BatchPlan:
    """Everything one batch writes and answers. `replies` has one reply per item, in order;
    `counted` are the transfers newly accepted or pending (they count once committed)."""

    intents: tuple[IntentRow, ...]
    decisions: tuple[DecisionRow, ...]
    transitions: tuple[TransitionRow, ...]
    refused: tuple[RefusedRow, ...]
    alerts: tuple[Alert, ...]
    replies: tuple[Decision, ...]
    events: tuple[WithdrawalEvent, ...]
    counted: tuple[CountedTransfer, ...]


# -- rule 1: idempotency ------------------------------------------------------------------

def recorded_intent(record: IntentRecord) -> TransferIntent:
    """The intent a ledger record was decided from (its content, as the wire has it)."""
    return TransferIntent(intent_id=record.intent_id, coin=record.coin, network=record.network,
                          destination=record.destination, amount=record.amount, reason=record.reason,
                          created_at=record.created_at)


def same_intent(existing: IntentRecord, client: str, intent: TransferIntent) -> bool:
    """Same sender and same content; what "same content" is, is `TransferIntent.content_key`
    ("20.000" equals "20"), the one definition both bots use."""
    return existing.client == client and recorded_intent(existing).content_key() == intent.content_key()


def replay_or_conflict(existing: IntentRecord, client: str, intent: TransferIntent) -> Decision:
    """The answer to an intent_id already decided: its decision as it stands, or a conflict."""
    if same_intent(existing, client, intent):
        return Decision(intent_id=existing.intent_id, outcome=existing.outcome,  # type: ignore[arg-type]
                        reason_code=existing.reason_code, detail=existing.detail,
                        status=existing.status)  # type: ignore[arg-type]
    return conflict_decision(existing.intent_id)


def conflict_decision(intent_id: str) -> Decision:
    return Decision(intent_id=intent_id, outcome=REJECTED, reason_code=INTENT_ID_CONFLICT,
                    detail=CONFLICT_DETAIL, status=lifecycle.DENIED)


def is_conflict(reply: Decision) -> bool:
    return reply.reason_code == INTENT_ID_CONFLICT


# -- the batch ----------------------------------------------------------------------------

def plan_batch(existing: Mapping[str, IntentRecord], items: Sequence[Incoming], context: DecisionContext,
               usage: Usage | None, next_seq: int, used_on_exchange: frozenset[str] = frozenset()) -> BatchPlan:
    """Decide every item in order against `existing` (the ledger's records of the batch's
    intent ids) and `usage` (what already counts; None only if every item is already in
    `existing`); new intents get seqs from `next_seq` on. `existing` is not changed.
    `used_on_exchange`: ids a foreign withdrawal used (issue 13): refused as conflicts."""
    now = context.now_ms
    rows: list[IntentRow] = []
    planned: dict[str, IntentRow] = {}   # this batch's new intents, for a repeat later in it
    decisions: list[DecisionRow] = []
    transitions: list[TransitionRow] = []
    refused: list[RefusedRow] = []
    alerts: list[Alert] = []
    replies: list[Decision] = []
    new_events: list[WithdrawalEvent] = []
    counted: list[CountedTransfer] = []
    seq = next_seq
    for item in items:
        intent = item.intent
        prior = existing.get(intent.intent_id)
        if prior is None and intent.intent_id in planned:
            prior = _record(planned[intent.intent_id])
        if prior is None and intent.intent_id in used_on_exchange:
            reply = Decision(intent_id=intent.intent_id, outcome=REJECTED, reason_code=INTENT_ID_CONFLICT,
                             detail=USED_ON_EXCHANGE_DETAIL, status=lifecycle.DENIED)
            refused.append(RefusedRow(intent.intent_id, item.client, item.raw, now, INTENT_ID_CONFLICT,
                                      reply.detail))
            alerts.append(raised.intent_rejected(_asked_for(item), now, INTENT_ID_CONFLICT,
                                                 reply.detail, intent.reason))
            replies.append(reply)
            continue
        if prior is not None:
            reply = replay_or_conflict(prior, item.client, intent)
            if is_conflict(reply):
                refused.append(RefusedRow(intent.intent_id, item.client, item.raw, now,
                                          INTENT_ID_CONFLICT, reply.detail))
                alerts.append(raised.intent_rejected(_asked_for(item), now, INTENT_ID_CONFLICT,
                                                     reply.detail, intent.reason))
            replies.append(reply)
            continue
        if usage is None:
            raise ValueError(f"no usage given to decide the new intent {intent.intent_id}")
        facts = IntentFacts(intent_id=intent.intent_id, client=item.client, coin=intent.coin,
                            network=intent.network, destination=intent.destination,
                            amount=intent.amount_value, created_at_ms=intent.created_at)
        if context.frozen is not None:
            verdict = frozen_verdict(context.frozen)
        else:
            verdict = decide(facts, context.policy, usage, context.coin_rules, context.usable_from_ms, now,
                             rules_fetched_at_ms=context.rules_fetched_at_ms, address_book=context.address_book)
        status = lifecycle.STATUS_OF_OUTCOME[verdict.outcome]
        is_counted = verdict.outcome in _COUNTED_OUTCOMES
        destination = context.policy.destination(intent.destination) if is_counted else None
        row = IntentRow(seq, intent.intent_id, item.client, intent.coin, intent.network, intent.destination,
                        canonical(intent.amount_value), intent.reason, intent.created_at, item.raw, now,
                        verdict.outcome, verdict.reason_code, verdict.detail, status, now,
                        destination.address if destination else None,
                        destination.tag if destination else None,
                        now if is_counted else None)
        rows.append(row)
        planned[intent.intent_id] = row
        decisions.append(DecisionRow(seq, now, DECIDED_BY, verdict.outcome, verdict.reason_code, verdict.detail))
        transitions.append(TransitionRow(seq, now, None, status, lifecycle.DECIDER, ""))
        if is_counted:
            before = usage
            usage = usage.plus(intent.coin, intent.destination, intent.amount_value)
            counted.append(CountedTransfer(
                intent_id=intent.intent_id, coin=intent.coin, destination=intent.destination,
                amount=intent.amount_value, accepted_at_ms=now, in_window=True))
            for pressure in window_pressure(facts, context.policy, before, usage):
                alerts.append(raised.window_cap_80(_record(row), pressure, now))
        if verdict.outcome == REJECTED:
            alerts.append(raised.record_rejected(_record(row), now))
        elif verdict.outcome == PENDING_APPROVAL:
            limits = context.policy.limits.coins.get(intent.coin)
            alerts.append(raised.approval_needed(_record(row), limits.approval_above if limits else None))
        replies.append(Decision(intent_id=intent.intent_id, outcome=verdict.outcome,  # type: ignore[arg-type]
                                reason_code=verdict.reason_code, detail=verdict.detail,
                                status=status))  # type: ignore[arg-type]
        new_events.append(WithdrawalEvent(intent_id=intent.intent_id, status=status,  # type: ignore[arg-type]
                                          withdrawal_id=None, tx_id=None, at=now))
        seq += 1
    return BatchPlan(tuple(rows), tuple(decisions), tuple(transitions), tuple(refused), tuple(alerts),
                     tuple(replies), tuple(new_events), tuple(counted))


def _record(row: IntentRow) -> IntentRecord:
    """The record a planned row will read back as (built only when needed: an alert, or a
    repeat later in the batch; the common acceptance needs none, and it costs microseconds)."""
    return IntentRecord(*row[:9], *row[10:])   # every column but the raw request


def _asked_for(item: Incoming) -> events.Transfer:
    """A refused request as its alert shows it: what the sender asked for, not the original."""
    intent = item.intent
    return events.Transfer(intent_id=intent.intent_id, client=item.client, coin=intent.coin,
                           network=intent.network, amount=canonical(intent.amount_value),
                           destination=intent.destination)
