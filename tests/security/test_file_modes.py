"""Files the treasury creates are its user's alone, whatever the umask it was started with.

The ledger holds the whitelist's addresses, every request as sent and every decision;
on a shared host only the treasury's user may read it (docs/deployment.md). SQLite gives
the WAL and shared-memory files the database file's mode, so the ledger's own mode is
what counts. CURVE secret certificates are made 0600 by `treasuryctl keys generate`.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from common.curve import generate
from tests.support.treasury import open_ledger


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_ledger_and_its_wal_are_owner_only_under_a_loose_umask(tmp_path):
    """With umask 022 (files 0644 by default) the ledger, -wal and -shm are 0600."""
    old = os.umask(0o022)
    try:
        ledger = open_ledger(tmp_path / "ledger.sqlite")
        with ledger.transaction():
            ledger.set_meta("probe", "1")
        files = [tmp_path / "ledger.sqlite", tmp_path / "ledger.sqlite-wal", tmp_path / "ledger.sqlite-shm"]
        modes = {p.name: oct(mode(p)) for p in files if p.exists()}
        ledger.close()
    finally:
        os.umask(old)
    assert modes["ledger.sqlite"] == oct(0o600), modes
    assert set(modes.values()) == {oct(0o600)}, modes


def test_an_existing_ledger_keeps_the_mode_its_operator_gave_it(tmp_path):
    """Opening an existing ledger changes nothing about its mode (the operator decides)."""
    path = tmp_path / "ledger.sqlite"
    open_ledger(path).close()
    path.chmod(0o640)
    open_ledger(path).close()
    assert mode(path) == 0o640


def test_curve_secret_certificates_are_generated_owner_only(tmp_path):
    """`keys generate` writes the secret certificate 0600 (the public one may be shared)."""
    old = os.umask(0o022)
    try:
        public, secret = generate(tmp_path / "keys", "treasury")
    finally:
        os.umask(old)
    assert mode(secret) == 0o600
