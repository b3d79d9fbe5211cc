"""The whole chain with real processes: sandbox exchange, treasury and signal bot over CURVE."""

from __future__ import annotations

import json
import os
import shutil
from decimal import Decimal
from pathlib import Path

import pytest
import requests

from signal_bot.sweep import sweep_intent_id
from tests.support.ports import free_port
from tests.support.procs import Proc, script
from tests.support.sandbox import DEMO_SIGNAL
from tests.support.treasury_proc import TreasuryProcess
from tests.support.waiting import wait_until

pytestmark = pytest.mark.e2e

SECRET = "test-secret-not-real-0002"
CONFIG = """
[risk]
symbols = ["BTCUSDT"]
max_quote_per_order = "2000"
max_orders_per_minute = 1000

[treasury]
timeout_seconds = 0.5
retries = 2

[sweep]
asset = "USDT"
coin = "USDT"
network = "TRX"
destination = "cold-wallet"
keep = "1000"
min_sweep = "10"
step = "1"
retry_seconds = 1
"""


class SignalBot:
    """A real `signal-bot run` wired to a TreasuryProcess's endpoints and keys."""

    def __init__(self, folder: Path, sandbox, treasury: TreasuryProcess) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        # The signal side holds its own key pair and a copy of the treasury's PUBLIC key only.
        side = folder / "treasury_public"
        side.mkdir()
        shutil.copy(treasury.curve.treasury_public, side / "treasury.key")
        self.port = free_port()
        env = folder / "signal.env"
        env.write_text(
            f"BINANCE_BASE_URL={sandbox.base_url}\n"
            f"SIGNAL_API_KEY={DEMO_SIGNAL.api_key}\nSIGNAL_API_SECRET={DEMO_SIGNAL.api_secret}\n"
            f"SIGNAL_WEBHOOK_BIND=127.0.0.1:{self.port}\nSIGNAL_WEBHOOK_SECRET={SECRET}\n"
            f"SIGNAL_CURVE_SECRET_FILE={treasury.curve.client_secrets['signal']}\n"
            f"TREASURY_CURVE_PUBLIC_FILE={side / 'treasury.key'}\n"
            f"TREASURY_INTENT_ENDPOINT={treasury.intent_endpoint}\n"
            f"TREASURY_EVENT_ENDPOINT={treasury.event_endpoint}\n"
            "SIGNAL_CONFIG_FILE=signal.toml\nSIGNAL_STATE_PATH=state.sqlite\n")
        os.chmod(env, 0o600)
        (folder / "signal.toml").write_text(CONFIG)
        self.proc = Proc("signal-bot", [script("signal-bot"), "run", "--env-file", str(env)],
                         folder / "bot.log", cwd=folder,
                         env={k: "" for k in ("TREASURY_API_KEY", "TREASURY_API_SECRET")}).start()
        self.proc.wait_for_log("event=signal_bot_started", timeout=20)

    def sell(self, signal_id: str, quote_amount: str) -> None:
        body = {"id": signal_id, "symbol": "BTCUSDT", "side": "SELL", "type": "MARKET",
                "quote_amount": quote_amount, "passphrase": SECRET}
        reply = requests.post(f"http://127.0.0.1:{self.port}/signal", data=json.dumps(body), timeout=5)
        assert reply.status_code == 202, reply.text


@pytest.fixture
def treasury(tmp_path, sandbox):
    process = TreasuryProcess(tmp_path, sandbox)
    yield process
    process.terminate()


def test_a_fill_above_the_threshold_becomes_one_withdrawal_and_the_bot_logs_completed(tmp_path, sandbox, treasury):
    """SELL fill -> one sweep intent -> one sandbox withdrawal -> `completed` event in the bot's log."""
    treasury.start()
    sandbox.set_balance("USDT", "1000")
    bot = SignalBot(tmp_path / "bot", sandbox, treasury)
    try:
        bot.sell("chain-fill-1", "120")
        intent_id = sweep_intent_id("chain-fill-1")
        treasury.wait_status(intent_id, "completed", timeout=30)
        wait_until(lambda: f"event=treasury_event intent_id={intent_id} status=completed" in bot.proc.log(),
                   timeout=15, what="the signal bot to log the completed event")
    finally:
        assert bot.proc.terminate() == 0
    assert sandbox.apply_calls()[intent_id] == 1
    (withdrawal,) = [w for w in sandbox.withdrawals() if w["withdrawOrderId"] == intent_id]
    assert Decimal(withdrawal["amount"]) == Decimal(treasury.query(
        "SELECT amount FROM intents WHERE intent_id = ?", (intent_id,))[0][0])


def test_with_the_treasury_stopped_a_sweep_is_retried_with_the_same_id_and_decided_once(tmp_path, sandbox, treasury):
    """Treasury down: the bot retries the same intent_id; once up, one decision, one withdrawal."""
    sandbox.set_balance("USDT", "1000")
    bot = SignalBot(tmp_path / "bot", sandbox, treasury)
    try:
        bot.sell("chain-down-1", "60")
        intent_id = sweep_intent_id("chain-down-1")
        bot.proc.wait_for_log(f"event=sweep_intent_unanswered intent_id={intent_id}", timeout=20)
        treasury.start()
        bot.proc.wait_for_log(f"event=sweep_intent_decided intent_id={intent_id}", timeout=30)
        treasury.wait_status(intent_id, "completed", timeout=30)
    finally:
        assert bot.proc.terminate() == 0
    assert treasury.query("SELECT COUNT(*) FROM intents")[0][0] == 1
    assert treasury.query("SELECT COUNT(*) FROM refused_requests")[0][0] == 0
    assert sandbox.apply_calls()[intent_id] == 1
