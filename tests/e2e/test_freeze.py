"""The freeze and the circuit breakers end to end (issue 13 items 1 and 2): the real treasury
process, the real sandbox, a real SMTP sink and `treasuryctl` run as an operator runs it.

What each test proves against the sandbox's own record (`apply_calls`): after a freeze, no
apply request reaches the exchange; the apply already in flight is followed to its end.
"""

from __future__ import annotations

import time
from typing import Iterator

import pytest

from common import messages
from tests.support.alert_mails import alert_mails, wait_alert
from tests.support.sandbox import DEMO_TRX_ADDRESS
from tests.support.smtp import SmtpSink
from tests.support.treasury_proc import TreasuryProcess, e2e_policy, new_intent
from tests.support.waiting import wait_until

pytestmark = pytest.mark.e2e

APPLY = "/sapi/v1/capital/withdraw/apply"
FREEZE_SEEN_WITHIN_S = 1.0   # the bound: every apply stops within one second


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    with SmtpSink() as running:
        yield running


def start(tmp_path, sandbox, sink, breakers: str = "") -> TreasuryProcess:
    text = e2e_policy() + (f"\n[circuit_breakers]\n{breakers}\n" if breakers else "")
    return TreasuryProcess(tmp_path, sandbox, policy_text=text, smtp=(sink.host, sink.port)).start()


def send(treasury: TreasuryProcess, intent_id: str | messages.TransferIntent, **over):
    intent = new_intent(intent_id, **over) if isinstance(intent_id, str) else intent_id
    with treasury.client() as client:
        return client.send_intent(intent)


def test_a_freeze_stops_every_apply_within_a_second_while_the_apply_in_flight_is_followed_to_its_end(
        tmp_path, sandbox, sink):
    """An apply hangs at the exchange; the operator freezes; that apply finishes and is polled
    to completed, the queued ones are never sent, new intents are rejected `frozen`, a replay
    still gets its decision as it stands, and all of it survives a restart."""
    treasury = start(tmp_path, sandbox, sink)
    try:
        sandbox.add_fault(APPLY, "latency", seconds=2.5)
        assert send(treasury, "frz-1").outcome == "accepted"
        treasury.wait_status("frz-1", "submitting")   # its apply is in flight, held by the sandbox
        queued = [new_intent(intent_id) for intent_id in ("frz-2", "frz-3")]
        for intent in queued:
            assert send(treasury, intent).outcome == "accepted"
        done = treasury.ctl("freeze", "--reason", "drill: key leak suspected", "--operator", "alice")
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith("FROZEN: frozen by alice: drill: key leak suspected")
        # The apply in flight comes back; from that moment the executor sees the freeze.
        treasury.wait_status("frz-1", "submitted")
        seen_after = time.monotonic()
        wait_until(lambda: "withdrawals_frozen" in treasury.log(), timeout=FREEZE_SEEN_WITHIN_S + 0.5,
                   what="the executor to see the freeze")
        print(f"\nfreeze seen {time.monotonic() - seen_after:.3f} s after the apply in flight returned")
        treasury.wait_status("frz-1", "completed")     # followed to its end
        assert sandbox.apply_calls() == {"frz-1": 1}
        assert treasury.status_of("frz-2") == treasury.status_of("frz-3") == "queued"

        fresh = send(treasury, "frz-4")
        assert (fresh.outcome, fresh.reason_code, fresh.status) == ("rejected", "frozen", "denied")
        assert "frozen by alice" in fresh.detail
        replay = send(treasury, queued[0])
        assert (replay.outcome, replay.status) == ("accepted", "queued")   # rule 1 before 1a

        mail = wait_alert(sink, "frozen")
        assert mail.severity == "CRITICAL"
        assert "FROZEN by alice: drill: key leak suspected" in mail.subject
        status = treasury.ctl("status")
        assert status.stdout.splitlines()[0].startswith("FROZEN since"), status.stdout
        again = treasury.ctl("freeze", "--reason", "second try")
        assert again.returncode == 0 and again.stdout.startswith("already frozen"), again.stdout

        assert treasury.terminate() == 0
        treasury.start()
        assert send(treasury, "frz-5").reason_code == "frozen"
        wait_until(lambda: len(alert_mails(sink, "start_summary")) == 2, timeout=10,
                   what="the second start's summary mail")
        start_mail = alert_mails(sink, "start_summary")[-1]
        assert start_mail.severity == "WARNING" and "FROZEN since" in start_mail.body
        wait_until(lambda: treasury.log().count("withdrawals_frozen") >= 2, timeout=5,
                   what="the restarted executor to see the standing freeze")
        assert sandbox.apply_calls() == {"frz-1": 1}
        assert treasury.status_of("frz-2") == "queued"
    finally:
        treasury.terminate()


