"""Reload on SIGHUP end to end (issue 16 item 1): a real `treasury-bot run` against the real
sandbox, reloaded by `treasuryctl reload` (SIGHUP to the pid file's pid) while intents flow.

Each test proves one road against the ledger and the sandbox's own record: a revoked client
refused and a new one admitted; a tightening in force at once, a loosening pending, a broken
file kept out (and an edit left unreloaded still trips the breaker); a rotated exchange key
in use with the old one deleted at the exchange afterwards, a key that fails the audit kept
out; and no withdrawal sent twice.
"""

from __future__ import annotations

import shutil
from collections import Counter

import pytest

from common.intent_client import TreasuryUnavailable
from tests.support.sandbox import demo_config_text, sandbox_process
from tests.support.treasury_proc import TreasuryProcess, e2e_policy, new_intent
from tests.support.waiting import wait_until

pytestmark = pytest.mark.e2e

NEXT_KEY = "test-treasury-next-key-not-real-0000000000000000000000000000000001"
NEXT_SECRET = "test-treasury-next-secret-not-real-00000000000000000000000000000001"
TRADING_KEY = "test-treasury-trading-key-not-real-000000000000000000000000000001"
TRADING_SECRET = "test-treasury-trading-secret-not-real-0000000000000000000000000001"
EXTRA_KEYS = f'''
[[key]]
name = "treasury-next"
api_key = "{NEXT_KEY}"
api_secret = "{NEXT_SECRET}"
can_trade = false
can_withdraw = true
enable_reading = true
ip_restrict = true
allowed_ips = ["127.0.0.1", "::1"]

[[key]]
name = "treasury-trading"
api_key = "{TRADING_KEY}"
api_secret = "{TRADING_SECRET}"
can_trade = true
can_withdraw = true
enable_reading = true
ip_restrict = true
allowed_ips = ["127.0.0.1", "::1"]
'''


def reload(treasury: TreasuryProcess) -> str:
    """`treasuryctl reload`, then the log line of that reload (the n-th `reload_done`)."""
    before = treasury.log().count("reload_done")
    done = treasury.ctl("reload")
    assert done.returncode == 0, done.stderr
    assert "reload requested" in done.stdout
    wait_until(lambda: treasury.log().count("reload_done") > before, timeout=15, what="reload_done in the log")
    return [line for line in treasury.log().splitlines() if "reload_done" in line][before]


def outbox(treasury: TreasuryProcess, kind: str) -> list[tuple]:
    return treasury.query("SELECT kind, severity FROM alert_outbox WHERE kind = ?", (kind,))


def frozen(treasury: TreasuryProcess) -> bool:
    return treasury.query("SELECT COUNT(*) FROM freezes")[0][0] > 0


def no_double(sandbox) -> None:
    ids = Counter(w.get("withdrawOrderId") for w in sandbox.withdrawals())
    assert all(n == 1 for n in ids.values()), ids


def test_a_reload_refuses_a_revoked_clients_next_request_and_admits_a_new_client(tmp_path, sandbox):
    """`other` removed from the allow-list is refused on its open connection; `intruder`
    added is admitted; `signal`'s intents flow before and after, none sent twice."""
    treasury = TreasuryProcess(tmp_path, sandbox).start()
    try:
        treasury.withdraw_once("rl-c-1", "10")
        with treasury.client("intruder", timeout=0.5, retries=1) as intruder:
            with pytest.raises(TreasuryUnavailable):
                intruder.ping()
        other = treasury.client("other", timeout=0.7, retries=1)
        with other:
            assert other.ping().version
            (treasury.curve.clients_dir / "other.key").unlink()
            keys_dir = treasury.curve.folder / "keys"
            shutil.copy(keys_dir / "intruder.key", treasury.curve.clients_dir / "intruder.key")
            line = reload(treasury)
            assert "added intruder" in line and "removed other" in line, line
            with pytest.raises(TreasuryUnavailable):
                other.ping()      # the same connection, opened before the reload
        with treasury.client("intruder") as admitted:
            assert admitted.ping().version
        treasury.withdraw_once("rl-c-2", "11")
        assert "request_from_unknown_key" in treasury.log()
        no_double(sandbox)
    finally:
        assert treasury.terminate() == 0


