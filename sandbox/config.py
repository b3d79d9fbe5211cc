"""The sandbox's TOML configuration: keys, account, coins, symbols, timings (strict).

Every table refuses unknown keys; amounts are TOML strings (`"0.01"`), never floats;
regular expressions must compile. A bad file stops the start with a message that names
the file and the key (`demo.toml: Expected `str`, got `int` - at `$.key[0].api_key``).
The documented default is the packaged `sandbox/demo.toml`.
"""

from __future__ import annotations

import re
import tomllib
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Literal

import msgspec
from msgspec import Meta, Struct, field

_AMOUNT = re.compile(r"^[0-9]+(\.[0-9]+)?\Z")
Name = Annotated[str, Meta(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}\Z")]
Asset = Annotated[str, Meta(pattern=r"^[A-Z0-9]{1,20}\Z")]
NetworkName = Annotated[str, Meta(pattern=r"^[A-Z0-9_]{1,32}\Z")]
SymbolName = Annotated[str, Meta(pattern=r"^[A-Z0-9]{2,40}\Z")]
ApiKeyText = Annotated[str, Meta(pattern=r"^[A-Za-z0-9_-]{1,100}\Z")]
Seconds = Annotated[float, Meta(ge=0)]


class ConfigError(Exception):
    code = "sandbox_config_invalid"


class Amount(Decimal):
    """A non-negative decimal written as a TOML string."""


def _dec_hook(type_: type, value: object) -> object:
    if type_ is Amount:
        if not isinstance(value, str) or not _AMOUNT.match(value):
            raise ValueError('must be a decimal string like "0.01" (no sign, exponent or float)')
        return Amount(value)
    raise NotImplementedError


def _check_regex(pattern: str, what: str) -> None:
    try:
        re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"{what} is not a valid regular expression: {exc}") from None


def _unique(values: list[str], what: str) -> None:
    seen: set[str] = set()
    for value in values:
        if value in seen:
            raise ValueError(f"duplicate {what} {value!r}")
        seen.add(value)


class ExchangeSettings(Struct, frozen=True, forbid_unknown_fields=True):
    complete_after_seconds: Seconds = 3.0       # status 4 (processing) -> 6 (completed)
    email_sent_seconds: Seconds = 0.0           # > 0: status 0 (email sent) first, for this long
    awaiting_approval_seconds: Seconds = 0.0    # > 0: then status 2 (awaiting approval), for this long
    enforce_rate_limits: bool = True            # 429 once a window's weight is used up (issue 12: on, as at Binance)
    duplicate_client_order_id: Literal["open", "any"] = "open"
    failing_addresses: tuple[str, ...] = ()     # withdrawals to these end as 5 (failed)
    rejecting_addresses: tuple[str, ...] = ()   # withdrawals to these end as 3 (rejected)
    # Travel Rule accounts: local-entity withdrawals to these fail the check (travelRuleStatus 2, status 3)
    travel_rule_failing_addresses: tuple[str, ...] = ()
    # The account's 24-hour withdrawal quota in USDT (issue 12 item 4): GET
    # /sapi/v1/capital/withdraw/quota answers it as wdQuota; an apply over it is -4023
    # (sandbox/withdraw_quota.py).
    withdraw_quota_usdt: Amount = Amount("8000000")

    def __post_init__(self) -> None:
        both = set(self.failing_addresses) & set(self.rejecting_addresses)
        if both:
            raise ValueError(f"addresses both failing and rejecting: {sorted(both)}")


