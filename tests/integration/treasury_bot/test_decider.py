"""Deciding batches of intents in one ledger transaction: idempotency, usage growing within
a batch, what counts, what is journaled and alerted."""

from __future__ import annotations

from decimal import Decimal

import pytest

from common.clock import FakeClock
from common.messages import Decision
from tests.support.treasury import COIN_RULES, COLD_ADDRESS
from tests.support.ledger_peek import peek, peek_one
from tests.support.treasury_core import (T0, accept, alerts, context, count, decide, incoming,
                                                  make_policy, open_ledger)
from treasury_bot import operator
from treasury_bot.coin_rules import to_snapshot
from treasury_bot.decider import decide_batch, load_usage
from treasury_bot.usage import Usage


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


@pytest.fixture
def ledger(tmp_path):
    opened = open_ledger(tmp_path / "ledger.sqlite")
    yield opened
    opened.close()


POLICY = make_policy()


def one(ledger, clock, intent_id, amount="100", policy=POLICY, **over) -> Decision:
    over.setdefault("created_at", clock.now_ms())
    return decide(ledger, policy, clock, incoming(intent_id, amount, **over)).replies[0]


def prepare_for_operator(ledger) -> None:
    """What the treasury saves at start and treasuryctl needs to re-check an approval."""
    with ledger.transaction():
        ledger.save_coin_rules(to_snapshot(COIN_RULES), T0)
        for d in POLICY.destinations:
            ledger.upsert_destination_seen(d.label, d.coin, d.network, d.address, d.tag, T0 - 1, T0 - 1)


def test_an_accepted_intent_is_queued_counted_and_journaled(ledger, clock):
    """Accepted: reply queued, one intents+decisions+transitions row, address resolved, event out."""
    result = decide(ledger, POLICY, clock, incoming("a-1", "20.000", created_at=T0))
    assert result.replies == (Decision(intent_id="a-1", outcome="accepted", reason_code=None,
                                       detail=result.replies[0].detail, status="queued"),)
    record = ledger.get_intent("a-1")
    assert (record.status, record.amount, record.address, record.counted_at) == ("queued", "20", COLD_ADDRESS, T0)
    assert ledger.decisions_of(record) == [(T0, "policy", "accepted", None, record.detail)]
    assert ledger.transitions_of(record) == [(T0, None, "queued", "decider", "")]
    assert [(e.intent_id, e.status) for e in result.events] == [("a-1", "queued")]
    assert [(c.intent_id, c.amount, c.accepted_at_ms) for c in result.counted] == [("a-1", Decimal("20"), T0)]
    assert alerts(ledger) == []


def test_a_rejection_is_denied_uncounted_and_alerted(ledger, clock):
    """Rejected: status denied, no address, not counted, an intent_rejected WARNING in the outbox."""
    reply = one(ledger, clock, "r-1", destination="nowhere")
    assert (reply.outcome, reply.reason_code, reply.status) == ("rejected", "unknown_destination", "denied")
    record = ledger.get_intent("r-1")
    assert (record.status, record.address, record.counted_at) == ("denied", None, None)
    assert alerts(ledger) == [("intent_rejected", "WARNING", "r-1")]


def test_the_same_intent_again_gets_its_decision_and_writes_nothing(ledger, clock):
    """Same client, same content ("20.000" == "20"): the first decision, no new row or alert."""
    first = one(ledger, clock, "d-1", "20", created_at=T0)
    clock.advance(10)
    again = one(ledger, clock, "d-1", "20.000", created_at=T0)
    assert again == first
    assert count(ledger, "intents") == 1 and count(ledger, "decisions") == 1 and count(ledger, "transitions") == 1
    assert count(ledger, "refused_requests") == 0


def test_a_replay_shows_the_status_as_it_stands_now(ledger, clock):
    """Once the executor moved the intent, a replay says so (same outcome, current status)."""
    one(ledger, clock, "d-2", created_at=T0)
    with ledger.transaction():
        ledger.set_status(ledger.get_intent("d-2"), "submitting", T0 + 1, "executor")
    assert one(ledger, clock, "d-2", created_at=T0).status == "submitting"


def test_a_replayed_rejection_is_not_alerted_twice(ledger, clock):
    """A stale intent sent again is answered from the ledger: one alert only."""
    first = one(ledger, clock, "s-1", created_at=T0 - 400_000)
    assert first.reason_code == "stale_intent"
    assert one(ledger, clock, "s-1", created_at=T0 - 400_000) == first
    assert len(alerts(ledger, "intent_rejected")) == 1


def test_a_pending_intent_approved_later_replays_as_accepted(ledger, clock):
    """pending_approval becomes accepted/queued in the replay once the operator approves it."""
    prepare_for_operator(ledger)
    first = one(ledger, clock, "p-1", "850", created_at=T0)
    assert (first.outcome, first.reason_code, first.status) == ("pending_approval", "approval_required",
                                                                "pending_approval")
    operator.approve(ledger, POLICY, "p-1", clock)
    again = one(ledger, clock, "p-1", "850", created_at=T0)
    assert (again.outcome, again.reason_code, again.status) == ("accepted", None, "queued")


