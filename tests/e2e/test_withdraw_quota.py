"""Issue 12 item 4 end to end: a real `treasury-bot run`, the real sandbox with a low 24-hour
withdrawal quota (`[exchange] withdraw_quota_usdt`), a real SMTP server and `treasuryctl status`.

A first 25 USDT withdrawal uses 25 of the 30 USDT quota; a second 25 USDT intent is accepted
but not sent: the treasury reads the quota before the apply, holds the intent queued with no
apply call reaching the sandbox, mails withdraw_quota_80 (the crossing) and
withdraw_quota_held (the hold), and `status` shows the quota.
"""

from __future__ import annotations

from typing import Iterator

import pytest

from tests.support.alert_mails import wait_alert
from tests.support.sandbox import Sandbox, sandbox_process
from tests.support.smtp import SmtpSink
from tests.support.treasury_proc import TreasuryProcess, new_intent
from tests.support.waiting import wait_until

pytestmark = pytest.mark.e2e


@pytest.fixture
def low_quota_sandbox(tmp_path) -> Iterator[Sandbox]:
    """demo.toml with a 30 USDT quota and quick withdrawals."""
    with sandbox_process(tmp_path, complete_after_seconds=0.5, withdraw_quota_usdt="30") as running:
        yield running


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    running = SmtpSink().start()
    yield running
    running.stop()


def status(process: TreasuryProcess) -> str:
    done = process.ctl("status")
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_an_intent_over_the_exchange_quota_is_held_without_an_apply_and_mailed(tmp_path, low_quota_sandbox, sink):
    """25 of 30 used: the next 25 USDT waits queued, never applied for; two mails; status shows 25 of 30."""
    sandbox = low_quota_sandbox
    process = TreasuryProcess(tmp_path, sandbox, smtp=(sink.host, sink.port)).start()
    try:
        with process.client("signal") as client:
            assert client.send_intent(new_intent("quota-1", amount="25")).outcome == "accepted"
            process.wait_status("quota-1", "completed")
            assert client.send_intent(new_intent("quota-2", amount="25")).outcome == "accepted"
        held = wait_alert(sink, "withdraw_quota_held", "quota-2", timeout=20)
        crossed = wait_alert(sink, "withdraw_quota_80", timeout=20)
        assert "5 USD left" in held.subject and "83" in crossed.subject
        assert process.status_of("quota-2") == "queued"
        wait_until(lambda: "withdraw quota (exchange, 24 h): 25 of 30 USD used" in status(process),
                   timeout=10, what="the quota line in treasuryctl status")
        out = status(process)
        assert "(83.3%), 5 USD left (at or above 80%: alerted), 1 intent(s) waiting for it: quota-2" in out
    finally:
        process.terminate()
    assert sandbox.apply_calls().get("quota-1") == 1
    assert "quota-2" not in sandbox.apply_calls()
