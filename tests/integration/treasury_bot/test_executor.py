"""The executor against a fake exchange port, a real ledger and a FakeClock: submitting,
spacing, each kind of error, reconciliation of unknown outcomes, recovery after a crash."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest

from common.binance import (AuthError, ClockSkewError, ExchangeRequestError, ExchangeUnavailable,
                            OutcomeUnknown, RateLimitError, WithdrawRefused)
from common.clock import FakeClock
from tests.support.ledger_peek import outbox_facts, peek_one
from tests.support.treasury import COLD_ADDRESS, HOT_ADDRESS
from tests.support.treasury_core import (step_executor_for, T0, Applied, FakeExchange, accept, alerts, make_policy,
                                                  open_ledger, statuses)
from treasury_bot.executor import Executor

API_KEY = "execKEYnotreal000000000000000000000000LAST"
GRACE_S, DEADLINE_MIN, SPACING_S = 60, 30, 2


class Rig:
    """A ledger, a clock, a fake exchange and the executor under test."""

    def __init__(self, tmp_path, **policy_over) -> None:
        over = dict(min_seconds=str(SPACING_S), grace_seconds=GRACE_S, deadline_minutes=DEADLINE_MIN)
        over.update(policy_over)
        self.policy = make_policy(**over)
        self.clock = FakeClock(T0)
        self.ledger = open_ledger(tmp_path / "ledger.sqlite")
        self.exchange = FakeExchange()
        self.executor = self.new_executor(self.policy)

    def new_executor(self, policy) -> Executor:
        return Executor(self.ledger, self.exchange, policy, self.clock, api_key=API_KEY, reconcile_every_s=5.0)

    def accept(self, intent_id: str, amount: str = "100", **over):
        return accept(self.ledger, self.policy, self.clock, intent_id, amount, **over)

    def status(self, intent_id: str) -> str:
        return self.ledger.get_intent(intent_id).status

    def withdrawal(self, intent_id: str):
        return self.ledger.withdrawal(self.ledger.get_intent(intent_id).seq)

    def run_for(self, seconds: float, tick: float = 1.0) -> None:
        step_executor_for(self.executor, self.clock, seconds, tick)

    def close(self) -> None:
        self.ledger.close()


@pytest.fixture
def rig(tmp_path):
    made = Rig(tmp_path)
    yield made
    made.close()


def test_an_accepted_intent_is_submitted_once_with_its_id_as_withdraw_order_id(rig):
    """queued -> submitting -> submitted, one apply with the whitelisted address, an INFO alert."""
    rig.accept("sub-1", "123.45")
    assert rig.executor.step() is True
    assert rig.exchange.applies == [dict(coin="USDT", network="TRX", address=COLD_ADDRESS, amount=Decimal("123.45"),
                                         withdraw_order_id="sub-1", address_tag=None, wallet_type=0)]
    assert statuses(rig.ledger, "sub-1") == ["queued", "submitting", "submitted"]
    withdrawal = rig.withdrawal("sub-1")
    assert (withdrawal.withdrawal_id, withdrawal.attempts, withdrawal.submitted_at) == ("w-1", 1, T0)
    assert (withdrawal.first_attempt_at, withdrawal.last_attempt_at, withdrawal.unknown_since) == (T0, T0, None)
    assert alerts(rig.ledger) == [("withdrawal_submitted", "INFO", "sub-1")]
    assert rig.executor.step() is False and len(rig.exchange.applies) == 1


def test_the_whitelisted_tag_is_sent_as_address_tag(tmp_path):
    """A destination with a memo sends it as addressTag."""
    rig = Rig(tmp_path, cold_tag="12345")
    rig.accept("tag-1")
    rig.executor.step()
    assert rig.exchange.applies[0]["address_tag"] == "12345"
    rig.close()


def test_withdrawals_are_spaced_by_min_seconds_between_withdrawals(rig):
    """A second apply waits min_seconds_between_withdrawals after the first, and no longer."""
    rig.accept("sp-1")
    rig.accept("sp-2")
    assert rig.executor.step() is True
    assert rig.executor.step() is False
    rig.clock.advance(SPACING_S - 0.001)
    assert rig.executor.step() is False and len(rig.exchange.applies) == 1
    rig.clock.advance(0.001)
    assert rig.executor.step() is True
    assert [a["withdraw_order_id"] for a in rig.exchange.applies] == ["sp-1", "sp-2"]


def test_intents_are_submitted_in_decision_order(rig):
    """The oldest queued intent goes first."""
    for name in ("o-3", "o-1", "o-2"):
        rig.accept(name)
    rig.run_for(10)
    assert [a["withdraw_order_id"] for a in rig.exchange.applies] == ["o-3", "o-1", "o-2"]


@pytest.mark.parametrize("code", [-4026, -4022, -4021, -4023, -4028, -4033, -4035, -4036, -4019])
def test_a_refusal_fails_the_intent_keeps_the_code_and_alerts(rig, code):
    """A documented refusal: failed, code and message kept, CRITICAL alert, never retried."""
    rig.accept("ref-1")
    rig.exchange.script_apply(WithdrawRefused("Insufficient balance", binance_code=code))
    rig.executor.step()
    assert statuses(rig.ledger, "ref-1") == ["queued", "submitting", "failed"]
    withdrawal = rig.withdrawal("ref-1")
    assert (withdrawal.error_code, withdrawal.error_message) == (str(code), "Insufficient balance")
    assert withdrawal.finished_at == T0 and withdrawal.withdrawal_id is None
    assert alerts(rig.ledger) == [("withdrawal_failed", "CRITICAL", "ref-1")]
    [facts] = outbox_facts(rig.ledger)
    assert facts["exchange_code"] == code and facts["exchange_message"] == "Insufficient balance"
    rig.run_for(120)
    assert len(rig.exchange.applies) == 1


def test_an_unknown_exchange_code_fails_and_is_never_retried(rig):
    """An error code we do not know is failed, never retried blindly."""
    rig.accept("unk-1")
    rig.exchange.script_apply(ExchangeRequestError("what is this", binance_code=-7777))
    rig.run_for(300)
    assert rig.status("unk-1") == "failed" and len(rig.exchange.applies) == 1
    assert rig.withdrawal("unk-1").error_code == "-7777"


def test_an_auth_error_halts_withdrawals_requeues_and_alerts_critically(rig):
    """-2015: back to queued, CRITICAL exchange_auth_error with the key masked, no further submits."""
    rig.accept("auth-1")
    rig.accept("auth-2")
    rig.exchange.script_apply(AuthError("Invalid API-key, IP, or permissions", binance_code=-2015))
    rig.executor.step()
    assert statuses(rig.ledger, "auth-1") == ["queued", "submitting", "queued"]
    assert rig.executor.schedule.halted_reason.startswith("-2015")
    assert alerts(rig.ledger) == [("exchange_auth_error", "CRITICAL", "auth-1")]
    facts = peek_one(rig.ledger, "SELECT facts FROM alert_outbox")
    assert API_KEY not in facts and "exec...LAST" in facts
    rig.run_for(600, tick=5)
    assert len(rig.exchange.applies) == 1
    assert rig.status("auth-1") == "queued" and rig.status("auth-2") == "queued"
    assert rig.withdrawal("auth-1").error_code == "-2015"


@pytest.mark.parametrize("error, pause_s", [
    (RateLimitError("Too many requests", retry_after=30.0, http_status=429), 30.0),
    (RateLimitError("banned", retry_after=120.0, http_status=418), 120.0),
    (ClockSkewError("Timestamp outside recvWindow", binance_code=-1021), 5.0),
    (ExchangeUnavailable("connection refused"), 5.0),
])
def test_a_rate_limit_or_a_request_that_never_left_requeues_and_pauses(rig, error, pause_s):
    """Nothing happened at the exchange: back to queued, paused for Retry-After, then sent again."""
    rig.accept("rl-1")
    rig.exchange.script_apply(error)
    rig.executor.step()
    assert statuses(rig.ledger, "rl-1") == ["queued", "submitting", "queued"]
    rig.clock.advance(pause_s - 0.5)
    assert rig.executor.step() is False and len(rig.exchange.applies) == 1
    rig.clock.advance(0.5)
    assert rig.executor.step() is True
    assert rig.status("rl-1") == "submitted" and rig.withdrawal("rl-1").attempts == 2
    assert [a["withdraw_order_id"] for a in rig.exchange.applies] == ["rl-1", "rl-1"]


def test_an_unknown_outcome_found_in_history_is_adopted_never_applied_again(rig):
    """5XX after the exchange applied it: reconciliation finds it by withdrawOrderId and adopts it."""
    rig.accept("uo-1")
    rig.exchange.script_apply(Applied(OutcomeUnknown("server error, execution status unknown", http_status=503)))
    rig.executor.step()
    assert rig.status("uo-1") == "submitting" and rig.withdrawal("uo-1").unknown_since == T0
    assert rig.withdrawal("uo-1").error_code == "http_503"
    rig.run_for(10)
    assert len(rig.exchange.applies) == 1
    assert statuses(rig.ledger, "uo-1") == ["queued", "submitting", "submitted", "processing"]
    withdrawal = rig.withdrawal("uo-1")
    assert withdrawal.withdrawal_id == "w-1" and withdrawal.exchange_status == 4 and withdrawal.unknown_since is None
    lookup = rig.exchange.lookups[0]
    assert lookup["withdraw_order_id"] == "uo-1"
    # No time bounds: the exchange's own "last 7 days" in its clock (issue 10, defect 1).
    assert lookup["start_time"] is None and lookup["end_time"] is None


def test_a_withdrawal_found_already_completed_is_closed_in_the_same_commit(rig):
    """Found by reconciliation with status 6: submitted then completed, finished_at, both alerts."""
    rig.accept("uo-2")
    rig.exchange.initial_status = 6
    rig.exchange.script_apply(Applied(OutcomeUnknown("timeout")))
    rig.run_for(5)
    assert statuses(rig.ledger, "uo-2") == ["queued", "submitting", "submitted", "completed"]
    assert rig.withdrawal("uo-2").finished_at is not None
    assert [a[0] for a in alerts(rig.ledger)] == ["withdrawal_submitted", "withdrawal_completed"]


def test_an_answer_for_another_withdraw_order_id_is_not_adopted(rig):
    """Only a record whose withdrawOrderId is this intent's counts as found."""
    rig.exchange.filter_by_order_id = False
    rig.exchange.contain("w-other", "someone-else")
    rig.accept("uo-3")
    rig.exchange.script_apply(OutcomeUnknown("timeout"))
    rig.run_for(10)
    assert rig.status("uo-3") == "submitting" and rig.withdrawal("uo-3").withdrawal_id is None


