"""The treasury's journal: one SQLite file (WAL, synchronous=FULL) that is the truth, and
the only code that speaks SQL to it (its schema and migrations: schema.py).

Tables:
- intents: every transfer intent ever decided, with its client, raw request, the
  whitelist entry it resolved to, its current outcome and status. `seq` is the row's
  insertion order: rows, their decisions and transitions are appended in key order so a
  decision dirties few B-tree pages (docs/design.md section 8). `intent_id` is UNIQUE for ever.
- decisions: every decision on an intent (policy's, then an operator's), append-only.
- transitions: every status change, append-only; the PUB feed is read from it.
- withdrawals and the executor's notes on them (withdrawals.py).
- refused_requests: requests refused before becoming intents (intent_id conflicts).
- what is kept across starts: policy, quarantine, coin rules, meta (start_journal.py).
- the custody controls: freezes (controls.py); withdrawals on the account the ledger did
  not make (foreign.py); signed operator actions (approvals.py).
- journal_chain: the hash chain that seals intents, decisions, transitions, alerts,
  freezes and operator actions, one link per row, appended by the writers here (chain.py).
- the alert outbox (outbox.py), written in the same transactions as the changes that
  raise its alerts.

Each thread opens its own `Ledger`; writers use `BEGIN IMMEDIATE` so that a read-then-
write is atomic across the treasury's threads and `treasuryctl`. The connection is
private: callers ask the Ledger questions by name.
"""

from __future__ import annotations

import os
import sqlite3
from contextlib import contextmanager
from pathlib import Path
from typing import Iterable, Iterator, Sequence

from common.logs import get_logger
from treasury_bot import lifecycle
from treasury_bot.alerts.model import Alert
from treasury_bot.ledger import chain, records, schema, upgrade
from treasury_bot.ledger.approvals import Approvals
from treasury_bot.ledger.chain import Chain
from treasury_bot.ledger.controls import Controls
from treasury_bot.ledger.foreign import ForeignWithdrawals
from treasury_bot.ledger.metrics_reads import MetricsReads  # issue 14
from treasury_bot.ledger.outbox import Outbox
from treasury_bot.ledger.records import (INTENT_COLUMNS, INTENT_FROM, CountedRow, IntentRecord, LedgerError,
                                         Transition)
from treasury_bot.ledger.start_journal import StartJournal
from treasury_bot.ledger.withdrawals import Withdrawals

_OPEN_ONLY = schema.OPEN_ONLY
log = get_logger("treasury.ledger")


