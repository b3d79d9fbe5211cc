"""The treasury's alert mails end to end: a real `treasury-bot run`, the real sandbox and a
real SMTP server (aiosmtpd, tests/support/smtp.py), as issue 5 lists them.

Each mail is checked as the operator gets it: the subject says how bad and what happened,
the body names the intent, its status and the reason, the headers carry Date and
Message-ID, one mail goes to every recipient at once, and neither the treasury's API
secret nor its full API key appears anywhere in it.

Digests: a non-CRITICAL alert is mailed at once only when no mail of its kind went out in
the 60 s before (DESIGN section 6); later ones of that kind fold into a digest sent when
the window closes. So each test raises at most one non-CRITICAL alert of each kind that
it waits for, and CRITICAL ones freely.
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
import statistics
import time
from email.utils import parsedate_to_datetime
from typing import Iterator

import pytest

from tests.support.alert_mails import AlertMail, alert_mail, alert_mails, wait_alert
from tests.support.sandbox import DEMO_TREASURY, sandbox_process
from tests.support.smtp import SmtpSink
from tests.support.treasury_proc import E2E_POLICY, TreasuryProcess, e2e_policy, new_intent
from tests.support.waiting import wait_until

pytestmark = pytest.mark.e2e

APPLY = "/sapi/v1/capital/withdraw/apply"
RECIPIENTS = ("ops@example.test", "cfo@example.test")   # TreasuryProcess's ALERT_EMAIL_TO
MASKED_KEY = f"{DEMO_TREASURY.api_key[:4]}...{DEMO_TREASURY.api_key[-4:]}"
SECRETS = (DEMO_TREASURY.api_secret, DEMO_TREASURY.api_key)


# -- fixtures and helpers ---------------------------------------------------------------------

@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    running = SmtpSink().start()
    yield running
    running.stop()


@pytest.fixture
def treasury(tmp_path, sandbox, sink) -> Iterator[TreasuryProcess]:
    process = TreasuryProcess(tmp_path, sandbox, smtp=(sink.host, sink.port)).start()
    yield process
    process.terminate()


def fact(mail: AlertMail, label: str) -> str:
    """The value of one `Label:   value` line of the body's facts."""
    match = re.search(rf"^\s*{re.escape(label)}:\s+(.*?)\s*$", mail.body, re.MULTILINE)
    assert match, f"no {label!r} in:\n{mail.body}"
    return match.group(1)


def assert_well_formed(mail: AlertMail, started_at: float) -> None:
    """Headers, recipients and secrets, as every alert mail must have them."""
    raw = mail.mail.raw.decode("utf-8", "replace")
    for secret in SECRETS:
        assert secret not in raw, f"a secret in {mail.subject!r}"
    assert mail.mail.rcpt_tos == RECIPIENTS                       # one mail, every recipient
    assert [a.strip() for a in mail.mail.header("To").split(",")] == list(RECIPIENTS)
    assert mail.mail.mail_from == "treasury@example.test"
    date = parsedate_to_datetime(mail.mail.header("Date")).timestamp()
    assert started_at - 5 <= date <= time.time() + 5, mail.mail.header("Date")
    assert re.fullmatch(r"<[^<>@\s]+@example\.test>", mail.mail.header("Message-ID") or "")
    assert mail.subject.startswith(f"[treasury][{mail.severity}] ")
    assert mail.count == 1


def delivery(treasury: TreasuryProcess) -> list[tuple[str, str | None, str]]:
    """(kind, intent_id, state) of every alert in the ledger's outbox."""
    return treasury.query("SELECT kind, intent_id, state FROM alert_delivery ORDER BY seq")


def send(treasury: TreasuryProcess, intent_id: str, **over):
    with treasury.client() as client:
        return client.send_intent(new_intent(intent_id, **over))


# -- the mails of intents and withdrawals -----------------------------------------------------

