"""The sandbox's own admin API under /sandbox/ (unsigned, loopback callers only).

Shapes are documented in sandbox/README.md. Errors are `{"error": "..."}` with 400
(bad body), 403 (not loopback), 404 (unknown path or id) or 405 (wrong method).
"""

from __future__ import annotations

import ipaddress
import re
import uuid
from decimal import Decimal
from typing import Annotated, Any, Callable, Literal, Mapping

import msgspec
from msgspec import Meta, Struct

from sandbox import address_book, keys, lifecycle, order_lists, views, wallet
from sandbox.config import SandboxConfig
from sandbox.faults import FaultPlan, parse_faults
from sandbox.replies import Reply, admin_error, json_reply
from sandbox.state import BalanceRecord, Session, Store, WithdrawalRecord

_DECIMAL = r"^[0-9]+(\.[0-9]+)?$"
Amount = Annotated[str, Meta(pattern=_DECIMAL)]
_STATUS_PATH = re.compile(r"^/sandbox/withdrawals/([A-Za-z0-9_-]{1,64})/status\Z")
_KEY_PATH = re.compile(r"^/sandbox/keys/([A-Za-z0-9][A-Za-z0-9_.-]{0,63})\Z")


class ClockChange(Struct, frozen=True, forbid_unknown_fields=True):
    offset_ms: int | None = None
    advance_ms: int | None = None


class BalanceChange(Struct, frozen=True, forbid_unknown_fields=True):
    asset: Annotated[str, Meta(pattern=r"^[A-Z0-9]{1,20}$")]
    free: Amount
    locked: Amount | None = None
    key: str | None = None    # accepted and ignored: all keys share one account
    wallet: Literal["spot", "funding"] = "spot"


class StatusChange(Struct, frozen=True, forbid_unknown_fields=True):
    status: Annotated[int, Meta(ge=0, le=6)]
    info: str | None = None


class PlantedWithdrawal(Struct, frozen=True, forbid_unknown_fields=True, rename="camel"):
    """A withdrawal the sandbox holds as if applied outside the bot (same key's account):
    e.g. the same withdrawOrderId used by another tool (issue 10, defect 7)."""

    coin: Annotated[str, Meta(pattern=r"^[A-Z0-9]{1,20}$")]
    network: Annotated[str, Meta(pattern=r"^[A-Z0-9_]{1,20}$")]
    address: Annotated[str, Meta(min_length=1, max_length=128)]
    amount: Amount
    # Absent: a withdrawal made on the website or by a tool that sets none (issue 13 item 5).
    withdraw_order_id: Annotated[str, Meta(min_length=1, max_length=64)] | None = None
    address_tag: str | None = None
    transaction_fee: Amount = "1"
    key: str = "treasury"
    # Booked through the local entity (a Travel Rule account): it gets a travel-rule record
    # id (trId) and shows in /sapi/v1/localentity/withdraw/history (issue 13 item 5).
    local_entity: bool = False


class PriceChange(Struct, frozen=True, forbid_unknown_fields=True):
    symbol: str
    price: Amount


class AdminError(Exception):
    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def is_loopback(client_ip: str) -> bool:
    try:
        return ipaddress.ip_address(client_ip.split("%")[0]).is_loopback
    except ValueError:
        return False


def _balance_view(balances: Mapping[str, BalanceRecord]) -> dict[str, dict[str, str]]:
    return {a: {"free": views.amount(b.free), "locked": views.amount(b.locked)} for a, b in sorted(balances.items())}


def _decode(body: bytes, type_: type) -> Any:
    try:
        return msgspec.json.decode(body or b"{}", type=type_)
    except msgspec.DecodeError as exc:
        raise AdminError(f"bad body: {exc}") from None


