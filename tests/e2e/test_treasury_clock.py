"""A real `treasury-bot run` whose host clock is 6 h off (TREASURY_TEST_CLOCK_OFFSET_MS,
sandbox only), against the real sandbox and a real SMTP sink (issue 10 defect 4).

The treasury decides on the exchange's clock, so intents created at the true time are
fresh, the window cap holds, withdrawals go out signed in the exchange's time, and the
disagreement is mailed once as `clock_disagreement`. The offset it measured is in the
ledger meta for treasuryctl.
"""

from __future__ import annotations

from typing import Iterator

import pytest

from tests.support.alert_mails import wait_alert
from tests.support.smtp import SmtpSink
from tests.support.treasury_proc import TreasuryProcess, e2e_policy, new_intent

pytestmark = pytest.mark.e2e

SIX_HOURS_MS = 6 * 3_600_000


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    running = SmtpSink().start()
    yield running
    running.stop()


@pytest.mark.parametrize("offset_ms, side", [(SIX_HOURS_MS, "ahead of"), (-SIX_HOURS_MS, "behind")])
def test_a_treasury_whose_host_clock_is_six_hours_off_decides_on_time_and_alerts(
        tmp_path, sandbox, sink, offset_ms, side):
    treasury = TreasuryProcess(
        tmp_path, sandbox, smtp=(sink.host, sink.port),
        policy_text=e2e_policy(usdt={"window_cap": "300"}),
        extra_env={"TREASURY_TEST_CLOCK_OFFSET_MS": str(offset_ms)}).start()
    try:
        with treasury.client() as client:
            replies = [client.send_intent(new_intent(f"fresh-{n}", "100")) for n in range(4)]
        assert [(r.outcome, r.reason_code) for r in replies] == [("accepted", None)] * 3 + [
            ("rejected", "over_window_limit")]
        treasury.wait_status("fresh-0", "completed")  # signed in the exchange's time: no -1021
        with treasury.client() as client:             # a completed withdrawal still uses the window
            late = client.send_intent(new_intent("fresh-late", "100"))
        assert (late.outcome, late.reason_code) == ("rejected", "over_window_limit")
        mail = wait_alert(sink, "clock_disagreement")
        assert mail.severity == "WARNING"
        assert f"host clock 6 h 0 min {side} the exchange's clock" in mail.subject, mail.subject
        stored = int(treasury.query("SELECT value FROM meta WHERE key = 'clock.exchange_minus_host_ms'")[0][0])
        assert abs(stored + offset_ms) < 5_000
        log = treasury.log()
        assert "test_clock_offset" in log and "binance_clock_skew" not in log
    finally:
        treasury.terminate()


def test_the_offset_file_sets_a_running_treasurys_host_clock(tmp_path, sandbox, sink):
    """TREASURY_TEST_CLOCK_OFFSET_FILE (re-read every second, for the chaos soak's steps)
    is read by the real process: a file saying -6 h gives the alert at start."""
    offset_file = tmp_path / "clock-offset"
    offset_file.write_text(str(-SIX_HOURS_MS))
    treasury = TreasuryProcess(tmp_path, sandbox, smtp=(sink.host, sink.port),
                               extra_env={"TREASURY_TEST_CLOCK_OFFSET_FILE": str(offset_file)}).start()
    try:
        with treasury.client() as client:
            assert client.send_intent(new_intent("fresh-file", "25")).outcome == "accepted"
        mail = wait_alert(sink, "clock_disagreement")
        assert "host clock 6 h 0 min behind the exchange's clock" in mail.subject, mail.subject
        stored = int(treasury.query("SELECT value FROM meta WHERE key = 'clock.exchange_minus_host_ms'")[0][0])
        assert abs(stored - SIX_HOURS_MS) < 5_000
    finally:
        treasury.terminate()