def test_each_intent_and_withdrawal_event_arrives_as_one_readable_mail(treasury, sandbox, sink):
    """submitted, completed, failed (5), rejected (3), a rejected intent and an approval:
    each one mail with its subject, intent id, status, reason and headers; no secret."""
    started = time.time()
    start = wait_alert(sink, "start_summary")
    assert start.subject == f"[treasury][INFO] treasury started: 4 destinations, 0 open withdrawals, key {MASKED_KEY}"
    assert fact(start, "API key (masked)") == MASKED_KEY

    assert send(treasury, "mail-ok").outcome == "accepted"
    submitted = wait_alert(sink, "withdrawal_submitted", "mail-ok")
    completed = wait_alert(sink, "withdrawal_completed", "mail-ok")
    withdrawal = next(w for w in sandbox.withdrawals() if w["withdrawOrderId"] == "mail-ok")
    assert submitted.subject == (f"[treasury][INFO] withdrawal submitted: 25 USDT to cold-wallet "
                                 f"(exchange id {withdrawal['id']})")
    assert (fact(submitted, "Status"), fact(submitted, "Exchange withdrawal id")) == ("submitted", withdrawal["id"])
    tx = withdrawal["txId"]
    assert completed.subject == (f"[treasury][INFO] withdrawal completed: 25 USDT to cold-wallet "
                                 f"(tx {tx[:6]}...{tx[-4:]})")
    assert (fact(completed, "Status"), fact(completed, "Transaction id")) == ("completed", tx)
    assert fact(completed, "Address") == "TSandb...1111"  # shortened, never the whole address

    # Now one of each other kind: CRITICAL ones are never folded, the others are firsts.
    assert send(treasury, "mail-fail", destination="failing-wallet").outcome == "accepted"
    assert send(treasury, "mail-rej", destination="rejecting-wallet").outcome == "accepted"
    denied = send(treasury, "mail-denied", destination="nowhere")
    assert (denied.outcome, denied.reason_code) == ("rejected", "unknown_destination")
    waiting = send(treasury, "mail-approve", amount="950")
    assert waiting.outcome == "pending_approval"

    failed = wait_alert(sink, "withdrawal_failed", "mail-fail")
    assert failed.subject.startswith("[treasury][CRITICAL] withdrawal failed: 25 USDT to failing-wallet "
                                     "(The sandbox is configured to fail"), failed.subject
    assert fact(failed, "Status") == "failed"
    assert "configured to fail" in fact(failed, "Detail")  # the exchange's own reason
    rejected = wait_alert(sink, "withdrawal_rejected", "mail-rej")
    assert rejected.subject == "[treasury][CRITICAL] withdrawal rejected by the exchange: 25 USDT to rejecting-wallet"
    assert fact(rejected, "Status") == "rejected"
    assert "configured to reject" in fact(rejected, "Detail")
    intent_rejected = wait_alert(sink, "intent_rejected", "mail-denied")
    assert intent_rejected.subject == ("[treasury][WARNING] intent rejected: 25 USDT to nowhere "
                                       "(unknown_destination)")
    assert (fact(intent_rejected, "Status"), fact(intent_rejected, "Reason code")) == ("denied", "unknown_destination")
    approval = wait_alert(sink, "approval_needed", "mail-approve")
    assert approval.subject == "[treasury][WARNING] approval needed: 950 USDT to cold-wallet (above 900 USDT)"
    assert "treasuryctl approve mail-approve" in approval.body
    assert "treasuryctl reject mail-approve" in approval.body

    mails = [start, submitted, completed, failed, rejected, intent_rejected, approval]
    for mail in mails:
        assert_well_formed(mail, started)
        if mail.kind != "start_summary":
            assert fact(mail, "Client") == "signal"
    message_ids = [m.mail.header("Message-ID") for m in map(alert_mail, sink.mails)]
    assert len(message_ids) == len(set(message_ids))
    assert not any(secret in treasury.log() for secret in SECRETS)


