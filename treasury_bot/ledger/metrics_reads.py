"""Read-only queries for the metrics collector (issue 14: treasury_bot/metrics.py), run at
scrape time on the collector's own connection. Each is one indexed or aggregate SELECT."""

from __future__ import annotations

import sqlite3

from treasury_bot.ledger import schema

_UNPLANNED = "mail_id IS NULL AND logged_at_ms IS NULL"  # treasury_bot/ledger/outbox.py's


class MetricsReads:
    _conn: sqlite3.Connection

    def status_counts(self) -> dict[str, int]:
        """Intents per status, terminal ones included (one pass over the intents)."""
        return {status: int(n) for status, n in
                self._conn.execute("SELECT status, COUNT(*) FROM intents GROUP BY status")}

    def oldest_open_received_at(self) -> int | None:
        """When the oldest open intent was received (the open-status partial index)."""
        row = self._conn.execute(
            f"SELECT MIN(i.received_at) FROM intents i WHERE {schema.OPEN_ONLY}").fetchone()
        return row[0] if row else None

    def oldest_unsent_alert_at(self) -> int | None:
        """The creation time of the oldest alert not yet accepted by a mail server (or logged)."""
        row = self._conn.execute(
            "SELECT MIN(created_at_ms) FROM (SELECT created_at_ms FROM alert_outbox WHERE "
            f"{_UNPLANNED} UNION ALL SELECT o.created_at_ms FROM alert_outbox o JOIN alert_mails m"
            " ON m.mail_id = o.mail_id WHERE m.state = 'sending')").fetchone()
        return row[0] if row else None

    def alert_mail_counts(self) -> dict[str, int]:
        """Mails per state ('sending', 'sent')."""
        return {state: int(n) for state, n in
                self._conn.execute("SELECT state, COUNT(*) FROM alert_mails GROUP BY state")}

    def alerts_raised(self) -> int:
        """Alerts ever put in the outbox (its seq only grows)."""
        return int(self._conn.execute("SELECT COALESCE(MAX(seq), 0) FROM alert_outbox").fetchone()[0])

    def probe_writable(self) -> None:
        """Take the write lock and give it back at once (BEGIN IMMEDIATE; ROLLBACK): raises
        sqlite3.Error when the ledger cannot be written (read-only file, disk, lock held
        past the busy timeout). Writes nothing."""
        self._conn.execute("BEGIN IMMEDIATE")
        self._conn.execute("ROLLBACK")
