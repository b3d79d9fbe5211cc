"""Issue 10 defect 6, for real: the ledger of a real treasury process on a small tmpfs that
the test fills. New intents get error/internal (retry later, nothing accepted is lost), a
withdrawal in flight still reaches completed, ONE CRITICAL ledger_disk_low alert is
recorded, and once space is freed the same intent is accepted."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from common import messages
from tests.support.treasury_proc import TreasuryProcess, e2e_policy, new_intent
from tests.support.waiting import wait_until

pytestmark = pytest.mark.e2e

APPLY = "/sapi/v1/capital/withdraw/apply"
MB = 1024 * 1024
MIN_FREE_MB = 3


@pytest.fixture
def small_disk(tmp_path):
    disk = tmp_path / "disk"
    disk.mkdir()
    try:
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(disk)],
                              capture_output=True, text=True, timeout=20)
    except FileNotFoundError:
        pytest.skip("no mount command: cannot make a small filesystem for the ledger")
    if done.returncode != 0:
        pytest.skip(f"mounting a tmpfs is not permitted here: {done.stderr.strip()}")
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], capture_output=True, timeout=20)


def free_bytes(folder: Path) -> int:
    st = os.statvfs(folder)
    return st.f_bavail * st.f_frsize


def fill(folder: Path, leave_bytes: int) -> Path:
    """A filler file that leaves about `leave_bytes` free on the filesystem."""
    filler = folder / "filler"
    with open(filler, "wb") as out:
        while free_bytes(folder) > leave_bytes + 64 * 1024:
            out.write(b"\0" * min(256 * 1024, free_bytes(folder) - leave_bytes))
            out.flush()
            os.fsync(out.fileno())
    return filler


def test_a_full_ledger_disk_refuses_new_intents_but_follows_the_one_in_flight(tmp_path, sandbox, small_disk):
    policy = e2e_policy(min_free_disk_mb=MIN_FREE_MB)
    ledger = small_disk / "ledger.sqlite"
    treasury = TreasuryProcess(tmp_path, sandbox, policy_text=policy,
                               extra_env={"TREASURY_LEDGER_PATH": str(ledger)})
    treasury.ledger_path = ledger
    treasury.start()
    try:
        # In flight: the exchange holds the apply for 3 s while the disk fills.
        sandbox.add_fault(APPLY, "latency", count=1, seconds=3.0)
        with treasury.client() as client:
            first = client.send_intent(new_intent("disk-inflight"))
            assert (first.outcome, first.status) == ("accepted", "queued"), first
            filler = fill(small_disk, leave_bytes=1 * MB)
            assert free_bytes(small_disk) < MIN_FREE_MB * MB
            # The treasury measures free space at most once a second (DiskGuard.CHECK_EVERY_S).
            filled_at = time.monotonic()
            wait_until(lambda: time.monotonic() - filled_at > 1.2, timeout=3, what="the next disk check")
            refused = client.send_intent(new_intent("disk-new"))
            assert isinstance(refused, messages.Error), refused
            assert refused.code == "internal" and "disk is low" in refused.detail
            again = client.send_intent(new_intent("disk-new-2"))
            assert isinstance(again, messages.Error) and again.code == "internal"
            assert treasury.status_of("disk-new") is None          # nothing journaled for it

            # The withdrawal in flight is followed to its end on what space is left.
            treasury.wait_status("disk-inflight", "completed", timeout=30)
            record = sandbox.admin("GET", "/sandbox/withdrawals")
            assert [w["withdrawOrderId"] for w in record["withdrawals"]].count("disk-inflight") == 1

            alerts = treasury.query("SELECT severity, facts FROM alert_outbox WHERE kind = 'ledger_disk_low'")
            assert len(alerts) == 1 and alerts[0][0] == "CRITICAL"   # one per episode
            assert json.loads(alerts[0][1])["min_free_disk_mb"] == MIN_FREE_MB

            # Space freed: the same intent the client retries is accepted (checked once a second).
            filler.unlink()
            retried = new_intent("disk-new-2")
            wait_until(lambda: isinstance(reply := client.send_intent(retried), messages.Decision)
                       and reply.outcome == "accepted", timeout=10, what="acceptance after space is freed")
        assert treasury.status_of("disk-new-2") in ("queued", "submitting", "submitted", "completed")
    finally:
        treasury.terminate()

