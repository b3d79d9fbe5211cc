"""Tighten at once, loosen later (docs/design.md section 9; issue 10 defect 5). Pure: no I/O, no clock.

The rules, for every security setting of the policy file:

1. A change that TIGHTENS takes effect at once (at the start that reads the file).
2. A change that LOOSENS takes effect only when the stricter (longer) of the quarantine
   in force and the file's `quarantine_hours` has run from the moment the treasury FIRST
   SAW it. Until then the old, stricter value is in force.
3. The first-seen moment and the resulting effective time are recorded in the ledger, so
   a restart resets nothing. Re-seeing the same pending value keeps both; a different
   pending value starts anew; going back to the value in force drops the pending change.
   A stored effective time is extended when the quarantine is raised and never shortened
   (so lowering `quarantine_hours` cannot shorten a quarantine already running).
   Issue 13: the one exception is a quorum of operators (`treasuryctl loosen-early`):
   a pending loosening they released, by its setting and first sighting, is in force
   (`released`; from the treasury's next start).
4. A mixed change (a `clients` list with one client added and one removed) is split: the
   intersection at once, the rest later.

What loosens, setting by setting (the keys of `Pending.setting`):

- `quarantine_hours` lowered;  `limits.window_hours` lowered (a shorter rolling window
  lets the same cap be spent again sooner: ours, beyond the issue's list);
- `allow_trading_key`, `allow_unrestricted_ip` turned on;
- `mode` from `shadow` to `live` (issue 13 item 7: the treasury starts sending money);
  `live` to `shadow` tightens, at once;
- `limits.max_transfers_per_hour` raised;
- `limits.coins.C` a new coin table (a removed one tightens at once);
- `limits.coins.C.max_per_transfer`, `.window_cap` raised; `.approval_above` raised or
  removed (no approval is the widest);
- `destination.L` a new destination, or one whose coin, network, address or tag changed
  (a removed one tightens at once). Until its quarantine ends the LABEL IS UNUSABLE
  (`destination_quarantined`): neither the new address (unproven: the operator - or an
  attacker - just wrote it) nor the old one (the operator replaced it: it may be the very
  address they no longer trust) receives anything. The new entry is pending as a whole,
  caps and clients included, so editing it during its quarantine restarts the quarantine;
- `destination.L.max_per_transfer`, `.window_cap` raised or removed (none is the widest);
  `destination.L.clients` widened (absent = every client, the widest);
- issue 13: `circuit_breakers.X` for each on/off breaker turned off;
  `circuit_breakers.client_rejections` raised; `.client_rejections_minutes` lowered (a
  shorter window counts fewer rejections).
- issue 13 item 3: `approvals.quorum` lowered; `approvals.ttl_hours` raised (an intent
  waits longer, so an approval can come later); `approvals.operators` widened: an
  operator added to the list, or the list emptied (empty = no signatures: anyone with a
  shell on the treasury host approves, the widest). Listing operators where there were
  none tightens at once.

Other keys (max_intent_age_seconds, min_seconds_between_withdrawals, poll and executor
tuning, stuck_after_minutes) are operational, not limits on where money goes: the file's
value applies at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from types import MappingProxyType
from typing import Any, Callable, Iterable, Mapping, Optional

import msgspec

from treasury_bot.policy_model import CircuitBreakers, CoinLimits, Destination, Policy


@dataclass(frozen=True)
class Pending:
    """A loosening seen but not yet in force. `old`/`new` are canonical JSON (null: absent)."""

    setting: str
    old: str
    new: str
    first_seen_at: int
    effective_at: int


@dataclass(frozen=True)
class Resolution:
    """The policy at `now`, and what the ledger must record."""

    effective: Policy                 # what decisions, approvals, the executor and the audit use
    usable_from: Mapping[str, int]    # label -> when it may be used (quarantined labels: later)
    in_force: Policy                  # proven values only: record it (canonical JSON)
    pending: tuple[Pending, ...]      # record these, replacing every earlier pending row

    @property
    def next_due_ms(self) -> Optional[int]:
        """When the first pending loosening takes effect (recompute the policy then)."""
        return min((p.effective_at for p in self.pending), default=None)


# --- how each kind of setting compares: (is the new value looser?, the value in force now)

Kind = tuple[Callable[[Any, Any], bool], Callable[[Any, Any], Any]]


def _none_is_infinite(value: Optional[Decimal]) -> Decimal:
    return Decimal("Infinity") if value is None else value


_LOWER_IS_LOOSER: Kind = (lambda old, new: new < old, max)
_HIGHER_IS_LOOSER: Kind = (lambda old, new: new > old, min)
_FLAG_ON_IS_LOOSER: Kind = (lambda old, new: bool(new) and not old, lambda old, new: old and new)
_FLAG_OFF_IS_LOOSER: Kind = (lambda old, new: bool(old) and not new, lambda old, new: old or new)
# approval_above and a destination's caps: absent means "no limit", the widest.
_HIGHER_OR_NONE_IS_LOOSER: Kind = (
    lambda old, new: _none_is_infinite(new) > _none_is_infinite(old),
    lambda old, new: old if _none_is_infinite(old) <= _none_is_infinite(new) else new)


def _clients_looser(old: Optional[tuple[str, ...]], new: Optional[tuple[str, ...]]) -> bool:
    if new is None:
        return old is not None
    return old is not None and not set(new) <= set(old)


def _clients_meet(old: Optional[tuple[str, ...]], new: Optional[tuple[str, ...]]) -> Optional[tuple[str, ...]]:
    if old is None:
        return new
    if new is None:
        return old
    return tuple(client for client in new if client in old)  # the intersection, in the file's order


_CLIENTS: Kind = (_clients_looser, _clients_meet)
# Issue 13 item 7: shadow -> live starts sending money: a loosening; live -> shadow at once.
_SHADOW_TO_LIVE_IS_LOOSER: Kind = (lambda old, new: old == "shadow" and new == "live",
                                   lambda old, new: "shadow" if "shadow" in (old, new) else new)


def _operators_looser(old: tuple[str, ...], new: tuple[str, ...]) -> bool:
    # () is "no signatures required", the widest: like a destination's absent clients.
    return _clients_looser(old or None, new or None)


def _operators_meet(old: tuple[str, ...], new: tuple[str, ...]) -> tuple[str, ...]:
    return _clients_meet(old or None, new or None) or ()


_OPERATORS: Kind = (_operators_looser, _operators_meet)
# A whole table (a coin's limits, a destination): new or changed is a loosening; until it
# takes effect the old value (or nothing) stays in force.
_WHOLE: Kind = (lambda old, new: new is not None, lambda old, new: old)


def _entry(destination: Destination) -> tuple:
    return (destination.coin, destination.network, destination.address, destination.tag)


def encode_value(value: Any) -> str:
    """Canonical JSON of a setting's value (Decimals as strings, tables as objects)."""
    return msgspec.json.encode(value).decode()