def test_needs_review_is_mailed_critical_at_once(treasury, sandbox, sink):
    """Three apply calls in a row with no known outcome, each proven absent afterwards:
    the treasury stops retrying, marks the intent needs_review and mails it CRITICAL with
    the exact `treasuryctl resolve` commands. (~22 s: three grace periods of recvWindow
    + 2 s; the deadline path, reconcile_deadline_minutes >= 1, would cost a minute.)"""
    sandbox.add_fault(APPLY, "5xx_before", count=3)
    assert send(treasury, "mail-review").outcome == "accepted"
    mail = wait_alert(sink, "needs_review", "mail-review", timeout=40)
    assert treasury.status_of("mail-review") == "needs_review"
    assert mail.subject == ("[treasury][CRITICAL] needs review: 25 USDT to cold-wallet "
                            "(outcome unknown, status needs_review)")
    assert fact(mail, "Status") == "needs_review"
    assert fact(mail, "Detail") == "3 attempts with unknown outcome"
    assert 'treasuryctl resolve mail-review --as completed --note "..."' in mail.body
    assert 'treasuryctl resolve mail-review --as failed --note "..."' in mail.body
    assert_well_formed(mail, time.time() - 60)
    assert not [w for w in sandbox.withdrawals() if w["withdrawOrderId"] == "mail-review"]
    with treasury.client() as client:
        assert client.status("mail-review").status == "needs_review"


def test_a_withdrawal_open_past_stuck_after_minutes_is_mailed_once(tmp_path, sink):
    """A withdrawal still processing after stuck_after_minutes (60): one WARNING mail.
    The treasury takes time from its own clock and the ledger; an hour cannot pass in a
    test, so the ledger is aged while the treasury is stopped (as if it had been down)."""
    with sandbox_process(tmp_path, complete_after_seconds=3600) as sandbox:
        treasury = TreasuryProcess(tmp_path, sandbox, smtp=(sink.host, sink.port)).start()
        try:
            assert send(treasury, "mail-stuck").outcome == "accepted"
            treasury.wait_status("mail-stuck", "processing")
            assert treasury.terminate() == 0
            aged = _age_submission(treasury, "mail-stuck", minutes=61)
            treasury.start()
            mail = wait_alert(sink, "withdrawal_stuck", "mail-stuck")
            assert mail.subject == ("[treasury][WARNING] withdrawal stuck: 25 USDT to cold-wallet "
                                    "(processing for over 60 min)")
            assert fact(mail, "Status") == "processing"
            assert fact(mail, "Submitted at").startswith(time.strftime("%Y-%m-%dT%H:%M", time.gmtime(aged / 1000)))
            assert "treasuryctl show mail-stuck" in mail.body
            assert_well_formed(mail, time.time() - 60)
            # Alerted once: flagged in the ledger, polled on, never mailed again.
            mailed_at = int(time.time() * 1000)
            wait_until(lambda: treasury.query(
                "SELECT w.stuck_alerted, w.last_polled_at > ? FROM withdrawals w JOIN intents i"
                " ON i.seq = w.intent_seq WHERE i.intent_id = 'mail-stuck'", (mailed_at + 1000,))
                == [(1, 1)], what="poll rounds after the stuck alert")
            assert len(alert_mails(sink, "withdrawal_stuck")) == 1
            assert treasury.status_of("mail-stuck") == "processing"
        finally:
            treasury.terminate()


def _age_submission(treasury: TreasuryProcess, intent_id: str, minutes: int) -> int:
    conn = sqlite3.connect(str(treasury.ledger_path))
    try:
        with conn:
            conn.execute("UPDATE withdrawals SET submitted_at = submitted_at - ? WHERE intent_seq ="
                         " (SELECT seq FROM intents WHERE intent_id = ?)", (minutes * 60_000, intent_id))
        return conn.execute("SELECT w.submitted_at FROM withdrawals w JOIN intents i ON i.seq = w.intent_seq"
                            " WHERE i.intent_id = ?", (intent_id,)).fetchone()[0]
    finally:
        conn.close()


# -- start-up: key self-audit, policy change --------------------------------------------------

