"""The journal's hash chain, as pure functions over plain rows (issue 13 item 4).

Every journaled row (an intent's immutable content, each decision, transition, alert,
freeze, unfreeze and signed operator action) is sealed by one link of ONE chain across
the tables, in write order. A link is (seq, table, key, hash), with

    hash = SHA-256( previous link's hash (32 raw bytes; 32 zero bytes before link 1)
                    || body(seq, table, key, values) )

and `body` the canonical bytes below (docs/design.md section 13 states it for auditors):

    body = enc(seq) || enc(table) || enc(key) || enc(len(values)) || enc(v1) || ... || enc(vn)
    enc(None)  = 0x00
    enc(int)   = 0x01 || 8 bytes, big-endian two's complement
    enc(text)  = 0x02 || 4 bytes, big-endian length of the UTF-8 || the UTF-8 bytes
    enc(bytes) = 0x03 || 4 bytes, big-endian length || the bytes

`values` are the row's SEALED columns, in the order `TABLES` gives, exactly as SQLite
returns them. Nothing else is read: the columns a row changes later (an intent's status,
an alert's delivery) are left out, because their history is itself chained (transitions,
decisions) or is bookkeeping (which mail carried an alert). A freeze's lifting is an
operator action, so it gets its own link (`unfreezes`, keyed by the freeze's seq).

`verify` walks the links with each table's rows in key order (a merge, one pass) and
names the first break: a link missing or out of order, a row whose content no longer
matches its link (`edited`), a link whose row is gone (`deleted`), a row no link seals
(`inserted`). A chain rewritten from some row onwards verifies; the chain head mailed at
each start and in each daily statement is what catches that (`treasuryctl verify --anchor`).
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass
from typing import Iterable, Iterator, Mapping, Sequence

GENESIS = bytes(32)
ENCODING = "tbj1"  # the name of the encoding above, shown with the head; a new one gets a new name

EDITED, DELETED, INSERTED = "edited", "deleted", "inserted"


class ChainEncodingError(TypeError):
    """A value the canonical encoding does not define (a float, say): nothing is chained."""

    code = "chain_encoding"


@dataclass(frozen=True)
class ChainedTable:
    """A table the chain seals: `name` in the links, the SQL table it reads, its key
    column, its sealed columns in order, and which of its rows are sealed (`where`)."""

    name: str
    source: str
    key: str
    columns: tuple[str, ...]
    time: str  # the sealed column that says when (export's --since)
    where: str = ""
    state: tuple[str, ...] = ()  # unsealed columns an export shows beside (current state)

    def select(self) -> str:
        where = f" WHERE {self.where}" if self.where else ""
        return f"SELECT {self.key}, {', '.join(self.columns)} FROM {self.source}{where}"


# The order of a migrated ledger's first links (its existing rows, table by table, in key
# order) and the registry verify reads. Another part adds its table here (e.g. item 3's
# signed operator actions) and calls `Ledger.chain_row(name, key)` after each insert.
TABLES: dict[str, ChainedTable] = {t.name: t for t in (
    ChainedTable("intents", "intents", "seq",
                 ("intent_id", "client", "coin", "network", "destination", "amount", "reason",
                  "created_at", "raw_request", "received_at", "address", "tag"), "received_at",
                 state=("outcome", "reason_code", "detail", "status", "updated_at", "counted_at")),
    ChainedTable("decisions", "decisions", "seq",
                 ("intent_seq", "decided_at", "decided_by", "outcome", "reason_code", "detail"), "decided_at"),
    ChainedTable("transitions", "transitions", "seq",
                 ("intent_seq", "at", "from_status", "to_status", "source", "note"), "at"),
    ChainedTable("alert_outbox", "alert_outbox", "seq",
                 ("created_at_ms", "kind", "severity", "intent_id", "facts"), "created_at_ms",
                 state=("mail_id", "logged_at_ms")),
    ChainedTable("freezes", "freezes", "seq", ("frozen_at", "frozen_by", "breaker", "reason",
                                               "frozen_after_transition"), "frozen_at"),
    ChainedTable("unfreezes", "freezes", "seq", ("unfrozen_at", "unfrozen_by", "unfreeze_note",
                                                 "unfrozen_after_transition"), "unfrozen_at",
                 where="unfrozen_at IS NOT NULL"),
    # Item 3: every counted signed operator action, its signature as received, and the
    # loosenings the quorum released early (keyed by rowid: its key is (setting, first seen)).
    ChainedTable("operator_actions", "operator_actions", "seq",
                 ("action", "subject", "operator", "signed_at", "nonce", "signature", "received_at", "via",
                  "result"), "received_at"),
    ChainedTable("loosenings_released", "loosenings_released", "rowid",
                 ("setting", "first_seen_at", "released_at", "released_by"), "released_at"),
)}

_INT = struct.Struct(">q")
_LEN = struct.Struct(">I")


_NONE, _INT_TAG, _TEXT_TAG, _BLOB_TAG = b"\x00", b"\x01", b"\x02", b"\x03"
_pack_int, _pack_len = _INT.pack, _LEN.pack


def encode(value: object) -> bytes:
    kind = type(value)
    if kind is str:  # the common cases first: this runs for every column of every decision
        data = value.encode("utf-8")
        return _TEXT_TAG + _pack_len(len(data)) + data
    if kind is int:
        return _INT_TAG + _pack_int(value)
    if value is None:
        return _NONE
    if isinstance(value, int):  # bool is an int, and SQLite stores it as one
        return _INT_TAG + _pack_int(int(value))
    if isinstance(value, str):
        return encode(str(value))
    if isinstance(value, (bytes, bytearray, memoryview)):
        data = bytes(value)
        return _BLOB_TAG + _pack_len(len(data)) + data
    raise ChainEncodingError(f"the chain's encoding has no form for a {kind.__name__}")


def body(seq: int, table: str, key: int, values: Sequence[object]) -> bytes:
    """The canonical bytes a link hashes after the previous hash (`encode` inlined for the
    common types: this runs for every row the decider writes)."""
    name = table.encode("utf-8")
    out = [_INT_TAG, _pack_int(seq), _TEXT_TAG, _pack_len(len(name)), name, _INT_TAG, _pack_int(key),
           _INT_TAG, _pack_int(len(values))]
    append = out.append
    for value in values:
        kind = type(value)
        if kind is str:
            data = value.encode("utf-8")
            append(_TEXT_TAG)
            append(_pack_len(len(data)))
            append(data)
        elif kind is int:
            append(_INT_TAG)
            append(_pack_int(value))
        elif value is None:
            append(_NONE)
        else:
            append(encode(value))
    return b"".join(out)


def digest(previous: bytes, seq: int, table: str, key: int, values: Sequence[object]) -> bytes:
    """The raw SHA-256 of a link over the previous link's raw hash."""
    hasher = hashlib.sha256(previous)
    hasher.update(body(seq, table, key, values))
    return hasher.digest()


