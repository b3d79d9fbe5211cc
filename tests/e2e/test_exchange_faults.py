"""Exchange faults end to end: the real treasury process, the real sandbox with its fault
injection, and a real SMTP sink (issue 7, item 3).

For every fault the test proves four things:
- no double withdrawal: the sandbox's own record (`apply_calls`, `withdrawals`) holds at
  most one withdrawal per intent id;
- the right final status, in the ledger and over the wire (`intent_status`);
- the right alert mail at the sink (subject with severity and what happened, body with
  the intent id and the exchange's code or reason);
- the treasury answers a ping, an `intent_status` and a fresh intent within one second
  while the fault is active (DESIGN section 2: deciding never waits on the exchange).

Timeouts: the treasury's exchange client keeps its 10 s read timeout (common/binance/client.py);
we chose not to make it shorter or configurable. It is longer than the 5 s recvWindow, so
a timed-out apply can no longer execute by the time it is looked up ("absent" is final);
a shorter one would only turn slow successes into unknown outcomes (a 7 s grace and an
18,000-weight look-up each), and deciding never waits on it (measured here: ~2 ms answers
while the apply hangs). The one test that waits it out costs ~12 s; the others stack a
short `latency` on the fault so that the apply call is in flight while the treasury is
asked to answer.
"""

from __future__ import annotations

import re
import time
from typing import Iterator

import pytest

from common import messages
from tests.support.alert_mails import alert_mail, alert_mails, wait_alert
from tests.support.sandbox import DEMO_TREASURY, Sandbox
from tests.support.smtp import SmtpSink
from tests.support.treasury_proc import TreasuryProcess, new_intent
from tests.support.waiting import wait_until

pytestmark = pytest.mark.e2e

APPLY = "/sapi/v1/capital/withdraw/apply"
ANSWER_WITHIN_S = 1.0          # DESIGN section 2: every well-formed request within one second
CLIENT_READ_TIMEOUT_S = 10.0   # BinanceClient's default read timeout, used by the treasury
HAPPY_PATH = ["queued", "submitting", "submitted", "processing", "completed"]


# -- fixtures --------------------------------------------------------------------------------

@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    with SmtpSink() as running:
        yield running


@pytest.fixture
def treasury(tmp_path, sandbox, sink) -> Iterator[TreasuryProcess]:
    process = TreasuryProcess(tmp_path, sandbox, smtp=(sink.host, sink.port)).start()
    yield process
    process.terminate()


# -- helpers ---------------------------------------------------------------------------------

def withdrawals_of(sandbox: Sandbox, intent_id: str) -> list[dict]:
    return [w for w in sandbox.withdrawals() if w["withdrawOrderId"] == intent_id]


def assert_withdrawn_once(sandbox: Sandbox, intent_id: str, apply_calls: int = 1) -> dict:
    """Exactly one withdrawal at the exchange for this intent, after `apply_calls` calls."""
    found = withdrawals_of(sandbox, intent_id)
    assert len(found) == 1, found
    assert sandbox.apply_calls().get(intent_id, 0) == apply_calls, sandbox.apply_calls()
    return found[0]


def assert_final(treasury: TreasuryProcess, intent_id: str, status: str) -> messages.IntentState:
    """The ledger and the wire agree on the final status."""
    treasury.wait_status(intent_id, status)
    with treasury.client() as client:
        state = client.status(intent_id)
    assert isinstance(state, messages.IntentState), state
    assert (state.intent_id, state.outcome, state.status) == (intent_id, "accepted", status)
    return state


def assert_answers_within_a_second(treasury: TreasuryProcess, about: str, fresh_id: str | None = None) -> float:
    """A ping, an intent_status and (optionally) a fresh intent, each answered within
    ANSWER_WITHIN_S (the client gives up after that: no retry). Returns the slowest.

    The fresh intent is above `approval_above`: a full decision (policy, window sums,
    journal) that never reaches the exchange, so it cannot change the order of the
    faulted intent's withdrawal mails (a second mail of a kind within 60 s is folded)."""
    slowest = 0.0
    with treasury.client(timeout=ANSWER_WITHIN_S, retries=1) as client:
        started = time.monotonic()
        assert client.ping().version
        slowest = max(slowest, time.monotonic() - started)
        started = time.monotonic()
        state = client.status(about)
        slowest = max(slowest, time.monotonic() - started)
        assert isinstance(state, messages.IntentState) and state.intent_id == about
        if fresh_id is not None:
            started = time.monotonic()
            decision = client.send_intent(new_intent(fresh_id, amount="950"))
            slowest = max(slowest, time.monotonic() - started)
            assert (decision.outcome, decision.status) == ("pending_approval", "pending_approval")
    return slowest


