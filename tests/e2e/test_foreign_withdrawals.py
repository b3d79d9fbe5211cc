"""Issue 13 items 5, 6 and 7 end to end: a real `treasury-bot run`, the real sandbox, a real
SMTP server and `treasuryctl status`.

- a withdrawal made directly on the sandbox (its admin API: no apply by the treasury) is
  caught within one watch interval: one CRITICAL foreign_withdrawal mail, the breaker trips;
- a ledger restored from an older copy does not send twice: the start-up watch finds the
  withdrawals the lost records made before any apply, their intent ids are refused when
  the client resends them, the sandbox's record shows each withdrawal once;
- shadow mode decides, journals and mails (SHADOW) and never calls the apply endpoint;
- a Travel Rule account's watch reads the local-entity history; an unreadable history at
  start stops the start.
"""

from __future__ import annotations

import dataclasses
import sqlite3
from typing import Iterator

import pytest

from tests.support.alert_mails import alert_mails, wait_alert
from tests.support.sandbox import DEMO_TRX_ADDRESS, Sandbox, sandbox_process
from tests.support.smtp import SmtpSink
from tests.support.treasury_proc import E2E_DESTINATIONS, TreasuryProcess, e2e_policy, new_intent
from tests.support.waiting import wait_until

pytestmark = pytest.mark.e2e

WATCH_S = 2


@pytest.fixture
def sandbox(tmp_path) -> Iterator[Sandbox]:
    with sandbox_process(tmp_path, complete_after_seconds=0.3) as running:
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


def open_freeze(process: TreasuryProcess) -> tuple | None:
    rows = process.query("SELECT breaker, reason FROM freezes WHERE unfrozen_at IS NULL")
    return rows[0] if rows else None


def test_a_foreign_withdrawal_made_directly_on_the_sandbox_is_caught_within_one_watch_interval(
        tmp_path, sandbox, sink):
    """Ours is not flagged; one planted on the sandbox is mailed CRITICAL once and freezes the treasury."""
    process = TreasuryProcess(tmp_path, sandbox, smtp=(sink.host, sink.port),
                              policy_text=e2e_policy(watch_every_seconds=WATCH_S)).start()
    try:
        process.withdraw_once("ours-1", "25")
        planted = sandbox.plant_withdrawal(coin="USDT", network="TRX", address=DEMO_TRX_ADDRESS, amount="40")
        # One interval, plus what a pass and a mail take on a loaded 2-core machine.
        wait_until(lambda: process.query("SELECT withdrawal_id FROM foreign_withdrawals"),
                   timeout=WATCH_S + 8, what="the watch to record the planted withdrawal")
        assert process.query("SELECT withdrawal_id FROM foreign_withdrawals") == [(planted["id"],)]
        mail = wait_alert(sink, "foreign_withdrawal", timeout=15)
        assert "[CRITICAL]" in mail.subject and planted["id"] in mail.body
        wait_alert(sink, "breaker_tripped", timeout=15)
        assert open_freeze(process)[0] == "foreign_withdrawal"
        wait_until(lambda: process.query("SELECT value FROM meta WHERE key = 'foreign_watch.last_pass_at'")
                   and int(process.query("SELECT value FROM meta WHERE key = 'foreign_watch.last_pass_at'")[0][0])
                   > 0, timeout=10, what="a pass recorded")
        # Passes go on; the same withdrawal is never alerted again.
        seen = process.query("SELECT value FROM meta WHERE key = 'foreign_watch.last_pass_at'")[0][0]
        wait_until(lambda: process.query("SELECT value FROM meta WHERE key = 'foreign_watch.last_pass_at'")[0][0]
                   != seen, timeout=WATCH_S + 8, what="another pass")
        assert len(alert_mails(sink, "foreign_withdrawal")) == 1
        assert planted["id"] in status(process)
    finally:
        process.terminate()


def test_a_travel_rule_account_s_foreign_withdrawal_is_read_from_the_local_entity_history(tmp_path, sink):
    """Under the JP local entity the watch reads the local-entity history: one made there by
    hand (its trId) is found and freezes the treasury; our own withdrawal is not flagged."""
    japan_self = {"isAddressOwner": 1, "sendTo": 2, "country": "jp", "city": "tokyo", "isAttested": True}
    destinations = tuple(dataclasses.replace(d, questionnaire=japan_self) for d in E2E_DESTINATIONS)
    with sandbox_process(tmp_path, complete_after_seconds=0.3, travel_rule_country="JP") as sandbox:
        process = TreasuryProcess(tmp_path, sandbox, smtp=(sink.host, sink.port), policy_text=e2e_policy(
            destinations=destinations, watch_every_seconds=WATCH_S)).start()
        try:
            process.withdraw_once("tr-ours-1", "30")          # trId 1
            sandbox.plant_withdrawal(coin="USDT", network="TRX", address=DEMO_TRX_ADDRESS, amount="40",
                                     localEntity=True)          # trId 2
            wait_until(lambda: process.query("SELECT withdrawal_id FROM foreign_withdrawals"),
                       timeout=WATCH_S + 8, what="the watch to record the planted local-entity withdrawal")
            assert process.query("SELECT withdrawal_id FROM foreign_withdrawals") == [("2",)]
            wait_alert(sink, "foreign_withdrawal", timeout=15)
            assert open_freeze(process)[0] == "foreign_withdrawal"
        finally:
            process.terminate()