def test_a_key_that_can_trade_stops_the_start_with_exit_3_and_a_critical_mail(tmp_path, sandbox, sink):
    """The sandbox says the treasury key can trade: `treasury-bot run` exits 3, and the
    CRITICAL key_audit_failed mail arrives with the key masked."""
    sandbox.set_key("treasury", can_trade=True)
    started = time.time()
    treasury = TreasuryProcess(tmp_path, sandbox, smtp=(sink.host, sink.port)).start(wait_ready=False)
    wait_until(lambda: not treasury.proc.alive(), timeout=20, what="the treasury to refuse to start")
    assert treasury.proc.popen.returncode == 3, treasury.log()[-2000:]
    mail = wait_alert(sink, "key_audit_failed")
    assert mail.subject.startswith("[treasury][CRITICAL] key self-audit failed: the key can trade"), mail.subject
    assert mail.subject.endswith(f"(key {MASKED_KEY})")
    assert fact(mail, "API key (masked)") == MASKED_KEY
    assert "enableSpotAndMarginTrading" in fact(mail, "Problem")
    assert "treasuryctl check" in mail.body
    assert_well_formed(mail, started)
    assert not alert_mails(sink, "start_summary")  # it never said it started
    assert not any(secret in treasury.log() for secret in SECRETS)


def test_a_policy_file_edited_between_starts_is_mailed_critical(tmp_path, sandbox, sink):
    """Restart with an edited policy file: a CRITICAL policy_changed mail naming both hashes."""
    treasury = TreasuryProcess(tmp_path, sandbox, smtp=(sink.host, sink.port)).start()
    try:
        wait_alert(sink, "start_summary")
        assert treasury.terminate() == 0
        old = hashlib.sha256(treasury.policy_path.read_bytes()).hexdigest()
        edited = e2e_policy(max_transfers_per_hour=999)
        assert edited != E2E_POLICY
        treasury.policy_path.write_text(edited, encoding="utf-8")
        new = hashlib.sha256(treasury.policy_path.read_bytes()).hexdigest()
        started = time.time()
        treasury.start()
        mail = wait_alert(sink, "policy_changed")
        assert mail.subject == f"[treasury][CRITICAL] policy file changed: sha256 {old[:12]} -> {new[:12]}"
        assert (fact(mail, "Previous sha256"), fact(mail, "New sha256")) == (old, new)
        assert fact(mail, "Policy file").endswith("treasury.toml")
        assert_well_formed(mail, started)
        # A restart without an edit is not a change.
        assert treasury.terminate() == 0
        treasury.start()
        wait_until(lambda: len([r for r in delivery(treasury) if r[0] == "start_summary"]) == 3,
                   what="the third start journaled")
        assert len(alert_mails(sink, "policy_changed")) == 1
        assert [r[0] for r in delivery(treasury)].count("policy_changed") == 1
    finally:
        treasury.terminate()


# -- the mail server down, the treasury killed ------------------------------------------------

def test_alerts_raised_while_the_mail_server_is_down_each_arrive_once_after_it_returns(
        tmp_path, sandbox):
    """SMTP down from the start: the treasury decides and withdraws as usual, the alerts
    wait in the outbox; once the server is back each arrives exactly once."""
    sink = SmtpSink()  # chosen port, not listening yet
    treasury = TreasuryProcess(tmp_path, sandbox, smtp=(sink.host, sink.port)).start()
    try:
        assert send(treasury, "down-fail", destination="failing-wallet").outcome == "accepted"
        assert send(treasury, "down-denied", destination="nowhere").outcome == "rejected"
        assert send(treasury, "down-approve", amount="950").outcome == "pending_approval"
        treasury.wait_status("down-fail", "failed")
        expected = {("start_summary", None), ("intent_rejected", "down-denied"),
                    ("approval_needed", "down-approve"), ("withdrawal_submitted", "down-fail"),
                    ("withdrawal_failed", "down-fail")}
        wait_until(lambda: {(k, i) for k, i, _ in delivery(treasury)} == expected,
                   what="every alert in the outbox")
        wait_until(lambda: "alert_smtp_unreachable" in treasury.log(), what="a failed SMTP attempt")
        assert {state for _, _, state in delivery(treasury)} == {"unsent"}
        sink.start()
        wait_until(lambda: {state for _, _, state in delivery(treasury)} == {"sent"}, timeout=40,
                   what=f"every alert sent (now {delivery(treasury)})")
        assert treasury.query("SELECT count(*) FROM alert_mails WHERE state = 'sending'") == [(0,)]
        received = sorted((a.kind, a.intent_ids[0] if a.intent_ids else None)
                          for a in map(alert_mail, sink.mails))
        assert received == sorted(expected, key=lambda item: (item[0], item[1] or ""))  # once each
        for mail in map(alert_mail, sink.mails):
            assert_well_formed(mail, time.time() - 120)
    finally:
        treasury.terminate()
        sink.stop()


