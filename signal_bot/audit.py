"""Start-up self-audit: the signal bot refuses to run where it could move money or hold the treasury's keys.

Refusals (each an AuditError with a stable code and a one-line message):
- treasury_secret_in_env: a TREASURY_* secret is set in its env file or environment;
- treasury_secret_readable: the treasury's CURVE secret key is readable from here
  (TREASURY_CURVE_PUBLIC_FILE holds a secret key, or its `_secret` twin sits beside it);
- same_curve_key: its own CURVE key is the treasury's;
- key_can_withdraw / key_can_transfer / key_cannot_trade: its exchange key's apiRestrictions
  (a key that can move money in any way the page reports, or cannot trade spot);
- unknown_symbol / symbol_not_trading: an allowed symbol missing from exchangeInfo or not TRADING.
"""

from __future__ import annotations

from dataclasses import dataclass
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


@dataclass(frozen=True)
class KeyWarning:
    """A right the signal bot does not need, or a risk to the key itself; `loud`: say it
    at every start in capitals (the bot still runs)."""

    code: str
    message: str
    loud: bool = False


# The rights that move money out of the spot wallet, as GET /sapi/v1/account/apiRestrictions
# names them (https://developers.binance.com/docs/wallet/account/api-key-permission):
# withdrawals, master/sub-account transfers, and the universal transfer API.
_MONEY_MOVERS = (
    ("enable_withdrawals", "enableWithdrawals", "key_can_withdraw", "withdrawal permission"),
    ("enable_internal_transfer", "enableInternalTransfer", "key_can_transfer",
     "internal transfer permission (master/sub-account transfers)"),
    ("permits_universal_transfer", "permitsUniversalTransfer", "key_can_transfer",
     "universal transfer permission"),
)
# Rights beyond spot trading: not money out of the account, but risk the bot never takes.
_EXTRA_RIGHTS = (
    ("enable_margin", "enableMargin", "margin (borrowing)"),
    ("enable_futures", "enableFutures", "futures"),
    ("enable_vanilla_options", "enableVanillaOptions", "options"),
    ("enable_portfolio_margin_trading", "enablePortfolioMarginTrading", "portfolio margin"),
)


def audit_key(restrictions: Any) -> list[KeyWarning]:
    """From /sapi/v1/account/apiRestrictions: a trading-only key, or no start. Returns the
    warnings (rights it does not need, no IP restriction) for the caller to log or print."""
    for attr, field, code, what in _MONEY_MOVERS:
        if getattr(restrictions, attr, False):
            raise AuditError(code, f"SIGNAL_API_KEY has {what} (apiRestrictions.{field} is true); the "
                                   "signal bot needs a key that can only trade: turn it off in "
                                   "Binance's API Management")
    if not restrictions.enable_spot_and_margin_trading:
        raise AuditError("key_cannot_trade",
                         "SIGNAL_API_KEY has no spot trading permission (enableSpotAndMarginTrading is false)")
    return key_warnings(restrictions)


def key_warnings(restrictions: Any) -> list[KeyWarning]:
    """What a trading key should not have, though it cannot move money out with it."""
    warnings = []
    extras = [(field, words) for attr, field, words in _EXTRA_RIGHTS if getattr(restrictions, attr, False)]
    if extras:
        warnings.append(KeyWarning(
            "key_has_extra_rights",
            "SIGNAL_API_KEY also allows " + ", ".join(f"{words} ({field})" for field, words in extras)
            + "; the signal bot trades spot only: turn these off in Binance's API Management"))
    if not restrictions.ip_restrict:
        # Binance: a key without an IP restriction loses its "Spot & Margin Trading" right
        # 30 days after it was enabled (announcement 2021-07-08,
        # https://www.binance.com/en/support/announcement/cda0a4b53da04396b5d27881e93abf78),
        # and inactive unrestricted keys are deleted.
        warnings.append(KeyWarning(
            "key_not_ip_restricted",
            "SIGNAL_API_KEY IS NOT IP-RESTRICTED (ipRestrict is false): anyone holding it can trade "
            "from anywhere, and Binance expires the trading right of such keys (30 days) and may "
            "delete them; restrict it to this host's public IP in Binance's API Management", loud=True))
    expires = getattr(restrictions, "trading_authority_expiration_time", None)
    if expires:
        warnings.append(KeyWarning(
            "key_trading_expires",
            f"SIGNAL_API_KEY's trading right expires at {_iso(expires)} "
            "(tradingAuthorityExpirationTime); an IP restriction makes it permanent"))
    return warnings


def _iso(ms: int) -> str:
    from datetime import datetime, timezone
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


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