def send(treasury: TreasuryProcess, intent_id: str, **over) -> messages.Decision:
    with treasury.client() as client:
        decision = client.send_intent(new_intent(intent_id, **over))
    assert decision.outcome == "accepted", decision
    return decision


def assert_path(treasury: TreasuryProcess, intent_id: str, expected: list[str]) -> None:
    """The intent's statuses in order. `processing` may be missing: a withdrawal that ends
    within one poll interval is seen at its end straight away."""
    actual = [s for s, _, _ in transitions(treasury, intent_id)]
    assert [s for s in actual if s != "processing"] == [s for s in expected if s != "processing"], actual
    assert actual.count("processing") <= 1


def transitions(treasury: TreasuryProcess, intent_id: str) -> list[tuple[str, int, str]]:
    return treasury.query(
        "SELECT t.to_status, t.at, t.note FROM transitions t JOIN intents i ON i.seq = t.intent_seq"
        " WHERE i.intent_id = ? ORDER BY t.seq", (intent_id,))


def assert_no_secret(sink: SmtpSink) -> None:
    for mail in sink.mails:
        raw = mail.raw.decode("utf-8", "replace")
        assert DEMO_TREASURY.api_secret not in raw and DEMO_TREASURY.api_key not in raw, mail.subject


# -- latency beyond the client's read timeout ------------------------------------------------

def test_an_apply_answered_after_the_client_timeout_is_found_by_reconciliation_not_resent(
        treasury, sandbox, sink):
    """latency_after > read timeout: the withdrawal happened, the client timed out; the
    treasury looks it up by withdrawOrderId, adopts it, and never applies twice."""
    sandbox.add_fault(APPLY, "latency_after", seconds=CLIENT_READ_TIMEOUT_S + 1.5)
    send(treasury, "slow-apply-1")
    treasury.wait_status("slow-apply-1", "submitting")
    sandbox.wait_for_withdrawal(lambda w: w["withdrawOrderId"] == "slow-apply-1")
    # The exchange holds the answer: the executor is blocked inside the apply call.
    slowest = assert_answers_within_a_second(treasury, "slow-apply-1", fresh_id="slow-apply-fresh")
    assert treasury.status_of("slow-apply-1") == "submitting"
    state = assert_final(treasury, "slow-apply-1", "completed")
    assert_withdrawn_once(sandbox, "slow-apply-1")
    assert state.withdrawal_id == withdrawals_of(sandbox, "slow-apply-1")[0]["id"]
    notes = [note for status, _, note in transitions(treasury, "slow-apply-1") if status == "submitted"]
    assert notes == ["found by reconciliation"]
    assert "outcome_unknown" in treasury.log() and "withdrawal_outcome_unknown" in treasury.log()
    submitted = wait_alert(sink, "withdrawal_submitted", "slow-apply-1")
    assert submitted.subject.startswith("[treasury][INFO] withdrawal submitted: 25 USDT to cold-wallet")
    completed = wait_alert(sink, "withdrawal_completed", "slow-apply-1")
    assert completed.subject.startswith("[treasury][INFO] withdrawal completed: 25 USDT to cold-wallet")
    assert "slow-apply-fresh" not in sandbox.apply_calls()
    assert_no_secret(sink)
    print(f"\nslowest answer while the apply call hung: {slowest * 1000:.1f} ms")



# -- unknown outcomes: 5XX before / after applying, connection dropped after applying --------