def test_a_reload_tightens_at_once_keeps_a_loosening_pending_and_a_broken_file_out(tmp_path, sandbox):
    """Lowered cap: in force at the reload. Raised again: pending (the quarantine), the lower
    cap stays. A broken file: refused, alerted CRITICAL, the running policy kept and no freeze.
    Then an edit left without a reload trips `policy_changed` (the breaker still works)."""
    treasury = TreasuryProcess(tmp_path, sandbox).start()   # quarantine 0: the destinations are usable
    try:
        treasury.withdraw_once("rl-p-1", "700")
        # Both tighten (a longer quarantine, a lower cap): in force at the reload.
        treasury.policy_path.write_text(e2e_policy(quarantine_hours=1, usdt={"max_per_transfer": "500"}))
        line = reload(treasury)
        assert "reloaded (sha256" in line, line
        with treasury.client() as client:
            reply = client.send_intent(new_intent("rl-p-2", "700"))
        assert (reply.outcome, reply.reason_code) == ("rejected", "over_transfer_limit"), reply

        treasury.policy_path.write_text(e2e_policy(quarantine_hours=1, usdt={"max_per_transfer": "2000"}))
        line = reload(treasury)
        assert "1 pending loosening" in line, line
        with treasury.client() as client:
            reply = client.send_intent(new_intent("rl-p-3", "700"))
        assert (reply.outcome, reply.reason_code) == ("rejected", "over_transfer_limit"), reply
        status = treasury.ctl("status")
        assert "pending loosening: limits.coins.USDT.max_per_transfer: 500 -> 2000" in status.stdout, status.stdout

        treasury.policy_path.write_text("this is [not a policy\n")
        line = reload(treasury)
        assert "refused" in line, line
        assert outbox(treasury, "reload_refused") == [("reload_refused", "CRITICAL")]
        treasury.withdraw_once("rl-p-4", "400")   # the running policy decides; nothing froze
        assert not frozen(treasury)

        treasury.policy_path.write_text(e2e_policy(quarantine_hours=1, usdt={"max_per_transfer": "300"}))
        wait_until(lambda: outbox(treasury, "breaker_tripped"), timeout=20,
                   what="policy_changed to trip for an edit left unreloaded")
        no_double(sandbox)
    finally:
        assert treasury.terminate() == 0


def test_a_reload_that_lowers_a_client_budget_is_in_force_at_the_next_request(tmp_path, sandbox):
    """The server's own guards built from the policy (the request budget here; the usage
    window and the disk floor the same way) follow a reload: a tightening is at once."""
    treasury = TreasuryProcess(tmp_path, sandbox).start()
    try:
        treasury.withdraw_once("rl-b-1", "10")
        treasury.policy_path.write_text(e2e_policy(client_budgets={"signal": 2}))
        assert "reloaded (sha256" in reload(treasury)
        with treasury.client() as client:
            codes = [client.send_intent(new_intent(f"rl-b-{n}", "10", destination="nowhere")).reason_code
                     for n in range(2, 6)]
        assert codes[:2] == ["unknown_destination"] * 2 and "client_rate_limited" in codes[2:], codes
        no_double(sandbox)
    finally:
        assert treasury.terminate() == 0