def encode_policy(policy: Policy) -> str:
    """Canonical JSON of a policy, to record the one in force."""
    plain = msgspec.structs.replace(policy, limits=msgspec.structs.replace(
        policy.limits, coins=dict(policy.limits.coins), clients=dict(policy.limits.clients)))
    return msgspec.json.encode(plain).decode()


def decode_policy(text: str) -> Policy:
    policy = msgspec.json.decode(text, type=Policy)
    return msgspec.structs.replace(policy, limits=msgspec.structs.replace(
        policy.limits, coins=MappingProxyType(dict(policy.limits.coins)),
        clients=MappingProxyType(dict(policy.limits.clients))))


class _Resolver:
    def __init__(self, pending: Mapping[str, Pending], now_ms: int, quarantine_ms: int,
                 released: frozenset[tuple[str, int]] = frozenset()) -> None:
        self.pending = pending
        self.released = released
        self.now_ms = now_ms
        self.quarantine_ms = quarantine_ms
        self.out: list[Pending] = []

    def setting(self, name: str, kind: Kind, old: Any, new: Any) -> tuple[Any, Optional[Pending]]:
        """The value in force now for one setting, and its pending loosening if any."""
        looser, meet = kind
        if old == new or not looser(old, new):
            return new, None  # unchanged, or tightened: at once (a pending change is dropped)
        encoded = encode_value(new)
        prior = self.pending.get(name)
        if prior is not None and prior.new == encoded:
            # Seen before: keep its first sighting; a raised quarantine extends it, a
            # lowered one never shortens it.
            first = prior.first_seen_at
            effective = max(prior.effective_at, first + self.quarantine_ms)
            if (name, first) in self.released:
                return new, None  # issue 13: the operators' quorum let it take effect early
        else:
            first, effective = self.now_ms, self.now_ms + self.quarantine_ms
        if self.now_ms >= effective:
            return new, None
        pending = Pending(name, encode_value(old), encoded, first, effective)
        self.out.append(pending)
        return meet(old, new), pending


