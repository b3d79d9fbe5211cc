"""Start-up self-audit: the signal bot refuses to run where it could move money or hold the treasury's keys.

Refusals (each an AuditError with a stable code and a one-line message):
- treasury_secret_in_env: a TREASURY_* secret is set in its env file or environment;
- treasury_secret_readable: the treasury's CURVE secret key is readable from here
  (TREASURY_CURVE_PUBLIC_FILE holds a secret key, or its `_secret` twin sits beside it);
- same_curve_key: its own CURVE key is the treasury's;
- key_can_withdraw / key_cannot_trade: its exchange key's apiRestrictions;
- unknown_symbol / symbol_not_trading: an allowed symbol missing from exchangeInfo or not TRADING.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable, Mapping

import zmq.auth

from common.config import ConfigError, SignalSettings
from common.curve import KeyPair, load_key_pair, load_public_key
from signal_bot.symbol_rules import RulesError, SymbolRules, rules_from_info


class AuditError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def audit_environment(settings: SignalSettings) -> tuple[KeyPair, bytes]:
    """The local checks (no network); returns (our CURVE key pair, the treasury's public key)."""
    if settings.leaked_treasury_names:
        raise AuditError("treasury_secret_in_env",
                         f"{', '.join(settings.leaked_treasury_names)} is set in the signal bot's environment "
                         "or env file; the treasury's secrets must never be on this side")
    try:
        server_public = load_public_key(settings.treasury_public_file, "TREASURY_CURVE_PUBLIC_FILE")
    except ConfigError as exc:
        code = "treasury_secret_readable" if "holds a secret key" in str(exc) else "config_invalid"
        raise AuditError(code, str(exc)) from None
    twin = Path(str(settings.treasury_public_file) + "_secret")
    if _holds_secret_for(twin, server_public):
        raise AuditError("treasury_secret_readable",
                         f"the treasury's CURVE secret key {twin} is readable by the signal bot; move it away")
    try:
        keys = load_key_pair(settings.curve_secret_file, "SIGNAL_CURVE_SECRET_FILE")
    except ConfigError as exc:
        raise AuditError("config_invalid", str(exc)) from None
    if keys.public == server_public:
        raise AuditError("same_curve_key",
                         "SIGNAL_CURVE_SECRET_FILE is the treasury's own CURVE key; give the signal bot its own")
    return keys, server_public


def _holds_secret_for(path: Path, public: bytes) -> bool:
    try:
        found_public, secret = zmq.auth.load_certificate(str(path))
    except (OSError, ValueError):
        return False
    return bool(secret) and found_public == public


def audit_key(restrictions: Any) -> None:
    """From /sapi/v1/account/apiRestrictions: a trading-only key, or no start."""
    if restrictions.enable_withdrawals:
        raise AuditError("key_can_withdraw",
                         "SIGNAL_API_KEY has withdrawal permission (apiRestrictions.enableWithdrawals); "
                         "the signal bot needs a trading-only key")
    if not restrictions.enable_spot_and_margin_trading:
        raise AuditError("key_cannot_trade",
                         "SIGNAL_API_KEY has no spot trading permission (enableSpotAndMarginTrading is false)")


def check_symbols(infos: Iterable[Any], allowed: Iterable[str]) -> dict[str, SymbolRules]:
    """Rules for every allowed symbol; each must exist and be TRADING."""
    by_name: Mapping[str, Any] = {info.symbol: info for info in infos}
    rules: dict[str, SymbolRules] = {}
    for symbol in allowed:
        info = by_name.get(symbol)
        if info is None:
            raise AuditError("unknown_symbol", f"risk.symbols: {symbol} does not exist on the exchange")
        if info.status != "TRADING":
            raise AuditError("symbol_not_trading", f"risk.symbols: {symbol} is {info.status}, not TRADING")
        try:
            rules[symbol] = rules_from_info(info)
        except RulesError as exc:
            raise AuditError("bad_exchange_info", str(exc)) from None
    return rules
