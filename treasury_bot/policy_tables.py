"""The policy file's tables checked one by one before msgspec (step 2) and across each other after (step 4).

Every problem is an Invalid naming its key; the order of the steps is in treasury_bot/policy_file.py.
"""

from __future__ import annotations

import math
import re
import unicodedata
from decimal import Decimal
from types import MappingProxyType
from typing import Any, get_args

import msgspec
from msgspec import Struct

from common.messages import Coin
from common.money import AMOUNT_PATTERN
from treasury_bot.policy_messages import (DESCRIBED_PATTERNS, Invalid, convert, key_path, pattern_of,
                                          show, toml_type)
from treasury_bot.policy_model import (CLIENT_NAME_PATTERN, Keys, Watch, ClientLimits, ClientName, CoinLimits,
                                       Destination, ExecutorTuning, Limits, Policy)

_MAX_AMOUNT_CHARS = 64  # as on the wire (common.messages.AmountText)
_AMOUNT_RE = re.compile(AMOUNT_PATTERN)
_COIN_RE = re.compile(pattern_of(Coin))

# Decimal fields of these tables are amounts (TOML strings); elsewhere they are numbers.
_AMOUNT_TABLES = (CoinLimits, Destination)


# --- step 2: table by table, before msgspec -------------------------------------------

def precheck(data: dict[str, Any]) -> None:
    _check_table(data, Policy, "")
    limits = data.get("limits")
    if isinstance(limits, dict):
        _check_table(limits, Limits, "limits")
        coins = limits.get("coins")
        if isinstance(coins, dict):
            for coin, table in coins.items():
                _check_coin_table(coin, table, key_path("limits.coins", coin))
        clients = limits.get("clients")
        if isinstance(clients, dict):
            for name, table in clients.items():
                _check_client_table(name, table, key_path("limits.clients", name))
    executor = data.get("executor")
    if isinstance(executor, dict):
        _check_table(executor, ExecutorTuning, "executor")
    watch = data.get("watch")
    if isinstance(watch, dict):
        _check_table(watch, Watch, "watch")
    keys = data.get("keys")
    if isinstance(keys, dict):
        _check_table(keys, Keys, "keys")
    destinations = data.get("destination")
    if isinstance(destinations, list):
        for index, table in enumerate(destinations):
            if isinstance(table, dict):
                _check_table(table, Destination, f"destination[{index}]")


def _check_coin_table(coin: str, table: Any, path: str) -> None:
    if not _COIN_RE.match(coin):
        raise Invalid(path, f"{show(coin)} is not {DESCRIBED_PATTERNS[pattern_of(Coin)]}")
    if isinstance(table, dict):
        _check_table(table, CoinLimits, path)
    # Decoded alone: inside a dict msgspec's error path says `[...]`, not the coin.
    convert(table, CoinLimits, path)


def _check_client_table(name: str, table: Any, path: str) -> None:
    if not re.match(CLIENT_NAME_PATTERN, name):
        raise Invalid(path, f"{show(name)} is not {DESCRIBED_PATTERNS[pattern_of(ClientName)]}")
    if isinstance(table, dict):
        _check_table(table, ClientLimits, path)
    convert(table, ClientLimits, path)


def _check_table(table: dict[str, Any], struct: type[Struct], path: str) -> None:
    fields = {field.encode_name: field for field in msgspec.structs.fields(struct)}
    for key in table:
        if key not in fields:
            raise Invalid(key_path(path, key), f"unknown key (allowed here: {', '.join(fields)})")
    for key, field in fields.items():
        if field.required and key not in table:
            raise Invalid(key_path(path, key), "missing required key")
    for key, field in fields.items():
        if key in table and _is_decimal(field.type):
            check = _check_amount if struct in _AMOUNT_TABLES else _check_number
            check(table[key], key_path(path, key))


def _is_decimal(annotation: Any) -> bool:
    return annotation is Decimal or Decimal in get_args(annotation)


def _check_amount(value: Any, path: str) -> None:
    if not isinstance(value, str):
        raise Invalid(path, f'expected a decimal string like "5000", got {toml_type(value)} '
                            '(write amounts as strings, e.g. "1000")')
    if len(value) > _MAX_AMOUNT_CHARS or not _AMOUNT_RE.match(value):
        raise Invalid(path, f"{show(value)} is not a decimal string like \"5000\" (digits and an "
                            "optional fraction of 1-18 decimals; no sign, exponent or spaces)")
    if Decimal(value) <= 0:
        raise Invalid(path, f"must be greater than 0, got {show(value)}")


def _check_number(value: Any, path: str) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise Invalid(path, f"expected a number, got {toml_type(value)}")
    if isinstance(value, float) and not math.isfinite(value):
        raise Invalid(path, f"must be a finite number, got {value}")
    if value < 0:
        raise Invalid(path, f"must be >= 0, got {value}")


# --- step 4: across tables ----------------------------------------------------------

def check_across(policy: Policy) -> None:
    first_index: dict[str, int] = {}
    for index, destination in enumerate(policy.destinations):
        path = f"destination[{index}]"
        if destination.label in first_index:
            raise Invalid(f"{path}.label", f"duplicate label {show(destination.label)} "
                                           f"(also destination[{first_index[destination.label]}])")
        first_index[destination.label] = index
        if destination.coin not in policy.limits.coins:
            raise Invalid(f"{path}.coin", f"coin {show(destination.coin)} has no "
                                          f"[limits.coins.{destination.coin}] table")
        _check_plain_text(destination.address, f"{path}.address")
        if destination.tag is not None:
            _check_plain_text(destination.tag, f"{path}.tag")
        _check_clients(destination.clients or (), f"{path}.clients")
    executor = policy.executor
    if executor.reconcile_deadline_minutes * 60 <= executor.reconcile_grace_seconds:
        raise Invalid("executor.reconcile_deadline_minutes",
                      f"{executor.reconcile_deadline_minutes} min is not longer than "
                      f"reconcile_grace_seconds {executor.reconcile_grace_seconds}")
    _check_approvals(policy)


def _check_approvals(policy: Policy) -> None:
    """[approvals] (issue 13 item 3): M of the listed operators, each listed once."""
    approvals = policy.approvals
    seen: set[str] = set()
    for index, name in enumerate(approvals.operators):
        if name in seen:
            raise Invalid(f"approvals.operators[{index}]", f"duplicate operator {show(name)}")
        seen.add(name)
    if approvals.quorum > max(1, len(approvals.operators)):
        raise Invalid("approvals.quorum", f"{approvals.quorum} is more than the "
                      f"{len(approvals.operators)} operator(s) listed in approvals.operators")


def _check_plain_text(text: str, path: str) -> None:
    if not text:
        raise Invalid(path, "must not be empty (leave an optional key out instead)")
    for position, char in enumerate(text):
        # Whitespace, control, format (zero-width) and unassigned characters: an address
        # must read the same to the operator as to the exchange.
        if char.isspace() or unicodedata.category(char)[0] in "CZ":
            raise Invalid(path, f"contains whitespace or a control character "
                                f"({show(char)} at position {position})")


def _check_clients(clients: tuple[str, ...], path: str) -> None:
    seen: set[str] = set()
    for index, client in enumerate(clients):
        if client in seen:
            raise Invalid(f"{path}[{index}]", f"duplicate client {show(client)}")
        seen.add(client)


def frozen(policy: Policy) -> Policy:
    coins = MappingProxyType(dict(policy.limits.coins))
    clients = MappingProxyType(dict(policy.limits.clients))
    return msgspec.structs.replace(policy, limits=msgspec.structs.replace(policy.limits, coins=coins,
                                                                          clients=clients))