def link_hash(previous_hex: str | None, seq: int, table: str, key: int, values: Sequence[object]) -> str:
    """The hex SHA-256 of a link, over the previous link's hash (None: the first link)."""
    previous = GENESIS if previous_hex is None else bytes.fromhex(previous_hex)
    return digest(previous, seq, table, key, values).hex()


@dataclass(frozen=True)
class Link:
    seq: int
    table: str
    key: int
    hash: str


@dataclass(frozen=True)
class Head:
    """The newest link: what the operator's mailbox keeps ("seq:hash")."""

    seq: int
    hash: str

    def __str__(self) -> str:
        return f"{self.seq}:{self.hash}"


EMPTY_HEAD = Head(0, GENESIS.hex())


def parse_head(text: str) -> Head:
    """"SEQ:HASH" as mailed; ValueError with a clear message otherwise."""
    seq, _, digest = text.strip().partition(":")
    if not seq.isdigit() or len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        raise ValueError(f"not a chain head (SEQ:64 lowercase hex digits): {text!r}")
    return Head(int(seq), digest)


def link_rows(head: Head | None, table: str,
              rows: Iterable[tuple[int, Sequence[object]]]) -> list[tuple[int, str, int, str]]:
    """(seq, table, key, hex hash) of the links that seal these (key, values) rows after
    `head`, in order: plain tuples, ready for the INSERT (the writers' fast path)."""
    made: list[tuple[int, str, int, str]] = []
    previous = bytes.fromhex(head.hash) if head and head.seq else GENESIS
    seq = head.seq if head else 0
    for key, values in rows:
        seq += 1
        hasher = hashlib.sha256(previous)
        hasher.update(body(seq, table, key, values))
        previous = hasher.digest()
        made.append((seq, table, key, previous.hex()))
    return made


