"""The exchange's clock far from the host's, and a withdrawOrderId used outside the ledger,
end to end: the real treasury process against the real sandbox (issue 10, defects 1 and 7).

The judge is the sandbox's own record (`withdrawals`, `apply_calls`): one withdrawal per
intent, whatever the clocks say.
"""

from __future__ import annotations

import time
from typing import Iterator

import pytest

from tests.support.alert_mails import alert_mail, wait_alert
from tests.support.sandbox import DEMO_TRX_ADDRESS, Sandbox
from tests.support.smtp import SmtpSink
from tests.support.treasury_proc import TreasuryProcess, new_intent

pytestmark = pytest.mark.e2e

APPLY = "/sapi/v1/capital/withdraw/apply"
MIN_MS = 60_000


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    with SmtpSink() as running:
        yield running


def start_treasury(tmp_path, sandbox: Sandbox, sink: SmtpSink) -> TreasuryProcess:
    return TreasuryProcess(tmp_path, sandbox, smtp=(sink.host, sink.port)).start()


def withdrawals_of(sandbox: Sandbox, intent_id: str) -> list[dict]:
    return [w for w in sandbox.withdrawals() if w["withdrawOrderId"] == intent_id]


def send(treasury: TreasuryProcess, intent_id: str, amount: str = "25", *, skew_ms: int = 0) -> None:
    """`skew_ms`: how far the sender's clock is from this host's. The treasury judges an
    intent's age on the exchange's clock, so a signal host that agrees with the exchange
    stamps `created_at` in the exchange's time."""
    with treasury.client() as client:
        decision = client.send_intent(new_intent(intent_id, amount=amount,
                                                 created_at=int(time.time() * 1000) + skew_ms))
    assert decision.outcome == "accepted", decision


@pytest.mark.parametrize("offset_min", [11, -11], ids=["exchange-11-min-ahead", "exchange-11-min-behind"])
def test_an_unknown_outcome_is_withdrawn_exactly_once_when_the_exchange_clock_is_11_minutes_off(
        tmp_path, sandbox, sink, offset_min):
    """5XX after applying, with the exchange's clock 11 min ahead of / behind the host's:
    the look-up finds the withdrawal (no host-clock bounds), the treasury adopts it, and the
    sandbox holds exactly one withdrawal after exactly one apply call. Before the fix the
    host-clock window missed it, absence was "proven" and the withdrawal was sent again."""
    sandbox.set_clock_offset(offset_min * MIN_MS)
    treasury = start_treasury(tmp_path, sandbox, sink)
    try:
        intent_id = f"skew-{'ahead' if offset_min > 0 else 'behind'}"
        sandbox.add_fault(APPLY, "5xx_after")
        send(treasury, intent_id, skew_ms=offset_min * MIN_MS)
        treasury.wait_status(intent_id, "completed", timeout=40)
        found = withdrawals_of(sandbox, intent_id)
        assert len(found) == 1, found
        assert sandbox.apply_calls().get(intent_id) == 1, sandbox.apply_calls()
        steps = [(status, note) for status, _, note in treasury.query(
            "SELECT t.to_status, t.at, t.note FROM transitions t JOIN intents i ON i.seq = t.intent_seq"
            " WHERE i.intent_id = ? ORDER BY t.seq", (intent_id,))]
        assert ("submitted", "found by reconciliation") in steps, steps
        assert not any(status == "queued" and "proven absent" in note for status, note in steps), steps
        assert treasury.query("SELECT w.withdrawal_id FROM withdrawals w JOIN intents i ON i.seq = w.intent_seq"
                              " WHERE i.intent_id = ?", (intent_id,)) == [(found[0]["id"],)]
    finally:
        treasury.terminate()


def test_a_found_withdrawal_with_our_id_but_another_amount_is_needs_review_and_critical(
        tmp_path, sandbox, sink):
    """The sandbox holds a withdrawal carrying our withdrawOrderId but 30 USDT (ours: 25),
    made outside the treasury. After an unknown outcome the look-up finds it: it is never
    adopted, the intent is needs_review and a CRITICAL mail names what differs."""
    intent_id = "reused-id-1"
    # Planted after the start (issue 13): planted before it, the start-up foreign-withdrawal
    # watch would find it and refuse the id at the decision, before any reconciliation.
    treasury = start_treasury(tmp_path, sandbox, sink)
    planted = sandbox.plant_withdrawal(coin="USDT", network="TRX", address=DEMO_TRX_ADDRESS,
                                       amount="30", withdrawOrderId=intent_id)
    try:
        sandbox.add_fault(APPLY, "5xx_before")   # not applied: only the planted one exists
        send(treasury, intent_id)
        treasury.wait_status(intent_id, "needs_review", timeout=30)
        assert [s for s in treasury.statuses_of(intent_id)] == ["queued", "submitting", "needs_review"]
        assert treasury.query("SELECT w.withdrawal_id FROM withdrawals w JOIN intents i ON i.seq = w.intent_seq"
                              " WHERE i.intent_id = ?", (intent_id,)) == [(None,)]
        mail = wait_alert(sink, "needs_review", intent_id)
        assert mail.severity == "CRITICAL", mail.subject
        assert "withdrawOrderId used outside this ledger" in mail.body, mail.body
        assert f"withdrawal {planted['id']}" in mail.body and "amount 30" in mail.body, mail.body
        assert not [a for a in map(alert_mail, sink.mails) if a.kind == "withdrawal_submitted"]
    finally:
        treasury.terminate()


def test_a_busy_answer_to_an_apply_that_went_through_is_reconciled_not_resent(tmp_path, sandbox, sink):
    """-1008 ("server overloaded") after the sandbox applied the withdrawal: Binance does
    not document it as "not executed", so it is an unknown outcome, looked up and adopted;
    before the fix it was re-queued without a look-up and withdrawn twice (issue 10, defect 1)."""
    treasury = start_treasury(tmp_path, sandbox, sink)
    try:
        sandbox.add_fault(APPLY, "busy_after")
        send(treasury, "busy-1")
        treasury.wait_status("busy-1", "completed", timeout=40)
        assert len(withdrawals_of(sandbox, "busy-1")) == 1
        assert sandbox.apply_calls().get("busy-1") == 1, sandbox.apply_calls()
        assert "found by reconciliation" in [note for status, _, note in treasury.query(
            "SELECT t.to_status, t.at, t.note FROM transitions t JOIN intents i ON i.seq = t.intent_seq"
            " WHERE i.intent_id = ?", ("busy-1",)) if status == "submitted"]
    finally:
        treasury.terminate()
