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


@pytest.mark.parametrize("right, code", [
    ("enable_withdrawals", "key_can_withdraw"),
    ("enable_internal_transfer", "key_can_transfer"),
    ("permits_universal_transfer", "key_can_transfer"),
])
def test_a_key_that_can_move_money_in_any_way_is_refused(right, code):
    """Each money-moving right apiRestrictions reports refuses the start, naming its field."""
    with pytest.raises(AuditError) as err:
        audit_key(restrictions(ip_restrict=True, **{right: True}))
    field = {"enable_withdrawals": "enableWithdrawals", "enable_internal_transfer": "enableInternalTransfer",
             "permits_universal_transfer": "permitsUniversalTransfer"}[right]
    assert err.value.code == code and field in err.value.message


def test_margin_futures_and_options_rights_are_warned_not_refused():
    """enableMargin, enableFutures, enableVanillaOptions, enablePortfolioMarginTrading: one warning naming each."""
    warnings = audit_key(restrictions(ip_restrict=True, enable_margin=True, enable_futures=True,
                                      enable_vanilla_options=True, enable_portfolio_margin_trading=True))
    [extra] = warnings
    assert extra.code == "key_has_extra_rights" and not extra.loud
    for field in ("enableMargin", "enableFutures", "enableVanillaOptions", "enablePortfolioMarginTrading"):
        assert field in extra.message


def test_a_key_without_ip_restriction_is_warned_loudly():
    """ipRestrict false: a loud warning (Binance expires and may delete such keys); an IP-restricted key: none."""
    [loud] = audit_key(restrictions(ip_restrict=False))
    assert loud.code == "key_not_ip_restricted" and loud.loud and "NOT IP-RESTRICTED" in loud.message
    assert audit_key(restrictions(ip_restrict=True)) == []


def test_an_expiring_trading_right_is_warned_with_its_date():
    """tradingAuthorityExpirationTime: the date the trading right ends, in UTC."""
    [_, expiring] = audit_key(restrictions(trading_authority_expiration_time=1_700_000_000_000))
    assert expiring.code == "key_trading_expires" and "2023-11-14T22:13:20Z" in expiring.message


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
