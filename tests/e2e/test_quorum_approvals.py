"""Quorum approvals that expire, with real processes (issue 13 item 3): a real `treasury-bot
run` against the sandbox, operators made by `treasuryctl operators add`, each approval a
separate `treasuryctl` process signing with its operator's key, on the host and `--remote`
over the operator wire (CURVE with an operator certificate)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from common.curve import load_key_pair
from common.intent_client import IntentClient, TreasuryUnavailable
from tests.support.procs import script
from tests.support.ports import free_port
from tests.support.treasury_proc import E2E_POLICY, TreasuryProcess, e2e_policy, new_intent
from tests.support.waiting import wait_until
from treasury_bot import freeze
from treasury_bot.ledger import Ledger

pytestmark = pytest.mark.e2e

HOUR_MS = 3_600_000
OPERATORS = ("alice", "bob", "carol")
QUORUM_POLICY = E2E_POLICY + ('\n[approvals]\nquorum = 2\nttl_hours = 1\n'
                              'operators = ["alice", "bob", "carol"]\n')


def ctl(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([script("treasuryctl"), *args], capture_output=True, text=True, timeout=60, cwd=cwd)


@pytest.fixture
def home(tmp_path) -> Path:
    """Each operator's own folder, made by `treasuryctl operators add NAME` as a person would."""
    folder = tmp_path / "operators-home"
    for name in OPERATORS:
        made = ctl("operators", "add", name, "--dir", str(folder / name), cwd=tmp_path)
        assert made.returncode == 0, made.stderr
        assert f"operators/{name}.pub.pem" in made.stdout
        assert (folder / name / f"{name}.pem").stat().st_mode & 0o777 == 0o600
    return folder


def install(process: TreasuryProcess, home: Path, certs_dir: Path | None = None) -> None:
    """The public halves beside the policy file; the CURVE certificates into the operator allow-list."""
    (process.dir / "operators").mkdir(exist_ok=True)
    for name in OPERATORS:
        shutil.copy(home / name / f"{name}.pub.pem", process.dir / "operators" / f"{name}.pub.pem")
        if certs_dir is not None:
            certs_dir.mkdir(exist_ok=True)
            shutil.copy(home / name / f"{name}.key", certs_dir / f"{name}.key")


def send_pending(process: TreasuryProcess, *intent_ids: str) -> None:
    with process.client() as client:
        for intent_id in intent_ids:
            assert client.send_intent(new_intent(intent_id, "950")).outcome == "pending_approval"


def local(process: TreasuryProcess, home: Path, name: str, *args: str) -> subprocess.CompletedProcess:
    """`treasuryctl ACTION ... --operator NAME` on the treasury host, from the operator's folder."""
    return ctl(*args, "--operator", name, "--env-file", str(process.env_path), cwd=home / name)


def reason_of(process: TreasuryProcess, intent_id: str) -> str | None:
    return process.query("SELECT reason_code FROM intents WHERE intent_id = ?", (intent_id,))[0][0]


def checked_at(process: TreasuryProcess) -> int:
    rows = process.query("SELECT value FROM meta WHERE key = 'approvals.checked_at'")
    return int(rows[0][0]) if rows else 0


def test_a_quorum_of_two_moves_at_two_rejects_at_the_first_rejection_and_expires_on_exchange_time(
        tmp_path, sandbox, home):
    offset_file = tmp_path / "host-offset"
    offset_file.write_text("0")
    process = TreasuryProcess(tmp_path, sandbox, policy_text=QUORUM_POLICY,
                              extra_env={"TREASURY_TEST_CLOCK_OFFSET_FILE": str(offset_file)})
    install(process, home)
    process.start()
    try:
        send_pending(process, "q-go", "q-no", "q-late")
        one = local(process, home, "alice", "approve", "q-go")
        assert one.returncode == 0 and "1 of 2" in one.stdout, one.stderr
        again = local(process, home, "alice", "approve", "q-go")
        assert again.returncode == 1 and "[already_voted]" in again.stderr
        unsigned = ctl("approve", "q-go", "--env-file", str(process.env_path), cwd=tmp_path)
        assert unsigned.returncode == 1 and "[signature_required]" in unsigned.stderr
        assert process.status_of("q-go") == "pending_approval"
        assert local(process, home, "bob", "approve", "q-go").returncode == 0
        process.wait_status("q-go", "completed")

        assert local(process, home, "alice", "approve", "q-no").returncode == 0
        assert local(process, home, "carol", "reject", "q-no").returncode == 0
        assert (process.status_of("q-no"), reason_of(process, "q-no")) == ("denied", "operator_rejected")

        # The host clock jumps 2 h ahead (ttl 1 h): the expiry reads the exchange's time.
        before = checked_at(process)
        offset_file.write_text(str(2 * HOUR_MS))
        wait_until(lambda: checked_at(process) > before + 3_000, timeout=20,
                   what="three more expiry checks after the host clock step")
        assert process.status_of("q-late") == "pending_approval"
        assert process.terminate() == 0

        # An hour passes on the exchange while the treasury is down: expired at its next start.
        offset_file.write_text("0")
        sandbox.set_clock_offset(HOUR_MS + 60_000)
        process.start()
        process.wait_status("q-late", "denied")
        assert reason_of(process, "q-late") == "approval_expired"
        assert process.query("SELECT counted_at FROM intents WHERE intent_id = 'q-late'") == [(None,)]
        assert process.query("SELECT COUNT(*) FROM alert_outbox WHERE kind = 'intent_rejected'"
                             " AND intent_id = 'q-late'") == [(1,)]
        assert [row[0] for row in process.query(
            "SELECT operator FROM operator_actions ORDER BY seq")] == ["alice", "bob", "alice", "carol"]
    finally:
        process.terminate()