def test_absent_before_the_grace_period_waits(rig):
    """Not in history yet, within the grace: stay submitting, look again, never apply again."""
    rig.accept("gr-1")
    rig.exchange.script_apply(OutcomeUnknown("timeout"))
    rig.run_for(GRACE_S - 2)
    assert rig.status("gr-1") == "submitting"
    assert len(rig.exchange.applies) == 1 and len(rig.exchange.lookups) >= 5


def test_absent_after_the_grace_period_is_resubmitted_with_the_same_id(rig):
    """Proven absent after the grace: queued again and sent again as the same withdrawOrderId."""
    rig.accept("gr-2")
    rig.exchange.script_apply(OutcomeUnknown("timeout"))
    rig.run_for(GRACE_S + 10)
    assert [a["withdraw_order_id"] for a in rig.exchange.applies] == ["gr-2", "gr-2"]
    assert rig.status("gr-2") == "submitted"
    assert statuses(rig.ledger, "gr-2") == ["queued", "submitting", "queued", "submitting", "submitted"]
    withdrawal = rig.withdrawal("gr-2")
    assert withdrawal.attempts == 2 and withdrawal.first_attempt_at == T0 and withdrawal.last_attempt_at > T0


def test_lookups_failing_until_the_deadline_make_it_needs_review(rig):
    """History unreadable for reconcile_deadline_minutes: needs_review and a CRITICAL alert."""
    rig.accept("dl-1")
    rig.exchange.script_apply(Applied(OutcomeUnknown("timeout")))
    rig.exchange.script_history(*[ExchangeUnavailable("history down")] * 1000)
    rig.run_for(DEADLINE_MIN * 60 - 10, tick=5)
    assert rig.status("dl-1") == "submitting"
    rig.run_for(20, tick=5)
    assert rig.status("dl-1") == "needs_review"
    assert alerts(rig.ledger)[-1] == ("needs_review", "CRITICAL", "dl-1")
    rig.run_for(600, tick=5)
    assert len(rig.exchange.applies) == 1 and rig.status("dl-1") == "needs_review"


