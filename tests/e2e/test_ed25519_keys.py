"""Ed25519 API keys end to end (issue 12 item 7): the key pair made on the host with
`treasuryctl keys binance` / `signal-bot keys binance`, only the public half "pasted" into
the exchange (the sandbox's admin API), and real processes signing with the private half.

The sandbox verifies Ed25519 with its own code (sandbox/ed25519_verify.py), so the
treasury cannot pass by agreeing with itself; tests/conformance signs the same way with
Binance's official SDK, a signer we did not write.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Iterator

import pytest

from common.binance import AuthError, BinanceClient
from common.binance.ed25519 import pem_body
from tests.support.alert_mails import alert_mails
from tests.support.procs import script
from tests.support.sandbox import DEMO_SIGNAL, DEMO_TREASURY, Sandbox
from tests.support.smtp import SmtpSink
from tests.support.treasury_proc import TreasuryProcess, new_intent
from tests.support.waiting import wait_until

pytestmark = pytest.mark.e2e


def run(*argv: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(list(argv), capture_output=True, text=True, timeout=60, cwd=cwd)


def make_key_pair(tool: str, folder: Path, name: str = "binance-ed25519") -> tuple[Path, str]:
    """Run the real `keys binance` command; return the private file and the public PEM it printed."""
    folder.mkdir(parents=True, exist_ok=True)
    made = run(script(tool), "keys", "binance", "--dir", str(folder), "--name", name, cwd=folder)
    assert made.returncode == 0, made.stdout + made.stderr
    public = (folder / f"{name}.pub.pem").read_text()
    assert public in made.stdout  # printed for the user to paste
    return folder / f"{name}.pem", public


def ed25519_env(treasury: TreasuryProcess, private_file: Path) -> None:
    env = {k: v for k, v in treasury.env.items() if k != "TREASURY_API_SECRET"}
    env["TREASURY_PRIVATE_KEY_FILE"] = str(private_file)
    treasury.write_env(env)


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    with SmtpSink() as running:
        yield running


def test_a_treasury_with_a_self_generated_ed25519_key_withdraws_exactly_once(tmp_path, sandbox: Sandbox, sink):
    """Make the pair, register only the public key, run the treasury on the private file: an
    intent is withdrawn once and completes; check names the key type; the old HMAC secret is
    refused; the private key is in no log line or mail."""
    treasury = TreasuryProcess(tmp_path, sandbox, smtp=(sink.host, sink.port))
    private_file, public = make_key_pair("treasuryctl", treasury.dir / "binance")
    assert (private_file.stat().st_mode & 0o777) == 0o600
    assert sandbox.set_key("treasury", ed25519_public_key=public)["key_type"] == "Ed25519"
    ed25519_env(treasury, private_file)
    treasury.start()
    try:
        with treasury.client() as client:
            assert client.send_intent(new_intent("ed-1")).outcome == "accepted"
        treasury.wait_status("ed-1", "completed")
        assert sandbox.apply_calls().get("ed-1") == 1

        check = run(script("treasuryctl"), "check", "--env-file", str(treasury.env_path), cwd=treasury.dir)
        [line] = [" ".join(x.split()) for x in check.stdout.splitlines() if "api key type" in x]
        assert line.startswith("OK api key type Ed25519 key") and str(private_file) in line, check.stdout
        assert "FAIL exchange" not in check.stdout, check.stdout

        # The exchange now knows the key as Ed25519 only: its old HMAC secret signs in vain.
        old = BinanceClient(sandbox.base_url, DEMO_TREASURY.api_key, DEMO_TREASURY.api_secret)
        with pytest.raises(AuthError) as refused:
            old.api_restrictions()
        assert refused.value.binance_code == -1022
        wait_until(lambda: alert_mails(sink, "start_summary") or sink.mails, timeout=10, what="a mail")
    finally:
        treasury.terminate()
    secret_text = pem_body(private_file.read_bytes())
    raw_mail = "".join(m.raw.decode("utf-8", "replace") for m in sink.mails)
    assert secret_text not in treasury.log() and secret_text not in raw_mail


def test_a_private_key_that_is_not_the_registered_ones_stops_the_start_naming_the_fix(tmp_path, sandbox: Sandbox):
    """The exchange holds key A's public half, the env points at key B: -1022 at the start
    audit, the treasury refuses to run, and its message names TREASURY_PRIVATE_KEY_FILE."""
    treasury = TreasuryProcess(tmp_path, sandbox)
    _, registered = make_key_pair("treasuryctl", treasury.dir / "binance", "registered")
    other_file, _ = make_key_pair("treasuryctl", treasury.dir / "binance", "other")
    sandbox.set_key("treasury", ed25519_public_key=registered)
    ed25519_env(treasury, other_file)
    treasury.start(wait_ready=False)
    wait_until(lambda: not treasury.proc.alive(), timeout=20, what="the treasury to refuse to start")
    assert treasury.proc.popen.returncode != 0
    log = treasury.log()
    assert "-1022" in log and "TREASURY_PRIVATE_KEY_FILE" in log, log[-3000:]
    assert sandbox.apply_calls() == {}


def test_a_group_readable_private_key_stops_the_start_before_any_exchange_call(tmp_path, sandbox: Sandbox):
    """Tighten at once: a private key file with mode 0640 is a config error, exit at once."""
    treasury = TreasuryProcess(tmp_path, sandbox)
    private_file, public = make_key_pair("treasuryctl", treasury.dir / "binance")
    sandbox.set_key("treasury", ed25519_public_key=public)
    private_file.chmod(0o640)
    ed25519_env(treasury, private_file)
    started = run(script("treasury-bot"), "run", "--env-file", str(treasury.env_path), cwd=treasury.dir)
    assert started.returncode != 0
    assert "chmod 600" in started.stdout + started.stderr
    assert sandbox.apply_calls() == {}


def test_signal_bot_check_reads_its_ed25519_key_and_the_exchange_accepts_it(tmp_path, sandbox: Sandbox):
    """`signal-bot keys binance`, the public half registered, `signal-bot check`: the key type
    line and the exchange key's rights read with an Ed25519 signature."""
    folder = tmp_path / "signal"
    private_file, public = make_key_pair("signal-bot", folder)
    sandbox.set_key("signal", ed25519_public_key=public)
    env = folder / "signal.env"
    env.write_text(f"BINANCE_BASE_URL={sandbox.base_url}\nSIGNAL_API_KEY={DEMO_SIGNAL.api_key}\n"
                   f"SIGNAL_PRIVATE_KEY_FILE={private_file}\nSIGNAL_WEBHOOK_SECRET=test-secret-not-real-0003\n"
                   "SIGNAL_CURVE_SECRET_FILE=none.key_secret\nTREASURY_CURVE_PUBLIC_FILE=none.key\n")
    env.chmod(0o600)
    check = run(script("signal-bot"), "check", "--env-file", str(env), cwd=folder)
    lines = [" ".join(x.split()) for x in check.stdout.splitlines()]
    assert any(x.startswith("OK api key type Ed25519 key") for x in lines), check.stdout
    exchange = [x for x in lines if x.split()[1:3] == ["exchange", "key"]]
    assert exchange and not exchange[0].startswith("FAIL"), check.stdout
