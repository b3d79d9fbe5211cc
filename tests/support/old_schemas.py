"""The ledger layouts users may have on disk, as the released programs wrote them: the DDL
text copied verbatim from those commits, to build old ledger files in upgrade tests
(tests/integration/test_ledger_upgrade.py). Never edit these to follow today's schema.

Both releases stamped their files `schema_version` 1 (tables were added with CREATE IF
NOT EXISTS at each open); each ran its ledger DDL, then the outbox DDL, at every open.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

# -- release of issues 2-7 (stop 8), commit 4f44e7a ------------------------------------
# treasury_bot/ledger.py `_SCHEMA` at 4f44e7a
LEDGER_4F44E7A = """
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
);
"""

# treasury_bot/alerts/store.py `OUTBOX_SCHEMA` at 4f44e7a (unchanged at 0d7d5d9)
OUTBOX_4F44E7A = """
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
    FROM alert_outbox o LEFT JOIN alert_mails m ON m.mail_id = o.mail_id;
"""

# -- release of issue 10 (stop 17), commit 0d7d5d9 -------------------------------------
# treasury_bot/ledger.py `_SCHEMA` at 0d7d5d9
LEDGER_0D7D5D9 = """
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

OUTBOX_0D7D5D9 = OUTBOX_4F44E7A

RELEASES = {
    "4f44e7a": LEDGER_4F44E7A + OUTBOX_4F44E7A,
    "0d7d5d9": LEDGER_0D7D5D9 + OUTBOX_0D7D5D9,
}


def build(path: Path, release: str) -> sqlite3.Connection:
    """A ledger file as `release` created it (WAL, DDL run statement by statement inside
    one BEGIN IMMEDIATE, version row 1); returns an open connection for adding rows."""
    conn = sqlite3.connect(str(path), isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("BEGIN IMMEDIATE")
    for statement in (s.strip() for s in RELEASES[release].split(";")):
        if statement:
            conn.execute(statement)
    conn.execute("INSERT INTO meta(key, value) VALUES ('schema_version', '1')")
    conn.execute("COMMIT")
    return conn
