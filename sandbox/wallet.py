"""Withdrawals against the state: apply, history, coin rules, and refunds of failed ones.

- Every apply call that passes authentication is counted per `withdrawOrderId` (calls
  without one under ""), accepted or not: `withdrawOrderId` is a look-up key at Binance,
  not a guard against duplicates, and the sandbox records every call.
- An accepted withdrawal takes `amount` from the free balance; the fee is part of the
  amount (the recipient would get amount - fee, hence "must be greater than the
  Commission"). History reports `amount` as applied and `transactionFee` separately.
- A withdrawal that ends cancelled (1), rejected (3) or failed (5) gives its amount back,
  once, the first time the sandbox sees it in that state (`settle`).
- Which wallet pays (issue 12 item 1): `walletType` 0 spot, 1 funding; without it, the
  account's selected deposit wallet (`default_withdraw_wallet`), as Binance documents:
  https://developers.binance.com/docs/wallet/capital/withdraw ("Default walletType is the
  current 'selected wallet' under wallet->Fiat and Spot/Funding->Deposit"). The record
  keeps the wallet that paid, and a refund goes back there.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any, Mapping

from sandbox import address_book, errors, lifecycle, views, withdraw_quota
from sandbox.config import KeySettings, SandboxConfig
from sandbox.params import optional, optional_int, parse_decimal, required
from sandbox.rules import WithdrawContext, WithdrawRequest, check_withdrawal
from sandbox.state import BalanceRecord, Session, WithdrawalRecord

ZERO = Decimal(0)
DAY_MS = 86_400_000
MAX_ID_LIST = 45
MAX_LIMIT = 1000


SPOT_WALLET, FUNDING_WALLET = 0, 1
WALLET_TYPES = {"spot": SPOT_WALLET, "funding": FUNDING_WALLET}


def wallet_balances(session: Session, wallet_type: int) -> dict[str, BalanceRecord]:
    """The balances of one wallet: 0 spot, 1 funding."""
    return session.data.funding if wallet_type == FUNDING_WALLET else session.data.balances


def paying_wallet(requested: int | None, config: SandboxConfig) -> int:
    """The wallet an apply pays from: the one asked for, else the account's selected one."""
    return WALLET_TYPES[config.account.default_withdraw_wallet] if requested is None else requested


def settle(session: Session, now_ms: int) -> None:
    """Give back the amount of every withdrawal that has newly ended unpaid, to the wallet it came from."""
    for record in session.data.withdrawals:
        if record.refunded:
            continue
        if lifecycle.status_at(views.timeline(record), now_ms).status in lifecycle.REFUNDED:
            balance = wallet_balances(session, record.wallet_type).setdefault(record.coin, BalanceRecord(free=ZERO))
            balance.free += record.amount
            record.refunded = True
            session.dirty = True


def parse_withdraw_request(params: Mapping[str, str]) -> WithdrawRequest:
    coin = required(params, "coin")
    address = required(params, "address")
    amount = parse_decimal("amount", required(params, "amount"))
    wallet_type = optional_int(params, "walletType")
    if wallet_type not in (None, SPOT_WALLET, FUNDING_WALLET):
        raise errors.invalid_parameter("walletType")
    return WithdrawRequest(coin=coin, network=optional(params, "network"), address=address,
                           address_tag=optional(params, "addressTag"), amount=amount,
                           withdraw_order_id=optional(params, "withdrawOrderId"),
                           name=optional(params, "name"), wallet_type=wallet_type)


def apply(session: Session, config: SandboxConfig, key: KeySettings, params: Mapping[str, str],
          now_ms: int, received_at: float) -> dict[str, Any]:
    """POST /sapi/v1/capital/withdraw/apply: count the call, check it, book it. An account
    under a Travel Rule local entity must use the local-entity apply (sandbox/travel_rule.py)."""
    count_apply(session, params)
    if config.account.travel_rule_country != "NIL":
        raise errors.travel_rule_required()
    return {"id": book(session, config, key, params, now_ms, received_at).id}


def count_apply(session: Session, params: Mapping[str, str]) -> None:
    """Every apply call that passed authentication, accepted or not, per withdrawOrderId."""
    counted_as = params.get("withdrawOrderId", "")
    session.data.apply_calls[counted_as] = session.data.apply_calls.get(counted_as, 0) + 1
    session.dirty = True