def test_a_lookup_that_recovers_before_the_deadline_still_adopts(rig):
    """A few failed look-ups, then history answers: the withdrawal is adopted."""
    rig.accept("dl-2")
    rig.exchange.script_apply(Applied(OutcomeUnknown("timeout")))
    rig.exchange.script_history(*[ExchangeUnavailable("history down")] * 3)
    rig.run_for(60, tick=5)
    assert rig.status("dl-2") == "processing" and len(rig.exchange.applies) == 1


def test_repeated_unknown_outcomes_end_in_needs_review(rig):
    """Absent after the grace each time, three unknown attempts: a person decides."""
    rig.accept("rep-1")
    rig.exchange.script_apply(*[OutcomeUnknown("timeout")] * 5)
    rig.run_for(4 * (GRACE_S + 10))
    assert len(rig.exchange.applies) == 3
    assert rig.status("rep-1") == "needs_review"


def test_our_own_bug_during_apply_is_treated_as_unknown(rig):
    """An unexpected exception after the request may have left is reconciled, not resent."""
    rig.accept("bug-1")
    rig.exchange.script_apply(Applied(RuntimeError("oops")))
    rig.run_for(10)
    assert rig.status("bug-1") == "processing" and len(rig.exchange.applies) == 1
    assert rig.withdrawal("bug-1").withdrawal_id == "w-1"


