"""The daily statement on a real ledger: once per UTC day across restarts, with what moved,
what is open and the chain head as it stood; a failing statement never stops the clock loop."""

from __future__ import annotations

import threading

from common.clock import FakeClock
from tests.support.ledger_peek import outbox_facts
from tests.support.treasury_core import accept, make_policy, open_ledger
from treasury_bot import lifecycle
from treasury_bot.daily_statement import DAY_MS, DailyStatement, day_start_ms
from treasury_bot.trusted_clock import ClockWatch

DAY = day_start_ms("2026-03-10")


def statements(ledger) -> list[dict]:
    return outbox_facts(ledger, "kind = 'daily_statement'")


def test_a_first_start_states_nothing_and_the_next_day_states_once_across_restarts(tmp_path):
    """No mail on a new ledger; after midnight one statement, and a restart the same day adds none."""
    path = tmp_path / "ledger.sqlite"
    clock = FakeClock(DAY + 3_600_000)
    policy = make_policy()
    ledger = open_ledger(path)
    try:
        assert DailyStatement(ledger, policy, clock).check_once() is None
        record = accept(ledger, policy, clock, "moved-1", "250")
        with ledger.transaction():
            ledger.set_status(record, lifecycle.SUBMITTING, clock.now_ms(), lifecycle.EXECUTOR)
            record = ledger.get_intent("moved-1")
            ledger.set_status(record, lifecycle.SUBMITTED, clock.now_ms(), lifecycle.EXECUTOR)
            record = ledger.get_intent("moved-1")
            ledger.set_status(record, lifecycle.COMPLETED, clock.now_ms(), lifecycle.POLLER)
        accept(ledger, policy, clock, "still-open", "50")
        clock.advance(DAY_MS / 1000)
        head_before = str(ledger.chain_head())
        assert DailyStatement(ledger, policy, clock).check_once() == "2026-03-10"
        assert DailyStatement(ledger, policy, clock).check_once() is None
    finally:
        ledger.close()
    again = open_ledger(path)  # a restart the same day
    try:
        assert DailyStatement(again, policy, clock).check_once() is None
        [facts] = statements(again)
        assert facts["day"] == "2026-03-10" and facts["chain_head"] == head_before
        assert "1 withdrawal(s) completed: 250 USDT" in facts["moved"]
        assert facts["open_intents"].startswith("1 open")
        assert facts["window_usage"] == "last 24 h: USDT 0 of 5000"  # a day later both left the window
        assert again.verify_chain().intact
    finally:
        again.close()


def test_a_failing_statement_is_logged_and_the_clock_loop_goes_on(tmp_path):
    """A duty that raises does not end the clock watch's loop; the next round runs it again."""
    ledger = open_ledger(tmp_path / "ledger.sqlite")
    calls: list[int] = []

    def failing() -> None:
        calls.append(1)
        raise RuntimeError("statement failed")

    class Measured:
        def measure(self):
            raise OSError("exchange unreachable")

        def now_ms(self) -> int:
            return DAY

    watch = ClockWatch(Measured(), ledger, every_s=0.01, max_backoff_s=0.01)
    watch.duties.append(failing)
    stop = threading.Event()
    thread = threading.Thread(target=watch.run, args=(stop,))
    thread.start()
    try:
        from tests.support.waiting import wait_until
        wait_until(lambda: len(calls) >= 3, what="the duty run three rounds")
    finally:
        stop.set()
        thread.join(5)
        ledger.close()
    assert not thread.is_alive()
