"""Issue 16 item 4 through `treasury-bot run`: a ledger of a newer schema stops the start
with the fix and is left untouched; an older one is backed up beside it, then migrated,
and the treasury serves."""

from __future__ import annotations

import hashlib
import sqlite3

import pytest

from tests.support import old_schemas
from tests.support.treasury_proc import TreasuryProcess
from treasury_bot.ledger import SCHEMA_VERSION, Ledger

pytestmark = pytest.mark.e2e

EXIT_CONFIG = 2


def test_run_refuses_a_ledger_of_a_newer_schema_with_the_fix(tmp_path, sandbox):
    """Exit 2, one line naming both versions and what to do; the file byte for byte as it was."""
    process = TreasuryProcess(tmp_path, sandbox)
    Ledger(process.ledger_path).close()
    conn = sqlite3.connect(str(process.ledger_path), isolation_level=None)
    conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION + 1),))
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    before = hashlib.sha256(process.ledger_path.read_bytes()).hexdigest()
    process.start(wait_ready=False)
    assert process.proc.wait_exit(30) == EXIT_CONFIG, process.log()[-3000:]
    log = process.log()
    assert "ledger_schema_newer" in log and "run the newer treasury-bot" in log
    assert hashlib.sha256(process.ledger_path.read_bytes()).hexdigest() == before
    assert list(process.dir.glob("ledger.sqlite.v*-backup-*")) == []


def test_run_backs_up_then_upgrades_a_ledger_of_the_previous_schema(tmp_path, sandbox):
    """A release's file: a 0600 copy at its old version beside it, the ledger at the current
    version, and the treasury then completes a withdrawal."""
    process = TreasuryProcess(tmp_path, sandbox)
    old_schemas.build(process.ledger_path, "0d7d5d9").close()
    process.start()
    try:
        [copy] = process.dir.glob("ledger.sqlite.v1-backup-*")
        assert copy.stat().st_mode & 0o777 == 0o600
        with sqlite3.connect(f"file:{copy}?mode=ro", uri=True) as conn:
            assert conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == ("1",)
        assert process.query("SELECT value FROM meta WHERE key = 'schema_version'") == [(str(SCHEMA_VERSION),)]
        assert "ledger_backup_before_upgrade" in process.log()
        process.withdraw_once("after-upgrade-1", "10")
    finally:
        assert process.terminate() == 0
