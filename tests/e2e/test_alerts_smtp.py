"""Alerts through a real SMTP server (aiosmtpd on loopback) from a real SQLite outbox.

The ledger is a real ledger file (`Ledger`), its alerts raised the way the treasury
raises them (one transaction, `ledger.enqueue`). Windows and backoffs are short so
the tests are fast; every wait is on a condition.
"""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import sys
import threading
import time
from contextlib import contextmanager
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Iterator

import pytest

from common.config import SmtpSettings
from common.logs import register_secret
from tests.support.alert_samples import FAKE_API_KEY, every_kind, transfer
from tests.support.procs import Proc
from tests.support.smtp import ReceivedMail, SmtpSink
from tests.support.waiting import wait_until
from treasury_bot.alerts import events, model, render, sender, transport
from treasury_bot.ledger import Ledger, OutboxCounts

pytestmark = pytest.mark.e2e

SENDER = "treasury@example.com"
RECIPIENTS = ("ops@example.com", "oncall@example.org")
FAKE_SMTP_PASSWORD = "test-secret-not-real-0001"
REPO = Path(__file__).resolve().parents[2]


# -- helpers ---------------------------------------------------------------------------------

def smtp_settings(sink: SmtpSink, *, security: str = "none", username: str | None = None,
                  password: str | None = None) -> SmtpSettings:
    return SmtpSettings(sink.host, sink.port, security, username, password, SENDER, RECIPIENTS)


@pytest.fixture
def ledger(tmp_path: Path) -> Path:
    path = tmp_path / "ledger.sqlite"
    Ledger(path).close()
    return path


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    server = SmtpSink().start()
    yield server
    server.stop()


def enqueue(path: Path, *alerts: model.Alert) -> list[int]:
    """One ledger transaction that raises these alerts."""
    ledger = Ledger(path)
    try:
        with ledger.transaction():
            return [ledger.enqueue(alert) for alert in alerts]
    finally:
        ledger.close()


def query(path: Path, sql: str, *args) -> list[tuple]:
    conn = sqlite3.connect(str(path), timeout=10)
    try:
        return conn.execute(sql, args).fetchall()
    finally:
        conn.close()


def all_sent(path: Path) -> bool:
    ledger = Ledger(path)
    try:
        return ledger.outbox.listing(limit=1) != [] and ledger.outbox.counts() == OutboxCounts(0, 0)
    finally:
        ledger.close()


@contextmanager
def running(path: Path, smtp: SmtpSettings | None, **kwargs) -> Iterator[sender.AlertSender]:
    options = dict(window_s=0.5, poll_s=0.05, backoff_start_s=0.05, backoff_max_s=0.4)
    options.update(kwargs)
    alert_sender = sender.AlertSender(path, smtp, **options)
    alert_sender.start()
    try:
        yield alert_sender
    finally:
        assert alert_sender.stop(timeout=15), "the sender thread did not stop"


def count_of(mail: ReceivedMail) -> int:
    match = re.search(r"count=(\d+)", mail.header("X-Treasury-Alert") or "")
    assert match, mail.subject
    return int(match.group(1))


def kind_of(mail: ReceivedMail) -> str:
    match = re.search(r"kind=(\w+)", mail.header("X-Treasury-Alert") or "")
    assert match, mail.subject
    return match.group(1)


def assert_each_alert_mailed_exactly_once(path: Path, sink: SmtpSink) -> None:
    """Every alert is in one mail (ledger), every mail arrived once (Message-IDs), and the
    counts the mails announce add up to the alerts in the outbox."""
    mails = sink.mails
    ids = [m.header("Message-ID") for m in mails]
    assert len(ids) == len(set(ids)), "a mail arrived twice"
    rows = query(path, "SELECT m.message_id, m.alert_count, COUNT(o.seq) FROM alert_mails m"
                       " JOIN alert_outbox o ON o.mail_id = m.mail_id WHERE m.state = 'sent'"
                       " GROUP BY m.mail_id")
    assert sorted(ids) == sorted(r[0] for r in rows)
    assert all(r[1] == r[2] for r in rows)
    by_id = {m.header("Message-ID"): m for m in mails}
    assert all(count_of(by_id[r[0]]) == r[1] for r in rows)
    total = query(path, "SELECT COUNT(*), COUNT(sent_at_ms) FROM alert_delivery")[0]
    assert total[0] == total[1] == sum(count_of(m) for m in mails)


