"""The executor after a key refusal (issue 12, item 6), against a fake exchange port, a
real ledger and a FakeClock: one follow-up apiRestrictions read names the cause, the halt
keeps it for `treasuryctl`, the one CRITICAL alert carries it, and nothing is retried."""

from __future__ import annotations

import pytest

from common.binance import ApiRestrictions, AuthError, ExchangeUnavailable
from common.clock import FakeClock
from tests.support.ledger_peek import outbox_facts
from tests.support.treasury_core import (T0, FakeExchange, accept, alerts, make_policy, open_ledger, statuses,
                                         step_executor_for)
from treasury_bot import withdrawal_notes
from treasury_bot.executor import Executor

MSG_2015 = "Invalid API-key, IP, or permissions for action."
RIGHTS = dict(ip_restrict=True, enable_reading=True, enable_withdrawals=True, enable_spot_and_margin_trading=False)


class KeyCheck:
    """The follow-up port: answers (or raises) what the test says, counting the calls."""

    def __init__(self, answer) -> None:
        self.answer = answer
        self.calls = 0

    def api_restrictions(self) -> ApiRestrictions:
        self.calls += 1
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


@pytest.fixture
def ledger(tmp_path):
    opened = open_ledger(tmp_path / "ledger.sqlite")
    yield opened
    opened.close()


def refused_once(ledger, answer, refusal: AuthError) -> tuple[Executor, FakeExchange, KeyCheck]:
    policy, clock, exchange, check = make_policy(min_seconds="2"), FakeClock(T0), FakeExchange(), KeyCheck(answer)
    executor = Executor(ledger, exchange, policy, clock, api_key="k" * 64, key_check=check)
    accept(ledger, policy, clock, "key-1")
    exchange.script_apply(refusal)
    executor.step()
    step_executor_for(executor, clock, 300, tick=5)
    return executor, exchange, check


@pytest.mark.parametrize("answer, cause", [
    (ApiRestrictions(**{**RIGHTS, "enable_withdrawals": False}), "key_lacks_withdraw_permission"),
    (AuthError(MSG_2015, binance_code=-2015), "key_deleted_or_ip_not_allowed"),
    (ExchangeUnavailable("no reply"), "key_refused"),
], ids=["no-withdraw-right", "follow-up-refused-too", "follow-up-unreadable"])
def test_a_2015_apply_is_diagnosed_by_one_follow_up_halts_and_is_never_retried(ledger, answer, cause):
    """-2015 on apply: one apiRestrictions read, the cause in the CRITICAL alert and the halt
    note, the intent back in queued, and no second apply in five minutes."""
    executor, exchange, check = refused_once(ledger, answer, AuthError(MSG_2015, binance_code=-2015))
    assert check.calls == 1 and len(exchange.applies) == 1
    assert statuses(ledger, "key-1") == ["queued", "submitting", "queued"]
    assert alerts(ledger) == [("exchange_auth_error", "CRITICAL", "key-1")]
    [facts] = outbox_facts(ledger)
    assert facts["cause"] == cause and facts["fix"] and facts["problem"] and facts["exchange_code"] == -2015
    assert withdrawal_notes.halt_advice(ledger)[0] == cause
    assert executor.schedule.halted_reason == f"-2015 {MSG_2015}"


def test_a_code_with_one_meaning_needs_no_follow_up_read(ledger):
    """-2008 names its cause itself: no apiRestrictions read, cause key_invalid_or_deleted."""
    _, exchange, check = refused_once(ledger, ApiRestrictions(**RIGHTS), AuthError("Invalid Api-Key ID.",
                                                                                   binance_code=-2008))
    assert check.calls == 0 and len(exchange.applies) == 1
    assert outbox_facts(ledger)[0]["cause"] == "key_invalid_or_deleted"


def test_a_restart_clears_the_halt_and_its_advice(ledger):
    """recover() at a fresh start clears the halt and its cause: a fixed key withdraws again."""
    executor, _, _ = refused_once(ledger, ApiRestrictions(**{**RIGHTS, "enable_withdrawals": False}),
                                  AuthError(MSG_2015, binance_code=-2015))
    assert withdrawal_notes.halt_advice(ledger) is not None
    executor.recover()
    assert withdrawal_notes.halted(ledger) is None and withdrawal_notes.halt_advice(ledger) is None
