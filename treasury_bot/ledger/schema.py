"""The ledger file's schema: its version, the tables of each version, and the migrations
between them. The only place that holds DDL for the treasury's file.

The schema is built the same way on a new file and on an old one: the version-1 tables,
then each migration in order. So a new ledger and an upgraded one cannot drift apart
(tests/integration/test_ledger_upgrade.py proves it against each released layout).

Versions (what a user may have on disk; every released file says `schema_version` 1,
because tables used to be added with CREATE IF NOT EXISTS at each open):
- 1: as released at 4f44e7a (issues 2-7): intents, decisions, transitions, withdrawals,
  refused_requests, policy_starts, destinations_seen, coin_rules, meta, the alert outbox.
- 2: as released at 0d7d5d9 (issue 10) but stamped 1 there: adds policy_in_force,
  pending_loosenings (tighten at once, loosen later), withdrawal_exchange_times and
  withdrawal_stalls. Its migration uses IF NOT EXISTS, so it takes a file stamped 1 to 2
  whichever of the two layouts it holds.
- 3: issue 13, the custody controls: freezes, signed operator actions, the journal's hash
  chain, and the withdrawals seen on the account that the ledger did not make.

A migration runs inside one write transaction with the bump of `schema_version`: a file is
at one version or the next, never between. A file newer than `SCHEMA_VERSION` is refused
(`LedgerSchemaNewer`) before anything is written to it. To change the schema, append a
migration and raise `SCHEMA_VERSION`; never edit a released one.
"""

from __future__ import annotations

import re
import sqlite3
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

from treasury_bot.ledger import chain
from treasury_bot.ledger.records import LedgerSchemaNewer, LedgerSchemaUnknown
from treasury_bot.verdict import REJECTED

SCHEMA_VERSION = 3

# -- version 1 (4f44e7a) ---------------------------------------------------------------
# No ';' inside comments or strings: each text is split on ';' and run one statement at a
# time (never executescript, which commits).

_V1_LEDGER = """
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
CREATE TABLE IF NOT EXISTS coin_rules (
    id           INTEGER PRIMARY KEY CHECK (id = 1),
    fetched_at   INTEGER NOT NULL,
    body         TEXT NOT NULL
);"""

# The alert outbox (treasury_bot/ledger/outbox.py): alert_outbox holds one row per alert,
# appended in seq order, alert_mails one row per mail (state sending, then sent), and the
# view alert_delivery each alert's state, channel and sent time, derived from its mail.
_V1_OUTBOX = """
CREATE TABLE IF NOT EXISTS alert_mails (
    mail_id        INTEGER PRIMARY KEY,
    message_id     TEXT NOT NULL UNIQUE,
    kind           TEXT NOT NULL,
    severity       TEXT NOT NULL CHECK (severity IN ('INFO', 'WARNING', 'CRITICAL')),
    alert_count    INTEGER NOT NULL CHECK (alert_count >= 1),
    state          TEXT NOT NULL CHECK (state IN ('sending', 'sent')),
    subject        TEXT,                   -- set when rendered for sending
    recipients     TEXT NOT NULL,          -- comma-separated
    created_at_ms  INTEGER NOT NULL,       -- when planned, also the mail's Date header
    sent_at_ms     INTEGER,                -- when the server accepted it
    attempts       INTEGER NOT NULL DEFAULT 0,
    last_error     TEXT
);
CREATE INDEX IF NOT EXISTS alert_mails_by_kind
    ON alert_mails (kind, severity, created_at_ms);
CREATE INDEX IF NOT EXISTS alert_mails_sending
    ON alert_mails (mail_id) WHERE state = 'sending';
CREATE TABLE IF NOT EXISTS alert_outbox (
    seq            INTEGER PRIMARY KEY,
    created_at_ms  INTEGER NOT NULL,
    kind           TEXT NOT NULL,
    severity       TEXT NOT NULL CHECK (severity IN ('INFO', 'WARNING', 'CRITICAL')),
    intent_id      TEXT,
    facts          TEXT NOT NULL,          -- JSON object of str -> str | int | null
    mail_id        INTEGER REFERENCES alert_mails (mail_id),   -- the mail that carries it
    logged_at_ms   INTEGER                 -- without SMTP: when it was logged instead
);
CREATE INDEX IF NOT EXISTS alert_outbox_unplanned
    ON alert_outbox (severity, seq) WHERE mail_id IS NULL AND logged_at_ms IS NULL;
CREATE INDEX IF NOT EXISTS alert_outbox_by_mail
    ON alert_outbox (mail_id) WHERE mail_id IS NOT NULL;
CREATE VIEW IF NOT EXISTS alert_delivery AS
    SELECT o.seq, o.created_at_ms, o.kind, o.severity, o.intent_id, o.mail_id,
           CASE WHEN o.logged_at_ms IS NOT NULL OR m.state = 'sent' THEN 'sent'
                WHEN m.state = 'sending' THEN 'sending' ELSE 'unsent' END AS state,
           CASE WHEN o.logged_at_ms IS NOT NULL THEN 'log'
                WHEN m.state = 'sent' THEN 'smtp' END AS channel,
           COALESCE(o.logged_at_ms, m.sent_at_ms) AS sent_at_ms
    FROM alert_outbox o LEFT JOIN alert_mails m ON m.mail_id = o.mail_id;"""

