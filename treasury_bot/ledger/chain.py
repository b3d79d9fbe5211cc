"""The journal's hash chain in the ledger file (a part of `Ledger`; the pure rules:
treasury_bot/journal_chain.py, its table: schema.py's block "The journal's hash chain").

`journal_chain` holds one row per link: (seq, tbl, row_key, hash). Links are appended in
the SAME transaction as the rows they seal, by the Ledger's own writers (insert_intents,
insert_decisions, insert_transitions, set_status, set_outcome, the outbox's enqueue,
insert_freeze, close_freeze), so every writer, treasuryctl's too, is covered. A link is
made from the row as SQLite stored it (read back in the transaction, from pages the
insert just touched), so the verifier recomputes exactly the bytes that were hashed.
The links a transaction owes are appended just before its COMMIT (`Sealer`), under the
write lock (`BEGIN IMMEDIATE`): the head is read and extended once per transaction.
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from treasury_bot import journal_chain, lifecycle
from treasury_bot.journal_export import ExportRow
from treasury_bot.journal_chain import EMPTY_HEAD, ChainedTable, Head, Link, Verdict
from treasury_bot.ledger.records import LedgerError


def _table(name: str) -> ChainedTable:
    try:
        return journal_chain.TABLES[name]
    except KeyError:
        raise LedgerError(f"the chain does not seal a table named {name!r}") from None


def head(conn: sqlite3.Connection) -> Head:
    row = conn.execute("SELECT seq, hash FROM journal_chain ORDER BY seq DESC LIMIT 1").fetchone()
    return Head(int(row[0]), str(row[1])) if row else EMPTY_HEAD


def max_key(conn: sqlite3.Connection, name: str) -> int:
    table = _table(name)
    return conn.execute(f"SELECT COALESCE(MAX({table.key}), 0) FROM {table.source}").fetchone()[0]


def seal(conn: sqlite3.Connection, name: str, *, after: int | None = None, keys: tuple[int, ...] = ()) -> int:
    """Append links now for rows of `name`: those with key > `after` (in key order), or the
    given keys. Inside the caller's write transaction (the migration's); returns how many."""
    if not conn.in_transaction:
        raise LedgerError("the journal chain is extended only inside a write transaction")
    rows = _rows_to_seal(conn, name, after, list(keys))
    if not rows:
        return 0
    links = journal_chain.link_rows(head(conn), name, rows)
    conn.executemany("INSERT INTO journal_chain(seq, tbl, row_key, hash) VALUES (?, ?, ?, ?)", links)
    return len(links)


class Sealer:
    """The links one transaction owes, appended in one go just before its COMMIT (one head
    read and one INSERT per transaction, however many rows: the group commit stays cheap).

    Writers note what they wrote: `inserted(table, key)` (rows from that key on, in key
    order), `before_insert(table)` (the same, when the keys are not known yet: the table's
    current last key is read once per transaction), `changed(table, key)` (one row, e.g. a
    freeze lifted). At `flush` the links are made from the rows as stored, the tables in the
    order each was first written in the transaction, each table's rows in key order.
    Only inside the Ledger's own transaction (`active`): else LedgerError, nothing noted."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self.active = False
        self._pending: dict[str, tuple[int | None, list[int]]] = {}

    def _require(self, name: str) -> None:
        if not self.active or not self._conn.in_transaction:
            raise LedgerError("the journal chain is extended only inside a ledger transaction")
        _table(name)

    def inserted(self, name: str, first_key: int) -> None:
        self._require(name)
        self._pending.setdefault(name, (first_key - 1, []))

    def before_insert(self, name: str) -> None:
        self._require(name)
        if name not in self._pending:
            self._pending[name] = (max_key(self._conn, name), [])

    def changed(self, name: str, key: int) -> None:
        self._require(name)
        after, keys = self._pending.setdefault(name, (None, []))
        if after is not None:
            raise LedgerError(f"{name}: rows noted both by range and by key in one transaction")
        keys.append(key)

    def discard(self) -> None:
        self._pending.clear()

    def flush(self) -> int:
        """Append the owed links (inside the transaction, before COMMIT); return how many."""
        if not self._pending:
            return 0
        try:
            current = head(self._conn)
            links: list[tuple[int, str, int, str]] = []
            for name, (after, keys) in self._pending.items():
                made = journal_chain.link_rows(current, name, _rows_to_seal(self._conn, name, after, keys))
                if made:
                    links += made
                    current = Head(made[-1][0], made[-1][3])
            self._conn.executemany("INSERT INTO journal_chain(seq, tbl, row_key, hash) VALUES (?, ?, ?, ?)", links)
            return len(links)
        finally:
            self._pending.clear()


