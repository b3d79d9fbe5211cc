"""The treasury as a real process against the real sandbox exchange, over real CURVE."""

from __future__ import annotations

import pytest

from common.intent_client import TreasuryUnavailable
from tests.support.sandbox import DEMO_TRX_ADDRESS
from tests.support.treasury_proc import TreasuryProcess, new_intent
from tests.support.waiting import wait_until


@pytest.fixture
def treasury(tmp_path, sandbox):
    process = TreasuryProcess(tmp_path, sandbox).start()
    yield process
    process.terminate()


def test_accepted_intent_is_withdrawn_once_and_polled_to_completed(treasury, sandbox):
    """An accepted intent becomes one sandbox withdrawal that the poller follows to completed."""
    subscriber = treasury.subscriber()
    try:
        with treasury.client() as client:
            decision = client.send_intent(new_intent("e2e-ok-1", amount="25"))
            assert (decision.outcome, decision.status) == ("accepted", "queued")
            seen: set[str] = set()
            wait_until(lambda: "completed" in _collect(subscriber, seen), timeout=20,
                       what="a completed event on the PUB socket")
            state = client.status("e2e-ok-1")
    finally:
        subscriber.close()
    assert state.status == "completed" and state.withdrawal_id and state.tx_id
    withdrawals = [w for w in sandbox.withdrawals() if w["withdrawOrderId"] == "e2e-ok-1"]
    assert len(withdrawals) == 1 and withdrawals[0]["address"] == DEMO_TRX_ADDRESS
    assert sandbox.apply_calls()["e2e-ok-1"] == 1
    assert treasury.statuses_of("e2e-ok-1") == ["queued", "submitting", "submitted", "processing", "completed"]


def _collect(subscriber, seen: set) -> set:
    event = subscriber.receive(0.2)
    if event is not None and event.intent_id == "e2e-ok-1":
        seen.add(event.status)
    return seen


def test_the_same_intent_sent_twice_is_withdrawn_once(treasury, sandbox):
    """A resent intent replays its decision and never makes a second withdrawal."""
    intent = new_intent("e2e-twice-1")
    with treasury.client() as client:
        first = client.send_intent(intent)
        treasury.wait_status("e2e-twice-1", "completed")
        second = client.send_intent(intent)
    assert first.outcome == second.outcome == "accepted"
    assert second.status == "completed"
    assert sandbox.apply_calls()["e2e-twice-1"] == 1


@pytest.mark.parametrize("destination, amount, code", [
    ("nowhere", "25", "unknown_destination"),
    ("hot-wallet", "25", "client_not_allowed"),
    ("cold-wallet", "5", "below_exchange_minimum"),
    ("cold-wallet", "1000.5", "over_transfer_limit"),
])
def test_policy_rejections_carry_their_reason_code(treasury, sandbox, destination, amount, code):
    """Each policy rejection answers its reason_code and never reaches the exchange."""
    with treasury.client() as client:
        decision = client.send_intent(new_intent(f"e2e-rej-{code}", amount=amount, destination=destination))
    assert (decision.outcome, decision.reason_code, decision.status) == ("rejected", code, "denied")
    assert f"e2e-rej-{code}" not in sandbox.apply_calls()


def test_an_unlisted_client_key_never_gets_a_reply(treasury):
    """A CURVE key outside the authorised folder gets no reply at all."""
    intruder = treasury.client("intruder", timeout=0.5, retries=2)
    with pytest.raises(TreasuryUnavailable):
        intruder.send_intent(new_intent("e2e-intruder-1"))
    intruder.close()
    assert treasury.status_of("e2e-intruder-1") is None


def test_sigterm_stops_the_treasury_cleanly(treasury):
    """SIGTERM: the process exits 0 within 10 s."""
    assert treasury.terminate(timeout=10) == 0
    assert "stopped" in treasury.log()