@pytest.mark.parametrize("kind, applied", [
    ("5xx_before", False),   # not applied: proven absent after the grace, applied once more
    ("5xx_after", True),     # applied: found by withdrawOrderId and adopted
    ("drop_after", True),    # applied: found by withdrawOrderId and adopted
])
def test_an_unknown_apply_outcome_is_looked_up_before_anything_is_sent_again(
        treasury, sandbox, sink, kind, applied):
    """5XX or a dropped connection on apply: the treasury never re-sends blindly; it ends
    with exactly one withdrawal, completed, and the ordinary mails."""
    intent_id = f"unknown-{kind}"
    # A short stall first, so the apply call is in flight while the treasury is asked.
    sandbox.add_faults({"path": APPLY, "kind": "latency", "seconds": 1.5}, {"path": APPLY, "kind": kind})
    send(treasury, intent_id)
    treasury.wait_status(intent_id, "submitting")
    assert_answers_within_a_second(treasury, intent_id, fresh_id=f"{intent_id}-fresh")
    assert treasury.status_of(intent_id) == "submitting"
    state = assert_final(treasury, intent_id, "completed")
    withdrawal = assert_withdrawn_once(sandbox, intent_id, apply_calls=1)
    assert state.withdrawal_id == withdrawal["id"] and state.tx_id == withdrawal["txId"]
    steps = [(status, note) for status, _, note in transitions(treasury, intent_id)]
    if applied:
        # Found while still processing, or already completed (then in one commit).
        assert_path(treasury, intent_id, HAPPY_PATH)
        assert ("submitted", "found by reconciliation") in steps
    else:
        assert_path(treasury, intent_id, ["queued", "submitting", "queued", *HAPPY_PATH[1:]])
        assert ("queued", "proven absent after the grace period") in steps
        assert ("submitted", "apply answered") in steps
    submitted = wait_alert(sink, "withdrawal_submitted", intent_id)
    assert submitted.severity == "INFO" and withdrawal["id"] in submitted.subject
    completed = wait_alert(sink, "withdrawal_completed", intent_id)
    assert completed.subject == (f"[treasury][INFO] withdrawal completed: 25 USDT to cold-wallet "
                                 f"(tx {state.tx_id[:6]}...{state.tx_id[-4:]})"), completed.subject
    assert "Status:                     completed" in completed.body
    assert not [a for a in map(alert_mail, sink.mails) if a.severity == "CRITICAL"]
    assert_no_secret(sink)


# -- rate limits: 429 and 418 with Retry-After -----------------------------------------------

@pytest.mark.parametrize("kind", ["429", "418"])
def test_a_rate_limited_apply_waits_for_retry_after_then_applies_once(treasury, sandbox, sink, kind):
    """429/418 on apply: nothing happened, so the intent goes back to `queued`, the
    executor waits Retry-After, then applies once; no failure is mailed."""
    retry_after = 2
    intent_id = f"limited-{kind}"
    sandbox.add_fault(APPLY, kind, retry_after=retry_after)
    send(treasury, intent_id)
    wait_until(lambda: [s for s, _, _ in transitions(treasury, intent_id)][:3] == ["queued", "submitting", "queued"],
               what="the rate-limited intent back in queued")
    # During the back-off the treasury decides and answers as usual.
    assert_answers_within_a_second(treasury, intent_id, fresh_id=f"{intent_id}-fresh")
    assert treasury.status_of(intent_id) == "queued"
    assert_final(treasury, intent_id, "completed")
    assert_withdrawn_once(sandbox, intent_id, apply_calls=1)
    steps = transitions(treasury, intent_id)
    assert_path(treasury, intent_id, ["queued", "submitting", "queued", *HAPPY_PATH[1:]])
    requeued_at, retried_at = steps[2][1], steps[3][1]
    assert steps[2][2].startswith("not sent: ")
    assert retried_at - requeued_at >= retry_after * 1000 - 50, (requeued_at, retried_at)  # Retry-After honoured
    assert f"event=withdrawal_requeued intent_id={intent_id} delay_s={retry_after:.1f}" in treasury.log()
    wait_alert(sink, "withdrawal_completed", intent_id)
    assert not [a for a in map(alert_mail, sink.mails) if a.severity == "CRITICAL"]


# -- -1021: the exchange's clock 3 s behind ours ---------------------------------------------

