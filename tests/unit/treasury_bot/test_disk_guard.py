"""The ledger disk guard (issue 10 defect 6): statvfs at most once a second, one episode per low spell."""

from __future__ import annotations

import os
from pathlib import Path

from treasury_bot.disk_guard import MB, DiskGuard


class FakeFs:
    def __init__(self, free_mb: int) -> None:
        self.free_mb = free_mb
        self.calls = 0

    def statvfs(self, path: str) -> os.statvfs_result:
        self.calls += 1
        # (bsize, frsize, blocks, bfree, bavail, files, ffree, favail, flag, namemax)
        return os.statvfs_result((4096, 4096, 10**6, 0, self.free_mb * MB // 4096, 0, 0, 0, 0, 255))


def test_low_space_is_one_episode_until_space_is_freed():
    fs = FakeFs(100)
    guard = DiskGuard(Path("/var/lib/treasury/ledger.sqlite3"), 64, fs.statvfs)
    assert guard.path == "/var/lib/treasury"
    assert not guard.check(0.0).low
    fs.free_mb = 63
    first = guard.check(1.0)
    assert first.low and first.episode_started and first.free_mb == 63
    again = guard.check(2.0)
    assert again.low and not again.episode_started
    fs.free_mb = 64                              # exactly the minimum is enough
    assert not guard.check(3.0).low
    fs.free_mb = 1
    assert guard.check(4.0).episode_started      # a new episode


def test_statvfs_runs_at_most_once_a_second():
    fs = FakeFs(10)
    guard = DiskGuard(Path("/x/ledger.sqlite3"), 64, fs.statvfs)
    for i in range(100):
        guard.check(i / 200)                      # 0 .. 0.495 s
    assert fs.calls == 1
    guard.check(1.0)
    assert fs.calls == 2