# -- version 2 (0d7d5d9) ---------------------------------------------------------------

_V2 = """
-- Tighten at once, loosen later (treasury_bot/loosening.py, docs/design.md section 9): the
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
-- The exchange-clock estimate of an intent's first apply, and the stalled intents already
-- alerted (issue 10 defects 1 and 3).
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


# -- version 3 (issue 13: custody controls) ----------------------------------------------
# One block per control, each kept apart by the blank lines between them. No ";" in comments.

_V3 = """
-- Freeze (treasury_bot/freeze.py): one row per freeze, by an operator or a circuit
-- breaker. The open one (unfrozen_at NULL) stops every apply. At most one is open.
CREATE TABLE IF NOT EXISTS freezes (
    seq           INTEGER PRIMARY KEY,
    frozen_at     INTEGER NOT NULL,
    frozen_by     TEXT NOT NULL,
    breaker       TEXT,
    reason        TEXT NOT NULL,
    unfrozen_at   INTEGER,
    unfrozen_by   TEXT,
    unfreeze_note TEXT,
    -- the transitions table's last seq when it was frozen and unfrozen: no transition to
    -- submitting may fall between them (clock-free proof for audits and the chaos soak)
    frozen_after_transition   INTEGER NOT NULL DEFAULT 0,
    unfrozen_after_transition INTEGER
);
CREATE UNIQUE INDEX IF NOT EXISTS freezes_one_open ON freezes((unfrozen_at IS NULL))
    WHERE unfrozen_at IS NULL;
-- The client_rejections breaker counts a client's recent rejections (treasury_bot/breakers.py).
CREATE INDEX IF NOT EXISTS intents_rejected ON intents(client, received_at) WHERE {REJECTED_ONLY};