def links_for(head: Head | None, table: str, rows: Iterable[tuple[int, Sequence[object]]]) -> list[Link]:
    """The links that seal these (key, values) rows after `head`, in order."""
    return [Link(*row) for row in link_rows(head, table, rows)]


@dataclass(frozen=True)
class Break:
    """The first broken link: what is wrong (`edited` | `deleted` | `inserted`), where."""

    kind: str
    table: str | None
    row: int | None
    link: int
    detail: str

    def describe(self) -> str:
        where = f"{self.table} row {self.row}" if self.table else f"link {self.link}"
        return f"{self.kind}: {where}: {self.detail}"


@dataclass(frozen=True)
class Verdict:
    links: int
    head: Head
    broken: Break | None

    @property
    def intact(self) -> bool:
        return self.broken is None


Row = tuple[int, Sequence[object]]


class _Cursor:
    """One table's rows in key order, one ahead."""

    def __init__(self, rows: Iterable[Row]) -> None:
        self._rows: Iterator[Row] = iter(rows)
        self.current: Row | None = next(self._rows, None)
        self.last_key: int | None = None

    def advance(self) -> None:
        self.current = next(self._rows, None)


def verify(links: Iterable[Link], rows: Mapping[str, Iterable[Row]]) -> Verdict:
    """Walk the chain against each sealed table's rows (key order) and stop at the first break."""
    cursors = {name: _Cursor(table_rows) for name, table_rows in rows.items()}
    previous: str | None = None
    head = EMPTY_HEAD
    count = 0
    for link in links:
        expected = head.seq + 1
        if link.seq != expected:
            return Verdict(count, head, Break(DELETED, None, None, expected,
                                              f"link {expected} is missing from the chain (next is {link.seq})"))
        cursor = cursors.get(link.table)
        if cursor is None:
            return Verdict(count, head, Break(INSERTED, link.table, link.key, link.seq,
                                              f"link {link.seq} names a table the chain does not seal"))
        if cursor.last_key is not None and link.key <= cursor.last_key:
            return Verdict(count, head, Break(INSERTED, link.table, link.key, link.seq,
                                              f"link {link.seq} is out of order (after row {cursor.last_key})"))
        current = cursor.current
        if current is not None and current[0] < link.key:
            return Verdict(count, head, Break(INSERTED, link.table, current[0], link.seq,
                                              f"the row has no link (found before link {link.seq})"))
        if current is None or current[0] > link.key:
            return Verdict(count, head, Break(DELETED, link.table, link.key, link.seq,
                                              f"link {link.seq} seals a row that is no longer there"))
        if link_hash(previous, link.seq, link.table, link.key, current[1]) != link.hash:
            return Verdict(count, head, Break(EDITED, link.table, link.key, link.seq,
                                              f"the row's content no longer matches link {link.seq}"))
        cursor.last_key = link.key
        cursor.advance()
        previous = link.hash
        head = Head(link.seq, link.hash)
        count += 1
    for name, cursor in cursors.items():
        if cursor.current is not None:
            return Verdict(count, head, Break(INSERTED, name, cursor.current[0], head.seq + 1,
                                              "the row has no link (after the chain head)"))
    return Verdict(count, head, None)


def check_anchor(anchor: Head, hash_at: str | None) -> str | None:
    """None if link `anchor.seq` still has the mailed hash; else what is wrong."""
    if hash_at is None:
        return f"link {anchor.seq} (a mailed chain head) is not in the chain"
    if hash_at != anchor.hash:
        return f"link {anchor.seq} no longer has the mailed hash {anchor.hash[:16]}...: the chain was rewritten"
    return None