# -- content of each kind --------------------------------------------------------------------

def test_each_kind_arrives_as_its_own_readable_mail_with_every_header(ledger, sink):
    """Submitted, completed, failed, rejected, approval, needs_review, stuck, key audit,
    policy change (and the rest): subject, body, From/To/Date/Message-ID, no secret."""
    register_secret(FAKE_API_KEY)
    alerts = every_kind()
    enqueue(ledger, *alerts.values())
    with running(ledger, smtp_settings(sink)):
        mails = sink.wait_for(len(alerts))
        wait_until(lambda: all_sent(ledger), what="outbox marked sent")
    assert len(mails) == len(alerts)
    by_kind = {kind_of(m): m for m in mails}
    assert set(by_kind) == set(alerts)
    db_mails = {row[0]: row[1:] for row in query(
        ledger, "SELECT message_id, created_at_ms, subject, recipients FROM alert_mails")}
    for kind, alert in alerts.items():
        mail = by_kind[kind]
        assert mail.subject == render.subject([alert])
        assert mail.subject.startswith(f"[treasury][{alert.severity}] ")
        assert mail.mail_from == SENDER and mail.rcpt_tos == RECIPIENTS
        assert [a.addr_spec for a in mail.message["To"].addresses] == list(RECIPIENTS)
        created_at_ms, subject, recipients = db_mails[mail.header("Message-ID")]
        assert subject == mail.subject and recipients == ",".join(RECIPIENTS)
        assert parsedate_to_datetime(mail.header("Date")).timestamp() == created_at_ms // 1000
        assert mail.header("Message-ID").endswith("@example.com>")
        body = mail.body
        if alert.intent_id:
            assert alert.intent_id in body
        if "status" in alert.facts:
            assert re.search(rf"Status:\s+{alert.facts['status']}\n", body)
        assert "treasuryctl " in body
        assert FAKE_API_KEY.encode() not in mail.raw
    assert by_kind[model.WITHDRAWAL_FAILED].subject == (
        "[treasury][CRITICAL] withdrawal failed: 250 USDT to cold-wallet (-4026 insufficient balance)")
    assert "treasuryctl approve approval_needed" in by_kind[model.APPROVAL_NEEDED].body
    assert 'treasuryctl resolve needs_review --as failed --note "..."' in by_kind[model.NEEDS_REVIEW].body
    assert re.search(r"Status:\s+processing", by_kind[model.WITHDRAWAL_STUCK].body)
    assert "over_window_limit" in by_kind[model.INTENT_REJECTED].subject
    assert_each_alert_mailed_exactly_once(ledger, sink)


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")  # loopback only
def test_login_on_a_plain_connection_and_a_wrong_password_loses_nothing(ledger):
    """AUTH with SMTP_SECURITY=none (loopback); a refused login sends and marks nothing,
    and the password appears nowhere."""
    register_secret(FAKE_SMTP_PASSWORD)
    with SmtpSink(credentials={"alerts": FAKE_SMTP_PASSWORD}) as sink:
        wrong = smtp_settings(sink, username="alerts", password="test-wrong-not-real-9")
        accepted, detail = transport.send_test_mail(wrong)
        assert not accepted and "SMTPAuthenticationError" in detail
        enqueue(ledger, every_kind()[model.NEEDS_REVIEW])
        refused = sender.AlertSender(ledger, wrong)
        assert refused.drain_once().unreachable
        refused.stop()
        assert sink.mails == [] and not all_sent(ledger)
        assert query(ledger, "SELECT COUNT(*) FROM alert_mails") == [(0,)]

        right = smtp_settings(sink, username="alerts", password=FAKE_SMTP_PASSWORD)
        with running(ledger, right):
            [mail] = sink.wait_for(1)
            wait_until(lambda: all_sent(ledger), what="outbox marked sent")
        assert mail.login == "alerts"
        assert mail.subject.startswith("[treasury][CRITICAL] needs review:")
        assert FAKE_SMTP_PASSWORD.encode() not in mail.raw


def test_starttls_never_falls_back_to_plain_text(ledger, sink):
    """SMTP_SECURITY=starttls against a server without STARTTLS: refused, nothing sent."""
    enqueue(ledger, every_kind()[model.NEEDS_REVIEW])
    strict = sender.AlertSender(ledger, smtp_settings(sink, security="starttls"))
    result = strict.drain_once()
    strict.stop()
    assert result.unreachable and "STARTTLS" in strict.stats.last_error
    assert sink.mails == [] and not all_sent(ledger)


