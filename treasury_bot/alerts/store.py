"""The alert outbox in the treasury's ledger: SQL only, every function on a caller's connection.

`enqueue` is what the treasury calls: one INSERT inside the caller's open transaction,
so an alert is committed with the change that raised it, or not at all. The other
functions are for the sender (which runs them in its own short transactions) and for
`treasuryctl alerts list`. None of them BEGINs or COMMITs: transactions are the caller's.

Tables (DDL in `OUTBOX_SCHEMA`; the ledger runs it at open, statement by statement):
- `alert_outbox`: one row per alert, appended in `seq` order (cheap for the decision
  transaction: one append to the table and one to the "unplanned" partial index; no
  index on a random key such as intent_id, which would dirty scattered pages).
  `mail_id` links it to the mail that carries it once the sender has planned one;
  `sent_at_ms`/`channel` are set when that mail was accepted (or the alert was logged).
- `alert_mails`: one row per mail: its Message-ID (kept so a re-send after a crash is
  recognisable), state `sending` (recorded before the SMTP conversation) or `sent`
  (after the server accepted it), subject, recipients, times, attempts, last error.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Iterable, Mapping, Sequence

from treasury_bot.alerts.model import CRITICAL, INFO, WARNING, Alert, OutboxAlert

# No ';' inside comments or strings: the ledger splits this text on ';'.
OUTBOX_SCHEMA = """
CREATE TABLE IF NOT EXISTS alert_mails (
    mail_id        INTEGER PRIMARY KEY,
    message_id     TEXT NOT NULL UNIQUE,
    kind           TEXT NOT NULL,
    severity       TEXT NOT NULL CHECK (severity IN ('INFO', 'WARNING', 'CRITICAL')),
    alert_count    INTEGER NOT NULL CHECK (alert_count >= 1),
    state          TEXT NOT NULL CHECK (state IN ('sending', 'sent')),
    subject        TEXT NOT NULL,
    recipients     TEXT NOT NULL,          -- comma-separated, as sent
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
    mail_id        INTEGER REFERENCES alert_mails (mail_id),
    sent_at_ms     INTEGER,
    channel        TEXT CHECK (channel IN ('smtp', 'log'))
);
CREATE INDEX IF NOT EXISTS alert_outbox_unplanned
    ON alert_outbox (severity, seq) WHERE mail_id IS NULL AND sent_at_ms IS NULL;
CREATE INDEX IF NOT EXISTS alert_outbox_by_mail
    ON alert_outbox (mail_id) WHERE mail_id IS NOT NULL;
"""

OUTBOX_STATEMENTS: tuple[str, ...] = tuple(s.strip() for s in OUTBOX_SCHEMA.split(";") if s.strip())


class OutboxError(RuntimeError):
    """The outbox was used outside the contract (e.g. enqueue with no open transaction)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def create_schema(conn: sqlite3.Connection) -> None:
    """Run the DDL one statement at a time (never `executescript`, which commits)."""
    for statement in OUTBOX_STATEMENTS:
        conn.execute(statement)


# -- the treasury's side -----------------------------------------------------------------

def enqueue(conn: sqlite3.Connection, alert: Alert) -> int:
    """Add an alert to the outbox inside the caller's open transaction; return its seq.

    Refuses to run outside a transaction: an alert committed apart from the change that
    raised it could survive a crash that the change does not (or the other way round).
    """
    if not conn.in_transaction:
        raise OutboxError("no_transaction",
                          "alerts.store.enqueue must run inside the transaction of the change "
                          "that raised the alert (BEGIN first)")
    cursor = conn.execute(
        "INSERT INTO alert_outbox (created_at_ms, kind, severity, intent_id, facts)"
        " VALUES (?, ?, ?, ?, ?)",
        (alert.created_at_ms, alert.kind, alert.severity, alert.intent_id, _dump(alert.facts)))
    return int(cursor.lastrowid)


def _dump(facts: Mapping[str, object]) -> str:
    return json.dumps(facts, separators=(",", ":"), sort_keys=True, ensure_ascii=False)


# -- the sender's side -------------------------------------------------------------------

_ALERT_COLUMNS = "seq, created_at_ms, kind, severity, intent_id, facts"