def test_an_alert_committed_before_a_sigkill_arrives_once_after_the_restart(tmp_path, sandbox):
    """Sink down, a withdrawal fails (status change and alert in one commit), kill -9
    before any send, sink up, restart: the failure mail arrives exactly once."""
    sink = SmtpSink()
    treasury = TreasuryProcess(tmp_path, sandbox, smtp=(sink.host, sink.port)).start()
    try:
        assert send(treasury, "kill-fail", destination="failing-wallet").outcome == "accepted"
        treasury.wait_status("kill-fail", "failed")
        assert ("withdrawal_failed", "kill-fail", "unsent") in delivery(treasury)
        treasury.kill9()
        sink.start()
        treasury.start()
        failed = wait_alert(sink, "withdrawal_failed", "kill-fail", timeout=20)
        submitted = wait_alert(sink, "withdrawal_submitted", "kill-fail")
        wait_until(lambda: all(state == "sent" for kind, _, state in delivery(treasury)
                               if kind in ("withdrawal_failed", "withdrawal_submitted")),
                   what="both marked sent")
        assert treasury.query("SELECT count(*) FROM alert_mails WHERE state = 'sending'") == [(0,)]
        assert len(alert_mails(sink, "withdrawal_failed")) == len(alert_mails(sink, "withdrawal_submitted")) == 1
        assert failed.severity == "CRITICAL" and fact(failed, "Status") == "failed"
        assert [w["withdrawOrderId"] for w in sandbox.withdrawals()] == ["kill-fail"]
        for mail in (failed, submitted):
            assert_well_formed(mail, time.time() - 120)
    finally:
        treasury.terminate()
        sink.stop()


def test_decision_round_trip_while_the_mail_server_is_down_is_measured(tmp_path, sandbox, capsys):
    """Measures (no timing assertion) the decision round trip with the mail server up and
    down, 200 decisions each, every one raising an alert; prints the figures. Every decision
    is a rejection, so the client_rejections breaker (issue 13) is put out of reach."""
    sink = SmtpSink().start()
    treasury = TreasuryProcess(tmp_path, sandbox, smtp=(sink.host, sink.port),
                               policy_text=e2e_policy(client_rejections=1_000_000)).start()
    try:
        wait_alert(sink, "start_summary")
        figures = {}
        with treasury.client() as client:
            for phase in ("smtp_up", "smtp_down"):
                if phase == "smtp_down":
                    sink.stop()
                times = []
                for n in range(200):
                    started = time.perf_counter()
                    decision = client.send_intent(new_intent(f"rtt-{phase}-{n}", destination="nowhere"))
                    times.append((time.perf_counter() - started) * 1000)
                    assert decision.reason_code == "unknown_destination"
                times.sort()
                figures[phase] = (statistics.median(times), times[int(len(times) * 0.99) - 1], times[-1])
        rows = delivery(treasury)
        assert len([r for r in rows if r[0] == "intent_rejected"]) == 400  # each decision alerted
        with capsys.disabled():
            for phase, (p50, p99, worst) in figures.items():
                print(f"\ndecision round trip, {phase}: p50 {p50:.2f} ms, p99 {p99:.2f} ms, max {worst:.2f} ms")
    finally:
        treasury.terminate()
        sink.stop()
