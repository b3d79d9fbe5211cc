"""The exchange's replies as frozen msgspec Structs, and the amounts in them as Decimals.

Amounts go out as plain decimal strings (`format(d, "f")`, never an exponent) and come back
as `Decimal`s decoded only from JSON strings (a JSON number for money is refused). Pure.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

import msgspec
from msgspec import Meta


class Amount(Decimal):
    """A Decimal that may only be decoded from a JSON string (`"8.91000000"`), never a number.

    Arithmetic on it gives plain `Decimal`s; it exists so msgspec hands us the raw value.
    """

    __slots__ = ()


_AMOUNT_RE = re.compile(r"^[0-9]+(\.[0-9]+)?\Z")


def dec_hook(tp: type, obj: Any) -> Any:
    if tp is Amount:
        if not isinstance(obj, str):
            raise TypeError("an amount must be a decimal string, not a JSON number")
        if not _AMOUNT_RE.match(obj):
            raise ValueError("an amount must be a plain non-negative decimal string")
        try:
            return Amount(obj)
        except InvalidOperation:
            raise ValueError("an amount must be a plain non-negative decimal string") from None
    raise NotImplementedError(f"no decoder for {tp!r}")


def format_amount(value: Decimal, name: str) -> str:
    """An outgoing amount: a positive finite Decimal as a plain string (`1E+2` -> `100`)."""
    if not isinstance(value, Decimal):
        raise TypeError(f"{name} must be a Decimal, not {type(value).__name__}")
    if not value.is_finite() or value <= 0:
        raise ValueError(f"{name} must be a positive finite Decimal")
    return format(value, "f")


UtcTime = Annotated[str, Meta(pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}\Z")]
# completeTime is documented only for completed withdrawals; tolerate it empty before that.
MaybeUtcTime = Annotated[str, Meta(pattern=r"^([0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2})?\Z")]


def utc_time_ms(text: str) -> int:
    """Milliseconds since the epoch of a Binance UTC time string "YYYY-MM-DD HH:MM:SS"."""
    moment = datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=timezone.utc)
    return int(moment.timestamp()) * 1000


class _Struct(msgspec.Struct, rename="camel", frozen=True, forbid_unknown_fields=False):
    pass


class ServerTime(_Struct):
    server_time: int


class Balance(_Struct):
    asset: str
    free: Amount
    locked: Amount


class Account(_Struct):
    can_trade: bool
    can_withdraw: bool
    can_deposit: bool
    balances: list[Balance]

    def free(self, asset: str) -> Decimal:
        """The free balance of `asset`, zero when the account does not list it."""
        for balance in self.balances:
            if balance.asset == asset:
                return Decimal(balance.free)
        return Decimal(0)


class ApiRestrictions(_Struct):
    # The audit relies on these four: they are required, never defaulted.
    ip_restrict: bool
    enable_withdrawals: bool
    enable_spot_and_margin_trading: bool
    enable_reading: bool
    enable_internal_transfer: bool = False
    enable_margin: bool = False
    enable_futures: bool = False
    permits_universal_transfer: bool = False
    enable_vanilla_options: bool = False
    enable_portfolio_margin_trading: bool = False
    create_time: int | None = None
    # Present on keys whose trading right expires (a key without an IP restriction).
    trading_authority_expiration_time: int | None = None


class SymbolInfo(_Struct):
    symbol: str
    status: str
    base_asset: str
    quote_asset: str
    filters: list[dict[str, Any]] = []

    def filter(self, filter_type: str) -> dict[str, Any] | None:
        """The filter of this type (`LOT_SIZE`, `PRICE_FILTER`, `NOTIONAL`...), if any."""
        for item in self.filters:
            if item.get("filterType") == filter_type:
                return item
        return None


class TickerPrice(_Struct):
    symbol: str
    price: Amount


class ExchangeInfo(_Struct):
    symbols: list[SymbolInfo]
    server_time: int | None = None

    def symbol(self, name: str) -> SymbolInfo | None:
        for info in self.symbols:
            if info.symbol == name:
                return info
        return None


class NetworkConfig(_Struct):
    network: str
    coin: str
    withdraw_enable: bool
    withdraw_min: Amount
    withdraw_max: Amount
    withdraw_integer_multiple: Amount
    withdraw_fee: Amount
    # Policy checks addresses against these: a missing regex must not mean "anything goes".
    address_regex: str
    memo_regex: str
    is_default: bool = False
    deposit_enable: bool | None = None
    withdraw_tag: bool | None = None
    name: str = ""


class CoinConfig(_Struct):
    coin: str
    network_list: list[NetworkConfig]
    name: str = ""
    withdraw_all_enable: bool | None = None


class Fill(_Struct):
    price: Amount
    qty: Amount
    commission: Amount
    commission_asset: str
    trade_id: int | None = None


class OrderResult(_Struct):
    symbol: str
    order_id: int
    client_order_id: str
    status: str
    executed_qty: Amount
    cummulative_quote_qty: Amount
    orig_qty: Amount
    price: Amount
    side: str
    type: str
    fills: list[Fill] = []
    time_in_force: str | None = None
    transact_time: int | None = None
    time: int | None = None
    update_time: int | None = None


class AccountTrade(_Struct):
    """One fill of GET /api/v3/myTrades."""
    symbol: str
    id: int
    order_id: int
    price: Amount
    qty: Amount
    commission: Amount
    commission_asset: str
    is_buyer: bool | None = None


class OrderListLeg(_Struct):
    symbol: str
    order_id: int
    client_order_id: str


class OrderListResult(_Struct):
    """An OCO order list as POST/GET/DELETE /api/v3/orderList answer it (issue 15 item 4)."""
    order_list_id: int
    contingency_type: str
    list_status_type: str           # EXEC_STARTED, ALL_DONE, ...
    list_order_status: str          # EXECUTING, ALL_DONE, REJECT
    list_client_order_id: str
    symbol: str
    orders: list[OrderListLeg] = []
    transaction_time: int | None = None

    @property
    def done(self) -> bool:
        return self.list_order_status in ("ALL_DONE", "REJECT")


class WithdrawRecord(_Struct):
    id: str
    amount: Amount
    transaction_fee: Amount
    coin: str
    address: str
    status: int
    apply_time: UtcTime                       # UTC "YYYY-MM-DD HH:MM:SS", not milliseconds
    withdraw_order_id: str | None = None      # absent when none was given
    network: str | None = None                # absent on old withdrawals
    address_tag: str | None = None
    tx_id: str | None = None
    complete_time: MaybeUtcTime | None = None  # only once status is 6 (completed); may be ""
    info: str | None = None                   # the failure reason, when there is one
    transfer_type: int | None = None          # 1 internal, 0 external
    confirm_no: int | None = None
    wallet_type: int | None = None


class FundingAsset(_Struct):
    """One asset of the Funding wallet (POST /sapi/v1/asset/get-funding-asset)."""

    asset: str
    free: Amount
    locked: Amount = Decimal(0)
    freeze: Amount = Decimal(0)
    withdrawing: Amount = Decimal(0)


class WithdrawAddress(_Struct):
    """One entry of the account's address book (GET /sapi/v1/capital/withdraw/address/list,
    https://developers.binance.com/docs/wallet/capital/fetch-withdraw-address). `address_tag`
    is "" when the entry has none; `white_status` says whether it is on the whitelist."""

    address: str
    coin: str
    network: str
    address_tag: str = ""
    name: str = ""
    origin: str = ""
    origin_type: str = ""
    white_status: bool = False   # absent: not whitelisted (the safe reading)


class WithdrawQuota(_Struct):
    """The account's withdrawal quota over the past 24 hours (GET /sapi/v1/capital/withdraw/quota,
    https://developers.binance.com/docs/wallet/capital/fetch-withdraw-quota): `wd_quota` the
    total, `used_wd_quota` what on-chain withdrawals and internal transfers used of it, both
    in USD as Binance documents (`{"wdQuota": "10000", "usedWdQuota": "1000"}`)."""

    wd_quota: Amount
    used_wd_quota: Amount


class WithdrawApplied(_Struct):
    id: Annotated[str, Meta(min_length=1)]


class QuestionnaireRequirements(_Struct):
    """GET /sapi/v1/localentity/questionnaire-requirements: the local entity's country code
    whose Travel Rule questionnaire each withdrawal needs, or "NIL" when none does."""

    questionnaire_country_code: str


class LocalWithdrawApplied(_Struct):
    """POST /sapi/v1/localentity/withdraw/apply's answer: the travel-rule record id and
    whether the request was taken. Binance's page spells the flag `accpted` (sic), its
    official SDK's model `accepted`: either is read, and an absent one is not a refusal."""

    tr_id: int
    accpted: bool | None = None
    accepted: bool | None = None
    info: str = ""

    @property
    def refused(self) -> bool:
        return self.accpted is False or self.accepted is False


class LocalWithdrawRecord(_Struct):
    """One row of GET /sapi/v1/localentity/withdraw/history. `withdrawal_status` uses the
    capital history's codes; `travel_rule_status` is 0 completed, 1 pending, 2 failed."""

    tr_id: int
    amount: Amount
    coin: str
    address: str
    withdrawal_status: int
    travel_rule_status: int
    apply_time: UtcTime
    id: str = ""                              # the withdrawal id, once there is one
    transaction_fee: Amount = Decimal(0)
    withdraw_order_id: str | None = None
    network: str | None = None
    address_tag: str | None = None
    tx_id: str | None = None
    complete_time: MaybeUtcTime | None = None
    info: str | None = None
    transfer_type: int | None = None
    confirm_no: int | None = None
    wallet_type: int | None = None
