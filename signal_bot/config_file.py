"""The signal bot's own TOML config (`SIGNAL_CONFIG_FILE`, default signal.toml), strictly validated.

Amounts are TOML strings ("500"), never floats. Any problem is a ConfigError whose one
line names the file and the key: "signal.toml: risk.max_quote_per_order: ...".
See signal_bot/signal.example.toml for a commented example.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta, Struct

from common.config import ConfigError
from common.messages import Coin, Label, Network
from common.money import AmountError, parse_amount

Symbol = Annotated[str, Meta(pattern=r"^[A-Z0-9]{1,20}\Z")]
Asset = Annotated[str, Meta(pattern=r"^[A-Z0-9]{1,20}\Z")]
# A non-negative decimal string; zero allowed (keep = "0"), checked in __post_init__.
DecimalText = Annotated[str, Meta(pattern=r"^[0-9]+(\.[0-9]{1,18})?\Z", max_length=64)]


def _positive(text: str, field: str) -> None:
    try:
        parse_amount(text)
    except AmountError as exc:
        raise ValueError(f"@{field}: {exc}") from None


class Risk(Struct, frozen=True, forbid_unknown_fields=True):
    symbols: Annotated[tuple[Symbol, ...], Meta(min_length=1)]
    max_quote_per_order: DecimalText
    max_orders_per_minute: Annotated[int, Meta(ge=1, le=100_000)]

    def __post_init__(self) -> None:
        _positive(self.max_quote_per_order, "max_quote_per_order")
        if len(set(self.symbols)) != len(self.symbols):
            raise ValueError("@symbols: a symbol is listed twice")

    @property
    def max_quote(self) -> Decimal:
        return Decimal(self.max_quote_per_order)


class Orders(Struct, frozen=True, forbid_unknown_fields=True):
    time_in_force: Literal["GTC", "IOC", "FOK"] = "GTC"
    # A signal journaled before a stop is traded at the next start only while younger.
    max_signal_age_seconds: Annotated[int, Meta(ge=1, le=86_400)] = 120


class Sweep(Struct, frozen=True, forbid_unknown_fields=True):
    asset: Asset
    coin: Coin
    network: Network
    destination: Label
    keep: DecimalText
    min_sweep: DecimalText
    step: DecimalText
    max_amount: DecimalText | None = None  # cap one sweep (e.g. at the treasury's per-transfer limit)
    # The wallet the sweep is sized from (issue 12 item 1): the one the treasury's
    # destination pays from (its policy's `wallet`), so a sweep never asks for money that
    # sits in the other wallet.
    wallet: Literal["spot", "funding"] = "spot"
    retry_seconds: Annotated[float, Meta(ge=1, le=3600)] = 30.0
    # Issue 15 item 5: "free_above_keep" (free balance above keep) or "realised_profit" (only
    # the profit of closed trades, from their journaled fills: signal_bot/profit.py).
    mode: Literal["free_above_keep", "realised_profit"] = "free_above_keep"

    def __post_init__(self) -> None:
        _positive(self.min_sweep, "min_sweep")
        _positive(self.step, "step")
        if self.max_amount is not None:
            _positive(self.max_amount, "max_amount")
            if Decimal(self.max_amount) < Decimal(self.min_sweep):
                raise ValueError("@max_amount: is below min_sweep")


class Treasury(Struct, frozen=True, forbid_unknown_fields=True):
    timeout_seconds: Annotated[float, Meta(gt=0, le=60)] = 2.5
    retries: Annotated[int, Meta(ge=1, le=20)] = 3


class Webhook(Struct, frozen=True, forbid_unknown_fields=True):
    queue_size: Annotated[int, Meta(ge=1, le=100_000)] = 1000


class FeedMapping(Struct, frozen=True, forbid_unknown_fields=True):
    """`[feed.mapping]` of the `mapped` profile: signal field = the body's field (a dotted path
    reaches into an object: `quantity = "order.amount"`). `time` is an ISO-8601 time, `max_lag`
    a field holding seconds (signal_bot/feeds.py)."""

    id: str | None = None
    symbol: str | None = None
    side: str | None = None
    type: str | None = None
    quantity: str | None = None
    quote_amount: str | None = None
    price: str | None = None
    time_in_force: str | None = None
    passphrase: str | None = None
    time: str | None = None
    max_lag: str | None = None


class Feed(Struct, frozen=True, forbid_unknown_fields=True):
    """`[feed]`: the webhook's body shape (issue 15 item 2; signal_bot/feeds.py)."""

    profile: Literal["native", "tradingview", "mapped"] = "native"
    # A signal sent without an id is named by its body's hash within this window: a repeat of
    # the same body this soon is a duplicate (signal_bot/signal_ids.py).
    dedupe_window_seconds: Annotated[int, Meta(ge=1, le=86_400)] = 60
    max_lag_seconds: Annotated[int, Meta(ge=1, le=86_400)] | None = None
    mapping: FeedMapping | None = None
    sides: dict[str, Literal["BUY", "SELL"]] = {}
    ignore_unknown: bool = False

    def __post_init__(self) -> None:
        if (self.profile == "mapped") != (self.mapping is not None):
            raise ValueError("@mapping: the mapped profile needs [feed.mapping], and only it takes one")
        if self.mapping is not None and not (self.mapping.symbol and self.mapping.side):
            raise ValueError("@mapping: maps at least symbol and side")

    def profile_rules(self) -> "Any":
        from signal_bot.feeds import Profile
        mapping = {k: v for k in FeedMapping.__struct_fields__
                   if (v := getattr(self.mapping, k, None)) is not None} if self.mapping else {}
        return Profile(self.profile, mapping, {k.lower(): v for k, v in self.sides.items()},
                       self.ignore_unknown, self.max_lag_seconds, self.dedupe_window_seconds)