def _outbox_alert(row: Sequence) -> OutboxAlert:
    seq, created_at_ms, kind, severity, intent_id, facts = row
    return OutboxAlert(seq, Alert(kind=kind, severity=severity, intent_id=intent_id,
                                  facts=json.loads(facts), created_at_ms=created_at_ms))


def unsent(conn: sqlite3.Connection, limit: int) -> list[OutboxAlert]:
    """Alerts not yet sent nor put in a mail, oldest first, up to `limit` per severity.

    Read per severity so that a flood of rejections can never hide a CRITICAL alert
    behind it; each query is a range of the partial index.
    """
    found: list[OutboxAlert] = []
    for severity in (CRITICAL, WARNING, INFO):
        rows = conn.execute(
            f"SELECT {_ALERT_COLUMNS} FROM alert_outbox"
            " WHERE severity = ? AND mail_id IS NULL AND sent_at_ms IS NULL"
            " ORDER BY seq LIMIT ?", (severity, limit)).fetchall()
        found.extend(_outbox_alert(row) for row in rows)
    found.sort(key=lambda item: item.seq)
    return found


def last_mail_times(conn: sqlite3.Connection,
                    keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], int]:
    """For each (kind, severity), when its latest mail was planned (absent: never)."""
    times: dict[tuple[str, str], int] = {}
    for kind, severity in set(keys):
        row = conn.execute("SELECT MAX(created_at_ms) FROM alert_mails WHERE kind = ? AND severity = ?",
                           (kind, severity)).fetchone()
        if row and row[0] is not None:
            times[(kind, severity)] = int(row[0])
    return times


@dataclass(frozen=True)
class MailRow:
    mail_id: int
    message_id: str
    kind: str
    severity: str
    alert_count: int
    state: str
    subject: str
    recipients: tuple[str, ...]
    created_at_ms: int
    sent_at_ms: int | None
    attempts: int
    last_error: str | None


_MAIL_COLUMNS = ("mail_id, message_id, kind, severity, alert_count, state, subject, recipients,"
                 " created_at_ms, sent_at_ms, attempts, last_error")


def _mail(row: Sequence) -> MailRow:
    values = list(row)
    values[7] = tuple(a for a in values[7].split(",") if a)
    return MailRow(*values)


def create_mail(conn: sqlite3.Connection, *, kind: str, severity: str, seqs: Sequence[int],
                message_id: str, subject: str, recipients: Sequence[str], now_ms: int) -> MailRow:
    """Record a mail as `sending` and put these alerts in it (caller's transaction)."""
    cursor = conn.execute(
        "INSERT INTO alert_mails (message_id, kind, severity, alert_count, state, subject,"
        " recipients, created_at_ms) VALUES (?, ?, ?, ?, 'sending', ?, ?, ?)",
        (message_id, kind, severity, len(seqs), subject, ",".join(recipients), now_ms))
    mail_id = int(cursor.lastrowid)
    conn.executemany(
        "UPDATE alert_outbox SET mail_id = ? WHERE seq = ? AND mail_id IS NULL AND sent_at_ms IS NULL",
        [(mail_id, seq) for seq in seqs])
    claimed = conn.execute("SELECT COUNT(*) FROM alert_outbox WHERE mail_id = ?", (mail_id,)).fetchone()[0]
    if claimed != len(seqs):
        # Another sender took some of them: two senders on one ledger is a bug, stop here.
        raise OutboxError("outbox_contended",
                          f"mail {mail_id}: {len(seqs) - claimed} of its alerts were already taken")
    return get_mail(conn, mail_id)


def get_mail(conn: sqlite3.Connection, mail_id: int) -> MailRow:
    row = conn.execute(f"SELECT {_MAIL_COLUMNS} FROM alert_mails WHERE mail_id = ?", (mail_id,)).fetchone()
    if row is None:
        raise OutboxError("unknown_mail", f"no alert mail {mail_id}")
    return _mail(row)


def sending_mails(conn: sqlite3.Connection) -> list[MailRow]:
    """Mails recorded but not known to be accepted: failed attempts, or a crash mid-send."""
    rows = conn.execute(f"SELECT {_MAIL_COLUMNS} FROM alert_mails WHERE state = 'sending'"
                        " ORDER BY mail_id").fetchall()
    return [_mail(row) for row in rows]