-- Signed operator actions and quorum approvals (item 3).
-- One row per counted signed action (treasury_bot/quorum.py, ledger/approvals.py): an
-- approval, a rejection or an unfreeze vote, with its signature as received. subject is
-- the intent id or freeze:SEQ. A nonce is used once, for ever: a replay is refused.
CREATE TABLE IF NOT EXISTS operator_actions (
    seq          INTEGER PRIMARY KEY,
    action       TEXT NOT NULL,
    subject      TEXT NOT NULL,
    operator     TEXT NOT NULL,
    signed_at    INTEGER NOT NULL,
    nonce        TEXT NOT NULL UNIQUE,
    signature    TEXT NOT NULL,
    received_at  INTEGER NOT NULL,
    via          TEXT NOT NULL,
    result       TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS operator_actions_subject ON operator_actions(subject, seq);
-- A pending loosening the quorum let take effect before its quarantine ran out
-- (treasuryctl loosen-early): in force from the treasury's next start.
CREATE TABLE IF NOT EXISTS loosenings_released (
    setting        TEXT NOT NULL,
    first_seen_at  INTEGER NOT NULL,
    released_at    INTEGER NOT NULL,
    released_by    TEXT NOT NULL,
    PRIMARY KEY (setting, first_seen_at)
);


-- The journal's hash chain (item 4).
-- One row per link, in write order across the sealed tables (treasury_bot/journal_chain.py,
-- treasury_bot/ledger/chain.py): tbl names the table, row_key its row, hash is the hex
-- SHA-256 over the previous link's hash and the row's canonical bytes (docs/design.md
-- section 13). Appended in the transaction of the row it seals, never updated.
CREATE TABLE IF NOT EXISTS journal_chain (
    seq      INTEGER PRIMARY KEY,
    tbl      TEXT NOT NULL,
    row_key  INTEGER NOT NULL,
    hash     TEXT NOT NULL
);


-- Withdrawals on the account the ledger did not make (item 5).
-- One row per withdrawal the watch found on the exchange that the ledger did not make
-- (treasury_bot/foreign_watch.py), alerted once. Its withdraw_order_id is used for ever:
-- an intent with that id is refused, never decided or applied. intent_seq: the ledger
-- holds an intent with that id but never recorded this withdrawal (a restored ledger).
CREATE TABLE IF NOT EXISTS foreign_withdrawals (
    withdrawal_id      TEXT PRIMARY KEY,
    withdraw_order_id  TEXT,
    coin               TEXT NOT NULL,
    network            TEXT,
    address            TEXT,
    address_tag        TEXT,
    amount             TEXT NOT NULL,
    exchange_status    INTEGER,
    apply_time         TEXT,
    intent_seq         INTEGER REFERENCES intents(seq),
    found_at           INTEGER NOT NULL,
    detail             TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS foreign_withdrawals_order_id ON foreign_withdrawals(withdraw_order_id)
    WHERE withdraw_order_id IS NOT NULL;
-- Shadow mode's end status (item 7) is terminal: the open-intents index leaves it out too.
DROP INDEX IF EXISTS intents_open;
CREATE INDEX IF NOT EXISTS intents_open ON intents(status)
    WHERE status NOT IN ('completed', 'failed', 'rejected', 'cancelled', 'denied', 'shadowed');
"""


def statements(script: str) -> tuple[str, ...]:
    return tuple(s.strip() for s in script.split(";") if s.strip())


BASE: tuple[str, ...] = statements(_V1_LEDGER + _V1_OUTBOX)

# The open-intents queries' clause, taken from the `intents_open` partial index itself: a
# query must repeat the index's expression, word for word, for SQLite to use the index.
# Tests prove the statuses it leaves out are lifecycle.TERMINAL and that the plan uses it.
# Its latest definition: version 3 redefines it (shadow mode's terminal status).
_INTENTS_OPEN = [s for s in BASE + statements(_V2) + statements(_V3) if "INDEX IF NOT EXISTS intents_open" in s][-1]
_PREDICATE = re.search(r"WHERE (status NOT IN \([^)]*\))", _INTENTS_OPEN).group(1)
OPEN_ONLY = "i." + _PREDICATE
TERMINAL_IN_INDEX: tuple[str, ...] = tuple(re.findall(r"'([a-z_]+)'", _PREDICATE))
# The rejected intents' partial index (schema 3) and the one query that reads it share this
# clause, word for word, as SQLite needs to use the index. An outcome, not a status.
REJECTED_ONLY = f"outcome = '{REJECTED}'"
# MIGRATIONS[n - 1] takes a file from version n to n + 1.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    statements(_V2),
    statements(_V3.replace("{REJECTED_ONLY}", REJECTED_ONLY)),
)
assert len(MIGRATIONS) == SCHEMA_VERSION - 1, "one migration per version after the first"

# Work a migration does beyond DDL, by the version it reaches, in the same transaction:
# schema 3 seals an old ledger's existing rows into the journal's hash chain (item 4).
AFTER_MIGRATION: dict[int, tuple[Callable[[sqlite3.Connection], object], ...]] = {
    3: (chain.seal_existing,),
}


@contextmanager
def _write(conn: sqlite3.Connection) -> Iterator[None]:
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def _version(conn: sqlite3.Connection) -> int | None:
    if conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'").fetchone() is None:
        return None
    row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    return int(row[0]) if row else None


def found_version(conn: sqlite3.Connection) -> int | None:
    """The file's stamped version, read without a write lock (None: a new or foreign file)."""
    return _version(conn)


def _set_version(conn: sqlite3.Connection, version: int) -> None:
    conn.execute("INSERT INTO meta(key, value) VALUES ('schema_version', ?)"
                 " ON CONFLICT(key) DO UPDATE SET value = excluded.value", (str(version),))


def ensure_current(conn: sqlite3.Connection, path: Path) -> int:
    """Bring the file to SCHEMA_VERSION: create it if new, else run the migrations it lacks,
    one write transaction each. Return the version the file was found at (0: new).
    Each step re-reads the version under the write lock, so threads and treasuryctl
    opening the same old file at once migrate it once."""
    if _version(conn) == SCHEMA_VERSION:  # the usual open: a read, no write lock
        return SCHEMA_VERSION
    found: int | None = -1
    while True:
        with _write(conn):
            version = _version(conn)
            if found == -1:
                found = version or 0
            if version is None:
                if conn.execute("SELECT 1 FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'").fetchone():
                    raise LedgerSchemaUnknown(f"ledger {path} holds tables but no schema_version")
                for statement in BASE + tuple(s for step in MIGRATIONS for s in step):
                    conn.execute(statement)
                _set_version(conn, SCHEMA_VERSION)
                return found
            if version < 1:
                raise LedgerSchemaUnknown(f"ledger {path} says schema_version {version}")
            if version > SCHEMA_VERSION:
                raise LedgerSchemaNewer(
                    f"ledger {path} has schema {version}, newer than this program's {SCHEMA_VERSION}")
            if version == SCHEMA_VERSION:
                return found
            for statement in MIGRATIONS[version - 1]:
                conn.execute(statement)
            for step in AFTER_MIGRATION.get(version + 1, ()):
                step(conn)
            _set_version(conn, version + 1)
