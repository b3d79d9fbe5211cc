"""plan_batch, the pure decision of a batch: what it would write, raise and answer, from
plain values (the ledger's records and the usage are built here; no SQLite)."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from common.messages import Decision
from tests.support.treasury import COLD_ADDRESS
from tests.support.treasury_core import T0, context, incoming, make_policy
from treasury_bot import lifecycle
from treasury_bot.batch_plan import (INTENT_ID_CONFLICT, IntentRow, TransitionRow, plan_batch,
                                     recorded_intent, same_intent)
from treasury_bot.ledger import IntentRecord
from treasury_bot.usage import Usage

POLICY = make_policy()   # approval above 800, cold-wallet at most 900 a transfer, window cap 5000


def record(intent_id: str, amount: str = "100", *, client: str = "signal", status: str = lifecycle.QUEUED,
           outcome: str = "accepted", seq: int = 1, **over) -> IntentRecord:
    """What the ledger would hold for an intent decided earlier from `incoming(intent_id, amount)`."""
    fields = dict(seq=seq, intent_id=intent_id, client=client, coin="USDT", network="TRX",
                  destination="cold-wallet", amount=amount, reason="sweep", created_at=T0,
                  received_at=T0, outcome=outcome, reason_code=None, detail="earlier", status=status,
                  updated_at=T0, address=COLD_ADDRESS, tag=None, counted_at=T0)
    fields.update(over)
    return IntentRecord(**fields)


def plan(*items, existing=None, usage=None, policy=POLICY, next_seq=1, now=T0):
    return plan_batch(existing or {}, list(items), context(policy, now), Usage() if usage is None else usage,
                      next_seq)


def kinds(batch) -> list[tuple[str, str | None]]:
    return [(a.kind, a.intent_id) for a in batch.alerts]


def test_an_accepted_intent_plans_its_three_rows_reply_event_and_count():
    """Accepted: an intent row queued with the resolved address, its decision and its
    creation transition by the decider, the reply, the event and the counted transfer."""
    item = incoming("a-1", "20.000")
    batch = plan(item, next_seq=7)
    assert batch.replies == (Decision(intent_id="a-1", outcome="accepted", reason_code=None,
                                      detail=batch.replies[0].detail, status=lifecycle.QUEUED),)
    [row] = batch.intents
    assert row == IntentRow(7, "a-1", "signal", "USDT", "TRX", "cold-wallet", "20", "sweep", T0, item.raw,
                            T0, "accepted", None, batch.replies[0].detail, lifecycle.QUEUED, T0,
                            COLD_ADDRESS, None, T0)
    assert [tuple(d) for d in batch.decisions] == [(7, T0, "policy", "accepted", None, row.detail)]
    assert batch.transitions == (TransitionRow(7, T0, None, lifecycle.QUEUED, lifecycle.DECIDER, ""),)
    assert [(e.intent_id, e.status, e.at) for e in batch.events] == [("a-1", lifecycle.QUEUED, T0)]
    assert [(c.intent_id, c.amount, c.accepted_at_ms, c.in_window) for c in batch.counted] == [
        ("a-1", Decimal("20"), T0, True)]
    assert batch.refused == () and batch.alerts == ()


def test_an_intent_above_approval_is_planned_pending_counted_and_alerted():
    """pending_approval: the row waits for the operator, counts already, approval_needed is raised."""
    batch = plan(incoming("p-1", "850"))
    [reply] = batch.replies
    assert (reply.outcome, reply.reason_code, reply.status) == ("pending_approval", "approval_required",
                                                                lifecycle.PENDING_APPROVAL)
    assert batch.intents[0].status == lifecycle.PENDING_APPROVAL and batch.intents[0].counted_at == T0
    assert [c.intent_id for c in batch.counted] == ["p-1"]
    assert kinds(batch) == [("approval_needed", "p-1")]
    assert batch.alerts[0].facts["approval_above"] == "800"


def test_a_rejected_intent_is_planned_denied_uncounted_without_address_and_alerted():
    """Rejected: the row is denied, holds no address, counts nowhere; intent_rejected is raised."""
    batch = plan(incoming("r-1", destination="nowhere"))
    [reply] = batch.replies
    assert (reply.outcome, reply.reason_code, reply.status) == ("rejected", "unknown_destination",
                                                                lifecycle.DENIED)
    row = batch.intents[0]
    assert (row.status, row.address, row.tag, row.counted_at) == (lifecycle.DENIED, None, None, None)
    assert batch.counted == () and kinds(batch) == [("intent_rejected", "r-1")]
    assert batch.events[0].status == lifecycle.DENIED


def test_a_replay_is_answered_as_it_stands_and_plans_nothing():
    """The same intent again ("100.0" == "100") gets the ledger's decision with its current
    status, writes no row and raises nothing; no usage is needed to answer it."""
    existing = {"d-1": record("d-1", status=lifecycle.SUBMITTING)}
    batch = plan_batch(existing, [incoming("d-1", "100.0")], context(POLICY, T0 + 5), None, 2)
    assert batch.replies == (Decision(intent_id="d-1", outcome="accepted", reason_code=None,
                                      detail="earlier", status=lifecycle.SUBMITTING),)
    assert (batch.intents, batch.decisions, batch.transitions, batch.refused, batch.alerts,
            batch.events, batch.counted) == ((),) * 7


@pytest.mark.parametrize("change", [dict(amount="101"), dict(reason="other"), dict(created_at=T0 + 1),
                                    dict(destination="hot-wallet"), dict(client="other")])
def test_other_content_or_another_sender_under_a_used_id_is_a_refused_conflict(change):
    """intent_id_conflict: a refused-request row with the raw request, an alert describing
    what was asked for, no intent row; the original record is left as it was."""
    existing = {"c-1": record("c-1")}
    before = dict(existing)
    fields = {"amount": "100", **change}
    item = incoming("c-1", fields.pop("amount"), **fields)
    batch = plan(item, existing=existing)
    [reply] = batch.replies
    assert (reply.outcome, reply.reason_code, reply.status) == ("rejected", INTENT_ID_CONFLICT, lifecycle.DENIED)
    [refused] = batch.refused
    assert (refused.intent_id, refused.client, refused.raw, refused.at, refused.reason_code) == (
        "c-1", item.client, item.raw, T0, INTENT_ID_CONFLICT)
    assert batch.intents == () and batch.events == () and batch.counted == ()
    [alert] = batch.alerts
    assert (alert.kind, alert.intent_id, alert.facts["reason_code"], alert.facts["client"]) == (
        "intent_rejected", "c-1", INTENT_ID_CONFLICT, item.client)
    assert existing == before


@pytest.mark.parametrize("used, amount, crossed", [
    ("3900", "100", True),    # 78% -> exactly 80%: crossing
    ("4100", "100", False),   # already above 80%: not again
    ("3100", "900", True),    # 62% -> 80% in one transfer
    ("3899", "100", False),   # 79.98%: just under
])
def test_window_cap_80_is_raised_by_the_intent_that_crosses_it(used, amount, crossed):
    """The coin's 5000 cap: one window_cap_80 alert, for the acceptance that reaches 80%."""
    batch = plan(incoming("w-1", amount), usage=Usage(coin_sums={"USDT": Decimal(used)}),
                 policy=make_policy(approval_above=None))
    assert batch.replies[0].outcome == "accepted"
    assert (("window_cap_80", "w-1") in kinds(batch)) == crossed
    if crossed:
        [alert] = [a for a in batch.alerts if a.kind == "window_cap_80"]
        assert (alert.facts["scope"], alert.facts["used"], alert.facts["cap"]) == (
            "coin", str(Decimal(used) + Decimal(amount)), "5000")