def test_a_freeze_needs_a_reason(tmp_path, sandbox, sink):
    """Bad input changes nothing: an empty reason is refused and nothing is frozen."""
    treasury = start(tmp_path, sandbox, sink)
    try:
        refused = treasury.ctl("freeze", "--reason", "   ")
        assert refused.returncode == 1 and "[reason_required]" in refused.stderr
        assert treasury.ctl("status").stdout.splitlines()[0] == "frozen: no"
        assert send(treasury, "nofrz-1").outcome == "accepted"
    finally:
        treasury.terminate()


def test_a_client_probing_the_rules_trips_the_breaker_and_freezes(tmp_path, sandbox, sink):
    """More than client_rejections rejections within the window freeze the treasury, with a
    CRITICAL mail naming the client; the next good intent is rejected `frozen`."""
    treasury = start(tmp_path, sandbox, sink, "client_rejections = 3\nclient_rejections_minutes = 10")
    try:
        for n in range(3):
            assert send(treasury, f"probe-{n}", destination="no-such-wallet").reason_code == "unknown_destination"
        assert treasury.ctl("status").stdout.splitlines()[0] == "frozen: no"
        assert send(treasury, "probe-3", destination="no-such-wallet").reason_code == "unknown_destination"
        mail = wait_alert(sink, "breaker_tripped")
        assert mail.severity == "CRITICAL"
        assert "client_rejections" in mail.subject and "client signal: 4 rejected intents" in mail.body
        assert send(treasury, "probe-good").reason_code == "frozen"
        assert "(client_rejections)" in treasury.ctl("status").stdout.splitlines()[0]
        assert sandbox.apply_calls() == {}
    finally:
        treasury.terminate()


def test_the_policy_file_changing_under_a_running_treasury_trips_the_breaker(tmp_path, sandbox, sink):
    """An edit of the policy file while the treasury runs freezes it; the running policy is kept."""
    treasury = start(tmp_path, sandbox, sink)
    try:
        treasury.withdraw_once("pol-1", "25")
        treasury.policy_path.write_text(treasury.policy_path.read_text() + "\n# edited\n", encoding="utf-8")
        mail = wait_alert(sink, "breaker_tripped", timeout=15)
        assert "policy_changed" in mail.subject and "changed on disk" in mail.body
        assert send(treasury, "pol-2").reason_code == "frozen"
        assert sandbox.apply_calls() == {"pol-1": 1}
    finally:
        treasury.terminate()


def test_a_reconciliation_mismatch_trips_the_breaker(tmp_path, sandbox, sink):
    """The apply's outcome is unknown, and the look-up finds a withdrawal under our id that is
    not what we asked for: needs_review, and every withdrawal frozen."""
    treasury = start(tmp_path, sandbox, sink)
    try:
        sandbox.add_faults({"path": APPLY, "kind": "latency", "seconds": 0.5}, {"path": APPLY, "kind": "5xx_before"})
        assert send(treasury, "mis-1").outcome == "accepted"
        treasury.wait_status("mis-1", "submitting")
        # Someone else's withdrawal carries our intent id, with another amount.
        sandbox.plant_withdrawal(coin="USDT", network="TRX", address=DEMO_TRX_ADDRESS, amount="999",
                                 withdrawOrderId="mis-1")
        treasury.wait_status("mis-1", "needs_review", timeout=30)
        mail = wait_alert(sink, "breaker_tripped", timeout=15)
        assert "reconciliation_mismatch" in mail.subject and "mis-1" in mail.body
        assert send(treasury, "mis-2").reason_code == "frozen"
        assert "mis-1" not in sandbox.apply_calls() or sandbox.apply_calls()["mis-1"] == 1
    finally:
        treasury.terminate()
