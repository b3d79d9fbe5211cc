"""The treasury's journal: one SQLite file (WAL, synchronous=FULL) that is the truth.

Tables:
- intents: every transfer intent ever decided, with its client, raw request, the
  whitelist entry it resolved to, its current outcome and status. `seq` is the row's
  insertion order: rows, their decisions and transitions are appended in key order so a
  decision dirties few B-tree pages (DESIGN section 8). `intent_id` is UNIQUE for ever.
- decisions: every decision on an intent (policy's, then an operator's), append-only.
- transitions: every status change, append-only; the PUB feed is read from it.
- withdrawals: one row per accepted intent once the executor touches it: attempts,
  exchange id, tx id, errors, reconciliation and stuck-alert marks.
- refused_requests: requests refused before becoming intents (intent_id conflicts).
- policy_starts: the policy file's hash at each start; destinations_seen: quarantine.
- policy_in_force, pending_loosenings: the policy in force and the loosenings waiting
  for their quarantine (treasury_bot/loosening.py).
- coin_rules: the last exchange coin rules snapshot, for treasuryctl's approvals.
- the alert outbox tables (treasury_bot/alerts/store.py), written in the same
  transactions as the changes that raise them.

Each thread opens its own `Ledger`; writers use `BEGIN IMMEDIATE` so that a read-then-
write is atomic across the treasury's threads and `treasuryctl`.
"""

from __future__ import annotations

import json
import os
import sqlite3
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Iterable, Iterator, Sequence

from treasury_bot import lifecycle
from treasury_bot.alerts import store as outbox
from treasury_bot.alerts.model import Alert

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS intents (
    seq          INTEGER PRIMARY KEY,
    intent_id    TEXT NOT NULL UNIQUE,
    client       TEXT NOT NULL,
    coin         TEXT NOT NULL,
    network      TEXT NOT NULL,
    destination  TEXT NOT NULL,
    amount       TEXT NOT NULL,
    reason       TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    raw_request  BLOB NOT NULL,
    received_at  INTEGER NOT NULL,
    outcome      TEXT NOT NULL,
    reason_code  TEXT,
    detail       TEXT NOT NULL,
    status       TEXT NOT NULL,
    updated_at   INTEGER NOT NULL,
    address      TEXT,
    tag          TEXT,
    counted_at   INTEGER
);
CREATE INDEX IF NOT EXISTS intents_counted ON intents(counted_at) WHERE counted_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS intents_open ON intents(status)
    WHERE status NOT IN ('completed', 'failed', 'rejected', 'cancelled', 'denied');