def test_a_restored_older_ledger_refuses_the_lost_intents_and_sends_nothing_twice(tmp_path, sandbox, sink):
    """Backup after r-1; r-2 and r-3 made after it; the old copy put back: the start finds r-2
    and r-3, the resent intents are refused (r-1 replays), the sandbox has each once, frozen."""
    process = TreasuryProcess(tmp_path, sandbox, smtp=(sink.host, sink.port),
                              policy_text=e2e_policy(watch_every_seconds=WATCH_S)).start()
    intents = {name: new_intent(name, amount="25") for name in ("r-1", "r-2", "r-3")}
    backup = tmp_path / "ledger.backup.sqlite"
    try:
        with process.client() as client:
            assert client.send_intent(intents["r-1"]).outcome == "accepted"
            process.wait_status("r-1", "completed")
            source = sqlite3.connect(process.ledger_path)
            target = sqlite3.connect(backup)
            try:
                source.backup(target)
            finally:
                target.close()
                source.close()
            for name in ("r-2", "r-3"):
                assert client.send_intent(intents[name]).outcome == "accepted"
                process.wait_status(name, "completed")
    finally:
        assert process.terminate() == 0
    for suffix in ("-wal", "-shm"):
        process.ledger_path.with_name(process.ledger_path.name + suffix).unlink(missing_ok=True)
    process.ledger_path.write_bytes(backup.read_bytes())
    assert process.status_of("r-2") is None  # the restored copy has lost r-2 and r-3

    process.start()
    try:
        found = {row[0] for row in process.query("SELECT withdraw_order_id FROM foreign_withdrawals")}
        assert found == {"r-2", "r-3"}  # found at start, before the treasury answered anything
        with process.client() as client:
            replies = {name: client.send_intent(intent) for name, intent in intents.items()}
        assert (replies["r-1"].outcome, replies["r-1"].status) == ("accepted", "completed")
        for name in ("r-2", "r-3"):
            assert (replies[name].outcome, replies[name].reason_code) == ("rejected", "intent_id_conflict")
            assert "foreign-withdrawal watch" in replies[name].detail
            assert process.status_of(name) is None
        wait_alert(sink, "foreign_withdrawal", "r-2", timeout=15)
        wait_alert(sink, "foreign_withdrawal", "r-3", timeout=15)
        assert open_freeze(process)[0] == "foreign_withdrawal"
    finally:
        process.terminate()
    assert sandbox.apply_calls() == {"r-1": 1, "r-2": 1, "r-3": 1}
    made = [w["withdrawOrderId"] for w in sandbox.withdrawals()]
    assert sorted(made) == ["r-1", "r-2", "r-3"]


def test_shadow_mode_decides_journals_and_mails_but_never_calls_the_apply_endpoint(tmp_path, sandbox, sink):
    """mode = "shadow": the intent is accepted, ends `shadowed`, a SHADOW would_withdraw mail; no apply."""
    process = TreasuryProcess(tmp_path, sandbox, smtp=(sink.host, sink.port),
                              policy_text=e2e_policy(mode="shadow")).start()
    try:
        with process.client() as client:
            decision = client.send_intent(new_intent("shadow-1", amount="25"))
            assert decision.outcome == "accepted"
            process.wait_status("shadow-1", "shadowed")
            again = client.send_intent(new_intent("shadow-2", amount="2000"))  # over max_per_transfer
            assert again.outcome == "rejected"
        mail = wait_alert(sink, "would_withdraw", "shadow-1", timeout=15)
        assert mail.subject.startswith("[treasury][SHADOW][")
        rejected = wait_alert(sink, "intent_rejected", "shadow-2", timeout=15)
        assert rejected.subject.startswith("[treasury][SHADOW][")
        assert "mode: SHADOW" in status(process)
        assert process.statuses_of("shadow-1") == ["queued", "shadowed"]
    finally:
        process.terminate()
    assert sandbox.apply_calls() == {}
    assert sandbox.withdrawals() == []


def test_an_unreadable_withdrawal_history_at_start_stops_the_start(tmp_path, sandbox):
    """The start-up watch cannot read the history (5XX every time): exit 3, nothing served, no apply."""
    sandbox.add_fault("/sapi/v1/capital/withdraw/history", "5xx_before", count=50)
    process = TreasuryProcess(tmp_path, sandbox).start(wait_ready=False)
    assert process.proc.wait_exit(30) == 3, process.log()[-3000:]
    assert "foreign-withdrawal watch" in process.log()
    assert sandbox.apply_calls() == {}
