"""Look inside a ledger file the way an operator's sqlite3 shell would: a separate,
read-only connection (the Ledger's own connection is private). Sees committed rows only."""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any


def _path(ledger: Any) -> Path:
    return Path(getattr(ledger, "path", ledger))


def peek(ledger: Any, sql: str, *params: Any) -> list[tuple]:
    """Rows of a read-only query on a Ledger's file (or a path)."""
    with closing(sqlite3.connect(f"file:{_path(ledger)}?mode=ro", uri=True, timeout=10)) as conn:
        return conn.execute(sql, params).fetchall()


def peek_one(ledger: Any, sql: str, *params: Any) -> Any:
    """The first column of the first row (None if no row)."""
    rows = peek(ledger, sql, *params)
    return rows[0][0] if rows else None


def outbox_facts(ledger: Any, where: str = "", *params: Any) -> list[dict]:
    """The facts of the outbox's alerts, oldest first."""
    sql = "SELECT facts FROM alert_outbox" + (f" WHERE {where}" if where else "") + " ORDER BY seq"
    return [json.loads(row[0]) for row in peek(ledger, sql, *params)]