def test_implicit_tls_against_a_plain_server_fails_cleanly_and_sends_nothing(ledger, sink):
    """SMTP_SECURITY=ssl speaks TLS from the first byte; a plain server is an error."""
    enqueue(ledger, every_kind()[model.NEEDS_REVIEW])
    tls = sender.AlertSender(ledger, smtp_settings(sink, security="ssl"), smtp_timeout_s=3)
    result = tls.drain_once()
    tls.stop()
    assert result.unreachable and ("SSL" in tls.stats.last_error or "TLS" in tls.stats.last_error)
    assert sink.mails == [] and not all_sent(ledger)


def test_send_test_mail_goes_through_the_real_server_and_not_the_outbox(ledger, sink):
    """`treasuryctl alerts test`: accepted, said so, and the mail is there."""
    accepted, detail = transport.send_test_mail(smtp_settings(sink))
    assert accepted
    assert detail.startswith(f"accepted by 127.0.0.1:{sink.port} (none) for ops@example.com, oncall@example.org")
    [mail] = sink.wait_for(1)
    assert mail.subject == "[treasury][INFO] test mail from the treasury"
    assert mail.header("Message-ID") in detail
    assert query(ledger, "SELECT COUNT(*) FROM alert_outbox") == [(0,)]


# -- outages and crashes ---------------------------------------------------------------------

def test_server_down_then_back_on_the_same_port_delivers_every_alert_exactly_once(ledger):
    """Alerts raised while the server is down wait; when it returns they all arrive, once."""
    sink = SmtpSink()  # its port is fixed, the server not started yet
    kinds = every_kind()
    with running(ledger, smtp_settings(sink)) as alert_sender:
        enqueue(ledger, kinds[model.NEEDS_REVIEW], kinds[model.WITHDRAWAL_SUBMITTED])
        enqueue(ledger, *[events.intent_rejected(transfer(f"down-{i}", "20"), at_ms=kinds[model.TEST].created_at_ms,
                                                 reason_code="over_window_limit") for i in range(12)])
        enqueue(ledger, kinds[model.POLICY_CHANGED], kinds[model.WITHDRAWAL_COMPLETED])
        wait_until(lambda: alert_sender.stats.unreachable_passes >= 3, what="failed attempts while down")
        assert query(ledger, "SELECT COUNT(*) FROM alert_mails") == [(0,)]
        sink.start()
        try:
            wait_until(lambda: all_sent(ledger), timeout=15, what="every alert sent after the server's return")
            passes = alert_sender.stats.passes
            wait_until(lambda: alert_sender.stats.passes >= passes + 5, what="more passes")
            assert_each_alert_mailed_exactly_once(ledger, sink)
            sink.stop()
            sink.start()  # a restart with nothing pending sends nothing again
            passes = alert_sender.stats.passes
            wait_until(lambda: alert_sender.stats.passes >= passes + 5, what="passes after a restart")
            assert_each_alert_mailed_exactly_once(ledger, sink)
            assert sum(count_of(m) for m in sink.mails) == 16
        finally:
            sink.stop()


