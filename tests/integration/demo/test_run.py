"""demo/run.py: the checks before supervisord starts, and what `make demo` prints."""

from __future__ import annotations

import socket
from pathlib import Path

from demo.prepare import DemoFiles, DemoPorts, prepare
from demo.run import banner, busy_ports, epilogue, inspect_hints, supervisor_answers
from demo.story import Story
from tests.support.ports import free_port


def test_a_stale_socket_file_does_not_count_as_a_running_demo(tmp_path):
    """Missing or stale: no; a listening unix socket: yes (a second demo must not start beside it)."""
    path = tmp_path / "s.sock"
    assert not supervisor_answers(path)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as server:
        server.bind(str(path))
        server.listen()
        assert supervisor_answers(path)
    assert path.exists() and not supervisor_answers(path)   # left behind, nobody listening


def test_a_busy_port_is_reported_with_the_variable_that_moves_it():
    """Something already listens on the webhook port: named as DEMO_WEBHOOK_PORT."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        taken = server.getsockname()[1]
        ports = DemoPorts(free_port(), free_port(), taken, free_port(), free_port())
        assert ("DEMO_WEBHOOK_PORT", taken) in busy_ports(ports)


def test_the_banner_says_what_comes_and_how_to_stop_and_the_end_how_to_inspect(tmp_path, monkeypatch):
    """Start: the five programs, the milestones, Ctrl-C; end: the checklist and treasuryctl commands."""
    monkeypatch.chdir(tmp_path)
    prepared = prepare(tmp_path, DemoPorts(17790, 17725, 17780, 17701, 17702))
    text = "\n".join(banner(prepared, DemoPorts(17790, 17725, 17780, 17701, 17702), Path(".venv/bin")))
    for expected in ("sandbox", "smtp-sink", "treasury", "signal", "feeder", "Ctrl-C", "http://127.0.0.1:17780/signal",
                     "supervisorctl -c supervisord.conf status", "first run"):
        assert expected in text
    end = "\n".join(epilogue(Story(), DemoFiles(tmp_path), Path(".venv/bin")))
    assert "[ ] the sweep's withdrawal completed" in end and "not seen" in end
    hints = "\n".join(inspect_hints(DemoFiles(tmp_path), Path(".venv/bin")))
    assert ".venv/bin/treasuryctl status --env-file var/treasury.env" in hints
    assert ".venv/bin/treasuryctl list --env-file var/treasury.env" in hints