def _rows_to_seal(conn: sqlite3.Connection, name: str, after: int | None,
                  keys: list[int]) -> list[tuple[int, tuple]]:
    table = _table(name)
    joiner = " AND " if table.where else " WHERE "
    if after is not None:
        rows = conn.execute(f"{table.select()}{joiner}{table.key} > ? ORDER BY {table.key}", (after,)).fetchall()
    else:
        rows = [row for key in dict.fromkeys(keys) for row in conn.execute(
            f"{table.select()}{joiner}{table.key} = ?", (key,)).fetchall()]
        if len(rows) != len(dict.fromkeys(keys)):
            raise LedgerError(f"{name}: cannot seal rows {keys}: not all are there")
    return [(row[0], row[1:]) for row in rows]


def seal_existing(conn: sqlite3.Connection) -> int:
    """At the migration to schema 3: seal an old ledger's rows, table by table in key order
    (their write order across tables is not known). Inside the migration's transaction."""
    return sum(seal(conn, name, after=0) for name in journal_chain.TABLES)


def _links(conn: sqlite3.Connection) -> Iterator[Link]:
    for seq, tbl, key, digest in conn.execute("SELECT seq, tbl, row_key, hash FROM journal_chain ORDER BY seq"):
        yield Link(seq, tbl, key, digest)


def _rows(conn: sqlite3.Connection, table: ChainedTable) -> Iterator[tuple[int, tuple]]:
    for row in conn.execute(f"{table.select()} ORDER BY {table.key}"):
        yield row[0], row[1:]


def verify(conn: sqlite3.Connection) -> Verdict:
    """Walk the whole chain on one read snapshot (a writer beside it changes nothing seen)."""
    own = not conn.in_transaction
    if own:
        conn.execute("BEGIN")
    try:
        return journal_chain.verify(_links(conn), {name: _rows(conn, t) for name, t in journal_chain.TABLES.items()})
    finally:
        if own:
            conn.execute("ROLLBACK")


def hash_at(conn: sqlite3.Connection, seq: int) -> str | None:
    row = conn.execute("SELECT hash FROM journal_chain WHERE seq = ?", (seq,)).fetchone()
    return str(row[0]) if row else None


class Chain:
    """The chain's queries on the Ledger's connection (and the daily statement's one)."""

    _conn: sqlite3.Connection

    def chain_head(self) -> Head:
        return head(self._conn)

    _sealer: Sealer

    def chain_row(self, table: str, key: int) -> None:
        """Seal one row just written, inside the transaction that wrote it (its link is
        appended at that transaction's commit). The table must be in journal_chain.TABLES:
        its sealed columns are read back from the row."""
        self._sealer.changed(table, key)

    def verify_chain(self) -> Verdict:
        return verify(self._conn)

    def chain_hash_at(self, seq: int) -> str | None:
        return hash_at(self._conn, seq)

    def withdrawal_ends_between(self, start_ms: int, end_ms: int) -> list[tuple[str, str, str]]:
        """(coin, amount, status) of the intents that reached a withdrawal's end in
        [start_ms, end_ms) (for the daily statement; one scan of transitions, once a day)."""
        marks = ",".join("?" * len(lifecycle.WITHDRAWAL_ENDS))
        return [tuple(row) for row in self._conn.execute(
            "SELECT i.coin, i.amount, t.to_status FROM transitions t JOIN intents i ON i.seq = t.intent_seq"
            f" WHERE t.at >= ? AND t.at < ? AND t.to_status IN ({marks}) ORDER BY t.seq",
            (start_ms, end_ms, *sorted(lifecycle.WITHDRAWAL_ENDS)))]

    def chain_hashes(self, table: str, from_key: int = 0) -> dict[int, tuple[int, str]]:
        """row key -> (link seq, hash) for the rows of a sealed table from `from_key` on (for
        export). One scan of the chain: it has no index but its key, to keep appends cheap."""
        return {key: (seq, digest) for seq, key, digest in self._conn.execute(
            "SELECT seq, row_key, hash FROM journal_chain WHERE tbl = ? AND row_key >= ?", (table, from_key))}


# -- files: an auditor's copy, a backup -------------------------------------------------------