def test_a_reload_rotates_the_exchange_key_after_its_audit_and_the_old_key_is_unused_afterwards(tmp_path):
    """A key that can trade fails the self-audit: kept out (key_audit_failed), the old key
    goes on. The next key passes while an apply is held at the exchange: that apply finishes
    under the old key, later ones go under the new key, the old key is deleted at the
    exchange, and nothing fails or goes out twice."""
    with sandbox_process(tmp_path, demo_config_text(complete_after_seconds=0.5) + EXTRA_KEYS) as sandbox:
        treasury = TreasuryProcess(tmp_path, sandbox).start()
        try:
            treasury.withdraw_once("rl-k-1", "10")
            env = dict(treasury.env)
            treasury.write_env({**env, "TREASURY_API_KEY": TRADING_KEY, "TREASURY_API_SECRET": TRADING_SECRET})
            line = reload(treasury)
            assert "the new key failed" not in line and "refused" in line.split("exchange_key", 1)[1], line
            assert outbox(treasury, "key_audit_failed") == [("key_audit_failed", "CRITICAL")]
            treasury.withdraw_once("rl-k-2", "11")

            # An apply held at the exchange while the key rotates: it finishes with its own key.
            sandbox.add_fault("/sapi/v1/capital/withdraw/apply", "latency", seconds=2.0)
            with treasury.client() as client:
                assert client.send_intent(new_intent("rl-k-inflight", "14")).outcome == "accepted"
            treasury.wait_status("rl-k-inflight", "submitting")
            treasury.write_env({**env, "TREASURY_API_KEY": NEXT_KEY, "TREASURY_API_SECRET": NEXT_SECRET})
            line = reload(treasury)
            assert "reloaded (key" in line, line
            treasury.wait_status("rl-k-inflight", "completed")
            sandbox.set_key("treasury", deleted=True)   # the old key is gone at the exchange
            treasury.withdraw_once("rl-k-3", "12")
            treasury.withdraw_once("rl-k-4", "13")
            by_key = {w["withdrawOrderId"]: w.get("key") for w in sandbox.withdrawals()}
            assert by_key["rl-k-1"] == by_key["rl-k-2"] == by_key["rl-k-inflight"] == "treasury", by_key
            assert by_key["rl-k-3"] == by_key["rl-k-4"] == "treasury-next", by_key
            assert outbox(treasury, "exchange_auth_error") == []
            assert "-2015" not in treasury.log()
            no_double(sandbox)
        finally:
            assert treasury.terminate() == 0


def test_the_signal_bot_reloads_its_webhook_secret_and_config_on_sighup_and_keeps_them_on_a_broken_config(
        tmp_path, sandbox):
    """SIGHUP: the new webhook secret is in force and the old one refused (401); a broken
    signal.toml is refused (reload_refused) and the running secret and config stay."""
    import json
    import os
    import signal

    import requests

    from tests.support.signal_proc import SECRET, SignalBot

    treasury = TreasuryProcess(tmp_path, sandbox).start()
    bot = SignalBot(tmp_path / "signal", sandbox, treasury)
    folder = tmp_path / "signal"
    new_secret = "test-secret-not-real-0003"

    def post(signal_id: str, passphrase: str) -> int:
        body = {"id": signal_id, "symbol": "BTCUSDT", "side": "SELL", "type": "MARKET",
                "quote_amount": "5", "passphrase": passphrase}
        return requests.post(f"http://127.0.0.1:{bot.port}/signal", data=json.dumps(body), timeout=5).status_code

    def hup(count: int) -> None:
        os.kill(bot.proc.popen.pid, signal.SIGHUP)
        wait_until(lambda: bot.proc.log().count("event=reload_") >= count, timeout=15,
                   what="the signal bot's reload in its log")
    try:
        assert post("rl-s-1", SECRET) == 202
        env = folder / "signal.env"
        env.write_text(env.read_text().replace(f"SIGNAL_WEBHOOK_SECRET={SECRET}", f"SIGNAL_WEBHOOK_SECRET={new_secret}"))
        hup(1)
        assert "event=reload_done" in bot.proc.log()
        assert post("rl-s-2", SECRET) == 401
        assert post("rl-s-3", new_secret) == 202
        (folder / "signal.toml").write_text("[risk\nbroken")
        hup(2)
        assert "event=reload_refused" in bot.proc.log()
        assert post("rl-s-4", new_secret) == 202
    finally:
        bot.proc.terminate(10)
        assert treasury.terminate() == 0
