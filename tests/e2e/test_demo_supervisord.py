"""End to end: the demo's real `supervisord.conf` under the real supervisord, in a temp dir.

The config is copied into a temp folder (its paths are `%(here)s/var/...`), `demo.prepare`
writes that folder's `var/` exactly as `make demo` does, and every port is a free one
(the DEMO_*_PORT variables). Then we wait on conditions only: the ledger, the log,
supervisord's own RPC interface.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import time
import xmlrpc.client
from pathlib import Path

import pytest
from supervisor.xmlrpc import SupervisorTransport

from demo.prepare import DemoFiles, DemoPorts, prepare, supervisord_environ
from demo.story import Story
from tests.support.ports import free_port
from tests.support.procs import BIN, script
from tests.support.waiting import Timeout, wait_until

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
LONG_RUNNING = ("sandbox", "smtp-sink", "treasury", "signal")
SWEEP_PATH = ["queued", "submitting", "submitted", "processing", "completed"]


def distinct_free_ports(count: int) -> list[int]:
    ports: list[int] = []
    while len(ports) < count:
        port = free_port()
        if port not in ports:
            ports.append(port)
    return ports


class Demo:
    """supervisord running the demo config from a temp folder, with its output in a file."""

    def __init__(self, folder: Path) -> None:
        shutil.copy(ROOT / "supervisord.conf", folder / "supervisord.conf")
        self.ports = DemoPorts(*distinct_free_ports(5))
        self.files: DemoFiles = prepare(folder, self.ports).files
        self.output = folder / "supervisord.out"
        self.process: subprocess.Popen | None = None

    def start(self) -> "Demo":
        # Append mode: the programs' logs reopen /dev/stdout, which must not truncate it.
        with open(self.output, "ab") as out:
            self.process = subprocess.Popen(
                [script("supervisord"), "-c", str(self.files.config)], cwd=self.files.root,
                env=supervisord_environ(self.ports, os.environ, BIN), stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True)
        wait_until(lambda: self.files.socket.exists() or self.process.poll() is not None, timeout=15,
                   what="supervisord's socket")
        assert self.process.poll() is None, self.log()[-3000:]
        return self

    def log(self) -> str:
        return self.output.read_text(errors="replace")

    def wait(self, condition, *, timeout: float, what: str):
        """wait_until, and on a timeout the end of the log says why."""
        try:
            return wait_until(condition, timeout=timeout, what=what)
        except Timeout as exc:
            raise AssertionError(f"{exc}\n--- supervisord output (end) ---\n{self.log()[-6000:]}") from None

    def rpc(self):
        transport = SupervisorTransport(None, None, f"unix://{self.files.socket}")
        return xmlrpc.client.ServerProxy("http://127.0.0.1", transport=transport).supervisor

    def states(self) -> dict[str, dict]:
        return {info["name"]: info for info in self.rpc().getAllProcessInfo()}

    def ctl(self, *args: str) -> subprocess.CompletedProcess:
        """`supervisorctl -c CONF ...` as from another terminal: no DEMO_* variables at all."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("DEMO_")}
        return subprocess.run([script("supervisorctl"), "-c", str(self.files.config), *args],
                              capture_output=True, text=True, env=env, timeout=30)

    def ledger(self, sql: str, params: tuple = ()) -> list[tuple]:
        conn = sqlite3.connect(f"file:{self.files.ledger}?mode=ro", uri=True, timeout=10)
        try:
            return conn.execute(sql, params).fetchall()
        finally:
            conn.close()

    def completed_sweeps(self) -> list[str]:
        return [row[0] for row in self.ledger(
            "SELECT intent_id FROM intents WHERE intent_id LIKE 'sw-%' AND status = 'completed'")]

    def statuses_of(self, intent_id: str) -> list[str]:
        return [row[0] for row in self.ledger(
            "SELECT t.to_status FROM transitions t JOIN intents i ON i.seq = t.intent_seq"
            " WHERE i.intent_id = ? ORDER BY t.seq", (intent_id,))]

    def story(self) -> Story:
        story = Story()
        for line in self.log().splitlines():
            story.feed(line)
        return story

    def terminate(self, timeout: float = 60.0) -> int:
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else 0
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=timeout)

    def kill(self) -> None:
        """Last resort in a failing test: the whole supervisord session."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)


@pytest.fixture
def demo(tmp_path):
    running = Demo(tmp_path).start()
    try:
        yield running
    finally:
        try:
            running.terminate()
        finally:
            running.kill()


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def test_the_demo_config_runs_the_story_to_a_completed_sweep_and_stops_every_program_cleanly(demo):
    """Real supervisord: orders, refusals, a sweep withdrawn to completed, mails printed; SIGTERM stops all with 0."""
    (sweep,) = demo.wait(demo.completed_sweeps, timeout=60, what="the sweep's withdrawal to be completed")
    assert demo.statuses_of(sweep) == SWEEP_PATH
    demo.wait(lambda: demo.story().complete, timeout=30,
               what="every milestone in the log, the completion mail printed last")
    story = demo.story()
    assert story.sweep_intents == [sweep]
    assert story.reached["orders_placed"] == 3
    assert len(story.mails) >= 3 and any("withdrawal completed" in subject for subject in story.mails)
    log = demo.log()
    for expected in ("reason=duplicate", "reason=unknown_symbol", "reason=below_min_notional",
                     "event=webhook_refused status=401"):
        assert expected in log
    assert "demo-webhook-secret-not-real" not in log and "demo-treasury-secret-not-real" not in log

    demo.wait(lambda: demo.states()["feeder"]["statename"] == "EXITED", timeout=30, what="the feeder to finish")
    states = demo.states()
    assert {name: states[name]["statename"] for name in LONG_RUNNING} == dict.fromkeys(LONG_RUNNING, "RUNNING")
    assert states["feeder"]["exitstatus"] == 0
    status = demo.ctl("status")
    lines = {line.split()[0]: line.split()[1] for line in status.stdout.splitlines() if line.strip()}
    assert lines == {**dict.fromkeys(LONG_RUNNING, "RUNNING"), "feeder": "EXITED"}, status.stdout + status.stderr

    began = time.monotonic()
    assert demo.terminate() == 0
    took = time.monotonic() - began
    log = demo.log()
    for name in LONG_RUNNING:
        assert f"stopped: {name} (exit status 0)" in log, log[-3000:]
    assert "exited: feeder (exit status 0; expected)" in log
    assert "SIGKILL" not in log and "not expected" not in log, log[-3000:]
    assert took < 4 * 15  # each program well within its stopwaitsecs, stopped one priority at a time
    assert "program=treasury logger=treasury event=stopped" in log
    assert "event=signal_bot_stopped" in log
    assert all(port_is_free(port) for port in demo.ports.named().values())
    assert not demo.files.socket.exists()


def test_supervisorctl_stops_both_bots_within_stopwaitsecs_closing_sockets_and_ledger(demo):
    """`supervisorctl stop`: each bot exits 0 in time, its ports reopen, the ledger is closed; both restart."""
    demo.wait(lambda: all(demo.states()[n]["statename"] == "RUNNING" for n in ("treasury", "signal")),
               timeout=30, what="both bots RUNNING")
    demo.wait(demo.completed_sweeps, timeout=60, what="the sweep completed (the ledger in use)")
    for name, ports in (("signal", [demo.ports.webhook]),
                        ("treasury", [demo.ports.intent, demo.ports.event])):
        began = time.monotonic()
        result = demo.ctl("stop", name)
        took = time.monotonic() - began
        assert result.returncode == 0 and f"{name}: stopped" in result.stdout, result.stdout + result.stderr
        info = demo.states()[name]
        assert (info["statename"], info["exitstatus"]) == ("STOPPED", 0)
        assert took < 15, f"{name} took {took:.1f} s to stop"
        assert all(port_is_free(port) for port in ports), f"{name} left a port open"
    log = demo.log()
    assert "event=signal_bot_stopped" in log and "program=treasury logger=treasury event=stopped" in log
    # Every ledger connection closed: SQLite removes the WAL file when the last one closes cleanly.
    wal = demo.files.ledger.with_name(demo.files.ledger.name + "-wal")
    assert not wal.exists() or wal.stat().st_size == 0
    assert demo.ledger("PRAGMA integrity_check") == [("ok",)]

    result = demo.ctl("start", "treasury", "signal")
    assert result.returncode == 0, result.stdout + result.stderr
    demo.wait(lambda: demo.log().count("event=treasury_ready") == 2, timeout=30, what="the treasury ready again")
    demo.wait(lambda: demo.log().count("event=signal_bot_started") == 2, timeout=30, what="the signal bot again")
    assert demo.terminate() == 0
    assert re.search(r"stopped: treasury \(exit status 0\)[\s\S]*stopped: treasury \(exit status 0\)", demo.log())
