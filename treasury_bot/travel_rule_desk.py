"""The Travel Rule's withdraw endpoints as the executor's and poller's `WithdrawalDesk`
(issue 12 item 5), so that neither branches on the account's entity.

- apply: POST /sapi/v1/localentity/withdraw/apply with the destination's questionnaire;
  the withdrawal's id in the ledger is the travel-rule record id (`trId`) it answers;
- look-ups: GET /sapi/v1/localentity/withdraw/history by `trId` (the ids we hold) or by
  `withdrawOrderId` (the intent id: the exactly-once reconcile works as on the capital
  endpoints, in the same 7-day window);
- a row's status is its `withdrawalStatus`, except that a failed Travel Rule check
  (`travelRuleStatus` 2) is a rejection (3): the money never left, and the intent ends
  `failed` with the exchange's `info`.
https://developers.binance.com/docs/wallet/travel-rule/withdraw
https://developers.binance.com/docs/wallet/travel-rule/withdraw-history
"""

from __future__ import annotations

from decimal import Decimal
from typing import Sequence

from common.binance import WithdrawRecord, WithdrawRefused
from common.binance.models import LocalWithdrawRecord
from treasury_bot.exchange import TravelRuleEndpoints
from treasury_bot.travel_rule import TravelRule

TRAVEL_RULE_FAILED = 2
REJECTED = 3


class MissingQuestionnaire(WithdrawRefused):
    """A withdrawal to an address the start validated no questionnaire for: refused before
    anything is sent (so the executor fails it, never looks it up as unknown)."""

    code = "travel_rule_questionnaire_missing"


def as_withdraw_record(row: LocalWithdrawRecord) -> WithdrawRecord:
    """A local-entity history row as the poller reads a capital one (pure)."""
    status, info = row.withdrawal_status, row.info
    if row.travel_rule_status == TRAVEL_RULE_FAILED:
        status, info = REJECTED, f"Travel Rule check failed: {row.info or 'no reason given'}"
    return WithdrawRecord(
        id=str(row.tr_id), amount=row.amount, transaction_fee=row.transaction_fee, coin=row.coin,
        address=row.address, status=status, apply_time=row.apply_time,
        withdraw_order_id=row.withdraw_order_id, network=row.network, address_tag=row.address_tag,
        tx_id=row.tx_id, complete_time=row.complete_time, info=info, transfer_type=row.transfer_type,
        confirm_no=row.confirm_no, wallet_type=row.wallet_type)


class TravelRuleDesk:
    """A `WithdrawalDesk` over the local-entity endpoints, with each destination's questionnaire."""

    def __init__(self, endpoints: TravelRuleEndpoints, rule: TravelRule) -> None:
        self._endpoints = endpoints
        self._rule = rule

    @property
    def recv_window_ms(self) -> int:
        return self._endpoints.recv_window_ms

    @property
    def time_offset_ms(self) -> int:
        return self._endpoints.time_offset_ms

    def withdraw_apply(self, *, coin: str, network: str, address: str, amount: Decimal,
                       withdraw_order_id: str, address_tag: str | None = None,
                       wallet_type: int | None = None) -> str:
        questionnaire = self._rule.questionnaire_for(coin, network, address, address_tag)
        if questionnaire is None:
            raise MissingQuestionnaire(f"no Travel Rule questionnaire for {coin}/{network} {address}")
        return self._endpoints.local_withdraw_apply(
            coin=coin, network=network, address=address, amount=amount, withdraw_order_id=withdraw_order_id,
            questionnaire=questionnaire, address_tag=address_tag, wallet_type=wallet_type)

    def withdraw_history(self, *, withdraw_order_id: str | None = None,
                         id_list: Sequence[str] | None = None) -> list[WithdrawRecord]:
        rows = self._endpoints.local_withdraw_history(withdraw_order_id=withdraw_order_id, tr_id_list=id_list)
        return [as_withdraw_record(row) for row in rows]

    def withdrawals_between(self, *, start_time: int, end_time: int, offset: int = 0,
                            limit: int = 1000) -> list[WithdrawRecord]:
        """Every local-entity withdrawal in the window, one page (the foreign-withdrawal watch)."""
        rows = self._endpoints.local_withdraw_history(start_time=start_time, end_time=end_time,
                                                      offset=offset, limit=limit)
        return [as_withdraw_record(row) for row in rows]
