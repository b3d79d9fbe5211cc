"""One signal bot per state file: an exclusive `flock` on `<state file>.lock`, held for the
process's life.

Besides keeping two bots from trading one journal, the lock is what start-up recovery
relies on: once this process holds it, the process that used the state file before is
dead (the kernel drops a dead process's locks), so every request it signed was signed
before the moment the lock was taken. From that moment plus recvWindow, none of them can
still be executed by the exchange (signal_bot/orders.py).
"""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path

# A supervisor may restart the bot while the killed one is still being reaped.
DEFAULT_WAIT_SECONDS = 5.0


class InstanceLocked(Exception):
    """Another process holds the state file's lock; `code` is stable."""

    code = "already_running"


class InstanceLock:
    def __init__(self, state_path: Path) -> None:
        self.path = Path(str(state_path) + ".lock")
        self._fd: int | None = None

    def acquire(self, wait_seconds: float = DEFAULT_WAIT_SECONDS) -> "InstanceLock":
        """Take the lock, waiting up to `wait_seconds` for a dying holder; InstanceLocked otherwise."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        deadline = time.monotonic() + wait_seconds
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    os.close(fd)
                    raise InstanceLocked(f"another signal-bot is using {self.path.with_suffix('')} "
                                         f"(it holds {self.path.name})") from None
                time.sleep(0.05)
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor drops the lock
            self._fd = None

    def __enter__(self) -> "InstanceLock":
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()
