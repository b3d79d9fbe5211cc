"""Tighten at once, loosen later with real processes (DESIGN section 9; issue 10 defect 5):
a real `treasury-bot run` against the sandbox, restarted with a raised cap. The old cap is
in force, the start summary mail lists the pending loosening with its UTC time, and
`treasuryctl status` shows it."""

from __future__ import annotations

import re
import subprocess
from typing import Iterator

import pytest

from tests.support.alert_mails import alert_mails
from tests.support.procs import script
from tests.support.smtp import SmtpSink
from tests.support.treasury_proc import E2E_POLICY, TreasuryProcess, e2e_policy, new_intent
from tests.support.waiting import wait_until

pytestmark = pytest.mark.e2e

RAISED = e2e_policy(quarantine_hours=1, usdt={"max_per_transfer": "2000"})


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    running = SmtpSink().start()
    yield running
    running.stop()


def summary_logged(process: TreasuryProcess) -> bool:
    return process.query("SELECT COUNT(*) FROM alert_outbox WHERE kind = 'start_summary'"
                         " AND logged_at_ms IS NULL")[0][0] == 0


def test_a_restart_with_a_raised_cap_keeps_the_old_cap_and_mails_the_pending_loosening(tmp_path, sandbox, sink):
    assert RAISED != E2E_POLICY and 'max_per_transfer = "2000"' in RAISED
    process = TreasuryProcess(tmp_path, sandbox, smtp=(sink.host, sink.port))
    with_smtp = dict(process.env)
    # The first start logs its alerts (no SMTP), so the second start's summary is the one
    # mail of its kind (a second one within 60 s would wait for a digest).
    process.write_env({k: v for k, v in with_smtp.items() if not k.startswith(("SMTP_", "ALERT_EMAIL_"))})
    process.start()
    with process.client() as client:
        assert client.send_intent(new_intent("e2e-small", "500")).outcome == "accepted"
    wait_until(lambda: summary_logged(process), timeout=15, what="the first start summary to be logged")
    assert process.terminate() == 0

    process.write_env(with_smtp)
    process.policy_path.write_text(RAISED, encoding="utf-8")
    process.start()
    try:
        with process.client() as client:
            reply = client.send_intent(new_intent("e2e-big", "1500"))
        assert (reply.outcome, reply.reason_code) == ("rejected", "over_transfer_limit"), reply
        assert "1000" in reply.detail

        wait_until(lambda: alert_mails(sink, "start_summary"), timeout=15, what="the start summary mail")
        [mail] = alert_mails(sink, "start_summary")
        line = re.search(r"Pending loosenings:\s+(.*)", mail.body)
        assert line, mail.body
        assert re.fullmatch(r"limits\.coins\.USDT\.max_per_transfer: 1000 -> 2000 takes effect "
                            r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z \(first seen .*\)", line.group(1).strip())

        status = subprocess.run([script("treasuryctl"), "status", "--env-file", str(process.env_path)],
                                capture_output=True, text=True, timeout=30, cwd=process.dir)
        assert status.returncode == 0, status.stderr
        assert "pending loosening: limits.coins.USDT.max_per_transfer: 1000 -> 2000" in status.stdout
    finally:
        assert process.terminate() == 0
