"""The alert outbox in the treasury's ledger (its tables: treasury_bot/ledger/schema.py).

`Ledger.enqueue` is what the treasury calls: one INSERT inside the caller's open
transaction, so an alert is committed with the change that raised it, or not at all.
The rest, `ledger.outbox.*`, is for the sender (which runs its writes in its own short
`ledger.transaction()`s) and for `treasuryctl alerts list` and `status`. Nothing here
BEGINs or COMMITs: transactions are the Ledger's.

- `alert_outbox`: one row per alert, appended in `seq` order (cheap for the decision
  transaction: one append to the table and one to the "unplanned" partial index; no
  index on a random key such as intent_id, which would dirty scattered pages).
  `mail_id` links it to the mail that carries it once the sender has planned one;
  `logged_at_ms` is set instead when there is no SMTP and the alert was logged.
- `alert_mails`: one row per mail: its Message-ID (kept so a re-send after a crash is
  recognisable), state `sending` (recorded before the SMTP conversation) or `sent`
  (after the server accepted it), subject, recipients, times, attempts, last error.
- `alert_delivery` (a view): each alert with its state `unsent` | `sending` | `sent`,
  its channel (`smtp` | `log`) and when it was sent. An alert in a mail is sent exactly
  when its mail is: marking a digest of 50,000 alerts sent is one row, not 50,000.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Iterable, Mapping, Sequence

from treasury_bot.ledger import chain
from treasury_bot.alerts.model import (BREAKDOWN_FACTS, BREAKDOWN_TOP, CRITICAL, INFO, WARNING, Alert,
                                       MailContent, OutboxAlert, PendingAlert)


class OutboxError(RuntimeError):
    """The outbox was used outside the contract (e.g. enqueue with no open transaction)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def _dump(facts: Mapping[str, object]) -> str:
    return json.dumps(facts, separators=(",", ":"), sort_keys=True, ensure_ascii=False)


_ALERT_COLUMNS = "seq, created_at_ms, kind, severity, intent_id, facts"


def _outbox_alert(row: Sequence) -> OutboxAlert:
    seq, created_at_ms, kind, severity, intent_id, facts = row
    return OutboxAlert(seq, Alert(kind=kind, severity=severity, intent_id=intent_id,
                                  facts=json.loads(facts), created_at_ms=created_at_ms))


_UNPLANNED = "mail_id IS NULL AND logged_at_ms IS NULL"  # the partial index's own condition


@dataclass(frozen=True)
class MailRow:
    mail_id: int
    message_id: str
    kind: str
    severity: str
    alert_count: int
    state: str
    subject: str | None
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


@dataclass(frozen=True)
class ListedAlert:
    """One outbox row for `treasuryctl alerts list`."""

    seq: int
    alert: Alert
    mail_id: int | None
    mail_state: str | None
    sent_at_ms: int | None
    channel: str | None


@dataclass(frozen=True)
class OutboxCounts:
    unsent: int          # alerts not yet accepted by a mail server (nor logged)
    sending_mails: int   # mails recorded and not yet accepted


