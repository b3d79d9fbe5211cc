"""What the treasury needs from an exchange, as typed seams (`Protocol`s), and no more.

The executor, the poller and the coin-rules refresher are written against these, not
against `BinanceClient`: a second exchange is an adapter that satisfies them, and the
treasury's core does not change. `common.binance.BinanceClient` satisfies all three.

The contract beyond the signatures, which an adapter must keep too:
- replies are `common.binance`'s structs (`WithdrawRecord`, `CoinConfig`), money as
  `Decimal`, times in the exchange's clock;
- failures are `common.binance`'s typed errors (`ExchangeError` and its kinds): above all
  `OutcomeUnknown` when a withdrawal may have been made (the executor then looks it up
  by `withdraw_order_id` before anything is sent again) and `WithdrawRefused` only when it
  provably was not; a query the exchange would refuse is a `ValueError` before sending.

`runtime_checkable` so a test can prove its double is a whole implementation
(`isinstance` checks that every member exists; tests/support/seams.py checks signatures).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Protocol, Sequence, runtime_checkable

from common.binance import ApiRestrictions, CoinConfig, WithdrawAddress, WithdrawQuota, WithdrawRecord
from common.binance.models import LocalWithdrawRecord


@runtime_checkable
class WithdrawalHistory(Protocol):
    """The poller's port: withdrawals looked up by the exchange's ids or by our order id."""

    def withdraw_history(self, *, withdraw_order_id: str | None = None,
                         id_list: Sequence[str] | None = None) -> list[WithdrawRecord]:
        """The withdrawals with these exchange ids (at most 45), or the one made with this
        `withdraw_order_id` in the exchange's last 7 days; an empty list when none is."""
        ...


@runtime_checkable
class WithdrawalDesk(WithdrawalHistory, Protocol):
    """The executor's port: apply for a withdrawal, look one up, and the timing around it."""

    @property
    def recv_window_ms(self) -> int:
        """How long after its timestamp the exchange may still accept a request: a lost
        apply may land this late, so the reconcile grace is never shorter."""
        ...

    @property
    def time_offset_ms(self) -> int:
        """Exchange clock minus host wall clock, as last measured (0 before any measure)."""
        ...

    def withdraw_apply(self, *, coin: str, network: str, address: str, amount: Decimal,
                       withdraw_order_id: str, address_tag: str | None = None,
                       wallet_type: int | None = None) -> str:
        """Ask for a withdrawal from wallet `wallet_type` (0 spot, 1 funding); return the exchange's withdrawal id."""
        ...


@runtime_checkable
class AccountWithdrawals(Protocol):
    """The foreign-withdrawal watch's port (issue 13 item 5): every withdrawal on the
    account in a window, ours or not (capital or local-entity history)."""

    def withdrawals_between(self, *, start_time: int, end_time: int, offset: int = 0,
                            limit: int = 1000) -> list[WithdrawRecord]:
        """One page (at most `limit`, from `offset`) of the withdrawals applied in
        [start_time, end_time], which must be under 90 days apart."""
        ...


@runtime_checkable
class CoinRulesSource(Protocol):
    """The coin-rules refresher's port: every coin's withdraw rules per network."""

    def coin_config(self) -> list[CoinConfig]:
        ...


@runtime_checkable
class KeyPermissions(Protocol):
    """The executor's follow-up after a key refusal (-2015 covers several causes): the key's
    own rights, GET /sapi/v1/account/apiRestrictions (common/binance/key_refusal.py)."""

    def api_restrictions(self) -> ApiRestrictions:
        ...


@runtime_checkable
class AddressBookSource(Protocol):
    """The destination watch's port (issue 12): the account's withdrawal address book."""

    def withdraw_address_list(self) -> list[WithdrawAddress]:
        ...


@runtime_checkable
class WithdrawQuotaSource(Protocol):
    """The executor's quota look (issue 12 item 4): the account's 24-hour withdrawal quota."""

    def withdraw_quota(self) -> WithdrawQuota:
        ...


@runtime_checkable
class TravelRuleEndpoints(Protocol):
    """The local-entity withdraw endpoints (issue 12 item 5), which
    `treasury_bot.travel_rule_desk.TravelRuleDesk` turns into a `WithdrawalDesk`."""

    @property
    def recv_window_ms(self) -> int:
        ...

    @property
    def time_offset_ms(self) -> int:
        ...

    def local_withdraw_apply(self, *, coin: str, network: str, address: str, amount: Decimal,
                             withdraw_order_id: str, questionnaire: str, address_tag: str | None = None,
                             wallet_type: int | None = None) -> str:
        ...

    def local_withdraw_history(self, *, withdraw_order_id: str | None = None,
                               tr_id_list: Sequence[str] | None = None, start_time: int | None = None,
                               end_time: int | None = None, limit: int | None = None,
                               offset: int | None = None) -> list[LocalWithdrawRecord]:
        ...