class ChainFileError(LedgerError):
    """A file cannot be verified or copied; `code` is stable."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def _has_chain(conn: sqlite3.Connection) -> bool:
    return conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'journal_chain'"
                        ).fetchone() is not None


def _read_only(path: Path, chain_required: bool = True) -> sqlite3.Connection:
    if not path.is_file():
        raise ChainFileError("no_ledger", f"no ledger file at {path}")
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10.0)
    if chain_required and not _has_chain(conn):
        conn.close()
        raise ChainFileError("no_chain", f"{path} has no journal chain (an older schema: the treasury "
                                         "seals it when it opens the file)")
    return conn


def verify_file(path: Path) -> Verdict:
    """Verify a ledger file read-only (the treasury's, or a copy an auditor holds)."""
    conn = _read_only(path)
    try:
        return verify(conn)
    finally:
        conn.close()


def file_hash_at(path: Path, seq: int) -> str | None:
    conn = _read_only(path)
    try:
        return hash_at(conn, seq)
    finally:
        conn.close()


def export_rows(path: Path, since_ms: int) -> list[ExportRow]:
    """Every sealed row with its time >= since_ms, in chain order, with its link (and the
    rows no link seals, last). One read snapshot."""
    conn = _read_only(path)
    try:
        conn.execute("BEGIN")
        links = conn.execute("SELECT seq, tbl, row_key, hash FROM journal_chain ORDER BY seq").fetchall()
        picked: dict[str, dict[int, tuple]] = {}
        for name, table in journal_chain.TABLES.items():
            joiner = " AND " if table.where else " WHERE "
            columns = ", ".join((table.key, *table.columns, *table.state))
            where = f" WHERE {table.where}" if table.where else ""
            picked[name] = {row[0]: row[1:] for row in conn.execute(
                f"SELECT {columns} FROM {table.source}{where}{joiner}{table.time} >= ? ORDER BY {table.key}",
                (since_ms,))}
        conn.execute("ROLLBACK")
    finally:
        conn.close()
    out: list[ExportRow] = []
    previous = journal_chain.GENESIS.hex()
    for seq, name, key, digest in links:
        row = picked.get(name, {}).pop(key, None)
        if row is not None:
            out.append(_export_row(name, key, row, seq, digest, previous))
        previous = digest
    for name, rows in picked.items():
        out.extend(_export_row(name, key, row, None, None, None) for key, row in rows.items())
    return out


def _export_row(name: str, key: int, row: tuple, seq: int | None, digest: str | None,
                previous: str | None) -> ExportRow:
    table = journal_chain.TABLES[name]
    sealed = len(table.columns)
    at = row[table.columns.index(table.time)]
    return ExportRow(name, key, seq, digest, previous, at, tuple(zip(table.columns, row[:sealed])),
                     tuple(zip(table.state, row[sealed:])))


@dataclass(frozen=True)
class BackupResult:
    path: Path
    pages: int
    verdict: Verdict | None  # None: an old schema's file, without a chain to verify


def backup(source: Path, target: Path, *, chain_required: bool = True) -> BackupResult:
    """Copy a live ledger with SQLite's online backup API (one step: a read snapshot, so
    the treasury's writers go on meanwhile), into a NEW file of mode 0600, then verify the
    copy (integrity_check, then the hash chain). A copy that fails is removed.
    `chain_required=False` (the backup before an upgrade, ledger/upgrade.py): a file of a
    schema older than the chain is copied and integrity-checked, its chain verified if it has one.
    https://www.sqlite.org/backup.html, https://docs.python.org/3/library/sqlite3.html#sqlite3.Connection.backup"""
    try:
        os.close(os.open(target, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    except FileExistsError:
        raise ChainFileError("backup_exists", f"{target} exists: a backup never overwrites a file") from None
    try:
        src = _read_only(source, chain_required)
        try:
            dest = sqlite3.connect(str(target))
            try:
                src.backup(dest)
                dest.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
                pages = dest.execute("PRAGMA page_count").fetchone()[0]
                problems = [row[0] for row in dest.execute("PRAGMA integrity_check")]
                if problems != ["ok"]:
                    raise ChainFileError("backup_corrupt", f"the copy fails integrity_check: {problems[:3]}")
                verdict = verify(dest) if _has_chain(dest) else None
                if verdict is not None and not verdict.intact:
                    raise ChainFileError("backup_chain_broken",
                                         f"the copy's chain is broken: {verdict.broken.describe()}")
            finally:
                dest.close()
        finally:
            src.close()
    except BaseException:
        for leftover in (target, Path(f"{target}-journal"), Path(f"{target}-wal"), Path(f"{target}-shm")):
            leftover.unlink(missing_ok=True)
        raise
    os.chmod(target, 0o600)
    return BackupResult(target, int(pages), verdict)
