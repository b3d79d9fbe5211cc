"""The treasury's Binance key rotation, as docs/deployment.md's runbook says (issue 16 item
2), end to end on the sandbox and under load: new key with the same rights and IP list,
env file, `treasuryctl check`, restart (the reload of item 1 is another helper's), verify,
delete the old key. No intent is lost or doubled, and after the switch every withdrawal is
made with the new key: the old key's requests stop."""

from __future__ import annotations

import threading
import time

import pytest

from common.intent_client import TreasuryUnavailable
from tests.support.sandbox import demo_config_text, sandbox_process
from tests.support.treasury_proc import TreasuryProcess, new_intent
from tests.support.waiting import wait_until

pytestmark = pytest.mark.e2e

NEXT_KEY = "demo-treasury-next-key-00000000000000000000000000000000000000000"
NEXT_SECRET = "demo-treasury-next-secret-not-real-00000000000000000000000000000"
NEXT_BLOCK = f'''
[[key]]
name = "treasury-next"
api_key = "{NEXT_KEY}"
api_secret = "{NEXT_SECRET}"
can_trade = false
can_withdraw = true
enable_reading = true
ip_restrict = true
allowed_ips = ["127.0.0.1", "::1"]

'''


def config_with_next_key() -> str:
    text = demo_config_text(complete_after_seconds=0.5)
    at = text.index("\n[[address_book]]") + 1  # after the demo's keys, before its address book
    return text[:at] + NEXT_BLOCK + text[at:]


class Load:
    """Intents one after another from a thread; an unanswered one is resent with its id."""

    def __init__(self, treasury: TreasuryProcess) -> None:
        self.treasury = treasury
        self.sent: list[str] = []
        self.stop = threading.Event()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            n = 0
            while not self.stop.is_set():
                intent = new_intent(f"load-{n}", amount="10")
                deadline = time.monotonic() + 30
                while True:
                    try:
                        with self.treasury.client(timeout=1.0, retries=1) as client:
                            decision = client.send_intent(intent)
                        break
                    except TreasuryUnavailable:  # the restart: same intent, same id, again
                        if time.monotonic() > deadline:
                            raise
                assert decision.outcome == "accepted", decision
                self.sent.append(intent.intent_id)
                n += 1
                self.stop.wait(0.1)
        except BaseException as exc:  # surfaced by `finish`
            self.error = exc

    def start(self) -> "Load":
        self.thread.start()
        return self

    def finish(self) -> list[str]:
        self.stop.set()
        self.thread.join(40)
        if self.error is not None:
            raise self.error
        return self.sent


def test_the_rotation_runbook_under_load_loses_and_doubles_nothing_and_the_old_key_stops(tmp_path):
    """Every intent completes once; withdrawals after the switch carry the new key only; the
    old key deleted afterwards changes nothing."""
    with sandbox_process(tmp_path, config_with_next_key()) as sandbox:
        treasury = TreasuryProcess(tmp_path, sandbox).start()
        load = Load(treasury).start()
        try:
            wait_until(lambda: len(load.sent) >= 3, timeout=20, what="intents flowing on the old key")
            # 1-3: the new key (same rights, same IP list) into the env file; check.
            treasury.write_env(dict(treasury.env, TREASURY_API_KEY=NEXT_KEY, TREASURY_API_SECRET=NEXT_SECRET))
            check = treasury.check()
            assert check.returncode == 0, check.stdout
            assert "OK   key age" in check.stdout and "key is IP-restricted" in check.stdout
            # 4: restart (reload where item 1 provides it).
            assert treasury.terminate() == 0
            switched_ms = sandbox.server_time()
            treasury.start()
            before = len(load.sent)
            wait_until(lambda: len(load.sent) >= before + 3, timeout=20, what="intents flowing on the new key")
            # 6: delete the old key; the load goes on.
            sandbox.set_key("treasury", deleted=True)
            after_delete = len(load.sent)
            wait_until(lambda: len(load.sent) >= after_delete + 3, timeout=20, what="intents after the delete")
            sent = load.finish()
            for intent_id in sent:
                treasury.wait_status(intent_id, "completed", timeout=60)
        finally:
            load.stop.set()
            treasury.terminate()
        # 5: verify, on the exchange's own record.
        assert treasury.query("SELECT COUNT(*) FROM intents") == [(len(sent),)]
        calls = sandbox.apply_calls()
        assert set(calls) == set(sent) and set(calls.values()) == {1}, calls
        withdrawals = sandbox.withdrawals()
        assert {w["key"] for w in withdrawals if w["applyTimeMs"] >= switched_ms} == {"treasury-next"}
        assert {w["key"] for w in withdrawals if w["applyTimeMs"] < switched_ms} <= {"treasury"}
        assert "-2015" not in treasury.log()
