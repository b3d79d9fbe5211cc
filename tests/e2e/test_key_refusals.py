"""Keys refused as Binance refuses them (issue 12, items 6 and 8), end to end: a real
treasury whose key is deleted, loses its withdraw permission or is IP-restricted to
another host while it runs; and `signal-bot check` on the signal bot's key.

Binance answers all three treasury cases with the one code -2015; the treasury tells them
apart with a follow-up apiRestrictions read (common/binance/key_refusal.py), halts with
ONE CRITICAL mail naming the cause and the fix, never retries the apply, and
`treasuryctl check` names the fix in one line.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path
from typing import Iterator

import pytest

from tests.support.alert_mails import alert_mails, wait_alert
from tests.support.procs import script
from tests.support.sandbox import DEMO_SIGNAL, DEMO_TREASURY, Sandbox
from tests.support.signal_proc import CONFIG
from tests.support.smtp import SmtpSink
from tests.support.treasury_proc import TreasuryProcess, new_intent

pytestmark = pytest.mark.e2e


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    with SmtpSink() as running:
        yield running


@pytest.fixture
def treasury(tmp_path, sandbox, sink) -> Iterator[TreasuryProcess]:
    process = TreasuryProcess(tmp_path, sandbox, smtp=(sink.host, sink.port)).start()
    yield process
    process.terminate()


def send(treasury: TreasuryProcess, intent_id: str) -> None:
    with treasury.client() as client:
        decision = client.send_intent(new_intent(intent_id))
    assert decision.outcome == "accepted", decision


def run(*argv: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(list(argv), capture_output=True, text=True, timeout=60, cwd=cwd)


def submitting_lines(treasury: TreasuryProcess, intent_id: str) -> int:
    return sum(1 for line in treasury.log().splitlines()
               if "withdrawal_submitting" in line and f"intent_id={intent_id}" in line)


@pytest.mark.parametrize("change, headline, cause, fix_words", [
    ({"deleted": True}, "API key deleted/expired or IP not allowed", "key_deleted_or_ip_not_allowed",
     "check that the key still exists"),
    ({"can_withdraw": False}, "API key has no withdraw permission", "key_lacks_withdraw_permission",
     "tick Enable Withdrawals"),
    ({"ip_restrict": True, "allowed_ips": ["203.0.113.7"]}, "API key deleted/expired or IP not allowed",
     "key_deleted_or_ip_not_allowed", "public IP is in its allow-list"),
], ids=["deleted", "no-withdraw-permission", "ip-not-allowed"])
def test_a_key_refused_at_runtime_halts_with_one_critical_mail_naming_the_cause_and_no_retry(
        treasury, sandbox: Sandbox, sink, change, headline, cause, fix_words):
    """The key changes under a running treasury: the next apply gets -2015, withdrawals halt
    with one CRITICAL mail naming the cause and the fix, the apply is not retried, and
    `treasuryctl check` says what to fix in one line."""
    send(treasury, "key-1")
    treasury.wait_status("key-1", "completed")
    sandbox.set_key("treasury", **change)
    send(treasury, "key-2")
    mail = wait_alert(sink, "exchange_auth_error")
    assert mail.severity == "CRITICAL" and mail.intent_ids == ("key-2",)
    assert mail.subject.startswith(f"[treasury][CRITICAL] exchange auth error: -2015 {headline}"), mail.subject
    body = " ".join(mail.body.split())
    assert f"Cause: {cause}" in body and fix_words in body, mail.body
    treasury.wait_status("key-2", "queued")
    # Not retried: watched over ten executor turns, one apply attempt and still one mail.
    deadline = time.monotonic() + 2.0
    while time.monotonic() < deadline:
        assert treasury.status_of("key-2") == "queued"
        time.sleep(0.1)
    assert submitting_lines(treasury, "key-2") == 1
    assert len(alert_mails(sink, "exchange_auth_error")) == 1
    assert "key-2" not in sandbox.apply_calls()
    raw = "".join(m.raw.decode("utf-8", "replace") for m in sink.mails)
    assert DEMO_TREASURY.api_secret not in raw and DEMO_TREASURY.api_key not in raw

    check = run(script("treasuryctl"), "check", "--env-file", str(treasury.env_path), cwd=treasury.dir)
    assert check.returncode == 1, check.stdout + check.stderr
    halted = [line for line in check.stdout.splitlines() if line.startswith("FAIL withdrawals halted")]
    assert len(halted) == 1 and "Fix: " in halted[0] and fix_words in halted[0], check.stdout


def test_treasuryctl_check_names_the_fix_for_a_deleted_key_before_any_withdrawal(treasury, sandbox):
    """With the key deleted, check's own exchange read is refused: one FAIL line naming both
    causes Binance's -2015 can mean and what to do."""
    sandbox.set_key("treasury", deleted=True)
    check = run(script("treasuryctl"), "check", "--env-file", str(treasury.env_path), cwd=treasury.dir)
    assert check.returncode == 1
    [line] = [line for line in check.stdout.splitlines() if line.startswith("FAIL exchange key")]
    assert "deleted or expired" in line and "IP allow-list" in line and "Fix: " in line, line


# -- signal-bot check (item 8) ----------------------------------------------------------------

def signal_folder(tmp_path: Path, sandbox: Sandbox, treasury: TreasuryProcess) -> Path:
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
    (folder / "signal.toml").write_text(CONFIG)
    return folder


def signal_check(folder: Path) -> subprocess.CompletedProcess:
    return run(script("signal-bot"), "check", "--env-file", str(folder / "signal.env"), cwd=folder)


def test_signal_bot_check_reports_each_finding_in_one_line_and_refuses_money_moving_keys(
        tmp_path, treasury, sandbox: Sandbox):
    """A good setup: OK lines, the unrestricted key warned loudly, exit 0; a key that can
    withdraw or transfer, or a deleted one: a FAIL line saying what to do, exit 1."""
    folder = signal_folder(tmp_path, sandbox, treasury)
    good = signal_check(folder)
    assert good.returncode == 0, good.stdout + good.stderr
    names = [line.split()[1] for line in good.stdout.splitlines() if line.startswith("OK")]
    for name in ("env", "api", "curve", "config", "state", "exchange", "symbols", "sweep", "treasury"):
        assert name in names, good.stdout
    [loud] = [line for line in good.stdout.splitlines() if "NOT IP-RESTRICTED" in line]
    assert loud.startswith("WARN exchange key")
    assert not (folder / "state.sqlite").exists()  # the check created nothing

    sandbox.set_key("signal", can_withdraw=True, ip_restrict=True)
    refused = signal_check(folder)
    assert refused.returncode == 1
    assert any(line.startswith("FAIL exchange key") and "key_can_withdraw" in line
               for line in refused.stdout.splitlines()), refused.stdout

    sandbox.set_key("signal", can_withdraw=False, permits_universal_transfer=True)
    transfer = signal_check(folder)
    assert transfer.returncode == 1 and "permitsUniversalTransfer" in transfer.stdout

    sandbox.set_key("signal", permits_universal_transfer=False, enable_futures=True)
    futures = signal_check(folder)
    assert futures.returncode == 0 and "WARN exchange key" in futures.stdout and "enableFutures" in futures.stdout

    sandbox.set_key("signal", deleted=True)
    gone = signal_check(folder)
    assert gone.returncode == 1
    [line] = [line for line in gone.stdout.splitlines() if line.startswith("FAIL exchange key")]
    assert "SIGNAL_API_KEY" in line and "Fix: " in line
