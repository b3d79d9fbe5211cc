"""The start-up self-audit: refusals with stable codes and one-line reasons."""

from __future__ import annotations

import pytest

from common.binance import ApiRestrictions, SymbolInfo
from signal_bot.audit import AuditError, audit_key, check_symbols


def restrictions(**kw) -> ApiRestrictions:
    base = dict(ip_restrict=False, enable_withdrawals=False, enable_spot_and_margin_trading=True, enable_reading=True)
    return ApiRestrictions(**{**base, **kw})


def test_key_rights_withdraw_refuses_and_no_trading_refuses():
    """enableWithdrawals true: key_can_withdraw; no spot trading: key_cannot_trade."""
    audit_key(restrictions())
    with pytest.raises(AuditError) as err:
        audit_key(restrictions(enable_withdrawals=True))
    assert err.value.code == "key_can_withdraw"
    with pytest.raises(AuditError) as err:
        audit_key(restrictions(enable_spot_and_margin_trading=False))
    assert err.value.code == "key_cannot_trade"


LOT = {"filterType": "LOT_SIZE", "minQty": "0.001", "maxQty": "100", "stepSize": "0.001"}


def test_allowed_symbols_must_exist_and_trade():
    """A missing symbol: unknown_symbol; a halted one: symbol_not_trading; good ones give rules."""
    infos = [SymbolInfo(symbol="BTCUSDT", status="TRADING", base_asset="BTC", quote_asset="USDT", filters=[LOT]),
             SymbolInfo(symbol="HALTED", status="HALT", base_asset="H", quote_asset="USDT", filters=[LOT])]
    assert set(check_symbols(infos, ["BTCUSDT"])) == {"BTCUSDT"}
    with pytest.raises(AuditError) as err:
        check_symbols(infos, ["BTCUSDT", "ETHUSDT"])
    assert err.value.code == "unknown_symbol" and "ETHUSDT" in err.value.message
    with pytest.raises(AuditError) as err:
        check_symbols(infos, ["HALTED"])
    assert err.value.code == "symbol_not_trading"
