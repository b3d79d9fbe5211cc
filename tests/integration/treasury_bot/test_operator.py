"""The operator's actions on a real ledger: approve (re-checking rules 3-10 now), reject,
resolve. Each is one transaction; a refusal changes nothing."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest

from common.clock import FakeClock
from tests.support.ledger_peek import outbox_facts
from tests.support.treasury import COIN_RULES, TRX_RULE
from tests.support.treasury_core import (T0, accept, alerts, count, decide, incoming, make_policy,
                                                  open_ledger, statuses)
from treasury_bot.coin_rules import to_snapshot
from treasury_bot.decider import load_usage
from treasury_bot.operator import OperatorError, approve, reject, resolve

POLICY = make_policy(window_cap="2000", approval_above="500", max_per_transfer="1000", cold_max=None)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


@pytest.fixture
def ledger(tmp_path):
    opened = open_ledger(tmp_path / "ledger.sqlite")
    save_start(opened)
    yield opened
    opened.close()


def save_start(ledger, rules=COIN_RULES, seen_at=T0 - 1, address_of=None) -> None:
    """What the treasury journals at start: the coin rules snapshot and the destinations seen."""
    with ledger.transaction():
        ledger.save_coin_rules(to_snapshot(rules), seen_at)
        for d in POLICY.destinations:
            address = (address_of or {}).get(d.label, d.address)
            ledger.upsert_destination_seen(d.label, d.coin, d.network, address, d.tag, seen_at, seen_at)


def refreshed_rules(ledger, clock) -> None:
    with ledger.transaction():
        ledger.save_coin_rules(to_snapshot(COIN_RULES), clock.now_ms())


def pending(ledger, clock, intent_id="p-1", amount="600"):
    record = accept(ledger, POLICY, clock, intent_id, amount)
    assert record.status == "pending_approval"
    return record


def error_of(call) -> OperatorError:
    with pytest.raises(OperatorError) as caught:
        call()
    return caught.value


def test_approve_queues_the_intent_and_journals_the_operators_decision(ledger, clock):
    """pending_approval -> queued, outcome accepted, a decision row by the operator with the note."""
    pending(ledger, clock)
    clock.advance(3600)  # the intent's age is not re-checked
    refreshed_rules(ledger, clock)  # the refresher kept the rules fresh meanwhile
    result = approve(ledger, POLICY, "p-1", clock, "checked with treasury")
    assert (result.intent_id, result.status) == ("p-1", "queued")
    record = ledger.get_intent("p-1")
    assert (record.status, record.outcome, record.reason_code) == ("queued", "accepted", None)
    assert "checked with treasury" in record.detail
    decisions = ledger.decisions_of(record)
    assert [(d[1], d[2]) for d in decisions] == [("policy", "pending_approval"), ("operator", "accepted")]
    assert decisions[1][0] == T0 + 3_600_000
    assert ledger.transitions_of(record)[-1][1:4] == ("pending_approval", "queued", "operator")


@pytest.mark.parametrize("changed_policy, rules, seen, code", [
    (make_policy(window_cap="1000", approval_above="500", max_per_transfer="1000", cold_max=None), None, None,
     "over_window_limit"),
    (make_policy(window_cap="2000", approval_above="500", max_per_transfer="550", cold_max=None), None, None,
     "over_transfer_limit"),
    (make_policy(window_cap="2000", approval_above="500", max_per_transfer="1000", cold_max=None, per_hour=2),
     None, None, "too_many_transfers"),
    (POLICY, {("USDT", "TRX"): dataclasses.replace(TRX_RULE, withdraw_enable=False)}, None, "withdrawals_disabled"),
    (POLICY, {("USDT", "TRX"): dataclasses.replace(TRX_RULE, withdraw_max=Decimal("100"))}, None,
     "above_exchange_maximum"),
    (make_policy(window_cap="2000", approval_above="500", max_per_transfer="1000", cold_max=None,
                 quarantine_hours="24"), None, {}, "destination_quarantined"),  # re-pointed at a restart just now
])
def test_approve_re_checks_the_rules_now_and_refuses_with_their_code(ledger, clock, changed_policy, rules, seen,
                                                                      code):
    """A rule that fails now refuses the approval with its code; the intent stays pending, unchanged."""
    pending(ledger, clock)
    accept(ledger, POLICY, clock, "other-1", "450")   # 1050 of the window used with p-1
    accept(ledger, POLICY, clock, "other-2", "10")    # 3 transfers in the hour with p-1
    if rules is not None or seen is not None:
        save_start(ledger, rules=rules or COIN_RULES, seen_at=T0, address_of=seen)
    before = ledger.get_intent("p-1")
    decisions, transitions = count(ledger, "decisions"), count(ledger, "transitions")
    error = error_of(lambda: approve(ledger, changed_policy, "p-1", clock))
    assert error.code == code and code in str(error)
    assert ledger.get_intent("p-1") == before
    assert (count(ledger, "decisions"), count(ledger, "transitions")) == (decisions, transitions)


def test_approve_excludes_the_intent_itself_from_the_window(ledger, clock):
    """A pending intent that exactly fills the window is approvable: it is not counted twice."""
    pending(ledger, clock, "fill", "1000")
    accept(ledger, POLICY, clock, "rest", "1000")  # 2000 of 2000 with the pending one
    assert approve(ledger, POLICY, "fill", clock).status == "queued"


@pytest.mark.parametrize("action", ["approve", "reject"])
def test_only_a_pending_intent_can_be_approved_or_rejected(ledger, clock, action):
    """Unknown ids and intents in any other status are refused with stable codes."""
    accept(ledger, POLICY, clock, "q-1", "100")
    run = (lambda i: approve(ledger, POLICY, i, clock)) if action == "approve" else (lambda i: reject(ledger, i, clock))
    assert error_of(lambda: run("nope")).code == "unknown_intent"
    wrong = error_of(lambda: run("q-1"))
    assert wrong.code == "wrong_status" and "queued" in str(wrong)


def test_approve_needs_the_saved_coin_rules(tmp_path, clock):
    """Without the treasury's coin rules snapshot, nothing can be re-checked: refused."""
    bare = open_ledger(tmp_path / "bare.sqlite")
    pending(bare, clock)
    assert error_of(lambda: approve(bare, POLICY, "p-1", clock)).code == "no_coin_rules"
    assert bare.get_intent("p-1").status == "pending_approval"
    bare.close()


