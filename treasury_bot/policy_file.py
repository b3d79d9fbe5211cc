"""The treasury's policy file (docs/design.md section 3): TOML, read at start, validated strictly.

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

    [[destination]]
    label = "cold-wallet"            # wire Label pattern; unique
    coin = "USDT"                    # wire Coin pattern; needs a [limits.coins.USDT] table
    network = "TRX"                  # wire Network pattern
    address = "TXYZ..."              # not empty; no whitespace or control characters
    tag = "12345"                    # optional memo; same rule as address
    max_per_transfer = "500"         # optional
    window_cap = "2000"              # optional
    clients = ["signal"]             # optional: certificate names; absent = every client

Checks, in the order they are made (the first failure stops the load):
1. TOML syntax (tomllib; the message gives the line and column); the file must be UTF-8.
2. Table by table, top-down: unknown keys, missing keys, amounts (strings, wire grammar,
   > 0), non-amount decimals (TOML numbers, finite, >= 0), coin names of [limits.coins.X];
   each coin table is then decoded on its own so that errors name the coin.
3. msgspec, strict: types, integer ranges, the wire patterns of common/messages.py.
4. Across tables: duplicate labels, a destination whose coin has no limits table,
   addresses and tags, duplicate clients, the executor's deadline against its grace.

Every failure is a PolicyError whose one-line message is ``FILE: KEY.PATH: problem``,
e.g. ``treasury.toml: limits.coins.USDT.window_cap: expected a decimal string like
"5000", got float (write amounts as strings, e.g. "1000")``. The parsed Policy is
immutable: frozen structs, tuples, and a read-only mapping for the coins.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import tomllib
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal
from pathlib import Path
from types import MappingProxyType
from typing import Annotated, Any, get_args

import msgspec
from msgspec import Meta, Struct

from common.messages import Coin, Label, Network
from common.money import AMOUNT_PATTERN

CLIENT_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}\Z"  # a zmq.auth certificate's name
ClientName = Annotated[str, Meta(pattern=CLIENT_NAME_PATTERN)]

_MS_PER_HOUR = 3_600_000
_MAX_AMOUNT_CHARS = 64  # as on the wire (common.messages.AmountText)
_AMOUNT_RE = re.compile(AMOUNT_PATTERN)
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+\Z")


def _pattern(annotated: Any) -> str:
    return str(get_args(annotated)[1].pattern)


_COIN_RE = re.compile(_pattern(Coin))
_DESCRIBED_PATTERNS = {
    _pattern(Coin): 'a coin symbol like "USDT" (1-20 of A-Z 0-9)',
    _pattern(Network): 'a network name like "TRX" (1-32 of A-Z 0-9 _)',
    # Label and ClientName share one grammar, hence one description.
    _pattern(Label): "a name of 1-64 letters, digits, '_', '.' or '-' starting with a letter or digit",
    CLIENT_NAME_PATTERN: "a name of 1-64 letters, digits, '_', '.' or '-' starting with a letter or digit",
}


class PolicyError(Exception):
    """The policy file cannot be used; the message is one line: ``FILE: KEY: problem``."""

    code = "policy_invalid"

    def __init__(self, source: str, key: str | None, problem: str) -> None:
        self.source = _one_line(source)
        self.key = _one_line(key) if key else None
        self.problem = _one_line(problem)
        where = f"{self.source}: {self.key}" if self.key else self.source
        super().__init__(f"{where}: {self.problem}")


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
    max_per_transfer: Decimal | None = None
    window_cap: Decimal | None = None
    clients: tuple[ClientName, ...] | None = None  # None: every client may use it

    def allows(self, client: str) -> bool:
        return self.clients is None or client in self.clients


class Policy(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    quarantine_hours: Decimal = Decimal(24)
    allow_trading_key: bool = False
    allow_unrestricted_ip: bool = False
    limits: Limits
    executor: ExecutorTuning = msgspec.field(default_factory=ExecutorTuning)
    destinations: tuple[Destination, ...] = msgspec.field(default=(), name="destination")

    def destination(self, label: str) -> Destination | None:
        for destination in self.destinations:
            if destination.label == label:
                return destination
        return None

    @property
    def quarantine_ms(self) -> int:
        """Quarantine in whole milliseconds, rounded up (a fraction never shortens it)."""
        return int((self.quarantine_hours * _MS_PER_HOUR).to_integral_value(ROUND_CEILING))


# Decimal fields of these tables are amounts (TOML strings); elsewhere they are numbers.
_AMOUNT_TABLES = (CoinLimits, Destination)


@dataclass(frozen=True)
class LoadedPolicy:
    policy: Policy
    sha256: str  # hex digest of the file's bytes, journaled to detect a change
    path: Path


def load_policy(path: str | os.PathLike[str]) -> LoadedPolicy:
    """Read, hash and validate the policy file; any failure is a PolicyError naming it."""
    source = os.fspath(path)
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise PolicyError(source, None, f"cannot read the policy file: {exc.strerror or exc}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PolicyError(source, None, f"not UTF-8 text (bad byte at offset {exc.start})") from None
    return LoadedPolicy(parse_policy(text, source), hashlib.sha256(data).hexdigest(), Path(path))


def parse_policy(text: str, source: str = "treasury.toml") -> Policy:
    """Parse and validate a policy document; `source` names it in error messages."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(source, None, f"invalid TOML: {exc}") from None
    return policy_from_dict(data, source)


