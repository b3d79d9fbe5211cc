"""Withdrawals against the state: apply, history, coin rules, and refunds of failed ones.

- Every apply call that passes authentication is counted per `withdrawOrderId` (calls
  without one under ""), accepted or not: `withdrawOrderId` is a look-up key at Binance,
  not a guard against duplicates, and the sandbox records every call.
- An accepted withdrawal takes `amount` from the free balance; the fee is part of the
  amount (the recipient would get amount - fee, hence "must be greater than the
  Commission"). History reports `amount` as applied and `transactionFee` separately.
- A withdrawal that ends cancelled (1), rejected (3) or failed (5) gives its amount back,
  once, the first time the sandbox sees it in that state (`settle`).
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


def settle(session: Session, now_ms: int) -> None:
    """Give back the amount of every withdrawal that has newly ended unpaid."""
    for record in session.data.withdrawals:
        if record.refunded:
            continue
        if lifecycle.status_at(views.timeline(record), now_ms).status in lifecycle.REFUNDED:
            balance = session.data.balances.setdefault(record.coin, BalanceRecord(free=ZERO))
            balance.free += record.amount
            record.refunded = True
            session.dirty = True


def parse_withdraw_request(params: Mapping[str, str]) -> WithdrawRequest:
    coin = required(params, "coin")
    address = required(params, "address")
    amount = parse_decimal("amount", required(params, "amount"))
    wallet_type = optional_int(params, "walletType") or 0
    if wallet_type not in (0, 1):
        raise errors.invalid_parameter("walletType")
    return WithdrawRequest(coin=coin, network=optional(params, "network"), address=address,
                           address_tag=optional(params, "addressTag"), amount=amount,
                           withdraw_order_id=optional(params, "withdrawOrderId"),
                           name=optional(params, "name"), wallet_type=wallet_type)


def apply(session: Session, config: SandboxConfig, key: KeySettings, params: Mapping[str, str],
          now_ms: int, received_at: float) -> dict[str, Any]:
    """POST /sapi/v1/capital/withdraw/apply: count the call, check it, book it."""
    data = session.data
    counted_as = params.get("withdrawOrderId", "")
    data.apply_calls[counted_as] = data.apply_calls.get(counted_as, 0) + 1
    session.dirty = True
    request = parse_withdraw_request(params)
    balance = data.balances.get(request.coin, BalanceRecord(free=ZERO))
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
        config.exchange.rejecting_addresses, config.exchange.awaiting_approval_seconds)
    record = WithdrawalRecord(
        id=uuid.uuid4().hex, key_name=key.name, coin=request.coin, network=network.network,
        address=request.address, address_tag=request.address_tag, amount=request.amount,
        fee=network.withdraw_fee, withdraw_order_id=request.withdraw_order_id,
        wallet_type=request.wallet_type, name=request.name, apply_ms=now_ms,
        email_until_ms=timeline.email_until_ms, settle_at_ms=timeline.settle_at_ms,
        outcome=timeline.outcome, received_at=received_at, approval_until_ms=timeline.approval_until_ms)
    data.balances[request.coin] = BalanceRecord(free=balance.free - request.amount, locked=balance.locked)
    data.withdrawals.append(record)
    return {"id": record.id}


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