class Outbox:
    """The outbox's queries on the Ledger's connection (reached as `ledger.outbox`)."""

    def __init__(self, conn: sqlite3.Connection, sealer: chain.Sealer) -> None:
        self._conn = conn
        self._sealer = sealer

    # -- the treasury's side -----------------------------------------------------------------

    def enqueue(self, alert: Alert) -> int:
        """Add an alert to the outbox inside the caller's open transaction; return its seq.

        Refuses to run outside a transaction: an alert committed apart from the change that
        raised it could survive a crash that the change does not (or the other way round).
        """
        if not self._conn.in_transaction:
            raise OutboxError("no_transaction",
                              "Ledger.enqueue must run inside the transaction of the change "
                              "that raised the alert (BEGIN first)")
        cursor = self._conn.execute(
            "INSERT INTO alert_outbox (created_at_ms, kind, severity, intent_id, facts)"
            " VALUES (?, ?, ?, ?, ?)",
            (alert.created_at_ms, alert.kind, alert.severity, alert.intent_id, _dump(alert.facts)))
        seq = int(cursor.lastrowid)
        self._sealer.inserted("alert_outbox", seq)  # its content, not its delivery
        return seq

    # -- the sender's side -------------------------------------------------------------------

    def unsent(self, limit: int) -> list[OutboxAlert]:
        """Alerts not yet sent nor put in a mail, with their facts, oldest first, up to
        `limit` per severity (read per severity so that a flood of rejections can never
        hide a CRITICAL alert behind it). Used when alerts are only logged."""
        found: list[OutboxAlert] = []
        for severity in (CRITICAL, WARNING, INFO):
            rows = self._conn.execute(f"SELECT {_ALERT_COLUMNS} FROM alert_outbox WHERE severity = ? AND {_UNPLANNED}"
                                      " ORDER BY seq LIMIT ?", (severity, limit)).fetchall()
            found.extend(_outbox_alert(row) for row in rows)
        found.sort(key=lambda item: item.seq)
        return found

    def pending(self, limit: int) -> list[PendingAlert]:
        """The same alerts without their facts, for the digest planner: cheap even for a
        flood. Up to `limit` per severity, oldest first."""
        found: list[PendingAlert] = []
        for severity in (CRITICAL, WARNING, INFO):
            rows = self._conn.execute(f"SELECT seq, kind, severity, created_at_ms FROM alert_outbox"
                                      f" WHERE severity = ? AND {_UNPLANNED} ORDER BY seq LIMIT ?",
                                (severity, limit)).fetchall()
            found.extend(PendingAlert(*row) for row in rows)
        found.sort(key=lambda item: item.seq)
        return found

    def last_mail_times(self, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], int]:
        """For each (kind, severity), when its latest mail was planned (absent: never)."""
        times: dict[tuple[str, str], int] = {}
        for kind, severity in set(keys):
            row = self._conn.execute("SELECT MAX(created_at_ms) FROM alert_mails WHERE kind = ? AND severity = ?",
                                     (kind, severity)).fetchone()
            if row and row[0] is not None:
                times[(kind, severity)] = int(row[0])
        return times

    def create_mail(self, *, kind: str, severity: str, seqs: Sequence[int],
                    message_id: str, recipients: Sequence[str], now_ms: int) -> int:
        """Record a mail as `sending` and put these alerts in it (caller's transaction).
        A big digest adds the rest of its alerts with `claim_more`, in further short
        transactions, so that the ledger's write lock is never held for long."""
        if not seqs:
            raise OutboxError("empty_mail", "a mail holds at least one alert")
        cursor = self._conn.execute(
            "INSERT INTO alert_mails (message_id, kind, severity, alert_count, state, recipients,"
            " created_at_ms) VALUES (?, ?, ?, ?, 'sending', ?, ?)",
            (message_id, kind, severity, len(seqs), ",".join(recipients), now_ms))
        mail_id = int(cursor.lastrowid)
        self._claim(mail_id, seqs)
        return mail_id

    def claim_more(self, mail_id: int, seqs: Sequence[int]) -> None:
        """Add more alerts to a mail still `sending` (caller's transaction)."""
        self._claim(mail_id, seqs)
        self._conn.execute("UPDATE alert_mails SET alert_count = alert_count + ? WHERE mail_id = ?", (len(seqs), mail_id))

    def _claim(self, mail_id: int, seqs: Sequence[int]) -> None:
        if not seqs:
            raise OutboxError("empty_mail", f"mail {mail_id}: no alerts to put in it")
        cursor = self._conn.executemany(f"UPDATE alert_outbox SET mail_id = ? WHERE seq = ? AND {_UNPLANNED}",
                                  [(mail_id, seq) for seq in seqs])
        if cursor.rowcount != len(seqs):
            # Another sender took some of them: two senders on one ledger is a bug, stop here.
            raise OutboxError("outbox_contended",
                              f"mail {mail_id}: {len(seqs) - cursor.rowcount} of its alerts were already taken")

    def get_mail(self, mail_id: int) -> MailRow:
        row = self._conn.execute(f"SELECT {_MAIL_COLUMNS} FROM alert_mails WHERE mail_id = ?", (mail_id,)).fetchone()
        if row is None:
            raise OutboxError("unknown_mail", f"no alert mail {mail_id}")
        return _mail(row)

    def sending_mails(self) -> list[MailRow]:
        """Mails recorded but not known to be accepted: failed attempts, or a crash mid-send."""
        rows = self._conn.execute(f"SELECT {_MAIL_COLUMNS} FROM alert_mails WHERE state = 'sending'"
                                  " ORDER BY mail_id").fetchall()
        return [_mail(row) for row in rows]

    def mail_alerts(self, mail_id: int, limit: int = -1) -> list[OutboxAlert]:
        """A mail's alerts in outbox order (the first `limit`; -1: all)."""
        rows = self._conn.execute(f"SELECT {_ALERT_COLUMNS} FROM alert_outbox WHERE mail_id = ? ORDER BY seq LIMIT ?",
                                  (mail_id, limit)).fetchall()
        return [_outbox_alert(row) for row in rows]

    def mail_content(self, mail_id: int, list_limit: int) -> MailContent:
        """What a mail says, by aggregates: a digest of 100,000 alerts is never loaded whole.
        Same result as `render.content_of` over the mail's alerts in outbox order."""
        mail = self.get_mail(mail_id)
        count, first_ms, last_ms = self._conn.execute(
            "SELECT COUNT(*), MIN(created_at_ms), MAX(created_at_ms) FROM alert_outbox WHERE mail_id = ?",
            (mail_id,)).fetchone()
        if count == 0:
            raise OutboxError("empty_mail", f"mail {mail_id} holds no alerts")
        listed = tuple(item.alert for item in self.mail_alerts(mail_id, list_limit))
        last_row = self._conn.execute(f"SELECT {_ALERT_COLUMNS} FROM alert_outbox WHERE mail_id = ?"
                                      " ORDER BY seq DESC LIMIT 1", (mail_id,)).fetchone()
        breakdowns: dict[str, tuple[tuple[str, int], ...]] = {}
        distinct: dict[str, int] = {}
        if count > 1:
            for fact in BREAKDOWN_FACTS:
                path = f"$.{fact}"
                rows = self._conn.execute(
                    "SELECT json_extract(facts, ?) AS v, COUNT(*) AS n FROM alert_outbox"
                    " WHERE mail_id = ? AND v IS NOT NULL GROUP BY v ORDER BY n DESC, MIN(seq) LIMIT ?",
                    (path, mail_id, BREAKDOWN_TOP)).fetchall()
                if rows:
                    breakdowns[fact] = tuple((str(v), int(n)) for v, n in rows)
                    distinct[fact] = self._conn.execute(
                        "SELECT COUNT(DISTINCT json_extract(facts, ?)) FROM alert_outbox WHERE mail_id = ?",
                        (path, mail_id)).fetchone()[0]
        return MailContent(mail.kind, mail.severity, int(count), listed, _outbox_alert(last_row).alert,
                           int(first_ms), int(last_ms), breakdowns, distinct)

    def mark_mail_sent(self, mail_id: int, at_ms: int, subject: str | None = None) -> None:
        """The server accepted the mail: it, and so every alert in it, is sent. One row."""
        self._conn.execute("UPDATE alert_mails SET state = 'sent', sent_at_ms = ?, attempts = attempts + 1,"
                           " last_error = NULL, subject = COALESCE(?, subject) WHERE mail_id = ?",
                     (at_ms, subject, mail_id))

    def note_mail_failure(self, mail_id: int, error: str, subject: str | None = None) -> None:
        """An attempt failed: count it and keep the error (the mail stays `sending`)."""
        self._conn.execute("UPDATE alert_mails SET attempts = attempts + 1, last_error = ?,"
                           " subject = COALESCE(?, subject) WHERE mail_id = ?", (error[:500], subject, mail_id))

    def mark_logged(self, seqs: Sequence[int], at_ms: int) -> None:
        """Without SMTP, an alert is done once it was logged (caller's transaction)."""
        self._conn.executemany(f"UPDATE alert_outbox SET logged_at_ms = ? WHERE seq = ? AND {_UNPLANNED}",
                         [(at_ms, seq) for seq in seqs])

    # -- treasuryctl -------------------------------------------------------------------------

    def listing(self, *, unsent_only: bool = False, limit: int = 50) -> list[ListedAlert]:
        """The newest `limit` alerts (newest first), or the oldest `limit` unsent ones.

        Unsent = not yet accepted by the mail server: unplanned, or in a mail still `sending`.
        """
        select = ("SELECT o.seq, o.created_at_ms, o.kind, o.severity, o.intent_id, o.facts,"
                  " o.mail_id, m.state, COALESCE(o.logged_at_ms, m.sent_at_ms),"
                  " CASE WHEN o.logged_at_ms IS NOT NULL THEN 'log' WHEN m.state = 'sent' THEN 'smtp' END"
                  " FROM alert_outbox o LEFT JOIN alert_mails m ON m.mail_id = o.mail_id")
        if unsent_only:
            rows = self._conn.execute(
                select + " WHERE o.mail_id IS NULL AND o.logged_at_ms IS NULL"
                " UNION ALL " + select +
                " WHERE o.mail_id IN (SELECT mail_id FROM alert_mails WHERE state = 'sending')"
                " ORDER BY 1 LIMIT ?", (limit,)).fetchall()
        else:
            rows = self._conn.execute(select + " ORDER BY o.seq DESC LIMIT ?", (limit,)).fetchall()
        listed = []
        for row in rows:
            item = _outbox_alert(row[:6])
            listed.append(ListedAlert(item.seq, item.alert, *row[6:]))
        return listed

    def counts(self) -> OutboxCounts:
        """For `treasuryctl status`: how far behind the outbox is."""
        unplanned = self._conn.execute("SELECT COUNT(*) FROM alert_outbox"
                                       f" WHERE {_UNPLANNED}").fetchone()[0]
        in_mails, mails = self._conn.execute(
            "SELECT COALESCE(SUM(alert_count), 0), COUNT(*) FROM alert_mails WHERE state = 'sending'").fetchone()
        return OutboxCounts(unsent=int(unplanned) + int(in_mails), sending_mails=int(mails))
