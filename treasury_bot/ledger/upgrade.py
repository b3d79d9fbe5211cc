"""The backup an upgrade takes first (issue 16 item 4): before a migration writes to a
ledger of an older schema, SQLite's online backup copies it into a NEW file beside it,
`<ledger>.v<version>-backup-<UTC time>`, mode 0600, verified (integrity_check, then the
journal's hash chain where the old file has one: schema 3 and later). No verified copy,
no migration: the open fails and the file is left as it was.

The copy code is the one `treasuryctl backup` uses (ledger/chain.py `backup`)."""

from __future__ import annotations

import time
from pathlib import Path

from treasury_bot.ledger import chain


def backup_name(path: Path, version: int, now_s: float) -> Path:
    """`ledger.sqlite.v2-backup-20261203T132501.123Z`: the version it holds, when."""
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(now_s)) + f".{int(now_s * 1000) % 1000:03d}Z"
    return path.with_name(f"{path.name}.v{version}-backup-{stamp}")


def backup_before_upgrade(path: Path, version: int, now_s: float | None = None) -> Path:
    """Copy the ledger at `version` beside it, verified; return the copy's path. Openers
    racing on one old file (the treasury's threads) each keep their own copy: a name taken
    gets a counter, never an overwrite."""
    now_s = time.time() if now_s is None else now_s
    target = backup_name(path, version, now_s)
    for n in range(1, 100):
        try:
            return chain.backup(path, target, chain_required=False).path
        except chain.ChainFileError as exc:
            if exc.code != "backup_exists":
                raise
            target = target.with_name(f"{backup_name(path, version, now_s).name}-{n}")
    raise chain.ChainFileError("backup_exists", f"no free backup name beside {path}")
