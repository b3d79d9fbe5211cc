"""Binance's withdrawal status 2 (awaiting approval) as the sandbox now produces it: the
treasury records it, keeps polling, and follows the withdrawal to its end (issue 12 item 9)."""

from __future__ import annotations

from tests.support.sandbox import start_sandbox
from tests.support.treasury_proc import TreasuryProcess, new_intent


def test_a_withdrawal_held_awaiting_approval_is_polled_on_until_it_completes(tmp_path):
    """Status 2 is an open status: the intent shows awaiting_approval, then completes, applied once."""
    sandbox = start_sandbox(tmp_path, awaiting_approval_seconds=2.0, complete_after_seconds=0.3)
    treasury = TreasuryProcess(tmp_path, sandbox).start()
    try:
        with treasury.client() as client:
            decision = client.send_intent(new_intent("e2e-held-1", amount="25"))
            assert decision.outcome == "accepted"
            treasury.wait_status("e2e-held-1", "awaiting_approval", timeout=10)
            held = sandbox.wait_for_withdrawal(lambda w: w["withdrawOrderId"] == "e2e-held-1",
                                               what="the sandbox's withdrawal e2e-held-1")
            treasury.wait_status("e2e-held-1", "completed", timeout=20)
        assert held["withdrawOrderId"] == "e2e-held-1"
        assert sandbox.apply_calls()["e2e-held-1"] == 1
    finally:
        treasury.terminate()
        sandbox.stop()
    statuses = treasury.statuses_of("e2e-held-1")
    assert statuses.index("awaiting_approval") < statuses.index("completed")
    assert statuses[-1] == "completed"
