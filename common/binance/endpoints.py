"""The endpoints we call, what kind of call each is, and the queries Binance documents as invalid.

`state_changing`: a lost reply leaves the outcome unknown (never retried, reconciled by the
caller). `withdraw`: its -4xxx codes are withdraw refusals. Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

MAX_ID_LIST = 45
HISTORY_ORDER_ID_WINDOW_MS = 7 * 24 * 3600 * 1000      # must be strictly less than this
HISTORY_MAX_WINDOW_MS = 90 * 24 * 3600 * 1000          # must be strictly less than this


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    signed: bool
    state_changing: bool = False      # True: a lost reply leaves the outcome unknown
    withdraw: bool = False            # True: -4xxx codes are withdraw refusals

    @property
    def label(self) -> str:
        return f"{self.method} {self.path}"


PING = Endpoint("GET", "/api/v3/ping", signed=False)
TIME = Endpoint("GET", "/api/v3/time", signed=False)
EXCHANGE_INFO = Endpoint("GET", "/api/v3/exchangeInfo", signed=False)
TICKER_PRICE = Endpoint("GET", "/api/v3/ticker/price", signed=False)
ACCOUNT = Endpoint("GET", "/api/v3/account", signed=True)
API_RESTRICTIONS = Endpoint("GET", "/sapi/v1/account/apiRestrictions", signed=True)
COIN_CONFIG = Endpoint("GET", "/sapi/v1/capital/config/getall", signed=True)
NEW_ORDER = Endpoint("POST", "/api/v3/order", signed=True, state_changing=True)
# A test order is validated and never placed: losing its reply loses nothing.
TEST_ORDER = Endpoint("POST", "/api/v3/order/test", signed=True)
GET_ORDER = Endpoint("GET", "/api/v3/order", signed=True)
CANCEL_ORDER = Endpoint("DELETE", "/api/v3/order", signed=True, state_changing=True)
# Issue 15 item 4, the exits' OCO order lists:
# https://developers.binance.com/docs/binance-spot-api-docs/rest-api/trading-endpoints#new-order-list---oco-trade
NEW_OCO = Endpoint("POST", "/api/v3/orderList/oco", signed=True, state_changing=True)
GET_ORDER_LIST = Endpoint("GET", "/api/v3/orderList", signed=True)
# An order's fills with their commissions (issue 15 item 5, the realised profit), weight 20 (5 with orderId):
# https://developers.binance.com/docs/binance-spot-api-docs/rest-api/account-endpoints#account-trade-list-user_data
MY_TRADES = Endpoint("GET", "/api/v3/myTrades", signed=True)
CANCEL_ORDER_LIST = Endpoint("DELETE", "/api/v3/orderList", signed=True, state_changing=True)
WITHDRAW_APPLY = Endpoint("POST", "/sapi/v1/capital/withdraw/apply", signed=True,
                          state_changing=True, withdraw=True)
WITHDRAW_HISTORY = Endpoint("GET", "/sapi/v1/capital/withdraw/history", signed=True)
# The account's withdrawal address book (issue 12), IP weight 10:
# https://developers.binance.com/docs/wallet/capital/fetch-withdraw-address
WITHDRAW_ADDRESS_LIST = Endpoint("GET", "/sapi/v1/capital/withdraw/address/list", signed=True)
# The Funding wallet's balances (issue 12 item 1), IP weight 1, a POST that changes nothing:
# https://developers.binance.com/docs/wallet/asset/funding-wallet
FUNDING_ASSETS = Endpoint("POST", "/sapi/v1/asset/get-funding-asset", signed=True)

# walletType of POST /sapi/v1/capital/withdraw/apply: "0-spot wallet, 1-funding wallet.
# Default walletType is the current 'selected wallet' under wallet->Fiat and
# Spot/Funding->Deposit" (https://developers.binance.com/docs/wallet/capital/withdraw), so
# the treasury always sends it: which wallet pays must never depend on an app setting.
WALLET_TYPES = {"spot": 0, "funding": 1}

# The Travel Rule (issue 12 item 5). Whether the account is under a local entity that needs
# a questionnaire with each withdrawal: "NIL" when not (IP weight 1). If it is anything else,
# withdrawals go through the local-entity apply (UID weight 600) and are read back from the
# local-entity history (IP weight 1), filterable by trId and by withdrawOrderId.
# https://developers.binance.com/docs/wallet/travel-rule/questionnaire-requirements
# https://developers.binance.com/docs/wallet/travel-rule/withdraw
# https://developers.binance.com/docs/wallet/travel-rule/withdraw-history
QUESTIONNAIRE_REQUIREMENTS = Endpoint("GET", "/sapi/v1/localentity/questionnaire-requirements", signed=True)
LOCAL_WITHDRAW_APPLY = Endpoint("POST", "/sapi/v1/localentity/withdraw/apply", signed=True)
LOCAL_WITHDRAW_HISTORY = Endpoint("GET", "/sapi/v1/localentity/withdraw/history", signed=True)
NO_TRAVEL_RULE = "NIL"

# The account's 24-hour withdrawal quota, in USD (issue 12 item 4), IP weight 10, no parameters:
# https://developers.binance.com/docs/wallet/capital/fetch-withdraw-quota
WITHDRAW_QUOTA = Endpoint("GET", "/sapi/v1/capital/withdraw/quota", signed=True)


def check_history_query(*, withdraw_order_id: str | None, id_list: Sequence[str] | None,
                        start_time: int | None, end_time: int | None, status: int | None,
                        limit: int | None, offset: int | None) -> None:
    """Refuse, before any request, a withdraw-history query Binance documents as invalid."""
    if withdraw_order_id is not None and not withdraw_order_id:
        raise ValueError("withdraw_order_id must not be empty")
    if id_list is not None:
        if isinstance(id_list, str):
            raise ValueError("id_list must be a sequence of ids, not one string")
        if not id_list:
            raise ValueError("id_list must not be empty (pass None to leave it out)")
        if len(id_list) > MAX_ID_LIST:
            raise ValueError(f"id_list takes at most {MAX_ID_LIST} ids, got {len(id_list)}")
        for item in id_list:
            if not isinstance(item, str) or not item or "," in item:
                raise ValueError("each id in id_list must be a non-empty string without commas")
    for name, value in (("start_time", start_time), ("end_time", end_time)):
        if value is not None and (not isinstance(value, int) or value < 0):
            raise ValueError(f"{name} must be milliseconds since the epoch")
    if start_time is not None and end_time is not None:
        if end_time < start_time:
            raise ValueError("end_time is before start_time")
        if end_time - start_time >= HISTORY_MAX_WINDOW_MS:
            raise ValueError("start_time..end_time must be less than 90 days")
    if withdraw_order_id is not None:
        # Binance: with withdrawOrderId the window must be under 7 days; with neither
        # bound it covers the last 7 days. One bound alone leaves the other to the
        # server's default (90 days for startTime), which would break the rule.
        if (start_time is None) != (end_time is None):
            raise ValueError("with withdraw_order_id give both start_time and end_time, or neither")
        if start_time is not None and end_time is not None \
                and end_time - start_time >= HISTORY_ORDER_ID_WINDOW_MS:
            raise ValueError("with withdraw_order_id, start_time..end_time must be less than 7 days")
    if status is not None and (not isinstance(status, int) or not 0 <= status <= 6):
        raise ValueError("status must be an exchange withdraw status 0..6")
    if limit is not None and (not isinstance(limit, int) or not 1 <= limit <= 1000):
        raise ValueError("limit must be 1..1000")
    if offset is not None and (not isinstance(offset, int) or offset < 0):
        raise ValueError("offset must be >= 0")