def test_a_pending_intent_rejected_later_replays_as_operator_rejected(ledger, clock):
    """An operator's rejection shows in the replay as rejected/operator_rejected, status denied."""
    one(ledger, clock, "p-2", "850", created_at=T0)
    operator.reject(ledger, "p-2", clock, "not today")
    again = one(ledger, clock, "p-2", "850", created_at=T0)
    assert (again.outcome, again.reason_code, again.status) == ("rejected", "operator_rejected", "denied")


@pytest.mark.parametrize("change", [
    dict(amount="101"), dict(reason="other"), dict(created_at=T0 + 1), dict(destination="hot-wallet"),
    dict(client="other"),
])
def test_other_content_or_another_client_is_a_conflict_that_leaves_the_original(ledger, clock, change):
    """intent_id_conflict, journaled in refused_requests and alerted; the original is untouched."""
    first = one(ledger, clock, "c-1", "100", created_at=T0)
    before = ledger.get_intent("c-1")
    fields = dict(amount="100", created_at=T0, client="signal")
    fields.update(change)
    amount = fields.pop("amount")
    clash = decide(ledger, POLICY, clock, incoming("c-1", amount, **fields)).replies[0]
    assert (clash.outcome, clash.reason_code, clash.status) == ("rejected", "intent_id_conflict", "denied")
    assert ledger.get_intent("c-1") == before and first.outcome == "accepted"
    assert count(ledger, "intents") == 1 and count(ledger, "transitions") == 1
    refused = ledger.refused_requests()
    assert refused == [("c-1", fields["client"], "intent_id_conflict")]
    assert alerts(ledger) == [("intent_rejected", "WARNING", "c-1")]


def test_a_conflict_alert_describes_the_refused_request_not_the_original(ledger, clock):
    """The mail shows what the conflicting client asked for."""
    one(ledger, clock, "c-2", "100", created_at=T0)
    decide(ledger, POLICY, clock, incoming("c-2", "999", client="other", created_at=T0))
    facts = peek_one(ledger, "SELECT facts FROM alert_outbox")
    assert '"amount":"999"' in facts and '"client":"other"' in facts and '"reason_code":"intent_id_conflict"' in facts


def test_the_same_intent_twice_in_one_batch_is_decided_once(ledger, clock):
    """The second copy in a batch is a replay of the first: same reply, one row, counted once."""
    result = decide(ledger, POLICY, clock, incoming("b-1", "20", created_at=T0), incoming("b-1", "20.0", created_at=T0))
    assert result.replies[0] == result.replies[1]
    assert count(ledger, "intents") == 1 and len(result.counted) == 1 and len(result.events) == 1
    assert load_usage(ledger, POLICY, T0).coin_sum("USDT") == Decimal("20")


def test_a_conflict_within_one_batch_is_refused_and_the_first_kept(ledger, clock):
    """Same id, other content, in one batch: the first is decided, the second is a conflict."""
    result = decide(ledger, POLICY, clock, incoming("b-2", "20", created_at=T0), incoming("b-2", "21", created_at=T0))
    assert result.replies[0].outcome == "accepted"
    assert result.replies[1].reason_code == "intent_id_conflict"
    assert ledger.get_intent("b-2").amount == "20" and count(ledger, "refused_requests") == 1


def test_usage_grows_within_a_batch_until_the_window_cap(ledger, clock):
    """Five of 100 fill a 500 cap exactly (inclusive); the sixth in the same batch is over it."""
    policy = make_policy(window_cap="500", approval_above=None)
    items = [incoming(f"w-{i}", "100", created_at=T0) for i in range(7)]
    replies = decide(ledger, policy, clock, *items).replies
    assert [r.reason_code for r in replies] == [None] * 5 + ["over_window_limit"] * 2
    assert load_usage(ledger, policy, T0).coin_sum("USDT") == Decimal("500")


def test_the_hourly_count_grows_within_a_batch(ledger, clock):
    """With 3 transfers an hour, the fourth in one batch is too_many_transfers."""
    policy = make_policy(per_hour=3)
    replies = decide(ledger, policy, clock, *[incoming(f"h-{i}", "10", created_at=T0) for i in range(4)]).replies
    assert [r.reason_code for r in replies] == [None, None, None, "too_many_transfers"]


def test_usage_persists_across_batches_and_restarts(ledger, clock, tmp_path):
    """Window sums come from the ledger: a new connection (a restart) still sees them."""
    policy = make_policy(window_cap="250", approval_above=None)
    decide(ledger, policy, clock, incoming("x-1", "200", created_at=T0))
    reopened = open_ledger(tmp_path / "ledger.sqlite")
    reply = decide(reopened, policy, clock, incoming("x-2", "100", created_at=T0)).replies[0]
    assert reply.reason_code == "over_window_limit"
    reopened.close()