def test_intents_in_one_batch_count_against_each_other():
    """Usage grows with each acceptance: with 300 already used of a 500 cap, two of 100 fit
    (the second exactly), the third is over the window, and only the two count."""
    policy = make_policy(window_cap="500", approval_above=None)
    batch = plan(*[incoming(f"b-{i}", "100") for i in range(3)],
                 usage=Usage(hour_count=1, coin_sums={"USDT": Decimal("300")}), policy=policy, next_seq=10)
    assert [r.reason_code for r in batch.replies] == [None, None, "over_window_limit"]
    assert [row.seq for row in batch.intents] == [10, 11, 12]
    assert [t.intent_seq for t in batch.transitions] == [10, 11, 12]
    assert [c.intent_id for c in batch.counted] == ["b-0", "b-1"]
    assert ("window_cap_80", "b-0") in kinds(batch)   # 400 of 500 is 80%: crossed by the first


def test_the_hourly_count_grows_within_one_batch():
    """Two already this hour, three allowed: the second of the batch is too_many_transfers."""
    batch = plan(incoming("h-0", "10"), incoming("h-1", "10"), usage=Usage(hour_count=2),
                 policy=make_policy(per_hour=3))
    assert [r.reason_code for r in batch.replies] == [None, "too_many_transfers"]


