"""Key hygiene as checks (issue 16 item 2), end to end on the sandbox: a key whose
apiRestrictions createTime is older than `rotate_after_days` (or whose trading right expires
within 14 days) is a WARN line of `treasuryctl check` and `signal-bot check`, and the
treasury mails one `key_hygiene` alert a week, not again after a restart."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Iterator

import pytest

from common.key_hygiene import DAY_MS
from tests.support.alert_mails import alert_mails, wait_alert
from tests.support.procs import script
from tests.support.sandbox import DEMO_SIGNAL, Sandbox
from tests.support.signal_proc import CONFIG
from tests.support.smtp import SmtpSink
from tests.support.waiting import wait_until
from tests.support.treasury_proc import E2E_POLICY, TreasuryProcess

pytestmark = pytest.mark.e2e


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    with SmtpSink() as running:
        yield running


def lines(done: subprocess.CompletedProcess) -> list[str]:
    return [" ".join(x.split()) for x in done.stdout.splitlines()]


def key_age(done: subprocess.CompletedProcess) -> list[str]:
    return [x for x in lines(done) if x.split()[1:3] == ["key", "age"]]


def test_treasuryctl_check_warns_on_a_key_older_than_rotate_after_days(tmp_path, sandbox: Sandbox):
    """100 days old: WARN naming the age (exit 0: a warning); [keys] rotate_after_days = 200: OK."""
    sandbox.set_key("treasury", create_time=sandbox.server_time() - 100 * DAY_MS)
    treasury = TreasuryProcess(tmp_path, sandbox)
    check = treasury.check()
    [line] = key_age(check)
    assert line.startswith("WARN key age TREASURY_API_KEY was created 100 days ago"), check.stdout
    assert "rotate_after_days = 90" in line and check.returncode == 0, check.stdout
    treasury.policy_path.write_text(E2E_POLICY + "\n[keys]\nrotate_after_days = 200\n")
    [line] = key_age(treasury.check())
    assert line.startswith("OK key age created 100 days ago") and "rotate after 200 days" in line


def test_treasuryctl_check_warns_on_a_trading_right_expiring_within_14_days(tmp_path, sandbox: Sandbox):
    """tradingAuthorityExpirationTime 10 days ahead: WARN naming the field."""
    sandbox.set_key("treasury", trading_authority_expiration_time=sandbox.server_time() + 10 * DAY_MS)
    [line] = key_age(TreasuryProcess(tmp_path, sandbox).check())
    assert line.startswith("WARN key age") and "tradingAuthorityExpirationTime" in line


def test_a_fresh_sandbox_key_is_ok_in_treasuryctl_check(tmp_path, sandbox: Sandbox):
    """The sandbox's default createTime is a day ago: the OK line with its age."""
    [line] = key_age(TreasuryProcess(tmp_path, sandbox).check())
    assert line.startswith("OK key age created 1 days ago"), line


def signal_folder(tmp_path: Path, sandbox: Sandbox, treasury: TreasuryProcess, config: str) -> Path:
    folder = tmp_path / "signal"
    side = folder / "treasury_public"
    side.mkdir(parents=True)
    shutil.copy(treasury.curve.treasury_public, side / "treasury.key")
    env = folder / "signal.env"
    env.write_text(
        f"BINANCE_BASE_URL={sandbox.base_url}\n"
        f"SIGNAL_API_KEY={DEMO_SIGNAL.api_key}\nSIGNAL_API_SECRET={DEMO_SIGNAL.api_secret}\n"
        "SIGNAL_WEBHOOK_BIND=127.0.0.1:1\nSIGNAL_WEBHOOK_SECRET=test-secret-not-real-0002\n"
        f"SIGNAL_CURVE_SECRET_FILE={treasury.curve.client_secrets['signal']}\n"
        f"TREASURY_CURVE_PUBLIC_FILE={side / 'treasury.key'}\n"
        f"TREASURY_INTENT_ENDPOINT={treasury.intent_endpoint}\n"
        f"TREASURY_EVENT_ENDPOINT={treasury.event_endpoint}\n"
        "SIGNAL_CONFIG_FILE=signal.toml\nSIGNAL_STATE_PATH=state.sqlite\n")
    env.chmod(0o600)
    (folder / "signal.toml").write_text(config)
    return folder


def test_signal_bot_check_warns_by_its_own_rotate_after_days(tmp_path, sandbox: Sandbox):
    """signal.toml [keys] rotate_after_days = 30 and a 40-day-old key: WARN; the default 90: OK."""
    sandbox.set_key("signal", create_time=sandbox.server_time() - 40 * DAY_MS)
    treasury = TreasuryProcess(tmp_path, sandbox)
    folder = signal_folder(tmp_path, sandbox, treasury, CONFIG + "\n[keys]\nrotate_after_days = 30\n")
    check = subprocess.run([script("signal-bot"), "check", "--env-file", str(folder / "signal.env")],
                           capture_output=True, text=True, timeout=60, cwd=folder)
    [line] = key_age(check)
    assert line.startswith("WARN key age SIGNAL_API_KEY was created 40 days ago"), check.stdout
    (folder / "signal.toml").write_text(CONFIG)
    check = subprocess.run([script("signal-bot"), "check", "--env-file", str(folder / "signal.env")],
                           capture_output=True, text=True, timeout=60, cwd=folder)
    [line] = key_age(check)
    assert line.startswith("OK key age created 40 days ago"), check.stdout


def test_the_treasury_mails_one_key_hygiene_alert_a_week_not_again_after_a_restart(tmp_path, sandbox, sink):
    """An old key: one WARNING mail at start; a restart the same week sends none."""
    sandbox.set_key("treasury", create_time=sandbox.server_time() - 120 * DAY_MS)
    treasury = TreasuryProcess(tmp_path, sandbox, smtp=(sink.host, sink.port)).start()
    try:
        mail = wait_alert(sink, "key_hygiene")
        assert mail.severity == "WARNING" and "120 days ago" in mail.body
    finally:
        assert treasury.terminate() == 0
    treasury.start()
    try:
        second_log = treasury.dir / f"treasury.{treasury.starts}.log"
        wait_until(lambda: "key_hygiene_next" in second_log.read_text(errors="replace"), timeout=20,
                   what="the restarted treasury's key-hygiene duty to find the week already checked")
    finally:
        assert treasury.terminate() == 0
    assert len(alert_mails(sink, "key_hygiene")) == 1


def test_the_signal_bot_says_an_old_key_at_its_start(tmp_path, sandbox: Sandbox):
    """`signal-bot run` with a 100-day-old key: a key_hygiene warning in its log, and it runs."""
    from tests.support.signal_proc import SignalBot
    sandbox.set_key("signal", create_time=sandbox.server_time() - 100 * DAY_MS)
    treasury = TreasuryProcess(tmp_path, sandbox).start()
    try:
        bot = SignalBot(tmp_path / "bot", sandbox, treasury)
        try:
            log = bot.proc.log()
            assert "event=key_hygiene" in log and "100 days ago" in log, log[-2000:]
        finally:
            bot.proc.terminate()
    finally:
        treasury.terminate()
