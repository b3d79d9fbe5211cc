"""Real processes for end-to-end tests: started from the console scripts, logs kept, stopped."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Sequence

from tests.support.waiting import wait_until

BIN = Path(sys.executable).parent


class Proc:
    """One child process whose combined output goes to a log file we can search."""

    def __init__(self, name: str, argv: Sequence[str], log_path: Path, *,
                 env: dict[str, str] | None = None, cwd: Path | None = None) -> None:
        self.name = name
        self.argv = list(argv)
        self.log_path = log_path
        self.env = env
        self.cwd = cwd
        self.popen: subprocess.Popen | None = None

    def start(self) -> "Proc":
        full_env = dict(os.environ)
        full_env.update(self.env or {})
        full_env.setdefault("PYTHONUNBUFFERED", "1")
        log = open(self.log_path, "ab")
        self.popen = subprocess.Popen(self.argv, stdout=log, stderr=subprocess.STDOUT,
                                      env=full_env, cwd=self.cwd, start_new_session=True)
        log.close()
        return self

    @property
    def pid(self) -> int:
        assert self.popen is not None
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def wait_for_log(self, text: str, timeout: float = 15.0) -> None:
        wait_until(lambda: text in self.log() or self._died(), timeout=timeout,
                   what=f"{self.name} to log {text!r}")
        if text not in self.log():
            raise AssertionError(f"{self.name} exited before logging {text!r}:\n{self.log()[-3000:]}")

    def _died(self) -> bool:
        return not self.alive()

    def kill9(self) -> None:
        if self.alive():
            os.killpg(self.pid, signal.SIGKILL)
            self.popen.wait(timeout=10)

    def terminate(self, timeout: float = 10.0) -> int:
        """SIGTERM, wait up to `timeout`, then SIGKILL; return the exit status."""
        if self.popen is None:
            return 0
        if self.alive():
            os.killpg(self.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.pid, signal.SIGKILL)
                self.popen.wait(timeout=10)
        return self.popen.returncode

    def wait_exit(self, timeout: float = 15.0) -> int:
        assert self.popen is not None
        return self.popen.wait(timeout=timeout)


def script(name: str) -> str:
    """The path of one of the project's console scripts in the running venv."""
    return str(BIN / name)