def policy_from_dict(data: dict[str, Any], source: str = "treasury.toml") -> Policy:
    """Validate an already parsed TOML document (as tomllib returns it)."""
    if not isinstance(data, dict):
        raise PolicyError(source, None, f"expected a table, got {_toml_type(data)}")
    try:
        _precheck(data)
        policy = _convert(data, Policy, "")
        _check_across(policy)
    except _Invalid as exc:
        raise PolicyError(source, exc.key, exc.problem) from None
    return _frozen(policy)


class _Invalid(Exception):
    def __init__(self, key: str, problem: str) -> None:
        super().__init__(key, problem)
        self.key = key
        self.problem = problem


# --- step 2: table by table, before msgspec -------------------------------------------

def _precheck(data: dict[str, Any]) -> None:
    _check_table(data, Policy, "")
    limits = data.get("limits")
    if isinstance(limits, dict):
        _check_table(limits, Limits, "limits")
        coins = limits.get("coins")
        if isinstance(coins, dict):
            for coin, table in coins.items():
                _check_coin_table(coin, table, _join("limits.coins", coin))
        clients = limits.get("clients")
        if isinstance(clients, dict):
            for name, table in clients.items():
                _check_client_table(name, table, _join("limits.clients", name))
    executor = data.get("executor")
    if isinstance(executor, dict):
        _check_table(executor, ExecutorTuning, "executor")
    destinations = data.get("destination")
    if isinstance(destinations, list):
        for index, table in enumerate(destinations):
            if isinstance(table, dict):
                _check_table(table, Destination, f"destination[{index}]")


def _check_coin_table(coin: str, table: Any, path: str) -> None:
    if not _COIN_RE.match(coin):
        raise _Invalid(path, f"{_show(coin)} is not {_DESCRIBED_PATTERNS[_pattern(Coin)]}")
    if isinstance(table, dict):
        _check_table(table, CoinLimits, path)
    # Decoded alone: inside a dict msgspec's error path says `[...]`, not the coin.
    _convert(table, CoinLimits, path)


def _check_client_table(name: str, table: Any, path: str) -> None:
    if not re.match(CLIENT_NAME_PATTERN, name):
        raise _Invalid(path, f"{_show(name)} is not {_DESCRIBED_PATTERNS[_pattern(ClientName)]}")
    if isinstance(table, dict):
        _check_table(table, ClientLimits, path)
    _convert(table, ClientLimits, path)