def book(session: Session, config: SandboxConfig, key: KeySettings, params: Mapping[str, str],
         now_ms: int, received_at: float, *, tr_id: int | None = None,
         questionnaire: str | None = None) -> WithdrawalRecord:
    """Check a withdrawal request against the account and the coin's rules, and book it."""
    data = session.data
    request = parse_withdraw_request(params)
    wallet_type = paying_wallet(request.wallet_type, config)
    balances = wallet_balances(session, wallet_type)
    balance = balances.get(request.coin, BalanceRecord(free=ZERO))
    context = WithdrawContext(account_can_withdraw=config.account.can_withdraw,
                              whitelist_enabled=key.whitelist_enabled, whitelist=key.whitelist,
                              free_balance=balance.free,
                              address_book_allows=lambda network: address_book.allows(
                                  config, session, coin=request.coin, network=network,
                                  address=request.address, address_tag=request.address_tag))
    network = check_withdrawal(request, config.find_coin(request.coin), context)
    withdraw_quota.check_apply(config, session, request.coin, request.amount, now_ms)  # -4023 (issue 12)
    timeline = lifecycle.plan_timeline(
        now_ms, request.address, config.exchange.email_sent_seconds,
        config.exchange.complete_after_seconds, config.exchange.failing_addresses,
        config.exchange.rejecting_addresses + config.exchange.travel_rule_failing_addresses,
        config.exchange.awaiting_approval_seconds)
    record = WithdrawalRecord(
        id=uuid.uuid4().hex, key_name=key.name, coin=request.coin, network=network.network,
        address=request.address, address_tag=request.address_tag, amount=request.amount,
        fee=network.withdraw_fee, withdraw_order_id=request.withdraw_order_id,
        wallet_type=wallet_type, name=request.name, apply_ms=now_ms,
        email_until_ms=timeline.email_until_ms, settle_at_ms=timeline.settle_at_ms,
        outcome=timeline.outcome, received_at=received_at, approval_until_ms=timeline.approval_until_ms,
        tr_id=tr_id, questionnaire=questionnaire,
        travel_rule_failed=tr_id is not None and request.address in config.exchange.travel_rule_failing_addresses)
    balances[request.coin] = BalanceRecord(free=balance.free - request.amount, locked=balance.locked)
    data.withdrawals.append(record)
    return record


def funding_assets(session: Session, params: Mapping[str, str]) -> list[dict[str, Any]]:
    """POST /sapi/v1/asset/get-funding-asset: the Funding wallet, one asset or every
    non-empty one (`needBtcValuation` is accepted; valuations are "0", we keep no BTC price)."""
    asset = optional(params, "asset")
    optional(params, "needBtcValuation")
    rows = []
    for name, balance in sorted(session.data.funding.items()):
        if (asset is None and balance.free + balance.locked == ZERO) or (asset is not None and name != asset):
            continue
        rows.append({"asset": name, "free": views.amount(balance.free), "locked": views.amount(balance.locked),
                     "freeze": views.amount(ZERO), "withdrawing": views.amount(ZERO), "btcValuation": "0"})
    return rows


def history(session: Session, params: Mapping[str, str], now_ms: int) -> list[dict[str, Any]]:
    """GET /sapi/v1/capital/withdraw/history: filtered, newest first."""
    coin = optional(params, "coin")
    order_id = optional(params, "withdrawOrderId")
    status = optional_int(params, "status")
    offset = optional_int(params, "offset") or 0
    limit = optional_int(params, "limit") or MAX_LIMIT
    if limit > MAX_LIMIT:
        raise errors.invalid_parameter("limit")
    id_list = _id_list(optional(params, "idList"))
    start, end = history_window(optional_int(params, "startTime"), optional_int(params, "endTime"),
                                by_order_id=order_id is not None, now_ms=now_ms)
    rows = []
    for record in sorted(session.data.withdrawals, key=lambda r: r.apply_ms, reverse=True):
        if not start <= record.apply_ms <= end:
            continue
        if coin is not None and record.coin != coin:
            continue
        if order_id is not None and record.withdraw_order_id != order_id:
            continue
        if id_list is not None and record.id not in id_list:
            continue
        view = views.withdrawal_history(record, now_ms)
        if status is not None and view["status"] != status:
            continue
        rows.append(view)
    return rows[offset:offset + limit]


def _id_list(text: str | None) -> set[str] | None:
    if text is None:
        return None
    ids = [part for part in text.split(",") if part]
    if not ids or len(ids) > MAX_ID_LIST:
        raise errors.invalid_parameter("idList")
    return set(ids)


def history_window(start: int | None, end: int | None, by_order_id: bool,
                   now_ms: int) -> tuple[int, int]:
    """The documented window: 90 days at most (7 with withdrawOrderId); by default the
    last 90 (7) days; when both ends are sent the span must be less than the maximum."""
    days = 7 if by_order_id else 90
    span = days * DAY_MS
    both_sent = start is not None and end is not None
    end = now_ms if end is None else end
    start = end - span if start is None else start
    if start > end or (end - start >= span if both_sent else end - start > span):
        raise errors.time_interval(days)
    return start, end