def resolve(in_force: Optional[Policy], file: Policy, pending: Iterable[Pending], now_ms: int,
            *, legacy_changed_at: Mapping[str, int] | None = None,
            released: frozenset[tuple[str, int]] = frozenset()) -> Resolution:
    """The policy in force at `now_ms`, given the one recorded, the file and the pending
    loosenings recorded. `in_force` None: nothing recorded yet (a new ledger, or one from
    before this rule); then the file is the baseline except its destinations, which are
    new, unless `legacy_changed_at` (label -> when the ledger's destinations_seen last saw
    the file's very entry change) dates them earlier."""
    known = {p.setting: p for p in pending}
    if in_force is None:
        in_force = msgspec.structs.replace(file, destinations=())
        for destination in file.destinations:
            since = (legacy_changed_at or {}).get(destination.label)
            if since is not None and f"destination.{destination.label}" not in known:
                known[f"destination.{destination.label}"] = Pending(
                    f"destination.{destination.label}", "null", encode_value(destination),
                    since, since + file.quarantine_ms)
    quarantine_ms = max(in_force.quarantine_ms, file.quarantine_ms)
    r = _Resolver(known, now_ms, quarantine_ms, released)

    quarantine_hours, _ = r.setting("quarantine_hours", _LOWER_IS_LOOSER,
                                    in_force.quarantine_hours, file.quarantine_hours)
    allow_trading_key, _ = r.setting("allow_trading_key", _FLAG_ON_IS_LOOSER,
                                     in_force.allow_trading_key, file.allow_trading_key)
    allow_unrestricted_ip, _ = r.setting("allow_unrestricted_ip", _FLAG_ON_IS_LOOSER,
                                         in_force.allow_unrestricted_ip, file.allow_unrestricted_ip)
    mode, _ = r.setting("mode", _SHADOW_TO_LIVE_IS_LOOSER, in_force.mode, file.mode)
    window_hours, _ = r.setting("limits.window_hours", _LOWER_IS_LOOSER,
                                in_force.limits.window_hours, file.limits.window_hours)
    per_hour, _ = r.setting("limits.max_transfers_per_hour", _HIGHER_IS_LOOSER,
                            in_force.limits.max_transfers_per_hour, file.limits.max_transfers_per_hour)

    approvals = msgspec.structs.replace(
        file.approvals,
        quorum=r.setting("approvals.quorum", _LOWER_IS_LOOSER, in_force.approvals.quorum, file.approvals.quorum)[0],
        ttl_hours=r.setting("approvals.ttl_hours", _HIGHER_IS_LOOSER,
                            in_force.approvals.ttl_hours, file.approvals.ttl_hours)[0],
        operators=tuple(r.setting("approvals.operators", _OPERATORS,
                                  tuple(in_force.approvals.operators), tuple(file.approvals.operators))[0]))

    coins: dict[str, CoinLimits] = {}
    for coin, new in file.limits.coins.items():  # a table only in force: removed, at once
        old = in_force.limits.coins.get(coin)
        key = f"limits.coins.{coin}"
        if old is None:
            value, _ = r.setting(key, _WHOLE, None, new)
            if value is not None:
                coins[coin] = value
            continue
        coins[coin] = CoinLimits(
            max_per_transfer=r.setting(f"{key}.max_per_transfer", _HIGHER_IS_LOOSER,
                                       old.max_per_transfer, new.max_per_transfer)[0],
            window_cap=r.setting(f"{key}.window_cap", _HIGHER_IS_LOOSER, old.window_cap, new.window_cap)[0],
            approval_above=r.setting(f"{key}.approval_above", _HIGHER_OR_NONE_IS_LOOSER,
                                     old.approval_above, new.approval_above)[0])

    old_destinations = {d.label: d for d in in_force.destinations}
    proven: list[Destination] = []           # in force (recorded)
    effective: list[Destination] = []        # for decisions: proven + quarantined
    usable_from: dict[str, int] = {}
    for new in file.destinations:            # a label only in force: removed, at once
        old = old_destinations.get(new.label)
        key = f"destination.{new.label}"
        if old is None or _entry(old) != _entry(new):
            value, waiting = r.setting(key, _WHOLE, old, new)
            if waiting is None:
                proven.append(value)
                effective.append(value)
                usable_from[new.label] = 0
            else:
                if old is not None:
                    proven.append(old)  # kept on record so that a revert restores it at once
                # The label carries the new entry, so that it is refused as quarantined
                # (the executor also fails any queued intent to the old address).
                effective.append(new)
                usable_from[new.label] = waiting.effective_at
            continue
        settled = msgspec.structs.replace(
            new,
            max_per_transfer=r.setting(f"{key}.max_per_transfer", _HIGHER_OR_NONE_IS_LOOSER,
                                       old.max_per_transfer, new.max_per_transfer)[0],
            window_cap=r.setting(f"{key}.window_cap", _HIGHER_OR_NONE_IS_LOOSER,
                                 old.window_cap, new.window_cap)[0],
            clients=r.setting(f"{key}.clients", _CLIENTS, old.clients, new.clients)[0])
        proven.append(settled)
        effective.append(settled)
        usable_from[new.label] = 0

    breakers = _circuit_breakers(r, in_force.circuit_breakers, file.circuit_breakers)
    limits = msgspec.structs.replace(file.limits, window_hours=window_hours,
                                     max_transfers_per_hour=per_hour, coins=MappingProxyType(coins))
    base = msgspec.structs.replace(file, quarantine_hours=quarantine_hours,
                                   allow_trading_key=allow_trading_key,
                                   allow_unrestricted_ip=allow_unrestricted_ip, mode=mode, limits=limits,
                                   circuit_breakers=breakers, approvals=approvals)
    return Resolution(effective=msgspec.structs.replace(base, destinations=tuple(effective)),
                      usable_from=MappingProxyType(usable_from),
                      in_force=msgspec.structs.replace(base, destinations=tuple(proven)),
                      pending=tuple(r.out))


