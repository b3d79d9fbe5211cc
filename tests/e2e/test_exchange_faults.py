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

Timeouts: the treasury's exchange client keeps its 10 s read timeout (common/binance.py).
It is longer than the 5 s recvWindow on purpose: by the time a timed-out apply call is
looked up in the history, the exchange can no longer execute it, so "absent" is final.
The one test that waits it out costs ~12 s; the others stack a short `latency` on the
fault so that the apply call is in flight while the treasury is asked to answer.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Iterator

import pytest

from common import messages
from tests.support.sandbox import DEMO_TREASURY, Sandbox
from tests.support.smtp import ReceivedMail, SmtpSink
from tests.support.treasury_proc import TreasuryProcess, new_intent
from tests.support.waiting import wait_until

pytestmark = pytest.mark.e2e

APPLY = "/sapi/v1/capital/withdraw/apply"
HISTORY = "/sapi/v1/capital/withdraw/history"
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

@dataclass(frozen=True)
class AlertMail:
    kind: str
    severity: str
    count: int
    intent_ids: tuple[str, ...]
    mail: ReceivedMail

    @property
    def subject(self) -> str:
        return self.mail.subject

    @property
    def body(self) -> str:
        return self.mail.body


INTENT_ID_LINE = re.compile(r"^\s*Intent id:\s+(\S+)\s*$", re.MULTILINE)


def alert_mail(mail: ReceivedMail) -> AlertMail:
    header = mail.header("X-Treasury-Alert") or ""
    fields = dict(part.strip().split("=", 1) for part in header.split(";") if "=" in part)
    return AlertMail(fields.get("kind", ""), fields.get("severity", ""), int(fields.get("count", "0")),
                     tuple(INTENT_ID_LINE.findall(mail.body)), mail)


def alert_mails(sink: SmtpSink, kind: str, intent_id: str | None = None) -> list[AlertMail]:
    found = [alert_mail(m) for m in sink.mails]
    return [a for a in found if a.kind == kind and (intent_id is None or intent_id in a.intent_ids)]


def wait_alert(sink: SmtpSink, kind: str, intent_id: str | None = None, timeout: float = 15.0) -> AlertMail:
    """The one mail of this kind (about this intent) once it arrived; fails on a second."""
    wait_until(lambda: alert_mails(sink, kind, intent_id), timeout=timeout,
               what=f"a {kind} mail about {intent_id} (have: {[alert_mail(m).kind for m in sink.mails]})")
    found = alert_mails(sink, kind, intent_id)
    assert len(found) == 1, [a.subject for a in found]
    return found[0]


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

