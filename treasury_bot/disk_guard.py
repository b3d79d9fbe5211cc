"""Is the ledger's filesystem running out of space? (issue 10 defect 6, docs/design.md section 9)

A client that may send intents may fill the disk, and SQLite on a full disk fails every
write, the executor's and the poller's too. So new intents fail closed (error/internal:
the client retries the same intent_id later, nothing accepted is lost) while free space
is under `[limits] min_free_disk_mb`, which leaves room for the withdrawals in flight to
be followed to their end. The check costs one statvfs, made at most once a second.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

CHECK_EVERY_S = 1.0
MB = 1024 * 1024


@dataclass(frozen=True)
class DiskState:
    low: bool
    free_mb: int
    episode_started: bool   # True once per episode: the first check that found it low


class DiskGuard:
    def __init__(self, path: Path, min_free_mb: int,
                 statvfs: Callable[[str], os.statvfs_result] = os.statvfs) -> None:
        # The folder, not the file: the -wal and -shm files live beside it, same filesystem.
        self.path = str(path.parent if path.suffix else path)
        self.min_free_mb = min_free_mb
        self._statvfs = statvfs
        self._next_check: float | None = None
        self._state = DiskState(False, -1, False)

    def free_bytes(self) -> int:
        st = self._statvfs(self.path)
        return st.f_bavail * st.f_frsize   # what an unprivileged writer may still use

    def check(self, now: float) -> DiskState:
        """The state at monotonic `now`, re-measured at most every CHECK_EVERY_S."""
        if self._next_check is not None and now < self._next_check:
            return DiskState(self._state.low, self._state.free_mb, False)
        self._next_check = now + CHECK_EVERY_S
        free = self.free_bytes()
        low = free < self.min_free_mb * MB
        self._state = DiskState(low, free // MB, low and not self._state.low)
        return self._state
