"""The whole chain with real processes: sandbox exchange, treasury and signal bot over CURVE."""

from __future__ import annotations

from decimal import Decimal

import pytest

from signal_bot.sweep import sweep_intent_id
from tests.support.signal_proc import SignalBot
from tests.support.treasury_proc import TreasuryProcess
from tests.support.waiting import wait_until

pytestmark = pytest.mark.e2e

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
