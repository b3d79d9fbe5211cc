"""The journal's hash chain through real processes: a row edited in the SQLite file between
restarts is named by `treasuryctl verify`, and the restarted treasury freezes, mails
`journal_broken`, keeps running, and sends no withdrawal."""

from __future__ import annotations

import sqlite3
import subprocess
import time

import pytest

from common.clock import FakeClock
from tests.support.procs import script
from tests.support.treasury_core import decide, incoming
from tests.support.treasury_proc import E2E_POLICY, TreasuryProcess
from tests.support.waiting import wait_until
from treasury_bot.ledger import Ledger
from treasury_bot.policy_file import parse_policy


def ctl(treasury: TreasuryProcess, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([script("treasuryctl"), *args, "--env-file", str(treasury.env_path)],
                          capture_output=True, text=True, timeout=60, cwd=treasury.dir)


@pytest.fixture
def treasury(tmp_path, sandbox):
    process = TreasuryProcess(tmp_path, sandbox)
    yield process
    process.terminate()


def test_a_row_edited_between_restarts_is_found_by_verify_and_refused_at_start(treasury, sandbox):
    """Edited decision: verify exits 1 naming it; the next start freezes and never applies the queued intent."""
    treasury.start()
    treasury.withdraw_once("e2e-chain-1", "25")
    assert treasury.terminate() == 0
    # An intent queued three hours ago, waiting for the executor (decided through the ledger).
    hours_ago = FakeClock(int(time.time() * 1000) - 3 * 3_600_000)
    ledger = Ledger(treasury.ledger_path)
    try:
        reply = decide(ledger, parse_policy(E2E_POLICY), hours_ago,
                       incoming("e2e-chain-old", "30", created_at=hours_ago.now_ms())).replies[0]
        assert reply.status == "queued", reply
    finally:
        ledger.close()
    intact = ctl(treasury, "verify")
    assert intact.returncode == 0, intact.stderr
    mailed_head = intact.stdout.split("head ")[1].split(";")[0].strip()

    [(decision_seq,)] = treasury.query("SELECT d.seq FROM decisions d JOIN intents i ON i.seq = d.intent_seq"
                                       " WHERE i.intent_id = 'e2e-chain-1'")
    conn = sqlite3.connect(str(treasury.ledger_path), isolation_level=None)
    conn.execute("UPDATE decisions SET detail = 'approved by the CFO' WHERE seq = ?", (decision_seq,))
    conn.close()

    broken = ctl(treasury, "verify", "--anchor", mailed_head)
    assert broken.returncode == 1
    assert f"edited: decisions row {decision_seq}" in broken.stderr

    treasury.start()  # runs frozen: it answers, polls and mails, and sends nothing
    # The executor's stall check sees the queued intent and says why it waits: a witness that
    # the executor has stepped past it with withdrawals refused.
    wait_until(lambda: treasury.query("SELECT reason FROM withdrawal_stalls"), timeout=20,
               what="the executor's stall check on the queued intent")
    [(reason,)] = treasury.query("SELECT reason FROM withdrawal_stalls")
    assert "journal broken" in reason and f"decisions row {decision_seq}" in reason
    assert treasury.query("SELECT breaker FROM freezes WHERE unfrozen_at IS NULL") == [("journal_broken",)]
    kinds = {k for (k,) in treasury.query("SELECT kind FROM alert_outbox")}
    assert {"journal_broken", "breaker_tripped"} <= kinds
    [(summary,)] = treasury.query("SELECT facts FROM alert_outbox WHERE kind = 'start_summary' ORDER BY seq DESC LIMIT 1")
    assert "journal hash chain BROKEN" in summary
    assert treasury.terminate() == 0
    assert "e2e-chain-old" not in sandbox.apply_calls()
    assert treasury.status_of("e2e-chain-old") == "queued"
    assert sandbox.apply_calls()["e2e-chain-1"] == 1


def test_an_intact_journal_starts_with_its_head_in_the_start_summary(treasury):
    """A clean start verifies the chain and mails its head, the same head `treasuryctl verify` printed."""
    treasury.start()
    treasury.withdraw_once("e2e-chain-2", "25")
    assert treasury.terminate() == 0
    printed = ctl(treasury, "verify")
    assert printed.returncode == 0, printed.stderr
    head = printed.stdout.split("head ")[1].split(";")[0].strip()
    treasury.start()
    wait_until(lambda: len(treasury.query("SELECT 1 FROM alert_outbox WHERE kind = 'start_summary'")) == 2,
               what="the second start summary")
    [(facts,)] = treasury.query("SELECT facts FROM alert_outbox WHERE kind = 'start_summary' ORDER BY seq DESC LIMIT 1")
    assert f'"chain_head":"{head}"' in facts
    assert ctl(treasury, "verify").returncode == 0
