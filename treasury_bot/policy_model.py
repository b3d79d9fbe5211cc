"""The policy as typed values: the frozen structs a policy file decodes into (docs/design.md section 3).

The file's shape (amounts are TOML *strings* in the wire amount grammar, never floats)::

    quarantine_hours = 24            # >= 0; a number (0.5 allowed); 0 only with a loopback
                                     # BINANCE_BASE_URL (check_for_exchange)
    allow_trading_key = false
    allow_unrestricted_ip = false

    [limits]
    window_hours = 24                # 1..8784 (a year)
    max_transfers_per_hour = 20      # >= 1
    max_intent_age_seconds = 300     # 1..86400
    min_seconds_between_withdrawals = 1   # a number >= 0
    poll_interval_seconds = 15       # >= 6: withdraw history costs 18,000 UID weight
    stuck_after_minutes = 60         # >= 1

    [limits.coins.USDT]              # required for every coin a destination uses
    max_per_transfer = "1000"
    window_cap = "5000"
    approval_above = "2500"          # optional

    [executor]                       # optional: OUR ADDITION to the design
    reconcile_grace_seconds = 60     # >= 1: after an unknown withdraw outcome (timeout, 5XX),
                                     # how long the exchange gets before an absent
                                     # withdrawOrderId counts as proven absent
    reconcile_deadline_minutes = 30  # 1..10079 and longer than the grace: not proven present
                                     # or absent by then -> needs_review (history look-ups
                                     # need a window under 7 days)

    [keys]                           # optional (issue 16)
    rotate_after_days = 90           # 1..3650: warn when the exchange key is older

    [[destination]]
    label = "cold-wallet"            # wire Label pattern; unique
    coin = "USDT"                    # wire Coin pattern; needs a [limits.coins.USDT] table
    network = "TRX"                  # wire Network pattern
    address = "TXYZ..."              # not empty; no whitespace or control characters
    tag = "12345"                    # optional memo; same rule as address
    max_per_transfer = "500"         # optional
    window_cap = "2000"              # optional
    clients = ["signal"]             # optional: certificate names; absent = every client

Read and validated by treasury_bot/policy_file.py; the parsed Policy is immutable.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import ROUND_CEILING, Decimal
from typing import Annotated, Literal

import msgspec
from msgspec import Meta, Struct

from common.messages import Coin, Label, Network

CLIENT_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}\Z"  # a zmq.auth certificate's name
ClientName = Annotated[str, Meta(pattern=CLIENT_NAME_PATTERN)]

_MS_PER_HOUR = 3_600_000


class CoinLimits(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    max_per_transfer: Decimal
    window_cap: Decimal
    approval_above: Decimal | None = None


class ClientLimits(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """[limits.clients.NAME]: one client's request budget (issue 10 defect 6)."""

    max_requests_per_minute: Annotated[int, Meta(ge=1, le=1_000_000)] = 600


