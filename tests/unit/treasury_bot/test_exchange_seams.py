"""The treasury's exchange seams (treasury_bot/exchange.py): the real client and the test
doubles implement them whole, so what the executor and the poller are tested against is
what they run against."""

from __future__ import annotations

from decimal import Decimal

import pytest

from common.binance import BinanceClient
from tests.support.seams import mismatches
from tests.support.treasury_core import FakeExchange
from treasury_bot.exchange import (AccountWithdrawals, CoinRulesSource, WithdrawalDesk, WithdrawalHistory,
                                   WithdrawQuotaSource)


def real_client() -> BinanceClient:
    # Building a client does no I/O: no request is made here.
    return BinanceClient("https://api.test.invalid", "test-key-not-real-0002-abcdefghijkl",
                         "test-secret-not-real-0002")


@pytest.mark.parametrize("protocol", [WithdrawalDesk, WithdrawalHistory, CoinRulesSource, WithdrawQuotaSource,
                                      AccountWithdrawals])
def test_the_binance_client_implements_every_treasury_seam(protocol):
    """BinanceClient is one implementation of each port, signatures included."""
    client = real_client()
    try:
        assert mismatches(client, protocol) == []
    finally:
        client.close()


@pytest.mark.parametrize("protocol", [WithdrawalDesk, WithdrawalHistory, AccountWithdrawals])
def test_the_fake_exchange_implements_the_executor_and_poller_seams(protocol):
    """tests/support/treasury_core.py's FakeExchange is a whole WithdrawalDesk (and so a WithdrawalHistory)."""
    assert mismatches(FakeExchange(), protocol) == []


class _NoTiming:
    """A double that forgot the timing the executor reads and names a parameter wrongly."""

    def withdraw_apply(self, *, coin: str, network: str, address: str, amount: Decimal,
                       order_id: str, address_tag: str | None = None) -> str:
        return "w-1"

    def withdraw_history(self, *, withdraw_order_id: str | None = None, id_list=None):
        return []


def test_a_partial_double_is_caught_with_what_it_lacks():
    """The check names each gap: missing members, a renamed parameter, a wrongly typed value."""
    problems = mismatches(_NoTiming(), WithdrawalDesk)
    assert any(p.startswith("recv_window_ms: missing") for p in problems)
    assert any(p.startswith("time_offset_ms: missing") for p in problems)
    assert "withdraw_apply: no parameter 'withdraw_order_id'" in problems
    assert "withdraw_apply: extra parameter 'order_id' without a default" in problems
    assert mismatches(FakeExchange(recv_window_ms="5000"), WithdrawalDesk) == ["recv_window_ms: str, not int"]