def test_a_repeat_within_the_batch_is_a_replay_of_the_first_and_a_changed_one_a_conflict():
    """The second copy answers as the first (one row, counted once); other content under the
    same id later in the batch is refused; the caller's `existing` is not changed."""
    existing: dict[str, IntentRecord] = {}
    batch = plan(incoming("r-1", "20"), incoming("r-1", "20.0"), incoming("r-1", "21"), existing=existing)
    assert batch.replies[0] == batch.replies[1] and batch.replies[2].reason_code == INTENT_ID_CONFLICT
    assert len(batch.intents) == 1 and len(batch.counted) == 1 and len(batch.events) == 1
    assert [r.intent_id for r in batch.refused] == ["r-1"] and existing == {}


def test_a_new_intent_without_usage_is_refused_to_plan():
    """None is usage only for a batch of replays; a new intent without it is a caller's bug."""
    with pytest.raises(ValueError):
        plan_batch({}, [incoming("n-1")], context(POLICY, T0), None, 1)


def test_same_intent_is_the_wire_content_key_plus_the_sender():
    """Client, coin, network, destination, amount by value, reason and created_at all matter,
    and the record's content is read back as the very intent it was decided from."""
    stored = record("s", "20")
    assert recorded_intent(stored).content_key() == incoming("s", "20.00").intent.content_key()
    assert same_intent(stored, "signal", incoming("s", "20.00").intent)
    for other in (incoming("s", "20.01"), incoming("s", "20", network="BSC"), incoming("s", "20", coin="BTC"),
                  incoming("s", "20", reason="x"), incoming("s", "20", created_at=T0 + 1),
                  incoming("s", "20", destination="hot-wallet")):
        assert not same_intent(stored, "signal", other.intent)
    assert not same_intent(stored, "other", incoming("s", "20").intent)
    assert not same_intent(replace(stored, client="other"), "signal", incoming("s", "20").intent)


# -- rule 1a: the freeze (issue 13) -------------------------------------------------------

def test_a_new_intent_while_frozen_is_rejected_frozen_and_counts_nowhere():
    """Rule 1a: frozen is the first policy answer; the row is denied, uncounted, alerted."""
    batch = plan_batch({}, [incoming("f-1")], replace(context(POLICY, T0), frozen="frozen by alice: drill"),
                       Usage(), 1)
    [reply] = batch.replies
    assert (reply.outcome, reply.reason_code, reply.status) == ("rejected", "frozen", lifecycle.DENIED)
    assert "frozen by alice: drill" in reply.detail
    assert batch.counted == () and batch.intents[0].counted_at is None
    assert kinds(batch) == [("intent_rejected", "f-1")]


def test_a_replay_while_frozen_still_gets_its_decision_as_it_stands():
    """Rule 1 comes before 1a: an accepted intent replayed during a freeze is still accepted."""
    existing = {"d-1": record("d-1", status=lifecycle.QUEUED)}
    batch = plan_batch(existing, [incoming("d-1")], replace(context(POLICY, T0), frozen="frozen by bob: x"), None, 2)
    assert (batch.replies[0].outcome, batch.replies[0].status) == ("accepted", lifecycle.QUEUED)
    assert batch.intents == ()
