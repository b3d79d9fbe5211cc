"""One bot per state file: the flock is exclusive, waits briefly for a dying holder, and dies with its holder."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from signal_bot.instance_lock import InstanceLock, InstanceLocked
from tests.support.procs import Proc

ROOT = Path(__file__).resolve().parents[3]
HOLDER = """
import sys, time
sys.path.insert(0, {root!r})
from signal_bot.instance_lock import InstanceLock
InstanceLock({state!r}).acquire()
print("holding", flush=True)
time.sleep(60)
"""


def test_a_second_holder_is_refused_until_the_first_releases(tmp_path):
    """acquire() on a held lock raises InstanceLocked (code already_running) after its wait; then succeeds."""
    state = tmp_path / "state.sqlite"
    first = InstanceLock(state).acquire()
    with pytest.raises(InstanceLocked) as caught:
        InstanceLock(state).acquire(wait_seconds=0.2)
    assert caught.value.code == "already_running" and "state.sqlite" in str(caught.value)
    first.release()
    with InstanceLock(state):
        pass


def test_the_lock_of_a_killed_process_is_free_at_once(tmp_path):
    """SIGKILL the holder: the kernel drops its lock, so the next start never waits on a dead bot."""
    state = tmp_path / "state.sqlite"
    holder = Proc("holder", [sys.executable, "-c", HOLDER.format(root=str(ROOT), state=str(state))],
                  tmp_path / "holder.log").start()
    try:
        holder.wait_for_log("holding", timeout=15)
        with pytest.raises(InstanceLocked):
            InstanceLock(state).acquire(wait_seconds=0.1)
    finally:
        holder.kill9()
    lock = InstanceLock(state).acquire(wait_seconds=0.0)
    assert lock.path.read_text().strip().isdigit()
    lock.release()