def crash_between_commit_and_apply(rig, intent_id: str) -> None:
    """What a kill -9 right after the `submitting` commit leaves in the ledger."""
    record = rig.ledger.get_intent(intent_id)
    with rig.ledger.transaction():
        rig.ledger.set_status(record, "submitting", rig.clock.now_ms(), "executor", "attempt 1")
        rig.ledger.update_withdrawal(record.seq, attempts=1, first_attempt_at=rig.clock.now_ms(),
                                     last_attempt_at=rig.clock.now_ms())


def test_after_a_crash_a_submitting_intent_that_reached_the_exchange_is_adopted(rig):
    """recover() marks it unknown; reconciliation finds it; no second apply."""
    rig.accept("cr-1")
    crash_between_commit_and_apply(rig, "cr-1")
    rig.exchange.contain("w-77", "cr-1")
    restarted = rig.new_executor(rig.policy)
    restarted.recover()
    assert rig.withdrawal("cr-1").unknown_since == T0
    rig.executor = restarted
    rig.run_for(10)
    assert rig.status("cr-1") == "processing" and rig.withdrawal("cr-1").withdrawal_id == "w-77"
    assert rig.exchange.applies == []


def test_after_a_crash_a_submitting_intent_that_never_left_is_resubmitted_after_grace(rig):
    """Never reached the exchange: proven absent after the grace, then sent once."""
    rig.accept("cr-2")
    crash_between_commit_and_apply(rig, "cr-2")
    rig.executor.recover()
    rig.run_for(GRACE_S - 5)
    assert rig.exchange.applies == []
    rig.run_for(20)
    assert [a["withdraw_order_id"] for a in rig.exchange.applies] == ["cr-2"]
    assert rig.status("cr-2") == "submitted" and rig.withdrawal("cr-2").attempts == 2


def test_a_submitting_intent_without_an_unknown_mark_is_still_reconciled(rig):
    """Even if recover() never ran (the mark was never written), the executor looks it up
    before anything else, since it is the only thread that applies."""
    rig.accept("cr-5")
    crash_between_commit_and_apply(rig, "cr-5")
    rig.exchange.contain("w-5", "cr-5")
    rig.executor = rig.new_executor(rig.policy)
    assert rig.executor.step() is True
    assert rig.status("cr-5") == "processing" and rig.exchange.applies == []


def test_the_grace_never_ends_before_a_signed_apply_could_still_land(tmp_path):
    """With a policy grace shorter than recvWindow + 2 s, absence is proven only after the latter."""
    rig = Rig(tmp_path, grace_seconds=1, deadline_minutes=30)
    rig.exchange.recv_window_ms = 10_000
    rig.executor = rig.new_executor(rig.policy)
    assert rig.executor.reconciler.grace_ms == 12_000
    rig.accept("late-1")
    rig.exchange.script_apply(OutcomeUnknown("timeout"))
    rig.run_for(11)
    assert len(rig.exchange.applies) == 1 and rig.status("late-1") == "submitting"
    rig.run_for(10)
    assert len(rig.exchange.applies) == 2
    rig.close()


def test_one_lookup_per_reconcile_pass_oldest_looked_first(rig):
    """Several unknown outcomes are looked up one per pass, in turn (history is expensive)."""
    for name in ("m-1", "m-2", "m-3"):
        rig.accept(name)
    rig.exchange.script_apply(*[OutcomeUnknown("timeout")] * 3)
    rig.run_for(20)
    assert [a["withdraw_order_id"] for a in rig.exchange.applies] == ["m-1", "m-2", "m-3"]
    rig.exchange.lookups.clear()
    for _ in range(6):
        rig.clock.advance(5)
        assert rig.executor.step() is True
    looked = [entry["withdraw_order_id"] for entry in rig.exchange.lookups]
    assert len(looked) == 6 and set(looked[:3]) == set(looked[3:]) == {"m-1", "m-2", "m-3"}


def test_run_recovers_before_its_first_step(rig):
    """The loop's first act is recover(): a stopped loop still marks submitting intents unknown."""
    rig.accept("cr-3")
    crash_between_commit_and_apply(rig, "cr-3")
    stop = threading.Event()
    stop.set()
    rig.executor.run(stop)
    assert rig.withdrawal("cr-3").unknown_since == T0 and rig.exchange.applies == []