class Admin:
    def __init__(self, config: SandboxConfig, store: Store, faults: FaultPlan,
                 now_ms: Callable[[Session], int]) -> None:
        self.config = config
        self.store = store
        self.faults = faults
        self.now_ms = now_ms

    def handle(self, method: str, path: str, body: bytes, client_ip: str) -> Reply:
        if not is_loopback(client_ip):
            return admin_error("the admin API answers loopback callers only", 403)
        try:
            return json_reply(self._route(method, path, body))
        except AdminError as exc:
            return admin_error(str(exc), exc.status)

    def _route(self, method: str, path: str, body: bytes) -> Any:
        simple: dict[tuple[str, str], Callable[[bytes], Any]] = {
            ("GET", "/sandbox/health"): lambda b: self.health(),
            ("GET", "/sandbox/withdrawals"): lambda b: self.withdrawals(),
            ("GET", "/sandbox/orders"): lambda b: self.orders(),
            ("GET", "/sandbox/faults"): lambda b: {"faults": self.faults.describe()},
            ("POST", "/sandbox/faults"): self.add_faults,
            ("DELETE", "/sandbox/faults"): lambda b: self.clear_faults(),
            ("GET", "/sandbox/clock"): lambda b: self.clock(),
            ("POST", "/sandbox/clock"): self.set_clock,
            ("GET", "/sandbox/keys"): lambda b: self.list_keys(),
            ("POST", "/sandbox/keys"): lambda b: self.change_key(None, b),
            ("GET", "/sandbox/balances"): lambda b: self.balances(),
            ("POST", "/sandbox/balances"): self.set_balance,
            ("POST", "/sandbox/prices"): self.set_price,
            ("POST", "/sandbox/withdrawals"): self.plant_withdrawal,
            ("GET", "/sandbox/address-book"): lambda b: self.address_book(None),
            ("POST", "/sandbox/address-book"): lambda b: self.address_book(_decode(b, address_book.AddressBookChange)),
        }
        handler = simple.get((method, path))
        if handler is not None:
            return handler(body)
        if any(p == path for _, p in simple):
            raise AdminError(f"{method} is not allowed on {path}", 405)
        status_match = _STATUS_PATH.match(path)
        if status_match and method == "POST":
            return self.force_status(status_match.group(1), body)
        key_match = _KEY_PATH.match(path)
        if key_match and method == "POST":
            return self.change_key(key_match.group(1), body)
        raise AdminError(f"no admin endpoint {method} {path}", 404)

    # --- reads -------------------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        with self.store.session() as session:
            return {"status": "ok", "server_time": self.now_ms(session),
                    "clock_offset_ms": session.data.clock_offset_ms,
                    "state_file": str(self.store.path) if self.store.path else None}

    def withdrawals(self) -> dict[str, Any]:
        with self.store.session() as session:
            now = self.now_ms(session)
            wallet.settle(session, now)
            return {"withdrawals": [views.withdrawal_admin(r, now) for r in session.data.withdrawals],
                    "apply_calls": dict(session.data.apply_calls)}

    def orders(self) -> dict[str, Any]:
        with self.store.session() as session:
            return {"orders": [views.order_admin(o) for o in session.data.orders],
                    "test_orders": [{"symbol": t.symbol, "side": t.side, "type": t.type,
                                     "clientOrderId": t.client_order_id, "key": t.key_name,
                                     "receivedAt": t.received_at, "params": t.params}
                                    for t in session.data.test_orders]}

    def balances(self) -> dict[str, Any]:
        with self.store.session() as session:
            wallet.settle(session, self.now_ms(session))
            return {"balances": _balance_view(session.data.balances),
                    "funding": _balance_view(session.data.funding)}

    def clock(self) -> dict[str, Any]:
        with self.store.session() as session:
            return {"offset_ms": session.data.clock_offset_ms, "server_time": self.now_ms(session)}

    def list_keys(self) -> dict[str, Any]:
        with self.store.session() as session:
            overrides = session.data.key_overrides
            return {"keys": [keys.public_view(keys.effective(k, overrides)) for k in self.config.key]}

    # --- changes -----------------------------------------------------------------------

    def add_faults(self, body: bytes) -> dict[str, Any]:
        try:
            specs = parse_faults(body)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise AdminError(f"bad faults: {exc}") from None
        self.faults.add(specs)
        return {"faults": self.faults.describe()}

    def clear_faults(self) -> dict[str, Any]:
        self.faults.clear()
        return {"faults": []}

    def set_clock(self, body: bytes) -> dict[str, Any]:
        change = _decode(body, ClockChange)
        if (change.offset_ms is None) == (change.advance_ms is None):
            raise AdminError("send exactly one of offset_ms or advance_ms")
        with self.store.session() as session:
            data = session.data
            data.clock_offset_ms = change.offset_ms if change.offset_ms is not None \
                else data.clock_offset_ms + (change.advance_ms or 0)
            session.dirty = True
            return {"offset_ms": data.clock_offset_ms, "server_time": self.now_ms(session)}

    def change_key(self, name: str | None, body: bytes) -> dict[str, Any]:
        change = _decode(body, keys.KeyChange)
        try:
            changed = change.changes()
        except ValueError as exc:
            raise AdminError(str(exc)) from None
        key = None
        if name or change.name:
            key = self.config.find_key_by_name(name or change.name or "")
        elif change.api_key:
            key = self.config.find_key(change.api_key)
        if key is None:
            raise AdminError("unknown key: give an existing name or api_key", 404)
        with self.store.session() as session:
            merged = dict(session.data.key_overrides.get(key.name, {}))
            merged.update(changed)
            session.data.key_overrides[key.name] = merged
            session.dirty = True
            return keys.public_view(keys.effective(key, session.data.key_overrides))

    def set_balance(self, body: bytes) -> dict[str, Any]:
        change = _decode(body, BalanceChange)
        with self.store.session() as session:
            balances = wallet.wallet_balances(session, wallet.WALLET_TYPES[change.wallet])
            current = balances.get(change.asset, BalanceRecord(free=Decimal(0)))
            locked = Decimal(change.locked) if change.locked is not None else current.locked
            balances[change.asset] = BalanceRecord(free=Decimal(change.free), locked=locked)
            session.dirty = True
        return self.balances()

    def set_price(self, body: bytes) -> dict[str, Any]:
        change = _decode(body, PriceChange)
        if self.config.find_symbol(change.symbol) is None or Decimal(change.price) <= 0:
            raise AdminError(f"unknown symbol or non-positive price: {change.symbol}")
        with self.store.session() as session:
            session.data.prices[change.symbol] = Decimal(change.price)
            session.dirty = True
            # Issue 15 item 4: what the move crosses fills (resting LIMIT orders, OCO legs).
            order_lists.move_price(session, self.config.find_symbol(change.symbol), Decimal(change.price),
                                   self.now_ms(session))
            return {"symbol": change.symbol, "price": views.amount(Decimal(change.price))}

    def force_status(self, withdrawal_id: str, body: bytes) -> dict[str, Any]:
        change = _decode(body, StatusChange)
        if change.status not in lifecycle.ALL_STATUSES:
            raise AdminError(f"unknown status {change.status}")
        with self.store.session() as session:
            now = self.now_ms(session)
            record = next((r for r in session.data.withdrawals if r.id == withdrawal_id), None)
            if record is None:
                raise AdminError(f"no withdrawal {withdrawal_id}", 404)
            record.forced_status = change.status
            record.forced_at_ms = now
            record.forced_info = change.info
            session.dirty = True
            wallet.settle(session, now)
            return views.withdrawal_admin(record, now)

    def address_book(self, change: "address_book.AddressBookChange | None") -> dict[str, Any]:
        """Issue 12: the account's address book and whitelist switch (sandbox/address_book.py)."""
        with self.store.session() as session:
            if change is None:
                return address_book.admin_view(self.config, session)
            return address_book.admin_change(self.config, session, change)

    def plant_withdrawal(self, body: bytes) -> dict[str, Any]:
        """POST /sandbox/withdrawals: book a withdrawal without an apply call (no balance
        check, not counted in apply_calls): one made outside the treasury."""
        planted = _decode(body, PlantedWithdrawal)
        with self.store.session() as session:
            now = self.now_ms(session)
            timeline = lifecycle.plan_timeline(
                now, planted.address, self.config.exchange.email_sent_seconds,
                self.config.exchange.complete_after_seconds, self.config.exchange.failing_addresses,
                self.config.exchange.rejecting_addresses, self.config.exchange.awaiting_approval_seconds)
            record = WithdrawalRecord(
                id=uuid.uuid4().hex, key_name=planted.key, coin=planted.coin, network=planted.network,
                address=planted.address, address_tag=planted.address_tag, amount=Decimal(planted.amount),
                fee=Decimal(planted.transaction_fee), withdraw_order_id=planted.withdraw_order_id,
                wallet_type=0, name=None, apply_ms=now, email_until_ms=timeline.email_until_ms,
                settle_at_ms=timeline.settle_at_ms, outcome=timeline.outcome, received_at=0.0,
                approval_until_ms=timeline.approval_until_ms,
                tr_id=session.data.next_tr_id if planted.local_entity else None)
            if planted.local_entity:
                session.data.next_tr_id += 1
            session.data.withdrawals.append(record)
            session.dirty = True
            return views.withdrawal_admin(record, now)
