"""Issue 3's crash tests: SIGKILL the real treasury at each point of the withdraw path.

Every test runs real processes (sandbox exchange, `treasury-bot run`, a CURVE client),
kills the treasury with SIGKILL at a point reached by waiting on a condition (the
ledger's status, the sandbox's own record), restarts it on the same files, and then
judges from the sandbox's record (GET /sandbox/withdrawals and its apply_calls), not
from the treasury's word, that each accepted intent was withdrawn exactly once and
reached `completed`.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Iterable

import pytest

from tests.support.sandbox import Sandbox, start_sandbox
from tests.support.treasury_proc import TreasuryProcess, new_intent
from tests.support.waiting import wait_until

pytestmark = pytest.mark.e2e

APPLY = "/sapi/v1/capital/withdraw/apply"
RECONCILED = "found by reconciliation"


@pytest.fixture
def treasury(tmp_path, sandbox):
    process = TreasuryProcess(tmp_path, sandbox, poll_seconds=0.2).start()
    yield process
    process.terminate()


def send_accepted(treasury: TreasuryProcess, *intent_ids: str, amount: str = "25") -> None:
    with treasury.client() as client:
        for intent_id in intent_ids:
            decision = client.send_intent(new_intent(intent_id, amount=amount))
            assert (decision.outcome, decision.status) == ("accepted", "queued"), decision


def crash_and_restart(treasury: TreasuryProcess) -> None:
    treasury.kill9()
    treasury.start()


def notes_of(treasury: TreasuryProcess, intent_id: str) -> list[tuple[str, str, str]]:
    """(to_status, source, note) of every transition of one intent, in order."""
    return treasury.query(
        "SELECT t.to_status, t.source, t.note FROM transitions t JOIN intents i ON i.seq = t.intent_seq"
        " WHERE i.intent_id = ? ORDER BY t.seq", (intent_id,))


def assert_withdrawn_once_and_completed(sandbox: Sandbox, treasury: TreasuryProcess,
                                        intent_ids: Iterable[str], amount: str = "25") -> None:
    """The sandbox's record: one withdrawal and one apply call per intent, completed (6),
    and the ledger agrees on the exchange id and the final status."""
    intent_ids = list(intent_ids)
    for intent_id in intent_ids:
        treasury.wait_status(intent_id, "completed", timeout=30)
    record = sandbox.admin("GET", "/sandbox/withdrawals")
    calls = record["apply_calls"]
    for intent_id in intent_ids:
        mine = [w for w in record["withdrawals"] if w["withdrawOrderId"] == intent_id]
        assert len(mine) == 1, f"{intent_id}: {len(mine)} withdrawals at the exchange: {mine}"
        assert calls.get(intent_id) == 1, f"{intent_id}: {calls.get(intent_id)} apply calls"
        assert mine[0]["status"] == 6 and Decimal(mine[0]["amount"]) == Decimal(amount)
        (ledger_id,) = treasury.query(
            "SELECT w.withdrawal_id FROM withdrawals w JOIN intents i ON i.seq = w.intent_seq"
            " WHERE i.intent_id = ?", (intent_id,))[0]
        assert ledger_id == mine[0]["id"]
    assert treasury.query("SELECT COUNT(*) FROM intents WHERE status = 'needs_review'")[0][0] == 0


def test_kill_while_intents_wait_queued_withdraws_each_once(treasury, sandbox):
    """SIGKILL while the executor is held on an earlier apply and later intents sit `queued`:
    after the restart every intent, the held one included, is withdrawn once and completes."""
    sandbox.add_fault(APPLY, "latency", count=1, seconds=2.0)
    ids = ["crash-q-0", "crash-q-1", "crash-q-2"]
    send_accepted(treasury, *ids)
    wait_until(lambda: [treasury.status_of(i) for i in ids] == ["submitting", "queued", "queued"],
               timeout=10, what="the first intent held in submitting and the others queued")
    crash_and_restart(treasury)
    assert_withdrawn_once_and_completed(sandbox, treasury, ids)
    for intent_id in ids[1:]:  # never tried before the kill: one submit after it
        assert notes_of(treasury, intent_id)[:3] == [
            ("queued", "decider", ""), ("submitting", "executor", "attempt 1"),
            ("submitted", "executor", "apply answered")]


def test_kill_after_the_exchange_applied_but_before_the_reply_adopts_the_withdrawal(treasury, sandbox):
    """SIGKILL after the sandbox applied the withdrawal but before its answer came back
    (the ledger still says `submitting`): the restart finds it by reconciliation and never
    submits it again."""
    sandbox.add_fault(APPLY, "latency_after", count=1, seconds=6.0)
    send_accepted(treasury, "crash-applied-1")
    treasury.wait_status("crash-applied-1", "submitting", timeout=10)
    sandbox.wait_for_withdrawal(lambda w: w["withdrawOrderId"] == "crash-applied-1",
                                what="the sandbox to apply the withdrawal")
    assert treasury.status_of("crash-applied-1") == "submitting"  # the answer is still held back
    crash_and_restart(treasury)
    assert_withdrawn_once_and_completed(sandbox, treasury, ["crash-applied-1"])
    assert ("submitted", "executor", RECONCILED) in notes_of(treasury, "crash-applied-1")
    assert [n for n in notes_of(treasury, "crash-applied-1") if n[0] == "submitting"] == [
        ("submitting", "executor", "attempt 1")]


def test_kill_during_polling_resumes_following_the_same_withdrawal(tmp_path):
    """SIGKILL twice while the withdrawal is `processing` at the exchange: each restart
    resumes polling the same withdrawal to `completed`, with no second submit."""
    sandbox = start_sandbox(tmp_path, complete_after_seconds=4)
    treasury = TreasuryProcess(tmp_path, sandbox, poll_seconds=0.2).start()
    try:
        send_accepted(treasury, "crash-poll-1")
        for _ in range(2):
            treasury.wait_status("crash-poll-1", "processing", timeout=10)
            crash_and_restart(treasury)
        assert_withdrawn_once_and_completed(sandbox, treasury, ["crash-poll-1"])
        statuses = treasury.statuses_of("crash-poll-1")
        assert statuses == ["queued", "submitting", "submitted", "processing", "completed"], statuses
    finally:
        treasury.terminate()
        sandbox.stop()


@pytest.mark.parametrize("fault", ["5xx_after", "drop_after"])
def test_an_unknown_apply_outcome_is_found_by_reconciliation_not_resubmitted(treasury, sandbox, fault):
    """The sandbox applies, then answers 500 (or drops the connection): the outcome is
    unknown, reconciliation finds the withdrawal by withdrawOrderId, one apply call only."""
    intent_id = f"crash-{fault}-1"
    sandbox.add_fault(APPLY, fault, count=1)
    send_accepted(treasury, intent_id)
    assert_withdrawn_once_and_completed(sandbox, treasury, [intent_id])
    notes = notes_of(treasury, intent_id)
    assert ("submitted", "executor", RECONCILED) in notes, notes
    assert [n[0] for n in notes].count("submitting") == 1
    (error_code,) = treasury.query(
        "SELECT w.error_code FROM withdrawals w JOIN intents i ON i.seq = w.intent_seq"
        " WHERE i.intent_id = ?", (intent_id,))[0]
    assert error_code  # the unknown outcome was journaled before it was resolved


def test_an_apply_still_in_flight_when_the_treasury_died_is_never_doubled(treasury, sandbox):
    """SIGKILL while the apply request is still travelling (the exchange holds it before
    applying), restart only after the reconcile grace: the request lands late, and the
    restarted treasury must not have submitted a second withdrawal meanwhile."""
    sandbox.add_fault(APPLY, "latency", count=1, seconds=4.0)
    send_accepted(treasury, "crash-inflight-1")
    treasury.wait_status("crash-inflight-1", "submitting", timeout=10)
    treasury.kill9()
    (attempt_at,) = treasury.query(
        "SELECT w.last_attempt_at FROM withdrawals w JOIN intents i ON i.seq = w.intent_seq"
        " WHERE i.intent_id = ?", (intent_id := "crash-inflight-1",))[0]
    # Down past the policy's reconcile grace (1 s) but not past the exchange's recvWindow
    # (5 s): the held request can still be applied when the treasury looks it up.
    wait_until(lambda: sandbox.server_time() - attempt_at > 1500, timeout=5,
               what="the reconcile grace to pass while the treasury is down")
    treasury.start()
    treasury.wait_status(intent_id, "completed", timeout=30)
    # After recvWindow (5 s) plus a margin nothing signed before it can land any more.
    wait_until(lambda: sandbox.server_time() - attempt_at > 7000, timeout=10,
               what="every request signed before the kill to be past the exchange's recvWindow")
    assert_withdrawn_once_and_completed(sandbox, treasury, [intent_id])


def test_an_apply_that_never_lands_is_resubmitted_once_after_the_grace(treasury, sandbox):
    """SIGKILL while the apply request is held so long that the exchange refuses it as stale
    (older than recvWindow): the restarted treasury proves it absent after the grace and
    submits it once more, so the intent is neither lost nor doubled."""
    sandbox.add_fault(APPLY, "latency", count=1, seconds=6.0)
    send_accepted(treasury, "crash-never-1")
    treasury.wait_status("crash-never-1", "submitting", timeout=10)
    crash_and_restart(treasury)
    assert_withdrawn_once_and_completed(sandbox, treasury, ["crash-never-1"])
    notes = notes_of(treasury, "crash-never-1")
    assert ("queued", "executor", "proven absent after the grace period") in notes, notes
    assert [n for n in notes if n[0] == "submitting"] == [
        ("submitting", "executor", "attempt 1"), ("submitting", "executor", "attempt 2")]