def test_a_clock_skew_is_cured_by_one_resync_and_one_retry(treasury, sandbox, sink):
    """The sandbox clock set 3 s behind: the executor's first signed call is refused (-1021,
    nothing done): since issue 12 item 4 that is the quota read before the apply, else the
    apply itself. The client measures the offset again and sends that call once more; the
    apply goes out once, and one withdrawal is made. (Under load the executor's thread may
    start after the offset moved: its client's first sync then measures the new offset, and
    no call is refused at all. The treasury answers ping before its threads have synced.)"""
    sandbox.set_clock_offset(-3000)
    send(treasury, "skewed-1")
    assert_answers_within_a_second(treasury, "skewed-1", fresh_id="skewed-fresh")
    state = assert_final(treasury, "skewed-1", "completed")
    assert_withdrawn_once(sandbox, "skewed-1", apply_calls=1)
    assert_path(treasury, "skewed-1", HAPPY_PATH)
    log = treasury.log()
    skews = [line for line in log.splitlines() if "binance_clock_skew" in line
             and (APPLY in line or "/sapi/v1/capital/withdraw/quota" in line)]
    assert len(skews) <= 1, skews
    offsets = [int(m) for m in re.findall(r"binance_time_synced offset_ms=(-?\d+)", log)]
    assert any(-3500 < offset < -2500 for offset in offsets), offsets
    assert state.tx_id
    wait_alert(sink, "withdrawal_completed", "skewed-1")
    assert not [a for a in map(alert_mail, sink.mails) if a.severity == "CRITICAL"]


def test_a_clock_skew_that_a_resync_cannot_cure_is_retried_once_then_requeued(treasury, sandbox, sink):
    """-1021 on the apply and on its one retry: the client gives up (no third send), the
    intent goes back to queued (nothing was applied) and goes out once later."""
    sandbox.add_fault(APPLY, "-1021", count=2)
    send(treasury, "skewed-2")
    wait_until(lambda: [s for s, _, _ in transitions(treasury, "skewed-2")][:3] == ["queued", "submitting", "queued"],
               what="the skewed intent back in queued")
    assert_answers_within_a_second(treasury, "skewed-2")
    assert sandbox.faults() == []  # both refusals used: the first send and its one retry
    assert_final(treasury, "skewed-2", "completed")
    assert_withdrawn_once(sandbox, "skewed-2", apply_calls=1)
    steps = transitions(treasury, "skewed-2")
    assert_path(treasury, "skewed-2", ["queued", "submitting", "queued", *HAPPY_PATH[1:]])
    assert steps[2][2] == "not sent: -1021"
    lines = [line for line in treasury.log().splitlines() if APPLY in line]
    assert len([line for line in lines if "binance_clock_skew" in line]) == 1      # one resync
    assert len([line for line in lines if "binance_code=-1021" in line and "binance_error" in line]) == 2
    assert not [a for a in map(alert_mail, sink.mails) if a.severity == "CRITICAL"]


# -- -2015 mid-run: the key loses its withdraw permission -----------------------------------

def test_a_key_refused_mid_run_stops_withdrawals_alerts_and_loses_no_intent(treasury, sandbox, sink):
    """After a first withdrawal the key loses withdraw rights: the next apply gets -2015,
    withdrawals stop, one CRITICAL mail; intents are still answered and stay queued; once
    the key is fixed and the treasury restarted, each is withdrawn exactly once."""
    send(treasury, "auth-1")
    assert_final(treasury, "auth-1", "completed")
    sandbox.set_key("treasury", can_withdraw=False)
    send(treasury, "auth-2")
    mail = wait_alert(sink, "exchange_auth_error")
    assert mail.severity == "CRITICAL" and mail.intent_ids == ("auth-2",)
    assert mail.subject.startswith("[treasury][CRITICAL] exchange auth error: -2015"), mail.subject
    assert "withdrawals stopped" in mail.subject
    assert "Exchange code:              -2015" in mail.body
    assert "demo...0000" in mail.body  # the key, masked
    treasury.wait_status("auth-2", "queued")
    assert [s for s, _, _ in transitions(treasury, "auth-2")] == ["queued", "submitting", "queued"]
    # Halted, yet answering; a new intent is accepted and waits with the other.
    assert_answers_within_a_second(treasury, "auth-2")
    with treasury.client(timeout=ANSWER_WITHIN_S, retries=1) as client:
        decision = client.send_intent(new_intent("auth-3"))
        assert client.status("auth-2").status == "queued"
    assert (decision.outcome, decision.status) == ("accepted", "queued")
    # Nothing goes out while halted (a negative: watched over 10 executor turns of 0.2 s).
    deadline = time.monotonic() + 2.0
    while time.monotonic() < deadline:
        assert treasury.status_of("auth-2") == treasury.status_of("auth-3") == "queued"
        time.sleep(0.1)
    assert len(alert_mails(sink, "exchange_auth_error")) == 1  # halted: not one mail per intent
    calls = sandbox.apply_calls()
    assert "auth-3" not in calls and not withdrawals_of(sandbox, "auth-2")
    # The operator fixes the key and restarts: both are withdrawn, once each.
    sandbox.set_key("treasury", can_withdraw=True)
    assert treasury.terminate() == 0
    treasury.start()
    for intent_id in ("auth-1", "auth-2", "auth-3"):
        assert_final(treasury, intent_id, "completed")
        assert_withdrawn_once(sandbox, intent_id)
    assert_no_secret(sink)