def test_a_remote_approval_over_curve_with_operator_certificates_only(tmp_path, sandbox, home):
    certs_dir = tmp_path / "treasury" / "operator_certs"
    endpoint = f"tcp://127.0.0.1:{free_port()}"
    process = TreasuryProcess(tmp_path, sandbox, policy_text=QUORUM_POLICY,
                              extra_env={"TREASURY_OPERATOR_BIND": endpoint,
                                         "TREASURY_OPERATOR_CERTS_DIR": str(certs_dir)})
    install(process, home, certs_dir)
    process.start()

    def remote(name: str, *args: str, cert: Path | None = None, key_as: str | None = None):
        """A separate `treasuryctl --remote` process in the operator's own folder (no env file)."""
        return ctl("--remote", endpoint, "--treasury-public", str(process.curve.treasury_public),
                   "--curve-secret", str(cert or home / name / f"{name}.key_secret"), "--remote-timeout", "3",
                   *args, "--operator", key_as or name, "--key-file", str(home / (key_as or name) /
                                                                          f"{key_as or name}.pem"),
                   cwd=home / name)
    try:
        send_pending(process, "r-1")
        # A client certificate gets no connection on the operator wire...
        as_client = remote("alice", "approve", "r-1", cert=process.curve.client_secrets["signal"])
        assert as_client.returncode != 0 and "no answer" in as_client.stderr
        # ...and an operator certificate none on the intent wire.
        with IntentClient(process.intent_endpoint, load_key_pair(home / "bob" / "bob.key_secret", "bob"),
                          process.curve.server_public, timeout=1.0, retries=1) as client:
            with pytest.raises(TreasuryUnavailable):
                client.send_intent(new_intent("r-intruder", "25"))
        # The certificate must be the signer's: bob's connection cannot carry alice's signature.
        mismatch = remote("bob", "approve", "r-1", key_as="alice")
        assert mismatch.returncode == 1 and "[certificate_mismatch]" in mismatch.stderr

        first = remote("alice", "approve", "r-1")
        assert first.returncode == 0 and "1 of 2" in first.stdout, first.stderr
        assert process.status_of("r-1") == "pending_approval"
        second = remote("bob", "approve", "r-1")
        assert second.returncode == 0, second.stderr
        process.wait_status("r-1", "completed")
        assert process.query("SELECT operator, via FROM operator_actions ORDER BY seq") == [
            ("alice", "remote"), ("bob", "remote")]
        assert process.query("SELECT COUNT(*) FROM intents WHERE intent_id = 'r-intruder'") == [(0,)]

        # Unfreeze with the quorum, over the wire too.
        ledger = Ledger(process.ledger_path)
        try:
            freeze.freeze(ledger, by="e2e", reason="drill", now=sandbox.server_time())
        finally:
            ledger.close()
        vote = remote("carol", "unfreeze")
        assert vote.returncode == 0 and "1 of 2" in vote.stdout, vote.stderr
        assert remote("alice", "unfreeze").returncode == 0
        assert process.query("SELECT unfrozen_by FROM freezes") == [("carol, alice",)]
    finally:
        process.terminate()


def test_a_pending_loosening_takes_effect_early_with_the_quorum_one_vote_local_one_remote(
        tmp_path, sandbox, home):
    """A raised cap waits its 1 h quarantine; alice (on the host) and bob (--remote) release it,
    and from the next start the raised cap is in force."""
    certs_dir = tmp_path / "treasury" / "operator_certs"
    endpoint = f"tcp://127.0.0.1:{free_port()}"
    approvals = QUORUM_POLICY[len(E2E_POLICY):]
    process = TreasuryProcess(tmp_path, sandbox, policy_text=QUORUM_POLICY,
                              extra_env={"TREASURY_OPERATOR_BIND": endpoint,
                                         "TREASURY_OPERATOR_CERTS_DIR": str(certs_dir)})
    install(process, home, certs_dir)
    process.start()
    assert process.terminate() == 0
    process.policy_path.write_text(e2e_policy(quarantine_hours=1, usdt={"max_per_transfer": "2000"}) + approvals)
    process.start()
    setting = "limits.coins.USDT.max_per_transfer"
    try:
        with process.client() as client:
            assert client.send_intent(new_intent("e-1", "1500")).reason_code == "over_transfer_limit"
        one = local(process, home, "alice", "loosen-early", setting)
        assert one.returncode == 0 and "1 of 2" in one.stdout, one.stderr
        two = ctl("--remote", endpoint, "--treasury-public", str(process.curve.treasury_public),
                  "--curve-secret", str(home / "bob" / "bob.key_secret"), "loosen-early", setting,
                  "--operator", "bob", "--key-file", str(home / "bob" / "bob.pem"), cwd=home / "bob")
        assert two.returncode == 0 and "released early by alice, bob" in two.stdout, two.stderr
        assert process.terminate() == 0
        process.start()
        with process.client() as client:
            # Under the raised cap now; above approval_above, so it waits for the quorum.
            assert client.send_intent(new_intent("e-2", "1500")).outcome == "pending_approval"
    finally:
        process.terminate()