def test_pending_approval_counts_in_the_window_and_the_hour(ledger, clock):
    """An intent waiting for approval already uses the window and the hourly count."""
    window = make_policy(window_cap="250", approval_above="50")
    replies = decide(ledger, window, clock, *[incoming(f"pw-{i}", "100", created_at=T0) for i in range(3)]).replies
    assert [r.outcome for r in replies] == ["pending_approval", "pending_approval", "rejected"]
    assert replies[2].reason_code == "over_window_limit"
    hourly = make_policy(per_hour=2, approval_above="50")
    replies = decide(ledger, hourly, clock, *[incoming(f"ph-{i}", "10", created_at=T0) for i in range(2)]).replies
    assert replies[0].reason_code == "too_many_transfers"  # two pending from the batch above already count


def test_pending_approval_raises_an_approval_needed_alert(ledger, clock):
    """A pending intent is mailed to the operator as approval_needed."""
    one(ledger, clock, "pa-1", "850")
    assert alerts(ledger) == [("approval_needed", "WARNING", "pa-1")]


def test_a_given_usage_is_used_instead_of_the_ledgers(ledger, clock):
    """The server passes the tracker's usage: the decider trusts it (here: the hour is full)."""
    result = decide(ledger, POLICY, clock, incoming("u-1", "10", created_at=T0), usage=Usage(hour_count=20))
    assert result.replies[0].reason_code == "too_many_transfers"


@pytest.mark.parametrize("amounts, crossings", [
    (["700", "100"], [None, "coin"]),            # 70% then exactly 80%: alerted once, at the crossing
    (["700", "100", "100"], [None, "coin", None]),  # already above: not again
    (["900"], ["coin"]),                         # straight over 80%
    (["799"], [None]),                           # just under
])
def test_window_cap_80_is_alerted_when_crossing(ledger, clock, amounts, crossings):
    """One window_cap_80 alert for the intent whose acceptance takes the sum to 80% or more."""
    policy = make_policy(window_cap="1000", max_per_transfer="1000", approval_above=None, cold_max=None)
    for i, amount in enumerate(amounts):
        one(ledger, clock, f"80-{i}", amount, policy=policy)
    found = {row[2]: row for row in alerts(ledger, "window_cap_80")}
    assert [("coin" if f"80-{i}" in found else None) for i in range(len(amounts))] == crossings


def test_a_destination_window_crossing_is_alerted_with_its_label(ledger, clock):
    """The destination's own window_cap crossing 80% raises an alert naming the destination."""
    policy = make_policy(window_cap="5000", cold_window_cap="100", approval_above=None)
    one(ledger, clock, "dw-1", "85", policy=policy)
    facts = peek(ledger, "SELECT facts FROM alert_outbox WHERE kind='window_cap_80'")
    assert len(facts) == 1 and '"destination":"cold-wallet"' in facts[0][0]


class ExplodingRules(dict):
    """Coin rules whose second look-up fails, to break a batch in its middle."""

    def __init__(self, rules) -> None:
        super().__init__(rules)
        self.calls = 0

    def get(self, key, default=None):
        self.calls += 1
        if self.calls == 2:
            raise RuntimeError("rules vanished")
        return super().get(key, default)


def test_a_batch_is_one_transaction_all_or_nothing(ledger, clock):
    """A failure in the middle of a batch leaves no intent, decision, transition or alert of it."""
    items = [incoming("t-0", "10", destination="nowhere", created_at=T0),  # rejected: alert enqueued
             incoming("t-1", "10", created_at=T0), incoming("t-2", "10", created_at=T0)]
    with pytest.raises(RuntimeError):
        decide_batch(ledger, items, context(POLICY, T0, coin_rules=ExplodingRules(COIN_RULES)))
    for table in ("intents", "decisions", "transitions", "alert_outbox", "refused_requests"):
        assert count(ledger, table) == 0, table
    result = decide(ledger, POLICY, clock, *items)  # the same batch decides cleanly afterwards
    assert [r.outcome for r in result.replies] == ["rejected", "accepted", "accepted"]
    assert [r.seq for r in ledger.list_intents()] == [1, 2, 3]


def test_every_decision_writes_its_three_rows_in_seq_order(ledger, clock):
    """Intents, decisions and transitions are appended in the same (key) order."""
    decide(ledger, POLICY, clock, *[incoming(f"o-{i}", "10", created_at=T0) for i in range(5)])
    seqs = [r[0] for r in peek(ledger, "SELECT intent_seq FROM decisions ORDER BY seq")]
    assert seqs == [1, 2, 3, 4, 5]
    assert [r[0] for r in peek(ledger, "SELECT intent_seq FROM transitions ORDER BY seq")] == seqs


def test_accept_helper_and_ledger_agree(ledger, clock):
    """The records the decider writes read back with the values the reply gave."""
    record = accept(ledger, POLICY, clock, "h-1", "12.5")
    assert (record.outcome, record.status, record.amount_value) == ("accepted", "queued", Decimal("12.5"))
