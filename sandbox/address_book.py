"""The account's withdrawal address book and whitelist switch (issue 12).

- `GET /sapi/v1/capital/withdraw/address/list` (IP weight 10, no parameters) answers the
  entries as Binance documents them
  (https://developers.binance.com/docs/wallet/capital/fetch-withdraw-address):
  `address`, `addressTag`, `coin`, `name`, `network`, `origin`, `originType`, `whiteStatus`.
- With the whitelist switch on (`[account] whitelist_enabled`), an apply to an address that
  has no entry with the same coin, network and tag and `whiteStatus` true answers -4035.
- The entries come from the config's `[[address_book]]`; the admin API replaces them, or
  flips the switch, at run time (persisted in the state file):
  `GET /sandbox/address-book`, `POST /sandbox/address-book` with
  `{"entries": [...], "whitelist_enabled": true}` (either key may be left out).
"""

from __future__ import annotations

from typing import Any

import msgspec
from msgspec import Struct

from sandbox.config import AddressBookEntry, SandboxConfig
from sandbox.state import AddressBookRecord, Session


class AddressBookChange(Struct, frozen=True, forbid_unknown_fields=True):
    """Body of POST /sandbox/address-book: the entries (as `[[address_book]]` writes them)."""
    entries: list[AddressBookEntry] | None = None
    whitelist_enabled: bool | None = None


def entries(config: SandboxConfig, session: Session) -> list[AddressBookRecord]:
    if session.data.address_book is not None:
        return list(session.data.address_book)
    return [AddressBookRecord(**msgspec.structs.asdict(e)) for e in config.address_book]


def whitelist_enabled(config: SandboxConfig, session: Session) -> bool:
    override = session.data.whitelist_enabled
    return config.account.whitelist_enabled if override is None else override


def view(config: SandboxConfig, session: Session) -> list[dict[str, Any]]:
    """The reply of GET /sapi/v1/capital/withdraw/address/list."""
    return [{"address": e.address, "addressTag": e.address_tag, "coin": e.coin, "name": e.name,
             "network": e.network, "origin": e.origin if e.origin_type == "others" else "",
             "originType": e.origin_type, "whiteStatus": e.white_status}
            for e in entries(config, session)]


def allows(config: SandboxConfig, session: Session, *, coin: str, network: str, address: str,
           address_tag: str | None) -> bool:
    """Whether the account's whitelist lets this withdrawal through (switch off: always)."""
    if not whitelist_enabled(config, session):
        return True
    tag = address_tag or ""
    return any(e.white_status and (e.coin, e.network, e.address, e.address_tag) == (coin, network, address, tag)
               for e in entries(config, session))


def admin_view(config: SandboxConfig, session: Session) -> dict[str, Any]:
    return {"whitelist_enabled": whitelist_enabled(config, session),
            "entries": [msgspec.structs.asdict(e) for e in entries(config, session)]}


def admin_change(config: SandboxConfig, session: Session, change: AddressBookChange) -> dict[str, Any]:
    if change.entries is not None:
        session.data.address_book = [AddressBookRecord(**msgspec.structs.asdict(e)) for e in change.entries]
    if change.whitelist_enabled is not None:
        session.data.whitelist_enabled = change.whitelist_enabled
    session.dirty = True
    return admin_view(config, session)
