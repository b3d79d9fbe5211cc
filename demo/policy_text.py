"""The treasury's policy file written from its parts: the one builder of policy TOML for the
demo, the tests (unit, integration, e2e, chaos, fuzz) and the benchmarks.

It lives with the demo because `make demo` writes a policy file for people to read, and
the demo must not depend on tests/; everything else imports it from here.

It writes what it is given, without checking it (treasury_bot/policy_file.py is the judge,
so a test may also build a file the treasury refuses), in the order of
deploy/treasury.toml.example. An argument left at None leaves its key out of the file, so
the file's own default applies. Amounts are written as TOML strings, as the file wants
them; every other number as a TOML number. Text values are plain text: a test of hostile
characters writes its own file.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

Amount = str | Decimal
Number = int | str | Decimal

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+\Z")
_NOTE_COLUMN = 37   # where a key's note starts, as in the demo's other generated files


@dataclass(frozen=True)
class CoinTable:
    """A [limits.coins.COIN] table."""

    max_per_transfer: Amount = "1000"
    window_cap: Amount = "5000"
    approval_above: Amount | None = None


@dataclass(frozen=True)
class DestinationTable:
    """A [[destination]] table."""

    label: str
    address: str
    coin: str = "USDT"
    network: str = "TRX"
    tag: str | None = None
    max_per_transfer: Amount | None = None
    window_cap: Amount | None = None
    clients: Sequence[str] | None = None   # None: every client may use it
    wallet: str | None = None              # None: left out (the treasury's default, spot)
    questionnaire: Mapping[str, str | int | bool] | None = None   # the Travel Rule's answers


def policy_toml(destinations: Sequence[DestinationTable], *,
                coins: Mapping[str, CoinTable] | None = None,
                quarantine_hours: Number | None = 0,
                allow_trading_key: bool | None = None,
                allow_unrestricted_ip: bool | None = None,
                window_hours: Number | None = 24,
                max_transfers_per_hour: Number | None = 20,
                max_intent_age_seconds: Number | None = 300,
                min_seconds_between_withdrawals: Number | None = 0,
                poll_interval_seconds: Number | None = 6,
                stuck_after_minutes: Number | None = 60,
                min_free_disk_mb: Number | None = None,
                max_exchange_rules_age_minutes: Number | None = None,
                client_budgets: Mapping[str, Number] | None = None,
                reconcile_grace_seconds: Number | None = None,
                reconcile_deadline_minutes: Number | None = None,
                notes: Mapping[str, str] | None = None,
                mode: str | None = None,
                watch_every_seconds: Number | None = None,
                watch_lookback_days: Number | None = None,
                client_rejections: Number | None = None) -> str:
    """The policy file's text.

    coins: each coin's [limits.coins.COIN] table (default: USDT with CoinTable's values).
    client_budgets: client name -> max_requests_per_minute ([limits.clients.NAME]).
    reconcile_*: the optional [executor] table, written when either is given.
    mode: the top-level `mode` ("live" or "shadow"); watch_*: the optional [watch] table.
    client_rejections: [circuit_breakers] client_rejections (tests that reject on purpose
    put it out of reach).
    notes: a comment after a key, by its dotted path, e.g.
        {"limits.coins.USDT.approval_above": "a sweep above 750 waits for approval"}.
    """
    coins = {"USDT": CoinTable()} if coins is None else coins
    notes = dict(notes or {})
    blocks = [
        _table(None, {"quarantine_hours": _number(quarantine_hours),
                      "allow_trading_key": _boolean(allow_trading_key),
                      "allow_unrestricted_ip": _boolean(allow_unrestricted_ip),
                      "mode": _string(mode)}, notes),
        _table("limits", {"window_hours": _number(window_hours),
                          "max_transfers_per_hour": _number(max_transfers_per_hour),
                          "max_intent_age_seconds": _number(max_intent_age_seconds),
                          "min_seconds_between_withdrawals": _number(min_seconds_between_withdrawals),
                          "poll_interval_seconds": _number(poll_interval_seconds),
                          "stuck_after_minutes": _number(stuck_after_minutes),
                          "min_free_disk_mb": _number(min_free_disk_mb),
                          "max_exchange_rules_age_minutes": _number(max_exchange_rules_age_minutes)}, notes),
    ]
    for coin, table in coins.items():
        blocks.append(_table(f"limits.coins.{_key(coin)}", {
            "max_per_transfer": _amount(table.max_per_transfer), "window_cap": _amount(table.window_cap),
            "approval_above": _amount(table.approval_above)}, notes))
    for client, per_minute in (client_budgets or {}).items():
        blocks.append(_table(f"limits.clients.{_key(client)}",
                             {"max_requests_per_minute": _number(per_minute)}, notes))
    blocks.append(_table("executor", {"reconcile_grace_seconds": _number(reconcile_grace_seconds),
                                      "reconcile_deadline_minutes": _number(reconcile_deadline_minutes)}, notes))
    blocks.append(_table("watch", {"every_seconds": _number(watch_every_seconds),
                                   "lookback_days": _number(watch_lookback_days)}, notes))
    blocks.append(_table("circuit_breakers", {"client_rejections": _number(client_rejections)}, notes))
    for destination in destinations:
        blocks.append(_table(f"destination.{_key(destination.label)}", {
            "label": _string(destination.label), "coin": _string(destination.coin),
            "network": _string(destination.network), "address": _string(destination.address),
            "tag": _string(destination.tag), "wallet": _string(destination.wallet), "max_per_transfer": _amount(destination.max_per_transfer),
            "window_cap": _amount(destination.window_cap), "clients": _strings(destination.clients)},
            notes, header="[[destination]]"))
        if destination.questionnaire:
            blocks.append(_table("destination.questionnaire", {
                _key(name): _boolean(value) if isinstance(value, bool) else _number(value) if isinstance(value, int)
                else _string(value) for name, value in destination.questionnaire.items()}, {}))
    if notes:
        raise ValueError(f"notes for keys the file does not have: {sorted(notes)}")
    return "\n\n".join(block for block in blocks if block) + "\n"


def _table(path: str | None, values: Mapping[str, str | None], notes: dict[str, str], *,
           header: str | None = None) -> str:
    """A table's lines (its keys whose value is not None), or "" when it has none."""
    lines = []
    for key, value in values.items():
        if value is None:
            continue
        line = f"{key} = {value}"
        note = notes.pop(f"{path}.{key}" if path else key, None)
        lines.append(f"{line.ljust(_NOTE_COLUMN - 1)} # {note}" if note else line)
    if not lines or path is None:
        return "\n".join(lines)
    return "\n".join([header or f"[{path}]", *lines])


def _key(name: str) -> str:
    return name if _BARE_KEY.match(name) else json.dumps(name, ensure_ascii=False)


def _string(text: str | None) -> str | None:
    return None if text is None else json.dumps(text, ensure_ascii=False)


def _strings(texts: Sequence[str] | None) -> str | None:
    return None if texts is None else "[" + ", ".join(json.dumps(t, ensure_ascii=False) for t in texts) + "]"


def _amount(value: Amount | None) -> str | None:
    return None if value is None else f'"{value}"'


def _number(value: Number | None) -> str | None:
    return None if value is None else str(value)


def _boolean(value: bool | None) -> str | None:
    return None if value is None else ("true" if value else "false")
