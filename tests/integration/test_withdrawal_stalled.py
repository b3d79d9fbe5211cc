"""An accepted intent that could not be sent for stuck_after_minutes is told, once
(issue 10, defect 3): the real executor, a real ledger, a FakeClock and a fake exchange
port that answers every apply with a failure proving nothing was sent."""

from __future__ import annotations

import json

import pytest

from common.binance import AuthError, ExchangeUnavailable
from common.clock import FakeClock
from tests.support.ledger_peek import peek
from tests.support.treasury_core import step_executor_for, T0, Applied, FakeExchange, accept, make_policy, open_ledger
from treasury_bot import withdrawal_notes
from treasury_bot.executor import Executor

STUCK_MIN = 60


class Rig:
    def __init__(self, tmp_path) -> None:
        self.policy = make_policy(min_seconds="0", stuck_after_minutes=STUCK_MIN)
        self.clock = FakeClock(T0)
        self.ledger = open_ledger(tmp_path / "ledger.sqlite")
        self.exchange = FakeExchange()
        self.executor = Executor(self.ledger, self.exchange, self.policy, self.clock, api_key="k" * 64)

    def run_for(self, seconds: float, tick: float = 1.0) -> None:
        step_executor_for(self.executor, self.clock, seconds, tick)

    def stalled_alerts(self) -> list[tuple[str, str, dict]]:
        rows = peek(self.ledger, "SELECT severity, intent_id, facts FROM alert_outbox WHERE kind = 'withdrawal_stalled'")
        return [(severity, intent_id, json.loads(facts)) for severity, intent_id, facts in rows]


@pytest.fixture
def rig(tmp_path):
    made = Rig(tmp_path)
    yield made
    made.ledger.close()


def test_endless_unavailable_applies_raise_exactly_one_stalled_alert_with_the_reason(rig):
    """Every apply fails with ExchangeUnavailable (no connection): the intent goes back to
    queued each time; after stuck_after_minutes from its acceptance ONE WARNING alert says
    why, it is recorded in withdrawal_stalls, and hours more of failures add none."""
    accept(rig.ledger, rig.policy, rig.clock, "stall-1")
    rig.exchange.script_apply(*[Applied(ExchangeUnavailable("no connection: connection refused"), False)] * 5000)
    rig.run_for(STUCK_MIN * 60 - 31)
    assert rig.stalled_alerts() == []
    applies_before = len(rig.exchange.applies)
    assert applies_before > 100  # it really kept trying
    rig.run_for(62)
    [(severity, intent_id, alert)] = rig.stalled_alerts()
    assert (severity, intent_id) == ("WARNING", "stall-1")
    assert alert["detail"] == "last error exchange_unavailable: no connection: connection refused"
    assert alert["stuck_after_minutes"] == STUCK_MIN and alert["queued_since_ms"] == T0
    assert [stall.reason for stall in rig.ledger.open_stalls()] == [
        "last error exchange_unavailable: no connection: connection refused"]
    rig.run_for(2 * 3600, tick=5.0)
    assert len(rig.stalled_alerts()) == 1
    assert rig.ledger.get_intent("stall-1").status == "queued"


def test_a_halted_executor_still_tells_of_stalls_and_keeps_its_reason_in_the_ledger(rig):
    """An auth error halts withdrawals: the reason is kept under the meta key (for
    `treasuryctl status`), and the stall check still runs while halted, naming the halt."""
    accept(rig.ledger, rig.policy, rig.clock, "halt-1")
    rig.exchange.script_apply(Applied(AuthError("Invalid API-key, IP, or permissions for action.",
                                                binance_code=-2015, http_status=401), False))
    rig.run_for(5)
    assert len(rig.exchange.applies) == 1
    reason, at = withdrawal_notes.halted(rig.ledger)
    assert reason == "-2015 Invalid API-key, IP, or permissions for action." and at == T0
    rig.run_for(STUCK_MIN * 60 + 30, tick=5.0)
    assert len(rig.exchange.applies) == 1   # halted: nothing sent
    [(severity, _, alert)] = rig.stalled_alerts()
    assert severity == "WARNING"
    assert alert["detail"] == "withdrawals halted: -2015 Invalid API-key, IP, or permissions for action."


def test_a_fresh_start_and_a_successful_apply_clear_the_halt_mark(rig):
    """The mark says what holds now: a restart tries again, and a success proves the key works."""
    with rig.ledger.transaction():
        withdrawal_notes.set_halted(rig.ledger, "-2015 bad key", T0)
    rig.executor.recover()
    assert withdrawal_notes.halted(rig.ledger) is None
    with rig.ledger.transaction():
        withdrawal_notes.set_halted(rig.ledger, "-2015 bad key", T0)
    accept(rig.ledger, rig.policy, rig.clock, "ok-1")
    rig.run_for(2)
    assert rig.ledger.get_intent("ok-1").status == "submitted"
    assert withdrawal_notes.halted(rig.ledger) is None
