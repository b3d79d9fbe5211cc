"""Issue 12 end to end: a real `treasury-bot run`, the real sandbox (its address book and
rules), `treasuryctl check` and a real SMTP server.

- a destination missing from the account's address book: the start says so, `check` names
  it, and an intent to it is refused with `not_in_address_book` with no apply reaching the
  sandbox;
- removed at run time: one `address_book_missing` mail (not one per refresh), later intents
  refused;
- a tag on a network that takes none: the start is refused as a policy error (exit 2).
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
from typing import Iterator

import pytest

from tests.support.alert_mails import alert_mails, wait_alert
from tests.support.procs import script
from tests.support.sandbox import DEMO_TRX_ADDRESS, Sandbox
from tests.support.smtp import SmtpSink
from tests.support.treasury_proc import E2E_DESTINATIONS, TreasuryProcess, e2e_policy, new_intent
from tests.support.waiting import wait_until

pytestmark = pytest.mark.e2e

EXIT_CONFIG = 2
REFRESH = {"TREASURY_SANDBOX_RULES_SECONDS": "0.5"}


def book_without(sandbox: Sandbox, address: str) -> None:
    """The account's address book without `address` (the admin API replaces it whole)."""
    entries = [e for e in sandbox.admin("GET", "/sandbox/address-book")["entries"] if e["address"] != address]
    sandbox.admin("POST", "/sandbox/address-book", {"entries": entries})


def check(process: TreasuryProcess) -> tuple[int, str]:
    done = subprocess.run([script("treasuryctl"), "--env-file", str(process.env_path), "check"],
                          capture_output=True, text=True, timeout=60)
    return done.returncode, done.stdout


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    running = SmtpSink().start()
    yield running
    running.stop()


def test_a_destination_missing_at_start_is_said_named_by_check_and_never_applied_for(tmp_path, sandbox):
    """cold-wallet not in the book: a start warning, one FAIL line in check, intents refused, no apply."""
    book_without(sandbox, DEMO_TRX_ADDRESS)
    process = TreasuryProcess(tmp_path, sandbox).start()
    try:
        assert "address_book_audit" in process.log() and "destination=cold-wallet" in process.log()
        with process.client("signal") as client:
            decision = client.send_intent(new_intent("ab-start-1", amount="25"))
        assert (decision.outcome, decision.reason_code) == ("rejected", "not_in_address_book")
        assert process.status_of("ab-start-1") == "denied"
        code, out = check(process)
        book = [line for line in out.splitlines() if line[5:].startswith("address book")]
        assert code == 1 and len(book) == 1 and book[0].startswith("FAIL"), out
        assert "destination cold-wallet" in book[0]
    finally:
        process.terminate()
    assert "ab-start-1" not in sandbox.apply_calls()


def test_a_destination_removed_at_run_time_is_mailed_once_and_its_intents_refused(tmp_path, sandbox, sink):
    """Sent while listed; removed: one address_book_missing mail over several refreshes; then refused."""
    process = TreasuryProcess(tmp_path, sandbox, smtp=(sink.host, sink.port), extra_env=REFRESH).start()
    try:
        with process.client("signal") as client:
            assert client.send_intent(new_intent("ab-run-1", amount="25")).outcome == "accepted"
            process.wait_status("ab-run-1", "completed")
            book_without(sandbox, DEMO_TRX_ADDRESS)
            mail = wait_alert(sink, "address_book_missing", timeout=20)
            assert mail.severity == "WARNING" and "cold-wallet" in mail.subject
            assert "treasuryctl check" in mail.mail.body
            readings: set[int] = set()

            def three_more_readings() -> bool:
                readings.add(saved_reading_time(process))
                return len(readings) > 3
            wait_until(three_more_readings, timeout=20, what="three more address-book readings")
            assert len(alert_mails(sink, "address_book_missing")) == 1
            decision = client.send_intent(new_intent("ab-run-2", amount="25"))
        assert (decision.outcome, decision.reason_code) == ("rejected", "not_in_address_book")
    finally:
        process.terminate()
    calls = sandbox.apply_calls()
    assert calls.get("ab-run-1") == 1 and "ab-run-2" not in calls


def saved_reading_time(process: TreasuryProcess) -> int:
    """When the treasury last read the address book, as it saved it (ledger meta)."""
    rows = process.query("SELECT value FROM meta WHERE key = 'address_book'")
    return json.loads(rows[0][0])["fetched_at"] if rows else 0


def test_a_tag_on_a_network_that_takes_none_refuses_the_start_as_a_policy_error(tmp_path, sandbox):
    """USDT on TRX takes no memo at the sandbox (withdrawTag false): exit 2, naming cold-wallet."""
    tagged = (dataclasses.replace(E2E_DESTINATIONS[0], tag="12345"),) + E2E_DESTINATIONS[1:]
    process = TreasuryProcess(tmp_path, sandbox, policy_text=e2e_policy(destinations=tagged))
    process.start(wait_ready=False)
    assert process.proc.wait_exit(30) == EXIT_CONFIG, process.log()[-3000:]
    log = process.log()
    assert "start_refused" in log and "destination cold-wallet: has a tag" in log and "takes none" in log
    assert sandbox.apply_calls() == {}