class AccountSettings(Struct, frozen=True, forbid_unknown_fields=True):
    can_trade: bool = True
    can_withdraw: bool = True
    can_deposit: bool = True
    balances: dict[Asset, Amount] = field(default_factory=dict)   # the spot wallet
    # Issue 12 item 1: the Funding wallet, and the wallet an apply without `walletType`
    # pays from (Binance: the "selected wallet" under Wallet -> Deposit).
    funding_balances: dict[Asset, Amount] = field(default_factory=dict)
    default_withdraw_wallet: Literal["spot", "funding"] = "spot"
    # Issue 12 item 5: "NIL" (no Travel Rule), or the local entity's country code (e.g. "JP"):
    # then withdrawals must go through /sapi/v1/localentity/withdraw/apply with a questionnaire.
    travel_rule_country: Annotated[str, Meta(pattern=r"^(NIL|[A-Z]{2})$")] = "NIL"
    # The account's withdrawal whitelist switch (issue 12): on, an apply to an address not
    # in the address book with white_status refuses -4035 (sandbox/address_book.py).
    whitelist_enabled: bool = False


class AddressBookEntry(Struct, frozen=True, forbid_unknown_fields=True):
    """One [[address_book]] entry: GET /sapi/v1/capital/withdraw/address/list serves them."""
    address: Annotated[str, Meta(min_length=1, max_length=128)]
    coin: Asset
    network: NetworkName
    address_tag: str = ""
    name: str = ""
    white_status: bool = True
    origin: str = ""
    origin_type: str = "others"


class KeySettings(Struct, frozen=True, forbid_unknown_fields=True):
    name: Name
    api_key: ApiKeyText
    # Exactly one of: an HMAC secret, or the PEM public key of a self-generated Ed25519
    # key (issue 12 item 7; sandbox/ed25519_verify.py checks its signatures).
    api_secret: str = ""
    ed25519_public_key: str = ""
    can_trade: bool = False                     # enableSpotAndMarginTrading
    can_withdraw: bool = False                  # enableWithdrawals
    enable_reading: bool = True
    ip_restrict: bool = False
    allowed_ips: tuple[str, ...] = ()           # with ip_restrict: only these client IPs (empty: any)
    whitelist_enabled: bool = False             # exchange-side withdrawal address whitelist
    whitelist: tuple[str, ...] = ()
    enable_internal_transfer: bool = False
    permits_universal_transfer: bool = False
    enable_margin: bool = False
    enable_futures: bool = False
    enable_vanilla_options: bool = False
    enable_portfolio_margin_trading: bool = False
    # A key deleted on the exchange, or past `expires_at` (server ms): every signed call is
    # refused -2015, as Binance refuses an unknown key (issue 12: Binance deletes keys).
    deleted: bool = False
    expires_at: int | None = None
    # apiRestrictions' createTime (server ms). Unset: one day before the sandbox's now, a
    # fresh key (issue 16 item 2: a test ages a key through POST /sandbox/keys/{name}).
    create_time: int | None = None
    trading_authority_expiration_time: int | None = None

    def __post_init__(self) -> None:
        if bool(self.api_secret) == bool(self.ed25519_public_key):
            raise ValueError(f"key {self.name}: give exactly one of api_secret (HMAC) and "
                             "ed25519_public_key (PEM)")
        if self.ed25519_public_key:
            from sandbox.ed25519_verify import public_key
            public_key(self.ed25519_public_key)

    @property
    def key_type(self) -> str:
        return "Ed25519" if self.ed25519_public_key else "HMAC"

    def __repr__(self) -> str:  # never show the secret
        return f"KeySettings(name={self.name!r})"


class NetworkSettings(Struct, frozen=True, forbid_unknown_fields=True):
    network: NetworkName
    withdraw_min: Amount
    withdraw_max: Amount
    withdraw_integer_multiple: Amount
    withdraw_fee: Amount
    address_regex: str
    memo_regex: str = ""
    name: str = ""
    is_default: bool = False
    withdraw_enable: bool = True
    deposit_enable: bool = True
    min_confirm: int = 1
    estimated_arrival_time: int = 5

    def __post_init__(self) -> None:
        _check_regex(self.address_regex, "address_regex")
        _check_regex(self.memo_regex, "memo_regex")
        if self.withdraw_min > self.withdraw_max:
            raise ValueError("withdraw_min is above withdraw_max")