def _check_table(table: dict[str, Any], struct: type[Struct], path: str) -> None:
    fields = {field.encode_name: field for field in msgspec.structs.fields(struct)}
    for key in table:
        if key not in fields:
            raise _Invalid(_join(path, key), f"unknown key (allowed here: {', '.join(fields)})")
    for key, field in fields.items():
        if field.required and key not in table:
            raise _Invalid(_join(path, key), "missing required key")
    for key, field in fields.items():
        if key in table and _is_decimal(field.type):
            check = _check_amount if struct in _AMOUNT_TABLES else _check_number
            check(table[key], _join(path, key))


def _is_decimal(annotation: Any) -> bool:
    return annotation is Decimal or Decimal in get_args(annotation)


def _check_amount(value: Any, path: str) -> None:
    if not isinstance(value, str):
        raise _Invalid(path, f'expected a decimal string like "5000", got {_toml_type(value)} '
                             '(write amounts as strings, e.g. "1000")')
    if len(value) > _MAX_AMOUNT_CHARS or not _AMOUNT_RE.match(value):
        raise _Invalid(path, f"{_show(value)} is not a decimal string like \"5000\" (digits and an "
                             "optional fraction of 1-18 decimals; no sign, exponent or spaces)")
    if Decimal(value) <= 0:
        raise _Invalid(path, f"must be greater than 0, got {_show(value)}")


def _check_number(value: Any, path: str) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _Invalid(path, f"expected a number, got {_toml_type(value)}")
    if isinstance(value, float) and not math.isfinite(value):
        raise _Invalid(path, f"must be a finite number, got {value}")
    if value < 0:
        raise _Invalid(path, f"must be >= 0, got {value}")


# --- step 3: msgspec ----------------------------------------------------------------

_MSGSPEC_ERROR = re.compile(r"(?s)(?P<body>.*?)(?: - at `\$(?P<path>[^`]*)`)?\Z")
_PATH_PART = re.compile(r"\.([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\]")
_TYPE_NAMES = {
    "int": "an integer", "str": "a string", "bool": "true or false", "object": "a table",
    "array": "an array", "float": "a float", "decimal": "a number", "null": "nothing",
}
_GOT_NAMES = {"str": "string", "int": "integer", "bool": "boolean", "object": "table"}
_HINTS = {
    "limits.poll_interval_seconds":
        " (withdraw history costs 18,000 UID weight: poll no faster than every 6 s)",
    "destination": " (write each one as a [[destination]] table)",
}


def _convert(value: Any, struct: type[Struct], path: str) -> Any:
    try:
        return msgspec.convert(value, struct)
    except msgspec.ValidationError as exc:
        match = _MSGSPEC_ERROR.match(str(exc))
        assert match is not None  # the pattern matches any text
        relative = match["path"] or ""
        key = (path + relative).lstrip(".")
        problem = _describe(match["body"], _value_at(value, relative))
        raise _Invalid(key, problem + _HINTS.get(key, "")) from None


def _describe(body: str, value: Any) -> str:
    if m := re.fullmatch(r"Expected `([^`]+)`, got `([^`]+)`", body):
        expected = " or ".join(_TYPE_NAMES.get(t, t) for t in m[1].split(" | ") if t != "null")
        return f"expected {expected}, got {_GOT_NAMES.get(m[2], m[2])}"
    if m := re.fullmatch(r"Expected `[^`]+` (>=|<=|>|<) (\S+)", body):
        return f"must be {m[1]} {m[2]}, got {_show(value)}"
    if m := re.fullmatch(r"(?s)Expected `str` matching regex (.*)", body):
        described = {repr(pattern): text for pattern, text in _DESCRIBED_PATTERNS.items()}
        return f"{_show(value)} is not {described.get(m[1], 'matching ' + m[1])}"
    return body[:1].lower() + body[1:]


def _value_at(value: Any, relative_path: str) -> Any:
    for name, index in _PATH_PART.findall(relative_path):
        try:
            value = value[name] if name else value[int(index)]
        except (KeyError, IndexError, TypeError):
            return None
    return value


