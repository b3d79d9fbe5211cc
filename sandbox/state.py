"""The sandbox's mutable state and its persistence (one lock, atomic JSON file).

Everything the exchange remembers lives in one `StateData`: balances, orders, test
orders, withdrawals, withdraw-apply call counts, key permission changes made by the admin
API, price changes and the clock offset. With a state file, every change is written
atomically (temporary file, fsync, `os.replace`, fsync of the folder) before the request
is answered, and the file is read back at start, so a restarted sandbox remembers
everything. Fault injections are deliberately not persisted.
"""

from __future__ import annotations

import os
import threading
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable, Iterator

import msgspec
from msgspec import Struct, field

STATE_VERSION = 1


class StateError(Exception):
    code = "sandbox_state_invalid"


class BalanceRecord(Struct, kw_only=True):
    free: Decimal
    locked: Decimal = Decimal(0)


class FillRecord(Struct, kw_only=True):
    price: Decimal
    qty: Decimal
    commission: Decimal
    commission_asset: str
    trade_id: int


class OrderRecord(Struct, kw_only=True):
    order_id: int
    symbol: str
    client_order_id: str
    side: str
    type: str
    time_in_force: str | None
    price: Decimal
    orig_qty: Decimal
    executed_qty: Decimal
    cummulative_quote_qty: Decimal
    orig_quote_order_qty: Decimal
    status: str
    time_ms: int
    update_ms: int
    key_name: str
    received_at: float            # wall-clock ms (float) when the request arrived
    fills: list[FillRecord] = field(default_factory=list)
    # Issue 15 item 4: a leg of an order list (sandbox/order_lists.py); -1: a plain order.
    stop_price: Decimal = Decimal(0)
    order_list_id: int = -1


class DryRunOrderRecord(Struct, kw_only=True):
    symbol: str
    side: str
    type: str
    client_order_id: str | None
    key_name: str
    received_at: float
    params: dict[str, str]


class WithdrawalRecord(Struct, kw_only=True):
    id: str
    key_name: str
    coin: str
    network: str
    address: str
    address_tag: str | None
    amount: Decimal
    fee: Decimal
    withdraw_order_id: str | None
    wallet_type: int
    name: str | None
    apply_ms: int
    email_until_ms: int
    settle_at_ms: int
    outcome: str
    forced_status: int | None = None
    forced_at_ms: int | None = None
    forced_info: str | None = None
    refunded: bool = False
    received_at: float = 0.0
    approval_until_ms: int | None = None   # status 2 until then (sandbox/lifecycle.py); older files: none
    # Issue 12 item 5: a withdrawal through the Travel Rule's local-entity apply.
    tr_id: int | None = None
    questionnaire: str | None = None
    travel_rule_failed: bool = False


class AddressBookRecord(Struct, kw_only=True):
    """An address-book entry as the admin API set it (issue 12; sandbox/address_book.py)."""
    address: str
    coin: str
    network: str
    address_tag: str = ""
    name: str = ""
    white_status: bool = True
    origin: str = ""
    origin_type: str = "others"


class OrderListRecord(Struct, kw_only=True):
    """An OCO order list (issue 15 item 4; sandbox/order_lists.py): its two legs by order id,
    and what it locked (released when it ends)."""
    order_list_id: int
    symbol: str
    list_client_order_id: str
    list_status_type: str          # EXEC_STARTED, then ALL_DONE
    list_order_status: str         # EXECUTING, then ALL_DONE
    order_ids: list[int]
    transaction_time: int
    locked_asset: str
    locked_amount: Decimal


class StateData(Struct, kw_only=True):
    version: int = STATE_VERSION
    balances: dict[str, BalanceRecord] = field(default_factory=dict)        # spot
    funding: dict[str, BalanceRecord] = field(default_factory=dict)         # the Funding wallet
    orders: list[OrderRecord] = field(default_factory=list)
    test_orders: list[DryRunOrderRecord] = field(default_factory=list)
    withdrawals: list[WithdrawalRecord] = field(default_factory=list)
    apply_calls: dict[str, int] = field(default_factory=dict)
    key_overrides: dict[str, dict[str, Any]] = field(default_factory=dict)
    prices: dict[str, Decimal] = field(default_factory=dict)
    next_order_id: int = 1
    next_trade_id: int = 1
    next_tr_id: int = 1
    clock_offset_ms: int = 0
    # Issue 12: the address book and the whitelist switch as the admin API changed them
    # (None: as configured).
    address_book: list[AddressBookRecord] | None = None
    whitelist_enabled: bool | None = None
    # Issue 15 item 4: OCO order lists.
    order_lists: list[OrderListRecord] = field(default_factory=list)
    next_order_list_id: int = 1


class Session:
    """One locked use of the state; set `dirty` after changing it so it is saved."""

    def __init__(self, data: StateData) -> None:
        self.data = data
        self.dirty = False


class Store:
    """The state behind one re-entrant lock, saved after every change when a path is set."""

    def __init__(self, data: StateData, path: Path | None = None) -> None:
        self._data = data
        self._path = path
        self._lock = threading.RLock()

    @property
    def path(self) -> Path | None:
        return self._path

    @classmethod
    def open(cls, path: Path | None, fresh: Callable[[], StateData]) -> "Store":
        """Load the state file if it exists, else start from `fresh()` (and write it)."""
        if path is not None and path.exists():
            return cls(load_state(path), path)
        store = cls(fresh(), path)
        store.save()
        return store

    @contextmanager
    def session(self) -> Iterator[Session]:
        """Hold the lock; save on the way out if the session changed anything, even when
        the operation then failed (a refused withdrawal still counts its apply call)."""
        with self._lock:
            session = Session(self._data)
            try:
                yield session
            finally:
                if session.dirty:
                    self.save()

    def save(self) -> None:
        with self._lock:
            if self._path is not None:
                write_atomically(self._path, msgspec.json.encode(self._data, enc_hook=_encode_decimal))


def _encode_decimal(value: object) -> object:
    """Config amounts are a Decimal subclass; store them like any Decimal (a string)."""
    if isinstance(value, Decimal):
        return format(value, "f")
    raise NotImplementedError(f"cannot store {type(value).__name__}")


def load_state(path: Path) -> StateData:
    try:
        data = msgspec.json.decode(path.read_bytes(), type=StateData)
    except (OSError, msgspec.DecodeError) as exc:
        raise StateError(f"{path}: cannot read the sandbox state: {exc}") from None
    if data.version != STATE_VERSION:
        raise StateError(f"{path}: state version {data.version} is not {STATE_VERSION}")
    return data


def write_atomically(path: Path, content: bytes) -> None:
    """Write `content` so that a crash leaves either the old file or the new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    with open(temporary, "wb") as handle:
        handle.write(content)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)