CREATE TABLE IF NOT EXISTS decisions (
    seq          INTEGER PRIMARY KEY,
    intent_seq   INTEGER NOT NULL REFERENCES intents(seq),
    decided_at   INTEGER NOT NULL,
    decided_by   TEXT NOT NULL,
    outcome      TEXT NOT NULL,
    reason_code  TEXT,
    detail       TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS decisions_intent ON decisions(intent_seq);
CREATE TABLE IF NOT EXISTS transitions (
    seq          INTEGER PRIMARY KEY,
    intent_seq   INTEGER NOT NULL REFERENCES intents(seq),
    at           INTEGER NOT NULL,
    from_status  TEXT,
    to_status    TEXT NOT NULL,
    source       TEXT NOT NULL,
    note         TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS transitions_intent ON transitions(intent_seq);
CREATE TABLE IF NOT EXISTS withdrawals (
    intent_seq        INTEGER PRIMARY KEY REFERENCES intents(seq),
    withdrawal_id     TEXT,
    tx_id             TEXT,
    exchange_status   INTEGER,
    attempts          INTEGER NOT NULL DEFAULT 0,
    first_attempt_at  INTEGER,
    last_attempt_at   INTEGER,
    unknown_since     INTEGER,
    submitted_at      INTEGER,
    finished_at       INTEGER,
    last_polled_at    INTEGER,
    error_code        TEXT,
    error_message     TEXT,
    stuck_alerted     INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS refused_requests (
    seq          INTEGER PRIMARY KEY,
    intent_id    TEXT NOT NULL,
    client       TEXT NOT NULL,
    raw_request  BLOB NOT NULL,
    received_at  INTEGER NOT NULL,
    reason_code  TEXT NOT NULL,
    detail       TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS policy_starts (
    seq          INTEGER PRIMARY KEY,
    started_at   INTEGER NOT NULL,
    sha256       TEXT NOT NULL,
    path         TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS destinations_seen (
    label        TEXT PRIMARY KEY,
    coin         TEXT NOT NULL,
    network      TEXT NOT NULL,
    address      TEXT NOT NULL,
    tag          TEXT,
    first_seen_at INTEGER NOT NULL,
    changed_at   INTEGER NOT NULL
);
-- Tighten at once, loosen later (treasury_bot/loosening.py, DESIGN section 9): the
-- policy in force as last recorded, and the loosenings seen but not yet in force.
CREATE TABLE IF NOT EXISTS policy_in_force (
    id           INTEGER PRIMARY KEY CHECK (id = 1),
    recorded_at  INTEGER NOT NULL,
    body         TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS pending_loosenings (
    setting       TEXT PRIMARY KEY,
    old_value     TEXT NOT NULL,
    new_value     TEXT NOT NULL,
    first_seen_at INTEGER NOT NULL,
    effective_at  INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS coin_rules (
    id           INTEGER PRIMARY KEY CHECK (id = 1),
    fetched_at   INTEGER NOT NULL,
    body         TEXT NOT NULL
);
-- The exchange-clock estimate of an intent's first apply, and the stalled intents already
-- alerted (issue 10 defects 1 and 3), read and written by treasury_bot/withdrawal_notes.py.
CREATE TABLE IF NOT EXISTS withdrawal_exchange_times (
    intent_seq          INTEGER PRIMARY KEY REFERENCES intents(seq),
    first_exchange_ms   INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS withdrawal_stalls (
    intent_seq   INTEGER PRIMARY KEY REFERENCES intents(seq),
    alerted_at   INTEGER NOT NULL,
    reason       TEXT NOT NULL
);
"""

OPEN_STATUSES = lifecycle.OPEN
OPEN_EXCHANGE_STATUSES = lifecycle.EXCHANGE_OPEN


class LedgerError(Exception):
    code = "ledger_error"


@dataclass(frozen=True)
class IntentRecord:
    seq: int
    intent_id: str
    client: str
    coin: str
    network: str
    destination: str
    amount: str
    reason: str
    created_at: int
    received_at: int
    outcome: str
    reason_code: str | None
    detail: str
    status: str
    updated_at: int
    address: str | None
    tag: str | None
    counted_at: int | None
    withdrawal_id: str | None = None
    tx_id: str | None = None

    @property
    def amount_value(self) -> Decimal:
        return Decimal(self.amount)

    @property
    def is_terminal(self) -> bool:
        return lifecycle.is_terminal(self.status)


@dataclass(frozen=True)
class WithdrawalRecord:
    intent_seq: int
    withdrawal_id: str | None
    tx_id: str | None
    exchange_status: int | None
    attempts: int
    first_attempt_at: int | None
    last_attempt_at: int | None
    unknown_since: int | None
    submitted_at: int | None
    finished_at: int | None
    last_polled_at: int | None
    error_code: str | None
    error_message: str | None
    stuck_alerted: bool


@dataclass(frozen=True)
class Transition:
    seq: int
    intent_id: str
    at: int
    from_status: str | None
    to_status: str
    source: str
    note: str
    withdrawal_id: str | None
    tx_id: str | None


@dataclass(frozen=True)
class CountedRow:
    """What window accounting needs of one accepted (or pending) intent."""

    intent_id: str
    coin: str
    destination: str
    amount: str
    counted_at: int
    status: str


_INTENT_COLUMNS = (
    "i.seq, i.intent_id, i.client, i.coin, i.network, i.destination, i.amount, i.reason, "
    "i.created_at, i.received_at, i.outcome, i.reason_code, i.detail, i.status, "
    "i.updated_at, i.address, i.tag, i.counted_at, w.withdrawal_id, w.tx_id"
)
_INTENT_FROM = "intents i LEFT JOIN withdrawals w ON w.intent_seq = i.seq"
_WITHDRAWAL_COLUMNS = (
    "w.intent_seq, w.withdrawal_id, w.tx_id, w.exchange_status, w.attempts, w.first_attempt_at,"
    " w.last_attempt_at, w.unknown_since, w.submitted_at, w.finished_at, w.last_polled_at,"
    " w.error_code, w.error_message, w.stuck_alerted"
)


def _intent(row: tuple) -> IntentRecord:
    return IntentRecord(*row)


def _withdrawal(row: tuple) -> WithdrawalRecord:
    values = list(row)
    values[-1] = bool(values[-1])
    return WithdrawalRecord(*values)


class Ledger:
    """One connection to the ledger file; not shared between threads."""

    def __init__(self, path: Path | str, *, extra_schema: Sequence[str] = ()) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if not self.path.exists():
            # Owner-only whatever the umask (SQLite gives -wal and -shm the file's mode): the
            # ledger holds the whitelist's addresses and every request, for the treasury alone.
            os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600))
        self.conn = sqlite3.connect(str(self.path), isolation_level=None, timeout=10.0,
                                    check_same_thread=True)
        mode = self.conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if mode.lower() != "wal":
            raise LedgerError(f"ledger {self.path}: cannot enable WAL (got {mode})")
        self.conn.execute("PRAGMA synchronous=FULL")
        self.conn.execute("PRAGMA foreign_keys=ON")
        self.conn.execute("PRAGMA busy_timeout=10000")
        self._in_transaction = False
        self._next_intent_seq: int | None = None
        self._migrate(extra_schema)

    def _migrate(self, extra_schema: Sequence[str]) -> None:
        with self.transaction():
            for statement in _split_sql(_SCHEMA + "\n".join(extra_schema)):
                self.conn.execute(statement)
            found = self.conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
            if found is None:
                self.conn.execute("INSERT INTO meta(key, value) VALUES ('schema_version', ?)",
                                  (str(SCHEMA_VERSION),))
            elif int(found[0]) > SCHEMA_VERSION:
                raise LedgerError(
                    f"ledger {self.path} has schema {found[0]}, newer than this program's {SCHEMA_VERSION}")

    def close(self) -> None:
        self.conn.close()

    # -- transactions -------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE ... COMMIT: the write lock is taken up front, so reads inside
        the block see what the block's writes will be checked against."""
        if self._in_transaction:
            raise LedgerError("nested ledger transaction")
        self.conn.execute("BEGIN IMMEDIATE")
        self._in_transaction = True
        try:
            yield self.conn
            self.conn.execute("COMMIT")
        except BaseException:
            self._next_intent_seq = None  # what this transaction reserved is void
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            raise
        finally:
            self._in_transaction = False

    # -- intents --------------------------------------------------------------------

    def find_intents(self, intent_ids: Iterable[str]) -> dict[str, IntentRecord]:
        ids = list(dict.fromkeys(intent_ids))
        found: dict[str, IntentRecord] = {}
        if len(ids) == 1:
            row = self.conn.execute(
                f"SELECT {_INTENT_COLUMNS} FROM {_INTENT_FROM} WHERE i.intent_id = ?", ids).fetchone()
            return {ids[0]: _intent(row)} if row else found
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            marks = ",".join("?" * len(chunk))
            for row in self.conn.execute(
                    f"SELECT {_INTENT_COLUMNS} FROM {_INTENT_FROM} WHERE i.intent_id IN ({marks})", chunk):
                record = _intent(row)
                found[record.intent_id] = record
        return found

    def get_intent(self, intent_id: str) -> IntentRecord | None:
        return self.find_intents([intent_id]).get(intent_id)

    def get_intent_by_seq(self, seq: int) -> IntentRecord | None:
        row = self.conn.execute(f"SELECT {_INTENT_COLUMNS} FROM {_INTENT_FROM} WHERE i.seq = ?",
                                (seq,)).fetchone()
        return _intent(row) if row else None

    def next_intent_seq(self) -> int:
        """The next intents.seq. Only the decider inserts intents (one thread, one
        connection), so after the first read the sequence is kept here."""
        if self._next_intent_seq is None:
            self._next_intent_seq = self.conn.execute(
                "SELECT COALESCE(MAX(seq), 0) + 1 FROM intents").fetchone()[0]
        return self._next_intent_seq

    def insert_intents(self, rows: Sequence[tuple]) -> None:
        """Append intents whose seq came from next_intent_seq, in order."""
        self._insert_intent_rows(rows)
        if rows:
            self._next_intent_seq = rows[-1][0] + 1

    def _insert_intent_rows(self, rows: Sequence[tuple]) -> None:
        """Append intents: each row is (seq, intent_id, client, coin, network, destination,
        amount, reason, created_at, raw_request, received_at, outcome,
        reason_code, detail, status, updated_at, address, tag, counted_at)."""
        self.conn.executemany(
            "INSERT INTO intents(seq, intent_id, client, coin, network, destination, amount, reason,"
            " created_at, raw_request, received_at, outcome, reason_code, detail,"
            " status, updated_at, address, tag, counted_at)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", rows)

    def insert_decisions(self, rows: Sequence[tuple]) -> None:
        """Each row: (intent_seq, decided_at, decided_by, outcome, reason_code, detail)."""
        self.conn.executemany(
            "INSERT INTO decisions(intent_seq, decided_at, decided_by, outcome, reason_code, detail)"
            " VALUES (?,?,?,?,?,?)", rows)

    def insert_transitions(self, rows: Sequence[tuple]) -> None:
        """Each row: (intent_seq, at, from_status, to_status, source, note); each must be a
        move the lifecycle allows (`lifecycle.IllegalTransition` otherwise, nothing written)."""
        for row in rows:
            lifecycle.require_allowed(row[2], row[4], row[3])
        self.conn.executemany(
            "INSERT INTO transitions(intent_seq, at, from_status, to_status, source, note)"
            " VALUES (?,?,?,?,?,?)", rows)

    def insert_refused(self, intent_id: str, client: str, raw: bytes, at: int,
                       reason_code: str, detail: str) -> None:
        self.conn.execute(
            "INSERT INTO refused_requests(intent_id, client, raw_request, received_at, reason_code, detail)"
            " VALUES (?,?,?,?,?,?)", (intent_id, client, raw, at, reason_code, detail))

    def set_status(self, record: IntentRecord, to_status: str, at: int, source: str,
                   note: str = "") -> None:
        """Move an intent to a new status and journal the transition (inside a transaction).
        A move the lifecycle forbids raises `lifecycle.IllegalTransition` and changes nothing."""
        lifecycle.require_allowed(record.status, source, to_status)
        changed = self.conn.execute(
            "UPDATE intents SET status = ?, updated_at = ? WHERE seq = ? AND status = ?",
            (to_status, at, record.seq, record.status)).rowcount
        if changed != 1:
            raise LedgerError(
                f"intent {record.intent_id} is no longer {record.status}; refusing to move it to {to_status}")
        self.conn.execute(
            "INSERT INTO transitions(intent_seq, at, from_status, to_status, source, note)"
            " VALUES (?,?,?,?,?,?)", (record.seq, at, record.status, to_status, source, note))

    def set_outcome(self, record: IntentRecord, outcome: str, reason_code: str | None,
                    detail: str, at: int, decided_by: str) -> None:
        self.conn.execute(
            "UPDATE intents SET outcome = ?, reason_code = ?, detail = ?, updated_at = ? WHERE seq = ?",
            (outcome, reason_code, detail, at, record.seq))
        self.insert_decisions([(record.seq, at, decided_by, outcome, reason_code, detail)])

    def uncount(self, record: IntentRecord) -> None:
        """Drop an intent from window accounting (an operator's rejection)."""
        self.conn.execute("UPDATE intents SET counted_at = NULL WHERE seq = ?", (record.seq,))

    def counted_since(self, since_ms: int) -> list[CountedRow]:
        """Accepted or pending intents counted at or after `since_ms` (index range scan)."""
        return [CountedRow(*row) for row in self.conn.execute(
            "SELECT intent_id, coin, destination, amount, counted_at, status FROM intents"
            " WHERE counted_at IS NOT NULL AND counted_at >= ?", (since_ms,))]

    def intents_with_status(self, statuses: Sequence[str], limit: int = 1000) -> list[IntentRecord]:
        marks = ",".join("?" * len(statuses))
        return [_intent(r) for r in self.conn.execute(
            f"SELECT {_INTENT_COLUMNS} FROM {_INTENT_FROM} WHERE i.status IN ({marks})"
            f" AND i.status NOT IN ('completed','failed','rejected','cancelled','denied')"
            f" ORDER BY i.seq LIMIT ?", (*statuses, limit))]

    def count_with_status(self, statuses: Sequence[str]) -> int:
        marks = ",".join("?" * len(statuses))
        return self.conn.execute(
            f"SELECT COUNT(*) FROM intents i WHERE i.status IN ({marks})"
            f" AND i.status NOT IN ('completed','failed','rejected','cancelled','denied')",
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
        rows = self.conn.execute(
            f"SELECT {_INTENT_COLUMNS} FROM {_INTENT_FROM} {where} ORDER BY i.seq DESC LIMIT ?",
            (*params, limit)).fetchall()
        return [_intent(r) for r in reversed(rows)]

    def decisions_of(self, record: IntentRecord) -> list[tuple]:
        return self.conn.execute(
            "SELECT decided_at, decided_by, outcome, reason_code, detail FROM decisions"
            " WHERE intent_seq = ? ORDER BY seq", (record.seq,)).fetchall()

    def transitions_of(self, record: IntentRecord) -> list[tuple]:
        return self.conn.execute(
            "SELECT at, from_status, to_status, source, note FROM transitions"
            " WHERE intent_seq = ? ORDER BY seq", (record.seq,)).fetchall()

    def transitions_after(self, seq: int, *, until: int | None = None, skip_source: str = "",
                          limit: int = 500) -> list[Transition]:
        """Transitions with seq in (seq, until], oldest first, leaving out one source's."""
        rows = self.conn.execute(
            "SELECT t.seq, i.intent_id, t.at, t.from_status, t.to_status, t.source, t.note,"
            " w.withdrawal_id, w.tx_id FROM transitions t JOIN intents i ON i.seq = t.intent_seq"
            " LEFT JOIN withdrawals w ON w.intent_seq = t.intent_seq"
            " WHERE t.seq > ? AND t.seq <= ? AND t.source != ? ORDER BY t.seq LIMIT ?",
            (seq, until if until is not None else 2**62, skip_source, limit)).fetchall()
        return [Transition(*row) for row in rows]

    def last_transition_seq(self) -> int:
        return self.conn.execute("SELECT COALESCE(MAX(seq), 0) FROM transitions").fetchone()[0]

    # -- withdrawals ----------------------------------------------------------------

    def withdrawal(self, intent_seq: int) -> WithdrawalRecord | None:
        row = self.conn.execute(
            f"SELECT {_WITHDRAWAL_COLUMNS} FROM withdrawals w WHERE w.intent_seq = ?", (intent_seq,)).fetchone()
        return _withdrawal(row) if row else None

    def update_withdrawal(self, intent_seq: int, **fields) -> None:
        """Create the intent's withdrawal row if needed and set the given columns."""
        allowed = {"withdrawal_id", "tx_id", "exchange_status", "attempts", "first_attempt_at",
                   "last_attempt_at", "unknown_since", "submitted_at", "finished_at",
                   "last_polled_at", "error_code", "error_message", "stuck_alerted"}
        unknown = set(fields) - allowed
        if unknown:
            raise LedgerError(f"unknown withdrawal columns {sorted(unknown)}")
        self.conn.execute("INSERT OR IGNORE INTO withdrawals(intent_seq) VALUES (?)", (intent_seq,))
        if fields:
            assignments = ", ".join(f"{name} = ?" for name in fields)
            self.conn.execute(f"UPDATE withdrawals SET {assignments} WHERE intent_seq = ?",
                              (*fields.values(), intent_seq))

    def open_withdrawals(self) -> list[tuple[IntentRecord, WithdrawalRecord]]:
        """Withdrawals the exchange knows and that have not reached a final status (one query)."""
        marks = ",".join("?" * len(OPEN_EXCHANGE_STATUSES))
        rows = self.conn.execute(
            f"SELECT {_INTENT_COLUMNS}, {_WITHDRAWAL_COLUMNS} FROM intents i"
            f" JOIN withdrawals w ON w.intent_seq = i.seq WHERE i.status IN ({marks})"
            f" AND i.status NOT IN ('completed','failed','rejected','cancelled','denied')"
            f" ORDER BY i.seq", OPEN_EXCHANGE_STATUSES).fetchall()
        width = len(IntentRecord.__dataclass_fields__)
        return [(_intent(row[:width]), _withdrawal(row[width:])) for row in rows]

    # -- start-up journal ---------------------------------------------------------------

    def last_policy_hash(self) -> str | None:
        row = self.conn.execute("SELECT sha256 FROM policy_starts ORDER BY seq DESC LIMIT 1").fetchone()
        return row[0] if row else None

    def record_policy_start(self, sha256: str, path: str, at: int) -> None:
        self.conn.execute("INSERT INTO policy_starts(started_at, sha256, path) VALUES (?,?,?)",
                          (at, sha256, path))

    def destinations_seen(self) -> dict[str, tuple]:
        return {row[0]: row[1:] for row in self.conn.execute(
            "SELECT label, coin, network, address, tag, first_seen_at, changed_at FROM destinations_seen")}

    def upsert_destination_seen(self, label: str, coin: str, network: str, address: str,
                                tag: str | None, first_seen_at: int, changed_at: int) -> None:
        self.conn.execute(
            "INSERT INTO destinations_seen(label, coin, network, address, tag, first_seen_at, changed_at)"
            " VALUES (?,?,?,?,?,?,?) ON CONFLICT(label) DO UPDATE SET coin=excluded.coin,"
            " network=excluded.network, address=excluded.address, tag=excluded.tag,"
            " changed_at=excluded.changed_at",
            (label, coin, network, address, tag, first_seen_at, changed_at))

    def save_coin_rules(self, body: object, at: int) -> None:
        self.conn.execute(
            "INSERT INTO coin_rules(id, fetched_at, body) VALUES (1, ?, ?)"
            " ON CONFLICT(id) DO UPDATE SET fetched_at = excluded.fetched_at, body = excluded.body",
            (at, json.dumps(body)))

    def load_coin_rules(self) -> tuple[int, object] | None:
        row = self.conn.execute("SELECT fetched_at, body FROM coin_rules WHERE id = 1").fetchone()
        return (row[0], json.loads(row[1])) if row else None

    def enqueue(self, alert: Alert) -> int:
        """Add an alert to the outbox in the open transaction (it commits with the change
        that raised it); return its seq."""
        return outbox.enqueue(self.conn, alert)

    def get_meta(self, key: str) -> str | None:
        row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        self.conn.execute("INSERT INTO meta(key, value) VALUES (?, ?)"
                          " ON CONFLICT(key) DO UPDATE SET value = excluded.value", (key, value))

    # -- tighten at once, loosen later (treasury_bot/loosening.py) ----------------------

    def policy_in_force(self) -> str | None:
        """The canonical JSON of the policy in force at the last start, if any."""
        row = self.conn.execute("SELECT body FROM policy_in_force WHERE id = 1").fetchone()
        return row[0] if row else None

    def pending_loosenings(self) -> list[tuple[str, str, str, int, int]]:
        """(setting, old_value, new_value, first_seen_at, effective_at), by setting."""
        return self.conn.execute(
            "SELECT setting, old_value, new_value, first_seen_at, effective_at"
            " FROM pending_loosenings ORDER BY setting").fetchall()

    def record_policy_in_force(self, body: str, pending: Sequence[tuple[str, str, str, int, int]],
                               at: int) -> None:
        """Replace the recorded policy in force and every pending loosening (one call, so
        that a dropped pending change goes in the same transaction as its replacement)."""
        self.conn.execute(
            "INSERT INTO policy_in_force(id, recorded_at, body) VALUES (1, ?, ?)"
            " ON CONFLICT(id) DO UPDATE SET recorded_at = excluded.recorded_at, body = excluded.body",
            (at, body))
        self.conn.execute("DELETE FROM pending_loosenings")
        self.conn.executemany(
            "INSERT INTO pending_loosenings(setting, old_value, new_value, first_seen_at, effective_at)"
            " VALUES (?,?,?,?,?)", pending)
    # -- approvals and clocks (issue 10) ------------------------------------------------

    def count_from(self, record: IntentRecord, at: int) -> None:
        """An approved intent counts in the windows from `at` (DESIGN section 9)."""
        self.conn.execute("UPDATE intents SET counted_at = ? WHERE seq = ? AND counted_at IS NOT NULL",
                          (at, record.seq))

    def latest_transition_at(self, recent: int = 1000) -> int:
        """The latest `at` among the newest `recent` transitions (0 if none). The treasury
        stamps on a clock that never goes back, so the newest rows hold the latest time;
        reading only those keeps this O(recent) inside an approval's write transaction."""
        row = self.conn.execute(
            "SELECT MAX(at) FROM (SELECT at FROM transitions ORDER BY seq DESC LIMIT ?)",
            (recent,)).fetchone()
        return row[0] or 0


def _split_sql(script: str) -> list[str]:
    return [s.strip() for s in script.split(";") if s.strip()]
