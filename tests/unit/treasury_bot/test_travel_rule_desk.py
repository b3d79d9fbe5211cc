"""treasury_bot/travel_rule_desk.py: the local-entity endpoints as the executor's and the
poller's WithdrawalDesk (pure: a double of the endpoints, no socket)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from common.binance.models import LocalWithdrawRecord
from tests.support.seams import mismatches
from treasury_bot.exchange import AccountWithdrawals, TravelRuleEndpoints, WithdrawalDesk
from treasury_bot.travel_rule import TravelRule
from treasury_bot.travel_rule_desk import MissingQuestionnaire, TravelRuleDesk, as_withdraw_record

RULE = TravelRule("JP", {("USDT", "TRX", "TAddr1", None): '{"isAttested":true}'})


def row(**over) -> LocalWithdrawRecord:
    fields = dict(tr_id=7, amount=Decimal("25"), coin="USDT", address="TAddr1", withdrawal_status=6,
                  travel_rule_status=0, apply_time="2026-12-03 09:00:00", id="w-9", withdraw_order_id="i-1",
                  network="TRX", info="")
    fields.update(over)
    return LocalWithdrawRecord(**fields)


class Endpoints:
    recv_window_ms = 5000
    time_offset_ms = 0

    def __init__(self) -> None:
        self.applied: list[dict] = []
        self.looked_up: list[dict] = []

    def local_withdraw_apply(self, *, coin, network, address, amount, withdraw_order_id, questionnaire,
                             address_tag=None, wallet_type=None) -> str:
        self.applied.append(dict(coin=coin, address=address, questionnaire=questionnaire, wallet_type=wallet_type,
                                 withdraw_order_id=withdraw_order_id))
        return "7"

    def local_withdraw_history(self, *, withdraw_order_id=None, tr_id_list=None, start_time=None,
                               end_time=None, limit=None, offset=None):
        window = dict(start_time=start_time, end_time=end_time, limit=limit, offset=offset)
        self.looked_up.append(dict(withdraw_order_id=withdraw_order_id, tr_id_list=tr_id_list,
                                   **{name: value for name, value in window.items() if value is not None}))
        return [row()]


def test_the_desk_and_its_double_are_whole_seams():
    """TravelRuleDesk is a WithdrawalDesk; the double is a whole TravelRuleEndpoints."""
    assert mismatches(TravelRuleDesk(Endpoints(), RULE), WithdrawalDesk) == []
    assert mismatches(TravelRuleDesk(Endpoints(), RULE), AccountWithdrawals) == []
    assert mismatches(Endpoints(), TravelRuleEndpoints) == []


def test_an_apply_carries_the_destinations_questionnaire_and_returns_the_tr_id():
    """The questionnaire found by coin/network/address/tag goes out; the trId is the withdrawal id."""
    endpoints = Endpoints()
    desk = TravelRuleDesk(endpoints, RULE)
    assert desk.withdraw_apply(coin="USDT", network="TRX", address="TAddr1", amount=Decimal("25"),
                               withdraw_order_id="i-1", wallet_type=0) == "7"
    assert endpoints.applied == [dict(coin="USDT", address="TAddr1", questionnaire='{"isAttested":true}',
                                      wallet_type=0, withdraw_order_id="i-1")]


def test_an_apply_to_an_address_without_a_questionnaire_is_refused_before_sending():
    """Not in the route: a WithdrawRefused (the executor fails it; never unknown), nothing sent."""
    endpoints = Endpoints()
    with pytest.raises(MissingQuestionnaire):
        TravelRuleDesk(endpoints, RULE).withdraw_apply(coin="USDT", network="TRX", address="TOther",
                                                       amount=Decimal("1"), withdraw_order_id="i-2")
    assert endpoints.applied == []


def test_look_ups_by_our_ids_ask_by_tr_id_and_by_order_id_as_given():
    """id_list (the trIds we hold) becomes trId; withdraw_order_id stays withdrawOrderId."""
    endpoints = Endpoints()
    desk = TravelRuleDesk(endpoints, RULE)
    [record] = desk.withdraw_history(id_list=["7"])
    desk.withdraw_history(withdraw_order_id="i-1")
    assert endpoints.looked_up == [dict(withdraw_order_id=None, tr_id_list=["7"]),
                                   dict(withdraw_order_id="i-1", tr_id_list=None)]
    assert (record.id, record.status, record.withdraw_order_id) == ("7", 6, "i-1")


def test_the_watch_reads_a_window_of_local_entity_withdrawals_as_capital_records():
    """withdrawals_between asks the local-entity history for the window and one page (issue 13 item 5)."""
    endpoints = Endpoints()
    [record] = TravelRuleDesk(endpoints, RULE).withdrawals_between(start_time=1, end_time=2, offset=0, limit=1000)
    assert endpoints.looked_up == [dict(withdraw_order_id=None, tr_id_list=None, start_time=1, end_time=2,
                                        limit=1000, offset=0)]
    assert (record.id, record.withdraw_order_id) == ("7", "i-1")


@pytest.mark.parametrize("withdrawal_status, travel_rule_status, status", [
    (6, 0, 6), (4, 0, 4), (0, 1, 0), (2, 1, 2), (3, 2, 3), (4, 2, 3), (0, 2, 3),
])
def test_a_failed_travel_rule_check_reads_as_rejected_else_the_withdrawal_status(
        withdrawal_status, travel_rule_status, status):
    """travelRuleStatus 2 is a rejection whatever the withdrawal status says; otherwise it is that status."""
    record = as_withdraw_record(row(withdrawal_status=withdrawal_status, travel_rule_status=travel_rule_status,
                                    info="beneficiary unknown"))
    assert record.status == status
    if travel_rule_status == 2:
        assert record.info.startswith("Travel Rule check failed: beneficiary unknown")