def test_recover_keeps_an_earlier_unknown_since(rig):
    """An outcome already unknown before the crash keeps its clock (the deadline is not reset)."""
    rig.accept("cr-4")
    rig.exchange.script_apply(OutcomeUnknown("timeout"))
    rig.executor.step()
    rig.clock.advance(100)
    rig.new_executor(rig.policy).recover()
    assert rig.withdrawal("cr-4").unknown_since == T0


@pytest.mark.parametrize("change", [dict(cold_address=HOT_ADDRESS), dict(cold_tag="999")])
def test_a_destination_changed_since_the_decision_is_failed_and_never_sent(tmp_path, change):
    """The whitelist entry moved after the decision: failed with destination_changed, alerted, not sent."""
    rig = Rig(tmp_path)
    rig.accept("dc-1")
    rig.executor = rig.new_executor(make_policy(min_seconds=str(SPACING_S), **change))
    rig.run_for(10)
    assert rig.exchange.applies == []
    assert statuses(rig.ledger, "dc-1") == ["queued", "failed"]
    withdrawal = rig.withdrawal("dc-1")
    assert withdrawal.error_code == "destination_changed" and withdrawal.finished_at == T0
    assert alerts(rig.ledger) == [("withdrawal_failed", "CRITICAL", "dc-1")]
    rig.close()


def test_a_destination_removed_from_the_whitelist_is_failed_and_never_sent(tmp_path):
    """A label no longer in the policy is never withdrawn to."""
    from treasury_bot.policy_file import parse_policy
    from tests.support.treasury_core import policy_text
    rig = Rig(tmp_path)
    rig.accept("dr-1")
    rig.executor = rig.new_executor(parse_policy(policy_text().replace('label = "cold-wallet"', 'label = "new-cold"')))
    rig.executor.step()
    assert rig.exchange.applies == [] and rig.status("dr-1") == "failed"
    rig.close()


def test_an_intent_moved_by_another_writer_meanwhile_is_not_submitted(rig):
    """submit() re-reads the intent under the write lock: one no longer queued (here taken
    by another executor's step) is left alone."""
    record = rig.accept("op-1")
    with rig.ledger.transaction():
        rig.ledger.set_status(record, "submitting", T0, "executor")
    rig.executor.submit(record)
    assert rig.exchange.applies == [] and rig.status("op-1") == "submitting"


def test_step_does_nothing_without_work(rig):
    """No queued or unknown intents: step reports no work and calls nothing."""
    assert rig.executor.step() is False
    assert rig.exchange.applies == [] and rig.exchange.lookups == []


def test_the_spacing_between_withdrawals_holds_across_a_restart(tmp_path):
    """A new executor waits out min_seconds_between_withdrawals counted from the last apply
    of the process before it."""
    from common.clock import FakeClock
    from treasury_bot.executor import Executor
    from tests.support.treasury_core import open_ledger
    clock = FakeClock()
    ledger = open_ledger(tmp_path / "ledger.sqlite")
    try:
        with ledger.transaction():
            ledger.insert_intents([(1, "i1", "signal", "USDT", "TRX", "cold-wallet", "10", "r", 0, b"\x00", 0,
                                    "accepted", None, "", "completed", 0, None, None, None)])
            ledger.update_withdrawal(1, last_attempt_at=clock.now_ms() - 1000)
        policy = _spaced_policy(5)
        executor = Executor(ledger, FakeExchange(), policy, clock)
        executor.recover()
        assert executor.schedule.next_apply_at == pytest.approx(clock.monotonic() + 4.0)
    finally:
        ledger.close()


def _spaced_policy(seconds: int):
    from tests.support.treasury_core import make_policy
    return make_policy(min_seconds=str(seconds))


def test_a_funding_destination_is_paid_from_the_funding_wallet_and_a_spot_one_says_spot(tmp_path):
    """walletType is always sent: 1 for a destination with wallet = "funding", 0 for spot
    (never left to the account's selected deposit wallet)."""
    import msgspec
    made = Rig(tmp_path)
    try:
        funding = msgspec.structs.replace(made.policy, destinations=tuple(
            msgspec.structs.replace(d, wallet="funding") if d.label == "cold-wallet" else d
            for d in made.policy.destinations))
        made.policy = funding
        made.executor = made.new_executor(funding)
        made.accept("fund-1", "50")
        assert made.executor.step() is True
        assert [a["wallet_type"] for a in made.exchange.applies] == [1]
    finally:
        made.close()