def mail_alerts(conn: sqlite3.Connection, mail_id: int) -> list[OutboxAlert]:
    rows = conn.execute(f"SELECT {_ALERT_COLUMNS} FROM alert_outbox WHERE mail_id = ? ORDER BY seq",
                        (mail_id,)).fetchall()
    return [_outbox_alert(row) for row in rows]


def mark_mail_sent(conn: sqlite3.Connection, mail_id: int, at_ms: int) -> None:
    """The server accepted the mail: it and its alerts are sent (caller's transaction)."""
    conn.execute("UPDATE alert_mails SET state = 'sent', sent_at_ms = ?, attempts = attempts + 1,"
                 " last_error = NULL WHERE mail_id = ?", (at_ms, mail_id))
    conn.execute("UPDATE alert_outbox SET sent_at_ms = ?, channel = 'smtp'"
                 " WHERE mail_id = ? AND sent_at_ms IS NULL", (at_ms, mail_id))


def note_mail_failure(conn: sqlite3.Connection, mail_id: int, error: str) -> None:
    """An attempt failed: count it and keep the error (the mail stays `sending`)."""
    conn.execute("UPDATE alert_mails SET attempts = attempts + 1, last_error = ? WHERE mail_id = ?",
                 (error[:500], mail_id))


def mark_logged(conn: sqlite3.Connection, seqs: Sequence[int], at_ms: int) -> None:
    """Without SMTP, an alert is done once it was logged (caller's transaction)."""
    conn.executemany("UPDATE alert_outbox SET sent_at_ms = ?, channel = 'log'"
                     " WHERE seq = ? AND sent_at_ms IS NULL", [(at_ms, seq) for seq in seqs])


# -- treasuryctl -------------------------------------------------------------------------

@dataclass(frozen=True)
class ListedAlert:
    """One outbox row for `treasuryctl alerts list`."""

    seq: int
    alert: Alert
    mail_id: int | None
    mail_state: str | None
    sent_at_ms: int | None
    channel: str | None


def listing(conn: sqlite3.Connection, *, unsent_only: bool = False, limit: int = 50) -> list[ListedAlert]:
    """The newest `limit` alerts (newest first), or every unsent one (oldest first).

    Unsent = not yet accepted by the mail server: unplanned, or in a mail still `sending`.
    """
    select = (f"SELECT o.seq, o.created_at_ms, o.kind, o.severity, o.intent_id, o.facts,"
              " o.mail_id, m.state, o.sent_at_ms, o.channel"
              " FROM alert_outbox o LEFT JOIN alert_mails m ON m.mail_id = o.mail_id")
    if unsent_only:
        rows = conn.execute(
            select + " WHERE o.mail_id IS NULL AND o.sent_at_ms IS NULL"
            " UNION ALL " + select +
            " WHERE o.mail_id IN (SELECT mail_id FROM alert_mails WHERE state = 'sending')"
            " AND o.sent_at_ms IS NULL ORDER BY 1 LIMIT ?", (limit,)).fetchall()
    else:
        rows = conn.execute(select + " ORDER BY o.seq DESC LIMIT ?", (limit,)).fetchall()
    listed = []
    for row in rows:
        item = _outbox_alert(row[:6])
        listed.append(ListedAlert(item.seq, item.alert, *row[6:]))
    return listed


@dataclass(frozen=True)
class OutboxCounts:
    unsent: int          # alerts not yet accepted by a mail server (nor logged)
    sending_mails: int   # mails recorded and not yet accepted


def counts(conn: sqlite3.Connection) -> OutboxCounts:
    """For `treasuryctl status`: how far behind the outbox is."""
    unplanned = conn.execute("SELECT COUNT(*) FROM alert_outbox"
                             " WHERE mail_id IS NULL AND sent_at_ms IS NULL").fetchone()[0]
    in_mails, mails = conn.execute(
        "SELECT COALESCE(SUM(alert_count), 0), COUNT(*) FROM alert_mails WHERE state = 'sending'").fetchone()
    return OutboxCounts(unsent=int(unplanned) + int(in_mails), sending_mails=int(mails))