def _circuit_breakers(r: _Resolver, old: CircuitBreakers, new: CircuitBreakers) -> CircuitBreakers:
    """Issue 13: a breaker turned off, or made harder to trip, waits like any loosening."""
    key = "circuit_breakers"
    values: dict[str, Any] = {
        "client_rejections": r.setting(f"{key}.client_rejections", _HIGHER_IS_LOOSER,
                                       old.client_rejections, new.client_rejections)[0],
        "client_rejections_minutes": r.setting(f"{key}.client_rejections_minutes", _LOWER_IS_LOOSER,
                                               old.client_rejections_minutes, new.client_rejections_minutes)[0],
    }
    for switch in ("foreign_withdrawal", "reconciliation_mismatch", "journal_broken", "policy_changed"):
        values[switch] = r.setting(f"{key}.{switch}", _FLAG_OFF_IS_LOOSER,
                                   getattr(old, switch), getattr(new, switch))[0]
    return CircuitBreakers(**values)


def describe(pending: Pending) -> str:
    """One line for a person: `SETTING OLD -> NEW from YYYY-MM-DD HH:MM:SS UTC`."""
    from treasury_bot.alerts.formats import iso_utc  # a pure formatter
    absent = _ABSENT.get(pending.setting.rsplit(".", 1)[-1], "(none)")
    return (f"{pending.setting}: {_short(pending.old, absent)} -> {_short(pending.new, absent)} "
            f"takes effect {iso_utc(pending.effective_at)} (first seen {iso_utc(pending.first_seen_at)})")


# What an absent optional value means, in words (null would read as "nobody"/"zero").
_ABSENT = {"clients": "(every client)", "operators": "(none: unsigned approvals)", "max_per_transfer": "(no limit)", "window_cap": "(no limit)",
           "approval_above": "(no approval)"}


def _short(value: str, absent: str = "(none)", limit: int = 300) -> str:
    """A recorded value for a person: a destination as `COIN/NETWORK ADDRESS tag T ...`
    (the full address: the operator must be able to check it), others as JSON."""
    import json

    def shown(item: Any) -> str:
        return "[" + ", ".join(map(str, item)) + "]" if isinstance(item, list) else str(item)

    data = json.loads(value)
    if data is None:
        return absent
    if isinstance(data, dict) and "address" in data:
        parts = [f"{data['coin']}/{data['network']} {data['address']}"]
        parts += [f"{key} {shown(data[key])}" for key in ("tag", "max_per_transfer", "window_cap", "clients")
                  if data.get(key) is not None]
        text = " ".join(parts)
    elif isinstance(data, dict):
        text = " ".join(f"{key} {item}" for key, item in data.items() if item is not None)
    else:
        text = shown(data)
    return text if len(text) <= limit else text[: limit - 3] + "..."