def test_a_flood_of_1000_rejections_is_a_handful_of_digests_and_each_critical_arrives_alone(ledger, sink):
    """1,000 rejected intents and five CRITICAL alerts in one burst: the rejections come as
    at most a few mails whose counts add up to 1,000; each CRITICAL alert in its own mail."""
    kinds = every_kind()
    criticals = [events.needs_review(transfer(f"review-{i}"), at_ms=int(time.time() * 1000),
                                     detail="unknown outcome") for i in range(3)]
    criticals += [kinds[model.EXCHANGE_AUTH_ERROR], kinds[model.KEY_AUDIT_FAILED]]
    with running(ledger, smtp_settings(sink)):
        for batch in range(20):
            now = int(time.time() * 1000)  # the sender's clock is the real one here
            rejected = [events.intent_rejected(transfer(f"flood-{batch * 50 + i:04d}", "20"), at_ms=now,
                                               reason_code="over_window_limit") for i in range(50)]
            extra = [criticals[batch // 4]] if batch % 4 == 0 else []
            enqueue(ledger, *rejected[:25], *extra, *rejected[25:])
        wait_until(lambda: all_sent(ledger), timeout=20, what="the flood drained")
    mails = sink.mails
    flood = [m for m in mails if kind_of(m) == model.INTENT_REJECTED]
    alone = [m for m in mails if kind_of(m) != model.INTENT_REJECTED]
    assert 1 <= len(flood) <= 5, [m.subject for m in flood]
    assert sum(count_of(m) for m in flood) == 1000
    for mail in flood:
        n = count_of(mail)
        if n > 1:
            assert mail.subject.startswith(f"[treasury][WARNING] {n} rejected intents")
            assert "  and " in mail.body or n <= 50
    assert len(alone) == 5 and all(count_of(m) == 1 for m in alone)
    assert all(m.subject.startswith("[treasury][CRITICAL] ") for m in alone)
    assert {kind_of(m) for m in alone} == {model.NEEDS_REVIEW, model.EXCHANGE_AUTH_ERROR, model.KEY_AUDIT_FAILED}
    assert_each_alert_mailed_exactly_once(ledger, sink)


CHILD_SENDER = """
import sys, time
from common.config import SmtpSettings
from treasury_bot.alerts import sender
from treasury_bot.ledger import Ledger
path, port, enqueue_first = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1"
if enqueue_first:
    from tests.support.alert_samples import every_kind
    ledger = Ledger(path)
    with ledger.transaction():
        ledger.enqueue(every_kind()["needs_review"])
    ledger.close()
smtp = SmtpSettings("127.0.0.1", port, "none", None, None, "treasury@example.com",
                    ("ops@example.com", "oncall@example.org"))
s = sender.AlertSender(path, smtp, window_s=0.5, poll_s=0.05, backoff_start_s=0.05, backoff_max_s=0.2)
s.start()
print("child sender running", flush=True)
while True:
    time.sleep(1)
"""


def child_sender(tmp_path: Path, ledger: Path, port: int, enqueue_first: bool) -> Proc:
    proc = Proc("child-sender", [sys.executable, "-c", CHILD_SENDER, str(ledger), str(port),
                                 "1" if enqueue_first else "0"], tmp_path / "child.log", cwd=REPO)
    return proc.start()


def test_a_crash_after_the_server_accepted_resends_the_same_mail_once_more(tmp_path, ledger):
    """SIGKILL between the server's acceptance and the 'sent' mark: at the next start the
    mail is still 'sending' and goes again with the same Message-ID and Date (the one
    at-least-once point), after which it is sent and never again."""
    victim: dict[str, Proc] = {}

    def kill_the_sender_mid_send(mail: ReceivedMail) -> None:
        if "child" in victim:
            os.kill(victim.pop("child").pid, signal.SIGKILL)  # before it can read our 250

    with SmtpSink(on_data=kill_the_sender_mid_send) as sink:
        proc = child_sender(tmp_path, ledger, sink.port, enqueue_first=False)
        victim["child"] = proc
        proc.wait_for_log("child sender running")
        enqueue(ledger, every_kind()[model.NEEDS_REVIEW])
        wait_until(lambda: not proc.alive(), what="the child sender killed mid-send")
        [first] = sink.wait_for(1)
        assert query(ledger, "SELECT state FROM alert_mails") == [("sending",)]
        assert not all_sent(ledger)

        with running(ledger, smtp_settings(sink)):
            wait_until(lambda: all_sent(ledger), what="the pending mail re-sent")
        again = sink.mails[1:]
        assert len(again) == 1
        assert again[0].header("Message-ID") == first.header("Message-ID")
        assert again[0].header("Date") == first.header("Date")
        assert again[0].body == first.body
        with running(ledger, smtp_settings(sink)) as later:
            wait_until(lambda: later.stats.passes >= 5, what="a few passes of a new sender")
        assert len(sink.mails) == 2


def test_an_alert_committed_before_a_crash_arrives_exactly_once_after_restart(tmp_path, ledger):
    """SIGKILL after the change and its alert were committed, before any send (the server
    was down): the next sender delivers it, once."""
    sink = SmtpSink()
    proc = child_sender(tmp_path, ledger, sink.port, enqueue_first=True)
    proc.wait_for_log("child sender running")
    wait_until(lambda: query(ledger, "SELECT COUNT(*) FROM alert_outbox") == [(1,)], what="alert committed")
    os.kill(proc.pid, signal.SIGKILL)
    wait_until(lambda: not proc.alive(), what="child killed")
    with sink:
        with running(ledger, smtp_settings(sink)) as alert_sender:
            wait_until(lambda: all_sent(ledger), what="alert sent after the crash")
            passes = alert_sender.stats.passes
            wait_until(lambda: alert_sender.stats.passes >= passes + 5, what="more passes")
        [mail] = sink.mails
        assert mail.subject.startswith("[treasury][CRITICAL] needs review:")
        assert_each_alert_mailed_exactly_once(ledger, sink)


# -- refusals and the ledger lock ------------------------------------------------------------

def test_a_mail_the_server_refuses_is_retried_without_holding_up_the_others(ledger):
    """A 554 for one mail leaves it 'sending' (error kept); the others go; later it goes too."""
    refusing = threading.Event()
    refusing.set()

    def refuse_policy_mail(mail: ReceivedMail) -> str | None:
        if refusing.is_set() and "policy file changed" in mail.subject:
            return "554 5.6.0 message refused for the test"
        return None

    kinds = every_kind()
    with SmtpSink(on_data=refuse_policy_mail) as sink, running(ledger, smtp_settings(sink)) as alert_sender:
        enqueue(ledger, kinds[model.POLICY_CHANGED], kinds[model.NEEDS_REVIEW], kinds[model.WITHDRAWAL_COMPLETED])
        sink.wait_for(2)
        wait_until(lambda: alert_sender.stats.mails_refused >= 2, what="the policy mail refused twice")
        [(attempts, error)] = query(ledger, "SELECT attempts, last_error FROM alert_mails WHERE state = 'sending'")
        assert attempts >= 2 and "554" in error
        assert {kind_of(m) for m in sink.mails} == {model.NEEDS_REVIEW, model.WITHDRAWAL_COMPLETED}
        refusing.clear()
        wait_until(lambda: all_sent(ledger), what="the refused mail sent at last")
        assert_each_alert_mailed_exactly_once(ledger, sink)


def test_a_mail_accepted_for_some_recipients_is_sent_but_all_refused_is_not(ledger):
    """Partial acceptance is delivery; no recipient accepted is a failure, retried."""
    with SmtpSink(refuse_recipients={"oncall@example.org"}) as sink:
        enqueue(ledger, every_kind()[model.WITHDRAWAL_FAILED])
        partial = sender.AlertSender(ledger, smtp_settings(sink))
        assert partial.drain_once().sent == 1
        partial.stop()
        [mail] = sink.mails
        assert mail.rcpt_tos == ("ops@example.com",)
        assert all_sent(ledger)
    with SmtpSink(refuse_recipients=set(RECIPIENTS)) as sink:
        enqueue(ledger, every_kind()[model.NEEDS_REVIEW])
        nobody = sender.AlertSender(ledger, smtp_settings(sink))
        result = nobody.drain_once()
        nobody.stop()
        assert result.sent == 0 and result.refused == 1
        assert sink.mails == []
        assert query(ledger, "SELECT kind, state FROM alert_mails WHERE state = 'sending'") == [
            (model.NEEDS_REVIEW, "sending")]


def test_the_sender_never_holds_the_ledger_write_lock_while_talking_to_the_server(ledger):
    """While the server sits on a mail, the treasury still commits at once (busy timeout 0)."""
    inside = threading.Event()
    release = threading.Event()

    def stall(mail: ReceivedMail) -> None:
        inside.set()
        release.wait(10)

    with SmtpSink(on_data=stall) as sink, running(ledger, smtp_settings(sink)):
        enqueue(ledger, every_kind()[model.NEEDS_REVIEW])
        wait_until(inside.is_set, what="the server holding a mail")
        treasury = sqlite3.connect(str(ledger), isolation_level=None, timeout=0)
        try:
            treasury.execute("PRAGMA busy_timeout=0")
            treasury.execute("BEGIN IMMEDIATE")  # raises 'database is locked' if the sender held it
            alert = every_kind()[model.WITHDRAWAL_COMPLETED]  # the outbox row Ledger.enqueue writes
            treasury.execute("INSERT INTO alert_outbox (created_at_ms, kind, severity, intent_id, facts)"
                             " VALUES (?, ?, ?, ?, ?)", (alert.created_at_ms, alert.kind, alert.severity,
                                                         alert.intent_id, json.dumps(alert.facts)))
            treasury.execute("COMMIT")
        finally:
            release.set()
            treasury.close()
        sink.wait_for(2)
        wait_until(lambda: all_sent(ledger), what="both alerts sent")