def test_reject_denies_uncounts_and_records_the_operator(ledger, clock):
    """rejected/operator_rejected, status denied, out of the window and the hour, an INFO alert."""
    pending(ledger, clock)
    assert load_usage(ledger, POLICY, clock.now_ms()).coin_sum("USDT") == Decimal("600")
    result = reject(ledger, "p-1", clock, "too big today")
    assert (result.status, result.message) == ("denied", "rejected")
    record = ledger.get_intent("p-1")
    assert (record.status, record.outcome, record.reason_code, record.counted_at) == (
        "denied", "rejected", "operator_rejected", None)
    usage = load_usage(ledger, POLICY, clock.now_ms())
    assert usage.coin_sum("USDT") == 0 and usage.hour_count == 0
    assert alerts(ledger)[-1] == ("intent_rejected", "INFO", "p-1")
    assert statuses(ledger, "p-1") == ["pending_approval", "denied"]
    assert ledger.decisions_of(record)[-1][1:4] == ("operator", "rejected", "operator_rejected")


def review(ledger, clock, intent_id="r-1"):
    record = accept(ledger, POLICY, clock, intent_id, "100")
    with ledger.transaction():
        ledger.set_status(record, "submitting", T0, "executor")
        ledger.update_withdrawal(record.seq, attempts=3)
        ledger.set_status(ledger.get_intent(intent_id), "needs_review", T0, "executor", "cannot prove")
    return ledger.get_intent(intent_id)


@pytest.mark.parametrize("as_status, kind", [("completed", "withdrawal_completed"), ("failed", "withdrawal_failed")])
def test_resolve_closes_a_needs_review_intent_with_the_note(ledger, clock, as_status, kind):
    """needs_review -> completed/failed by the operator, with the note journaled and mailed."""
    review(ledger, clock)
    clock.advance(10)
    result = resolve(ledger, "r-1", as_status, "  saw it in the exchange UI  ", clock)
    assert result.status == as_status and "saw it in the exchange UI" in result.message
    record = ledger.get_intent("r-1")
    assert record.status == as_status
    assert ledger.withdrawal(record.seq).finished_at == T0 + 10_000
    assert ledger.transitions_of(record)[-1][1:4] == ("needs_review", as_status, "operator")
    assert "saw it in the exchange UI" in ledger.decisions_of(record)[-1][4]
    assert alerts(ledger)[-1][0] == kind
    facts = outbox_facts(ledger)[-1]
    assert facts["status"] == as_status


def test_resolving_as_failed_frees_the_window(ledger, clock):
    """A withdrawal resolved as failed no longer uses the window; completed still does."""
    review(ledger, clock, "r-f")
    review(ledger, clock, "r-c")
    resolve(ledger, "r-f", "failed", "never left", clock)
    resolve(ledger, "r-c", "completed", "on chain", clock)
    assert load_usage(ledger, POLICY, clock.now_ms()).coin_sum("USDT") == Decimal("100")


@pytest.mark.parametrize("as_status, note, code", [
    ("completed", "", "note_required"), ("completed", "   ", "note_required"),
    ("cancelled", "x", "bad_status"), ("queued", "x", "bad_status"),
])
def test_resolve_requires_a_note_and_a_final_status(ledger, clock, as_status, note, code):
    """--note is required and --as must be completed or failed; nothing changes otherwise."""
    review(ledger, clock)
    assert error_of(lambda: resolve(ledger, "r-1", as_status, note, clock)).code == code
    assert ledger.get_intent("r-1").status == "needs_review"


def test_resolve_only_acts_on_needs_review(ledger, clock):
    """A queued or unknown intent cannot be resolved."""
    accept(ledger, POLICY, clock, "q-1", "100")
    assert error_of(lambda: resolve(ledger, "q-1", "completed", "x", clock)).code == "wrong_status"
    assert error_of(lambda: resolve(ledger, "nope", "completed", "x", clock)).code == "unknown_intent"


def test_an_approved_intent_replays_as_accepted_to_its_client(ledger, clock):
    """The client's resend after approval sees accepted/queued (DESIGN idempotency)."""
    pending(ledger, clock)
    approve(ledger, POLICY, "p-1", clock)
    reply = decide(ledger, POLICY, clock, incoming("p-1", "600", created_at=T0)).replies[0]
    assert (reply.outcome, reply.reason_code, reply.status) == ("accepted", None, "queued")


def test_approve_refuses_when_the_saved_exchange_rules_are_older_than_the_policy_allows(ledger, clock):
    """Issue 10 defect 8: approve re-checks exchange_rules_stale on the saved snapshot's age."""
    pending(ledger, clock)
    clock.advance(POLICY.limits.max_exchange_rules_age_minutes * 60 + 1)
    error = error_of(lambda: approve(ledger, POLICY, "p-1", clock))
    assert error.code == "exchange_rules_stale"
    assert ledger.get_intent("p-1").status == "pending_approval"
    refreshed_rules(ledger, clock)
    assert approve(ledger, POLICY, "p-1", clock).status == "queued"
