"""The exchange's own address book against the whitelist (issue 12), as pure functions.

Binance keeps a withdrawal address book per account (`GET /sapi/v1/capital/withdraw/address/list`,
IP weight 10, no parameters: https://developers.binance.com/docs/wallet/capital/fetch-withdraw-address).
Each entry has `address`, `addressTag` ("" when none), `coin`, `network`, `name`, `origin`,
`originType` and `whiteStatus` ("whether it is on the whitelist"). With the account's
withdrawal whitelist on, an apply to an address not on it is refused with -4035, after
its request weight is spent and with nothing learned.

The rule (rule 7, `not_in_address_book`): every destination must appear in the book with
the same coin, network, address and tag, and `whiteStatus` true. Binance documents no
endpoint that reads the whitelist switch itself, so we cannot tell "on" from "off": the
safe side is to require the entry always (with the switch off the entry costs nothing;
with it on, its absence is a certain -4035).

A reading older than `max_exchange_rules_age_minutes`, or none at all (the book could not
be read), refuses with `exchange_rules_stale`, as stale coin rules do: the treasury never
withdraws on an address book it has not seen lately, and never waits silently either
(every refusal is an `intent_rejected` alert naming why).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from treasury_bot.policy_model import Destination, Policy


@dataclass(frozen=True)
class BookEntry:
    coin: str
    network: str
    address: str
    tag: str | None        # None: the entry has none ("" on the wire)
    whitelisted: bool      # whiteStatus


@dataclass(frozen=True)
class AddressBookReading:
    """The last successful reading (`fetched_at_ms` None: never read)."""

    entries: tuple[BookEntry, ...] = ()
    fetched_at_ms: int | None = None


UNREAD = AddressBookReading()


@dataclass(frozen=True)
class BookFinding:
    """A destination the address book does not confirm."""

    label: str
    detail: str

    def line(self) -> str:
        return f"destination {self.label}: {self.detail}"


def entries_from_reply(items: Iterable[Any]) -> tuple[BookEntry, ...]:
    """Entries from common.binance's WithdrawAddress list (read by attribute)."""
    return tuple(BookEntry(coin=i.coin, network=i.network, address=i.address,
                           tag=i.address_tag or None, whitelisted=bool(i.white_status)) for i in items)


def missing_reason(destination: Destination, entries: Iterable[BookEntry]) -> str | None:
    """Why the book does not confirm this destination, or None when it does."""
    same_address = [e for e in entries if e.address == destination.address]
    if not same_address:
        return "its address is not in the exchange's address book"
    same_place = [e for e in same_address if (e.coin, e.network) == (destination.coin, destination.network)]
    if not same_place:
        found = ", ".join(sorted({f"{e.coin} on {e.network}" for e in same_address}))
        return (f"the exchange's address book has its address for {found}, "
                f"not {destination.coin} on {destination.network}")
    same_tag = [e for e in same_place if e.tag == destination.tag]
    if not same_tag:
        return "the exchange's address book has its address with another tag (or without the policy's)"
    if not any(e.whitelisted for e in same_tag):
        return "its address book entry is not on the exchange's whitelist (whiteStatus false)"
    return None


def check_address_book(policy: Policy, entries: Iterable[BookEntry]) -> list[BookFinding]:
    """Every destination the book does not confirm, in the file's order."""
    entries = tuple(entries)
    findings = []
    for destination in policy.destinations:
        why = missing_reason(destination, entries)
        if why is not None:
            findings.append(BookFinding(destination.label, why))
    return findings


def age_problem(reading: AddressBookReading, now_ms: int, max_age_minutes: int) -> str | None:
    """Why this reading cannot be trusted now (never read, or too old), or None."""
    if reading.fetched_at_ms is None:
        return "the exchange's address book has not been read yet"
    age_ms = now_ms - reading.fetched_at_ms
    if age_ms > max_age_minutes * 60_000:
        return (f"the exchange's address book was read {age_ms // 60_000} min ago, over "
                f"max_exchange_rules_age_minutes {max_age_minutes}")
    return None


def book_refusal(reading: AddressBookReading, destination: Destination, now_ms: int,
                 max_age_minutes: int) -> tuple[str, str] | None:
    """Rule 7 after exchange_rules_stale: (reason_code, detail), or None when the book
    confirms the destination."""
    stale = age_problem(reading, now_ms, max_age_minutes)
    if stale is not None:
        return "exchange_rules_stale", stale
    missing = missing_reason(destination, reading.entries)
    if missing is not None:
        return "not_in_address_book", f"{destination.label}: {missing}"
    return None


# -- the reading as saved in the ledger (meta), for the executor and treasuryctl ------------

def to_snapshot(reading: AddressBookReading) -> dict[str, Any]:
    return {"fetched_at": reading.fetched_at_ms,
            "entries": [{"coin": e.coin, "network": e.network, "address": e.address, "tag": e.tag,
                         "whitelisted": e.whitelisted} for e in reading.entries]}


def from_snapshot(body: Any) -> AddressBookReading:
    """The saved reading; a malformed one reads as never read (fail closed)."""
    try:
        entries = tuple(BookEntry(coin=str(e["coin"]), network=str(e["network"]), address=str(e["address"]),
                                  tag=None if e["tag"] is None else str(e["tag"]),
                                  whitelisted=e["whitelisted"] is True) for e in body["entries"])
        fetched = body["fetched_at"]
        return AddressBookReading(entries, fetched if isinstance(fetched, int) else None)
    except (KeyError, TypeError):
        return UNREAD
