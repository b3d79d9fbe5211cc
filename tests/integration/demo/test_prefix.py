"""demo/prefix.py: prefixed lines, the wrapped program's exit status, signals passed on once."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys

import pytest

from tests.support.ports import free_port
from tests.support.waiting import wait_until


def wrap(*args: str, log) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "demo.prefix", *args], stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)


def test_the_wrapped_programs_exit_status_and_output_come_through(tmp_path):
    """Exit 3 stays 3; stdout and stderr are both prefixed."""
    log = tmp_path / "out.log"
    with open(log, "ab") as out:
        proc = wrap("x", "--", sys.executable, "-c", "import sys; print('out'); print('err', file=sys.stderr); sys.exit(3)",
                    log=out)
    assert proc.wait(15) == 3
    assert log.read_text().splitlines() == ["x         | out", "x         | err"]


def test_a_group_sigterm_reaches_the_program_exactly_once(tmp_path):
    """supervisord's stopasgroup signals the wrapper's group; the program sees one TERM and exits 0."""
    program = ("import signal, sys, time\n"
               "seen = []\n"
               "signal.signal(signal.SIGTERM, lambda *a: seen.append(1))\n"
               "print('ready', flush=True)\n"
               "while not seen: time.sleep(0.01)\n"
               "time.sleep(0.3)\n"
               "print('terms', len(seen), flush=True)\n")
    log = tmp_path / "out.log"
    with open(log, "ab") as out:
        proc = wrap("x", "--", sys.executable, "-c", program, log=out)
    wait_until(lambda: "ready" in log.read_text(), timeout=15, what="the program to start")
    os.killpg(proc.pid, signal.SIGTERM)
    assert proc.wait(15) == 0
    assert "x         | terms 1" in log.read_text()


def test_it_waits_for_an_after_port_and_gives_up_with_status_1(tmp_path):
    """Nothing listens: exit 1 after --wait-seconds, naming what it waited for; the program never ran."""
    port = free_port()
    log = tmp_path / "out.log"
    with open(log, "ab") as out:
        proc = wrap("x", "--after", f"sandbox=127.0.0.1:{port}", "--wait-seconds", "0.5", "--",
                    sys.executable, "-c", "print('ran')", log=out)
    assert proc.wait(15) == 1
    text = log.read_text()
    assert f"waiting for sandbox on 127.0.0.1:{port}" in text and "gave up" in text and "ran" not in text


def test_it_starts_the_program_once_the_port_accepts(tmp_path):
    """A listening port lets the program start."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        log = tmp_path / "out.log"
        with open(log, "ab") as out:
            proc = wrap("x", "--after", f"sandbox=127.0.0.1:{port}", "--", sys.executable, "-c", "print('ran')",
                        log=out)
        assert proc.wait(15) == 0
    assert "x         | ran" in log.read_text()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="parent-death signal is Linux's")
def test_when_supervisord_is_killed_the_program_is_stopped_cleanly(tmp_path):
    """The wrapper's parent dies by SIGKILL: the wrapper gets SIGTERM and stops its program, no orphan."""
    marker = tmp_path / "stopped"
    program = ("import signal, sys, time, pathlib\n"
               "signal.signal(signal.SIGTERM, lambda *a: (pathlib.Path(sys.argv[1]).write_text('term'), sys.exit(0)))\n"
               "print('ready', flush=True)\n"
               "while True: time.sleep(0.05)\n")
    log = tmp_path / "out.log"
    parent_code = ("import subprocess, sys, time\n"
                   f"subprocess.Popen([sys.executable, '-m', 'demo.prefix', 'x', '--', sys.executable, '-c', "
                   f"{program!r}, {str(marker)!r}], stdout=open({str(log)!r}, 'ab'), stderr=subprocess.STDOUT)\n"
                   "time.sleep(60)\n")
    parent = subprocess.Popen([sys.executable, "-c", parent_code], start_new_session=True)
    try:
        wait_until(lambda: "ready" in (log.read_text() if log.exists() else ""), timeout=15, what="the program")
        parent.kill()
        parent.wait(10)
        # Wait for the text, not the file: write_text creates the file before it writes to it.
        wait_until(lambda: marker.exists() and marker.read_text() == "term", timeout=15,
                   what="the program to get SIGTERM")
    finally:
        if parent.poll() is None:
            parent.kill()
    assert marker.read_text() == "term"