class Limits(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    window_hours: Annotated[int, Meta(ge=1, le=24 * 366)] = 24
    max_transfers_per_hour: Annotated[int, Meta(ge=1)] = 20
    max_intent_age_seconds: Annotated[int, Meta(ge=1, le=86_400)] = 300
    min_seconds_between_withdrawals: Decimal = Decimal("1")
    poll_interval_seconds: Annotated[int, Meta(ge=6)] = 15
    stuck_after_minutes: Annotated[int, Meta(ge=1)] = 60
    coins: Mapping[Coin, CoinLimits]
    # Issue 10 defects 6 and 8 (docs/design.md section 9).
    clients: Mapping[ClientName, ClientLimits] = msgspec.field(default_factory=dict)
    min_free_disk_mb: Annotated[int, Meta(ge=1, le=1_000_000)] = 64
    # The refresher runs every 5 min: under 10 a single failed refresh would stop intents.
    max_exchange_rules_age_minutes: Annotated[int, Meta(ge=10, le=7 * 24 * 60)] = 30

    @property
    def window_ms(self) -> int:
        return self.window_hours * _MS_PER_HOUR

    @property
    def max_intent_age_ms(self) -> int:
        return self.max_intent_age_seconds * 1000


class ExecutorTuning(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    reconcile_grace_seconds: Annotated[int, Meta(ge=1)] = 60
    # Withdraw history by withdrawOrderId needs a window under 7 days.
    reconcile_deadline_minutes: Annotated[int, Meta(ge=1, le=7 * 24 * 60 - 1)] = 30


class Destination(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    label: Label
    coin: Coin
    network: Network
    address: str
    tag: str | None = None
    # Which wallet pays (issue 12 item 1): sent as walletType on every apply, so a change of
    # the account's selected deposit wallet never changes where money is taken from.
    wallet: Literal["spot", "funding"] = "spot"
    # The Travel Rule questionnaire sent with each withdrawal to this destination when the
    # account is under a local entity that requires one (issue 12 item 5; travel_rule.py).
    questionnaire: dict[str, str | int | bool] | None = None
    max_per_transfer: Decimal | None = None
    window_cap: Decimal | None = None
    clients: tuple[ClientName, ...] | None = None  # None: every client may use it

    def allows(self, client: str) -> bool:
        return self.clients is None or client in self.clients


# -- issue 13: the custody controls (docs/design.md section 9). One struct per table, each
# owned by its control: [approvals] (treasury_bot/quorum.py), [circuit_breakers]
# (treasury_bot/breakers.py), and `mode` (shadow mode).

OperatorName = Annotated[str, Meta(pattern=CLIENT_NAME_PATTERN)]  # a person's key's name


class Approvals(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """[approvals]: who may approve, how many must, and for how long an intent waits."""

    quorum: Annotated[int, Meta(ge=1, le=20)] = 1
    ttl_hours: Annotated[int, Meta(ge=1, le=24 * 30)] = 72
    # Who may approve: each name's public key is operators/NAME.pub.pem beside the policy
    # file (treasury_bot/quorum.py). Empty: no signatures, `treasuryctl approve ID` as before
    # (quorum must then be 1).
    operators: tuple[OperatorName, ...] = ()

    @property
    def signed(self) -> bool:
        """Approvals must be signed by listed operators."""
        return bool(self.operators)


class CircuitBreakers(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """[circuit_breakers]: the conditions that freeze the treasury by themselves."""

    client_rejections: Annotated[int, Meta(ge=1, le=1_000_000)] = 20
    client_rejections_minutes: Annotated[int, Meta(ge=1, le=24 * 60)] = 10
    foreign_withdrawal: bool = True
    reconciliation_mismatch: bool = True
    journal_broken: bool = True
    policy_changed: bool = True


class Keys(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """[keys] (issue 16 item 2, common/key_hygiene.py): a key older than this many days
    (apiRestrictions createTime) is warned by `treasuryctl check` and the weekly
    `key_hygiene` alert. A warning only: it takes effect at once, no quarantine."""

    rotate_after_days: Annotated[int, Meta(ge=1, le=3650)] = 90


class Watch(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """[watch]: the foreign-withdrawal watch (treasury_bot/foreign_watch.py, issue 13 item 5).
    Each pass costs one withdraw-history request (UID weight 18000 of 180000 a minute)
    while fewer than 1000 withdrawals fall in its window; under 60 s only against a
    loopback exchange (treasury_bot/policy_file.py)."""

    every_seconds: Annotated[int, Meta(ge=1, le=86_400)] = 300
    lookback_days: Annotated[int, Meta(ge=1, le=3650)] = 90


WATCH_FLOOR_S = 60   # the least `[watch] every_seconds` against a real exchange

MODES = ("live", "shadow")


class Policy(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    quarantine_hours: Decimal = Decimal(24)
    allow_trading_key: bool = False
    allow_unrestricted_ip: bool = False
    limits: Limits
    executor: ExecutorTuning = msgspec.field(default_factory=ExecutorTuning)
    destinations: tuple[Destination, ...] = msgspec.field(default=(), name="destination")
    mode: Literal["live", "shadow"] = "live"
    approvals: Approvals = msgspec.field(default_factory=Approvals)
    circuit_breakers: CircuitBreakers = msgspec.field(default_factory=CircuitBreakers)
    watch: Watch = msgspec.field(default_factory=Watch)
    keys: Keys = msgspec.field(default_factory=Keys)

    @property
    def shadow(self) -> bool:
        """Shadow mode: decide, journal and mail as live does; never call the apply endpoint."""
        return self.mode == "shadow"

    def destination(self, label: str) -> Destination | None:
        for destination in self.destinations:
            if destination.label == label:
                return destination
        return None

    @property
    def quarantine_ms(self) -> int:
        """Quarantine in whole milliseconds, rounded up (a fraction never shortens it)."""
        return int((self.quarantine_hours * _MS_PER_HOUR).to_integral_value(ROUND_CEILING))