# -- the exchange ends a withdrawal badly: failed (5), rejected (3), refused at apply ---------

@pytest.mark.parametrize("destination, status, kind, words, exchange_status", [
    ("failing-wallet", "failed", "withdrawal_failed", "withdrawal failed", 5),
    ("rejecting-wallet", "rejected", "withdrawal_rejected", "withdrawal rejected by the exchange", 3),
])
def test_a_withdrawal_the_exchange_fails_or_rejects_is_final_and_mailed_critical(
        treasury, sandbox, sink, destination, status, kind, words, exchange_status):
    """Status 5 or 3 at the exchange: the intent ends failed/rejected, never retried, one
    CRITICAL mail naming the intent, the status and the exchange's reason."""
    intent_id = f"ends-{status}"
    send(treasury, intent_id, destination=destination)
    wait_until(lambda: treasury.status_of(intent_id) not in (None, "queued", "submitting"),
               what="the exchange to hold the withdrawal")
    assert_answers_within_a_second(treasury, intent_id, fresh_id=f"{intent_id}-fresh")
    state = assert_final(treasury, intent_id, status)
    withdrawal = assert_withdrawn_once(sandbox, intent_id)
    assert withdrawal["status"] == exchange_status and state.withdrawal_id == withdrawal["id"]
    assert_path(treasury, intent_id, [*HAPPY_PATH[:4], status])
    mail = wait_alert(sink, kind, intent_id)
    assert mail.subject.startswith(f"[treasury][CRITICAL] {words}: 25 USDT to {destination}"), mail.subject
    assert f"Status:                     {status}" in mail.body
    assert withdrawal["info"] and withdrawal["info"] in " ".join(mail.body.split())
    assert f"treasuryctl show {intent_id}" in mail.body
    # Final: never applied again, never moved again.
    assert sandbox.apply_calls()[intent_id] == 1 and treasury.status_of(intent_id) == status


def test_a_withdrawal_refused_at_apply_fails_with_the_exchange_code(treasury, sandbox, sink):
    """-4026 (insufficient balance) at apply: failed at once, never retried, CRITICAL
    mail with the code (the example of issue 5)."""
    sandbox.set_balance("USDT", "20")
    send(treasury, "poor-1")
    treasury.wait_status("poor-1", "failed")
    with treasury.client() as client:
        state = client.status("poor-1")
    assert (state.status, state.withdrawal_id) == ("failed", None)
    assert sandbox.apply_calls()["poor-1"] == 1 and not withdrawals_of(sandbox, "poor-1")
    mail = wait_alert(sink, "withdrawal_failed", "poor-1")
    assert mail.subject == ("[treasury][CRITICAL] withdrawal failed: 25 USDT to cold-wallet "
                            "(-4026 insufficient balance)"), mail.subject
    assert "Exchange code:              -4026" in mail.body
    assert treasury.query("SELECT w.error_code FROM withdrawals w JOIN intents i ON i.seq = w.intent_seq"
                          " WHERE i.intent_id = 'poor-1'") == [("-4026",)]