class Access(Struct, frozen=True, forbid_unknown_fields=True):
    """`[access]`: who may call (issue 15 item 3; signal_bot/access.py). An empty allow list
    admits any address; "tradingview" is TradingView's four published addresses."""

    allow: tuple[str, ...] = ()
    trusted_proxies: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        from signal_bot.access import AccessError, networks
        for name, presets in (("allow", True), ("trusted_proxies", False)):
            try:
                networks(getattr(self, name), presets=presets)
            except AccessError as exc:
                raise ValueError(f"@{name}: {exc}") from None

    def rules(self) -> "Any":
        from signal_bot.access import AccessRules
        return AccessRules.of(self.allow, self.trusted_proxies)


class Exits(Struct, frozen=True, forbid_unknown_fields=True):
    """Issue 15 item 4 (signal_bot/exits.py): OCO exits, LIMIT entries' time to live."""
    # A LIMIT entry still working this long after it was received is cancelled; unset: never.
    limit_ttl_seconds: Annotated[int, Meta(ge=1, le=30 * 86_400)] | None = None
    # How often working entries and open exits are looked up on the exchange (each look-up
    # of a list weighs 4, of an order 4: ten open exits every 5 s are 480 of 6000 a minute).
    poll_seconds: Annotated[float, Meta(ge=0.1, le=3600)] = 5.0


class Keys(Struct, frozen=True, forbid_unknown_fields=True):
    """Issue 16 item 2 (common/key_hygiene.py): `signal-bot check` and the signal bot's weekly
    `key_hygiene` warning say when SIGNAL_API_KEY is older than this many days."""
    rotate_after_days: Annotated[int, Meta(ge=1, le=3650)] = 90


class SignalConfig(Struct, frozen=True, forbid_unknown_fields=True):
    risk: Risk
    orders: Orders = Orders()
    sweep: Sweep | None = None
    treasury: Treasury = Treasury()
    webhook: Webhook = Webhook()
    feed: Feed = Feed()
    access: Access = Access()
    exits: Exits = Exits()
    keys: Keys = Keys()


def parse_config(text: str, source: str = "signal.toml") -> SignalConfig:
    try:
        return msgspec.toml.decode(text, type=SignalConfig)
    except msgspec.ValidationError as exc:
        raise ConfigError(f"{source}: {_name_key(str(exc))}") from None
    except msgspec.DecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML ({exc})") from None


def load_config(path: Path) -> SignalConfig:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"SIGNAL_CONFIG_FILE: cannot read {path} ({type(exc).__name__})") from None
    return parse_config(text, path.name)


def _name_key(message: str) -> str:
    """Lead with the dotted key: msgspec ends messages with " - at `$.risk`"; our own
    cross-field checks start theirs with "@field: " (relative to the table)."""
    text, sep, where = message.rpartition(" - at `$.")
    location = where.rstrip("`") if sep else ""
    if not sep:
        text = message
    if text.startswith("@"):
        field, _, rest = text[1:].partition(": ")
        return f"{_join(location, field)}: {rest}"
    for lead, tail in (("Object missing required field `", "missing"),
                       ("Object contains unknown field `", "unknown key")):
        if text.startswith(lead):
            name = text[len(lead):].partition("`")[0]
            return f"{_join(location, name)}: {tail}"
    return f"{location}: {text}" if location else text


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name
