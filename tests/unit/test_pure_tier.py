"""tests/unit's door guard (tests/unit/conftest.py) is really shut for every test here."""

from __future__ import annotations

import socket
import sqlite3
import subprocess

import pytest
import zmq


@pytest.mark.parametrize("open_door", [
    lambda: sqlite3.connect(":memory:"),
    lambda: socket.socket(),
    lambda: subprocess.Popen(["true"]),
    lambda: zmq.Context.instance().socket(zmq.DEALER),
], ids=["sqlite", "socket", "process", "zmq"])
def test_a_unit_test_that_reaches_for_io_fails_naming_the_integration_tier(open_door):
    """SQLite, a socket, a process and a ZeroMQ socket each raise, pointing at tests/integration."""
    with pytest.raises(AssertionError, match="belongs in tests/integration"):
        open_door()


def test_tmp_path_is_refused_in_the_unit_tier(request):
    """Asking for tmp_path fails: a test that needs files is an integration test."""
    with pytest.raises(AssertionError, match="belongs in tests/integration"):
        request.getfixturevalue("tmp_path")