class Ledger(Withdrawals, StartJournal, Controls, ForeignWithdrawals, Approvals, Chain, MetricsReads):
    """One connection to the ledger file; not shared between threads."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if not self.path.exists():
            # Owner-only whatever the umask (SQLite gives -wal and -shm the file's mode): the
            # ledger holds the whitelist's addresses and every request, for the treasury alone.
            os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600))
        self._conn = sqlite3.connect(str(self.path), isolation_level=None, timeout=10.0,
                                     check_same_thread=True)
        try:
            self._configure()
            self.upgrade_backup = self._backup_if_old()
            self.found_schema_version = schema.ensure_current(self._conn, self.path)
        except BaseException:
            self._conn.close()
            raise
        if 0 < self.found_schema_version < schema.SCHEMA_VERSION:
            log.warning("ledger_schema_upgraded", path=str(self.path), from_version=self.found_schema_version,
                        to_version=schema.SCHEMA_VERSION, backup=str(self.upgrade_backup))
        self._in_transaction = False
        self._next_intent_seq: int | None = None
        self._sealer = chain.Sealer(self._conn)
        self.outbox = Outbox(self._conn, self._sealer)

    def _backup_if_old(self) -> Path | None:
        """An older schema's file is copied, verified, before its migration (ledger/upgrade.py);
        a newer one is refused by ensure_current before anything is written."""
        found = schema.found_version(self._conn)
        if found is None or not 0 < found < schema.SCHEMA_VERSION:
            return None
        copy = upgrade.backup_before_upgrade(self.path, found)
        log.warning("ledger_backup_before_upgrade", path=str(self.path), version=found, backup=str(copy))
        return copy

    def _configure(self) -> None:
        mode = self._conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if mode.lower() != "wal":
            raise LedgerError(f"ledger {self.path}: cannot enable WAL (got {mode})")
        self._conn.execute("PRAGMA synchronous=FULL")
        self._conn.execute("PRAGMA foreign_keys=ON")
        self._conn.execute("PRAGMA busy_timeout=10000")

    def close(self) -> None:
        self._conn.close()

    @property
    def schema_version(self) -> int:
        return int(self.get_meta("schema_version") or 0)

    # -- transactions -------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """BEGIN IMMEDIATE ... COMMIT: the write lock is taken up front, so reads inside
        the block see what the block's writes will be checked against."""
        if self._in_transaction:
            raise LedgerError("nested ledger transaction")
        self._conn.execute("BEGIN IMMEDIATE")
        self._in_transaction = True
        self._sealer.active = True
        try:
            yield
            self._sealer.flush()  # the journal chain's links for what this transaction wrote
            self._conn.execute("COMMIT")
        except BaseException:
            self._next_intent_seq = None  # what this transaction reserved is void
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
            raise
        finally:
            self._in_transaction = False
            self._sealer.active = False
            self._sealer.discard()

    @property
    def in_transaction(self) -> bool:
        return self._conn.in_transaction

    def enqueue(self, alert: Alert) -> int:
        """Add an alert to the outbox in the open transaction (it commits with the change
        that raised it); return its seq."""
        return self.outbox.enqueue(alert)

    # -- intents --------------------------------------------------------------------

    def find_intents(self, intent_ids: Iterable[str]) -> dict[str, IntentRecord]:
        ids = list(dict.fromkeys(intent_ids))
        found: dict[str, IntentRecord] = {}
        if len(ids) == 1:
            row = self._conn.execute(
                f"SELECT {INTENT_COLUMNS} FROM {INTENT_FROM} WHERE i.intent_id = ?", ids).fetchone()
            return {ids[0]: records.intent(row)} if row else found
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            marks = ",".join("?" * len(chunk))
            for row in self._conn.execute(
                    f"SELECT {INTENT_COLUMNS} FROM {INTENT_FROM} WHERE i.intent_id IN ({marks})", chunk):
                record = records.intent(row)
                found[record.intent_id] = record
        return found

    def get_intent(self, intent_id: str) -> IntentRecord | None:
        return self.find_intents([intent_id]).get(intent_id)

    def get_intent_by_seq(self, seq: int) -> IntentRecord | None:
        row = self._conn.execute(f"SELECT {INTENT_COLUMNS} FROM {INTENT_FROM} WHERE i.seq = ?",
                                 (seq,)).fetchone()
        return records.intent(row) if row else None

    def intent_count(self) -> int:
        """How many intents the ledger holds (every status)."""
        return self._conn.execute("SELECT COUNT(*) FROM intents").fetchone()[0]

    def next_intent_seq(self) -> int:
        """The next intents.seq. Only the decider inserts intents (one thread, one
        connection), so after the first read the sequence is kept here."""
        if self._next_intent_seq is None:
            self._next_intent_seq = self._conn.execute(
                "SELECT COALESCE(MAX(seq), 0) + 1 FROM intents").fetchone()[0]
        return self._next_intent_seq

    def insert_intents(self, rows: Sequence[tuple]) -> None:
        """Append intents whose seq came from next_intent_seq, in order. Each row is (seq,
        intent_id, client, coin, network, destination, amount, reason, created_at,
        raw_request, received_at, outcome, reason_code, detail, status, updated_at,
        address, tag, counted_at)."""
        self._conn.executemany(
            "INSERT INTO intents(seq, intent_id, client, coin, network, destination, amount, reason,"
            " created_at, raw_request, received_at, outcome, reason_code, detail,"
            " status, updated_at, address, tag, counted_at)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", rows)
        if rows:
            self._next_intent_seq = rows[-1][0] + 1
            self._sealer.inserted("intents", rows[0][0])

    def insert_decisions(self, rows: Sequence[tuple]) -> None:
        """Each row: (intent_seq, decided_at, decided_by, outcome, reason_code, detail)."""
        if not rows:
            return
        self._sealer.before_insert("decisions")
        self._conn.executemany(
            "INSERT INTO decisions(intent_seq, decided_at, decided_by, outcome, reason_code, detail)"
            " VALUES (?,?,?,?,?,?)", rows)

    def insert_transitions(self, rows: Sequence[tuple]) -> None:
        """Each row: (intent_seq, at, from_status, to_status, source, note); each must be a
        move the lifecycle allows (`lifecycle.IllegalTransition` otherwise, nothing written)."""
        for row in rows:
            lifecycle.require_allowed(row[2], row[4], row[3])
        if not rows:
            return
        self._sealer.before_insert("transitions")
        self._conn.executemany(
            "INSERT INTO transitions(intent_seq, at, from_status, to_status, source, note)"
            " VALUES (?,?,?,?,?,?)", rows)

    def insert_refused(self, intent_id: str, client: str, raw: bytes, at: int,
                       reason_code: str, detail: str) -> None:
        self._conn.execute(
            "INSERT INTO refused_requests(intent_id, client, raw_request, received_at, reason_code, detail)"
            " VALUES (?,?,?,?,?,?)", (intent_id, client, raw, at, reason_code, detail))

    def refused_requests(self, limit: int = 100) -> list[tuple[str, str, str]]:
        """(intent_id, client, reason_code) of the newest refused requests, oldest first."""
        rows = self._conn.execute("SELECT intent_id, client, reason_code FROM refused_requests"
                                  " ORDER BY seq DESC LIMIT ?", (limit,)).fetchall()
        return [tuple(row) for row in reversed(rows)]

    def set_status(self, record: IntentRecord, to_status: str, at: int, source: str,
                   note: str = "") -> None:
        """Move an intent to a new status and journal the transition (inside a transaction).
        A move the lifecycle forbids raises `lifecycle.IllegalTransition` and changes nothing."""
        lifecycle.require_allowed(record.status, source, to_status)
        changed = self._conn.execute(
            "UPDATE intents SET status = ?, updated_at = ? WHERE seq = ? AND status = ?",
            (to_status, at, record.seq, record.status)).rowcount
        if changed != 1:
            raise LedgerError(
                f"intent {record.intent_id} is no longer {record.status}; refusing to move it to {to_status}")
        cursor = self._conn.execute(
            "INSERT INTO transitions(intent_seq, at, from_status, to_status, source, note)"
            " VALUES (?,?,?,?,?,?)", (record.seq, at, record.status, to_status, source, note))
        self._sealer.inserted("transitions", int(cursor.lastrowid))

    def set_outcome(self, record: IntentRecord, outcome: str, reason_code: str | None,
                    detail: str, at: int, decided_by: str) -> None:
        self._conn.execute(
            "UPDATE intents SET outcome = ?, reason_code = ?, detail = ?, updated_at = ? WHERE seq = ?",
            (outcome, reason_code, detail, at, record.seq))
        self.insert_decisions([(record.seq, at, decided_by, outcome, reason_code, detail)])

    # -- window accounting --------------------------------------------------------------

    def uncount(self, record: IntentRecord) -> None:
        """Drop an intent from window accounting (an operator's rejection)."""
        self._conn.execute("UPDATE intents SET counted_at = NULL WHERE seq = ?", (record.seq,))

    def count_from(self, record: IntentRecord, at: int) -> None:
        """An approved intent counts in the windows from `at` (docs/design.md section 9)."""
        self._conn.execute("UPDATE intents SET counted_at = ? WHERE seq = ? AND counted_at IS NOT NULL",
                           (at, record.seq))

    def counted_since(self, since_ms: int) -> list[CountedRow]:
        """Accepted or pending intents counted at or after `since_ms` (index range scan)."""
        return [CountedRow(*row) for row in self._conn.execute(
            "SELECT intent_id, coin, destination, amount, counted_at, status FROM intents"
            " WHERE counted_at IS NOT NULL AND counted_at >= ?", (since_ms,))]

    # -- reading intents ------------------------------------------------------------------

    def intents_with_status(self, statuses: Sequence[str], limit: int = 1000) -> list[IntentRecord]:
        """Open intents in these statuses, oldest first (terminal ones are never returned)."""
        marks = ",".join("?" * len(statuses))
        return [records.intent(r) for r in self._conn.execute(
            f"SELECT {INTENT_COLUMNS} FROM {INTENT_FROM} WHERE i.status IN ({marks})"
            f" AND {_OPEN_ONLY} ORDER BY i.seq LIMIT ?", (*statuses, limit))]

    def count_with_status(self, statuses: Sequence[str]) -> int:
        marks = ",".join("?" * len(statuses))
        return self._conn.execute(
            f"SELECT COUNT(*) FROM intents i WHERE i.status IN ({marks}) AND {_OPEN_ONLY}",
            tuple(statuses)).fetchone()[0]

    def list_intents(self, *, status: str | None = None, since_ms: int | None = None,
                     limit: int = 200) -> list[IntentRecord]:
        clauses, params = [], []
        if status is not None:
            clauses.append("i.status = ?")
            params.append(status)
        if since_ms is not None:
            clauses.append("i.received_at >= ?")
            params.append(since_ms)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        rows = self._conn.execute(
            f"SELECT {INTENT_COLUMNS} FROM {INTENT_FROM} {where} ORDER BY i.seq DESC LIMIT ?",
            (*params, limit)).fetchall()
        return [records.intent(r) for r in reversed(rows)]

    def decisions_of(self, record: IntentRecord) -> list[tuple]:
        return self._conn.execute(
            "SELECT decided_at, decided_by, outcome, reason_code, detail FROM decisions"
            " WHERE intent_seq = ? ORDER BY seq", (record.seq,)).fetchall()

    def transitions_of(self, record: IntentRecord) -> list[tuple]:
        return self._conn.execute(
            "SELECT at, from_status, to_status, source, note FROM transitions"
            " WHERE intent_seq = ? ORDER BY seq", (record.seq,)).fetchall()

    def transitions_after(self, seq: int, *, until: int | None = None, skip_source: str = "",
                          limit: int = 500) -> list[Transition]:
        """Transitions with seq in (seq, until], oldest first, leaving out one source's."""
        rows = self._conn.execute(
            "SELECT t.seq, i.intent_id, t.at, t.from_status, t.to_status, t.source, t.note,"
            " w.withdrawal_id, w.tx_id FROM transitions t JOIN intents i ON i.seq = t.intent_seq"
            " LEFT JOIN withdrawals w ON w.intent_seq = t.intent_seq"
            " WHERE t.seq > ? AND t.seq <= ? AND t.source != ? ORDER BY t.seq LIMIT ?",
            (seq, until if until is not None else 2**62, skip_source, limit)).fetchall()
        return [Transition(*row) for row in rows]

    def last_transition_seq(self) -> int:
        return self._conn.execute("SELECT COALESCE(MAX(seq), 0) FROM transitions").fetchone()[0]

    def latest_transition_at(self, recent: int = 1000) -> int:
        """The latest `at` among the newest `recent` transitions (0 if none). The treasury
        stamps on a clock that never goes back, so the newest rows hold the latest time;
        reading only those keeps this O(recent) inside an approval's write transaction."""
        row = self._conn.execute(
            "SELECT MAX(at) FROM (SELECT at FROM transitions ORDER BY seq DESC LIMIT ?)",
            (recent,)).fetchone()
        return row[0] or 0