# --- step 4: across tables ----------------------------------------------------------

def _check_across(policy: Policy) -> None:
    first_index: dict[str, int] = {}
    for index, destination in enumerate(policy.destinations):
        path = f"destination[{index}]"
        if destination.label in first_index:
            raise _Invalid(f"{path}.label", f"duplicate label {_show(destination.label)} "
                                            f"(also destination[{first_index[destination.label]}])")
        first_index[destination.label] = index
        if destination.coin not in policy.limits.coins:
            raise _Invalid(f"{path}.coin", f"coin {_show(destination.coin)} has no "
                                           f"[limits.coins.{destination.coin}] table")
        _check_plain_text(destination.address, f"{path}.address")
        if destination.tag is not None:
            _check_plain_text(destination.tag, f"{path}.tag")
        _check_clients(destination.clients or (), f"{path}.clients")
    executor = policy.executor
    if executor.reconcile_deadline_minutes * 60 <= executor.reconcile_grace_seconds:
        raise _Invalid("executor.reconcile_deadline_minutes",
                       f"{executor.reconcile_deadline_minutes} min is not longer than "
                       f"reconcile_grace_seconds {executor.reconcile_grace_seconds}")


def _check_plain_text(text: str, path: str) -> None:
    if not text:
        raise _Invalid(path, "must not be empty (leave an optional key out instead)")
    for position, char in enumerate(text):
        # Whitespace, control, format (zero-width) and unassigned characters: an address
        # must read the same to the operator as to the exchange.
        if char.isspace() or unicodedata.category(char)[0] in "CZ":
            raise _Invalid(path, f"contains whitespace or a control character "
                                 f"({_show(char)} at position {position})")


def _check_clients(clients: tuple[str, ...], path: str) -> None:
    seen: set[str] = set()
    for index, client in enumerate(clients):
        if client in seen:
            raise _Invalid(f"{path}[{index}]", f"duplicate client {_show(client)}")
        seen.add(client)


def _frozen(policy: Policy) -> Policy:
    coins = MappingProxyType(dict(policy.limits.coins))
    clients = MappingProxyType(dict(policy.limits.clients))
    return msgspec.structs.replace(policy, limits=msgspec.structs.replace(policy.limits, coins=coins,
                                                                          clients=clients))


# --- message helpers ------------------------------------------------------------------

def _join(path: str, key: str) -> str:
    shown = key if _BARE_KEY.match(key) else json.dumps(key)
    return f"{path}.{shown}" if path else shown


def _show(value: Any) -> str:
    """A value as it would be written in TOML, on one line, bounded."""
    text = json.dumps(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _toml_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    names = {int: "integer", float: "float", str: "string", dict: "table", list: "array"}
    return names.get(type(value), type(value).__name__)


def _one_line(text: str) -> str:
    return "".join(c if c.isprintable() else json.dumps(c)[1:-1] for c in text)


# --- checks that need the environment (docs/design.md section 9) -----------------------------

def check_for_exchange(loaded: LoadedPolicy, base_url: str) -> LoadedPolicy:
    """`quarantine_hours = 0` only against a loopback exchange (the sandbox): the same rule
    as TREASURY_SANDBOX_POLL_SECONDS (common/config/). With no quarantine, an edited
    file could redirect funds at the next start (issue 10 defect 5)."""
    from urllib.parse import urlsplit

    from common.config import is_loopback_host  # the one definition of "loopback host"

    if loaded.policy.quarantine_hours == 0 and not is_loopback_host(urlsplit(base_url).hostname or ""):
        raise PolicyError(str(loaded.path), "quarantine_hours",
                          "0 is only allowed with a loopback BINANCE_BASE_URL (the sandbox): "
                          "new and loosened settings need a quarantine above 0 (default 24)")
    return loaded


def load_policy_for(path: str | os.PathLike[str], base_url: str) -> LoadedPolicy:
    """load_policy, then the checks that depend on which exchange it is used against."""
    return check_for_exchange(load_policy(path), base_url)
