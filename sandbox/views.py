"""Binance's JSON shapes for the sandbox's data (pure functions).

Amounts are strings, as at Binance: eight decimals where the value fits ("0.00100000"),
the plain value otherwise. Withdraw-history times are UTC strings "YYYY-MM-DD HH:MM:SS".
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any, Iterable, Mapping

from sandbox import lifecycle
from sandbox.config import CoinSettings, KeySettings, NetworkSettings, SandboxConfig, SymbolSettings
from sandbox.state import BalanceRecord, OrderRecord, WithdrawalRecord

EIGHT = Decimal("0.00000001")


def amount(value: Decimal) -> str:
    """Binance's spelling of an amount: 8 decimals when exact, else the plain value."""
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent >= -8:
        return format(value.quantize(EIGHT), "f")
    return format(value, "f")


def utc_text(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


# --- market data ---------------------------------------------------------------------

RATE_LIMITS = [
    {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 6000},
    {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 100},
    {"rateLimitType": "ORDERS", "interval": "DAY", "intervalNum": 1, "limit": 200000},
    {"rateLimitType": "RAW_REQUESTS", "interval": "MINUTE", "intervalNum": 5, "limit": 61000},
]


def symbol_filters(symbol: SymbolSettings) -> list[dict[str, Any]]:
    price, lot = symbol.price_filter, symbol.lot_size
    filters: list[dict[str, Any]] = [
        {"filterType": "PRICE_FILTER", "minPrice": amount(price.min_price),
         "maxPrice": amount(price.max_price), "tickSize": amount(price.tick_size)},
        {"filterType": "LOT_SIZE", "minQty": amount(lot.min_qty), "maxQty": amount(lot.max_qty),
         "stepSize": amount(lot.step_size)},
    ]
    if symbol.min_notional is not None:
        rule = symbol.min_notional
        filters.append({"filterType": "MIN_NOTIONAL", "minNotional": amount(rule.min_notional),
                        "applyToMarket": rule.apply_to_market, "avgPriceMins": rule.avg_price_mins})
    if symbol.market_lot_size is not None:
        market = symbol.market_lot_size
        filters.append({"filterType": "MARKET_LOT_SIZE", "minQty": amount(market.min_qty),
                        "maxQty": amount(market.max_qty), "stepSize": amount(market.step_size)})
    if symbol.notional is not None:
        rule = symbol.notional
        filters.append({"filterType": "NOTIONAL", "minNotional": amount(rule.min_notional),
                        "applyMinToMarket": rule.apply_min_to_market,
                        "maxNotional": amount(rule.max_notional),
                        "applyMaxToMarket": rule.apply_max_to_market,
                        "avgPriceMins": rule.avg_price_mins})
    return filters


def symbol_info(symbol: SymbolSettings) -> dict[str, Any]:
    return {
        "symbol": symbol.symbol, "status": symbol.status,
        "baseAsset": symbol.base_asset, "baseAssetPrecision": symbol.base_asset_precision,
        "quoteAsset": symbol.quote_asset, "quotePrecision": symbol.quote_asset_precision,
        "quoteAssetPrecision": symbol.quote_asset_precision,
        "baseCommissionPrecision": symbol.base_asset_precision,
        "quoteCommissionPrecision": symbol.quote_asset_precision,
        "orderTypes": ["LIMIT", "MARKET"],
        "icebergAllowed": False, "ocoAllowed": False, "otoAllowed": False,
        "quoteOrderQtyMarketAllowed": True, "allowTrailingStop": False,
        "cancelReplaceAllowed": False, "amendAllowed": False, "pegInstructionsAllowed": False,
        "isSpotTradingAllowed": True, "isMarginTradingAllowed": False,
        "filters": symbol_filters(symbol),
        "permissions": [], "permissionSets": [["SPOT"]],
        "defaultSelfTradePreventionMode": "EXPIRE_MAKER",
        "allowedSelfTradePreventionModes": ["EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH", "NONE"],
    }


def exchange_info(symbols: Iterable[SymbolSettings], server_time_ms: int) -> dict[str, Any]:
    return {"timezone": "UTC", "serverTime": server_time_ms, "rateLimits": RATE_LIMITS,
            "exchangeFilters": [], "symbols": [symbol_info(s) for s in symbols], "sors": []}


# --- account -------------------------------------------------------------------------

def account(config: SandboxConfig, balances: Mapping[str, BalanceRecord], now_ms: int,
            omit_zero: bool = False) -> dict[str, Any]:
    rows = [{"asset": asset, "free": amount(b.free), "locked": amount(b.locked)}
            for asset, b in sorted(balances.items())
            if not (omit_zero and b.free == 0 and b.locked == 0)]
    zero = amount(Decimal(0))
    return {
        "makerCommission": 0, "takerCommission": 0, "buyerCommission": 0, "sellerCommission": 0,
        "commissionRates": {"maker": zero, "taker": zero, "buyer": zero, "seller": zero},
        "canTrade": config.account.can_trade, "canWithdraw": config.account.can_withdraw,
        "canDeposit": config.account.can_deposit, "brokered": False,
        "requireSelfTradePrevention": False, "preventSor": False, "updateTime": now_ms,
        "accountType": "SPOT", "balances": rows, "permissions": ["SPOT"], "uid": 354937868,
    }


def api_restrictions(key: KeySettings, now_ms: int) -> dict[str, Any]:
    created = key.create_time if key.create_time is not None else now_ms - 86_400_000
    view: dict[str, Any] = {
        "ipRestrict": key.ip_restrict, "createTime": created,
        "enableReading": key.enable_reading,
        "enableSpotAndMarginTrading": key.can_trade,
        "enableWithdrawals": key.can_withdraw,
        "enableInternalTransfer": key.enable_internal_transfer,
        "permitsUniversalTransfer": key.permits_universal_transfer,
        "enableMargin": key.enable_margin, "enableFutures": key.enable_futures,
        "enableVanillaOptions": key.enable_vanilla_options,
        "enablePortfolioMarginTrading": key.enable_portfolio_margin_trading,
        "enableFixApiTrade": False, "enableFixReadOnly": False,
    }
    if key.trading_authority_expiration_time is not None:
        view["tradingAuthorityExpirationTime"] = key.trading_authority_expiration_time
    return view


def network_config(coin: CoinSettings, network: NetworkSettings) -> dict[str, Any]:
    return {
        "network": network.network, "coin": coin.coin, "name": network.name or network.network,
        "withdrawIntegerMultiple": amount(network.withdraw_integer_multiple),
        "isDefault": network.is_default, "depositEnable": network.deposit_enable,
        "withdrawEnable": network.withdraw_enable,
        "depositDesc": "", "withdrawDesc": "" if network.withdraw_enable else "Withdrawal Suspended",
        "specialTips": "", "specialWithdrawTips": "", "resetAddressStatus": False,
        "addressRegex": network.address_regex, "addressRule": "",
        "memoRegex": network.memo_regex,
        "withdrawFee": amount(network.withdraw_fee), "withdrawMin": amount(network.withdraw_min),
        "withdrawMax": amount(network.withdraw_max),
        "withdrawInternalMin": amount(network.withdraw_min),
        "depositDust": "0.00000001", "minConfirm": network.min_confirm,
        "unLockConfirm": 0, "sameAddress": bool(network.memo_regex),
        "withdrawTag": bool(network.memo_regex),
        "estimatedArrivalTime": network.estimated_arrival_time, "busy": False,
        "contractAddressUrl": "", "contractAddress": "",
    }


def coin_config(coins: Iterable[CoinSettings], balances: Mapping[str, BalanceRecord]) -> list[dict[str, Any]]:
    zero = amount(Decimal(0))
    rows = []
    for coin in coins:
        balance = balances.get(coin.coin, BalanceRecord(free=Decimal(0)))
        rows.append({
            "coin": coin.coin, "name": coin.name or coin.coin,
            "depositAllEnable": any(n.deposit_enable for n in coin.network),
            "withdrawAllEnable": any(n.withdraw_enable for n in coin.network),
            "free": amount(balance.free), "locked": amount(balance.locked),
            "freeze": zero, "withdrawing": zero, "ipoing": zero, "ipoable": zero, "storage": zero,
            "isLegalMoney": False, "trading": True,
            "networkList": [network_config(coin, n) for n in coin.network],
        })
    return rows


# --- orders --------------------------------------------------------------------------

def order_ack(order: OrderRecord) -> dict[str, Any]:
    return {"symbol": order.symbol, "orderId": order.order_id, "orderListId": order.order_list_id,
            "clientOrderId": order.client_order_id, "transactTime": order.time_ms}


def order_result(order: OrderRecord) -> dict[str, Any]:
    view = order_ack(order)
    view.update({
        "price": amount(order.price), "origQty": amount(order.orig_qty),
        "executedQty": amount(order.executed_qty),
        "origQuoteOrderQty": amount(order.orig_quote_order_qty),
        "cummulativeQuoteQty": amount(order.cummulative_quote_qty),
        "status": order.status, "timeInForce": order.time_in_force or "GTC",
        "type": order.type, "side": order.side, "workingTime": order.time_ms,
        "selfTradePreventionMode": "EXPIRE_MAKER",
    })
    return view


def order_full(order: OrderRecord) -> dict[str, Any]:
    view = order_result(order)
    view["fills"] = [{"price": amount(f.price), "qty": amount(f.qty),
                      "commission": amount(f.commission), "commissionAsset": f.commission_asset,
                      "tradeId": f.trade_id} for f in order.fills]
    return view


def order_response(order: OrderRecord, response_type: str) -> dict[str, Any]:
    return {"ACK": order_ack, "RESULT": order_result}.get(response_type, order_full)(order)


def trade(order: OrderRecord, fill: Any) -> dict[str, Any]:
    """One fill as GET /api/v3/myTrades lists it (the sandbox is always the taker)."""
    return {
        "symbol": order.symbol, "id": fill.trade_id, "orderId": order.order_id, "orderListId": -1,
        "price": amount(fill.price), "qty": amount(fill.qty), "quoteQty": amount(fill.price * fill.qty),
        "commission": amount(fill.commission), "commissionAsset": fill.commission_asset,
        "time": order.time_ms, "isBuyer": order.side == "BUY", "isMaker": False, "isBestMatch": True,
    }


def margin_pairs(symbols: Iterable[SymbolSettings]) -> list[dict[str, Any]]:
    """GET /sapi/v1/margin/allPairs: the sandbox has no margin, so no pair is margin-tradable
    (ccxt's load_markets() reads this list by default)."""
    return [{"id": index, "symbol": s.symbol, "base": s.base_asset, "quote": s.quote_asset,
             "isMarginTrade": False, "isBuyAllowed": False, "isSellAllowed": False}
            for index, s in enumerate(symbols, start=1)]


def order_query(order: OrderRecord) -> dict[str, Any]:
    return {
        "symbol": order.symbol, "orderId": order.order_id, "orderListId": order.order_list_id,
        "clientOrderId": order.client_order_id, "price": amount(order.price),
        "origQty": amount(order.orig_qty), "executedQty": amount(order.executed_qty),
        "cummulativeQuoteQty": amount(order.cummulative_quote_qty), "status": order.status,
        "timeInForce": order.time_in_force or "GTC", "type": order.type, "side": order.side,
        "stopPrice": amount(order.stop_price), "icebergQty": amount(Decimal(0)),
        "time": order.time_ms, "updateTime": order.update_ms, "isWorking": True,
        "workingTime": order.time_ms, "origQuoteOrderQty": amount(order.orig_quote_order_qty),
        "selfTradePreventionMode": "EXPIRE_MAKER",
    }


# --- withdrawals ---------------------------------------------------------------------

def timeline(record: WithdrawalRecord) -> lifecycle.Timeline:
    return lifecycle.Timeline(record.apply_ms, record.email_until_ms, record.settle_at_ms,
                              record.outcome,  # type: ignore[arg-type]
                              record.forced_status, record.forced_at_ms, record.forced_info,
                              record.approval_until_ms)


def fake_tx_id(record: WithdrawalRecord) -> str:
    digest = hashlib.sha256(f"sandbox-tx:{record.id}".encode()).hexdigest()
    return "0x" + digest if record.address.startswith("0x") else digest


def withdrawal_history(record: WithdrawalRecord, now_ms: int) -> dict[str, Any]:
    """One record of GET /sapi/v1/capital/withdraw/history as it stands at `now_ms`."""
    state = lifecycle.status_at(timeline(record), now_ms)
    completed = state.status == lifecycle.COMPLETED
    view: dict[str, Any] = {
        "id": record.id, "amount": amount(record.amount),
        "transactionFee": amount(record.fee), "coin": record.coin, "status": state.status,
        "address": record.address, "addressTag": record.address_tag or "",
        "txId": fake_tx_id(record) if completed else "",
        "applyTime": utc_text(record.apply_ms), "network": record.network,
        "transferType": 0, "info": state.info, "confirmNo": 1 if completed else 0,
        "walletType": record.wallet_type, "txKey": "",
    }
    if record.withdraw_order_id:
        view["withdrawOrderId"] = record.withdraw_order_id
    if completed and state.complete_time_ms is not None:
        view["completeTime"] = utc_text(state.complete_time_ms)
    return view


def withdrawal_admin(record: WithdrawalRecord, now_ms: int) -> dict[str, Any]:
    """The admin view: the history record plus who applied it and exact times in ms."""
    view = withdrawal_history(record, now_ms)
    view.update({"withdrawOrderId": record.withdraw_order_id, "key": record.key_name,
                 "name": record.name, "applyTimeMs": record.apply_ms,
                 "receivedAt": record.received_at, "refunded": record.refunded})
    return view


def order_admin(order: OrderRecord) -> dict[str, Any]:
    view = order_full(order)
    view.update({"key": order.key_name, "receivedAt": order.received_at,
                 "updateTime": order.update_ms, "stopPrice": amount(order.stop_price)})
    return view