class CoinSettings(Struct, frozen=True, forbid_unknown_fields=True):
    coin: Asset
    network: tuple[NetworkSettings, ...]
    name: str = ""

    def __post_init__(self) -> None:
        _unique([n.network for n in self.network], "network")
        if sum(1 for n in self.network if n.is_default) > 1:
            raise ValueError(f"coin {self.coin}: more than one network has is_default = true")

    def find_network(self, network: str | None) -> NetworkSettings | None:
        for candidate in self.network:
            if (network is None and candidate.is_default) or candidate.network == network:
                return candidate
        return None


class PriceFilter(Struct, frozen=True, forbid_unknown_fields=True):
    min_price: Amount
    max_price: Amount
    tick_size: Amount


class LotSize(Struct, frozen=True, forbid_unknown_fields=True):
    min_qty: Amount
    max_qty: Amount
    step_size: Amount


class NotionalFilter(Struct, frozen=True, forbid_unknown_fields=True):
    min_notional: Amount
    max_notional: Amount
    apply_min_to_market: bool = True
    apply_max_to_market: bool = False
    avg_price_mins: int = 5


class MinNotionalFilter(Struct, frozen=True, forbid_unknown_fields=True):
    min_notional: Amount
    apply_to_market: bool = True
    avg_price_mins: int = 5


class SymbolSettings(Struct, frozen=True, forbid_unknown_fields=True):
    symbol: SymbolName
    base_asset: Asset
    quote_asset: Asset
    price: Amount                               # MARKET orders fill here; LIMIT orders cross it
    price_filter: PriceFilter
    lot_size: LotSize
    market_lot_size: LotSize | None = None
    notional: NotionalFilter | None = None
    min_notional: MinNotionalFilter | None = None
    status: Literal["TRADING", "HALT", "BREAK"] = "TRADING"
    base_asset_precision: int = 8
    quote_asset_precision: int = 8

    def __post_init__(self) -> None:
        if self.price <= 0:
            raise ValueError(f"symbol {self.symbol}: price must be above zero")


class SandboxConfig(Struct, frozen=True, forbid_unknown_fields=True):
    exchange: ExchangeSettings = field(default_factory=ExchangeSettings)
    account: AccountSettings = field(default_factory=AccountSettings)
    key: tuple[KeySettings, ...] = ()
    coin: tuple[CoinSettings, ...] = ()
    symbol: tuple[SymbolSettings, ...] = ()
    address_book: tuple[AddressBookEntry, ...] = ()

    def __post_init__(self) -> None:
        _unique([k.name for k in self.key], "key name")
        _unique([k.api_key for k in self.key], "api_key")
        _unique([c.coin for c in self.coin], "coin")
        _unique([s.symbol for s in self.symbol], "symbol")

    def find_key(self, api_key: str) -> KeySettings | None:
        return next((k for k in self.key if k.api_key == api_key), None)

    def find_key_by_name(self, name: str) -> KeySettings | None:
        return next((k for k in self.key if k.name == name), None)

    def find_coin(self, coin: str) -> CoinSettings | None:
        return next((c for c in self.coin if c.coin == coin), None)

    def find_symbol(self, symbol: str) -> SymbolSettings | None:
        return next((s for s in self.symbol if s.symbol == symbol), None)


def parse_config(text: str, source: str = "sandbox.toml") -> SandboxConfig:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}") from None
    try:
        return msgspec.convert(data, SandboxConfig, dec_hook=_dec_hook)
    except msgspec.ValidationError as exc:
        raise ConfigError(f"{source}: {exc}") from None


def default_config_path() -> Path:
    """The packaged demo.toml (package data beside this module)."""
    return Path(__file__).with_name("demo.toml")


def load_config(path: Path | None = None) -> SandboxConfig:
    path = path or default_config_path()
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    return parse_config(text, source=str(path))
