"""tests/unit is pure code only: no SQLite, sockets, ZeroMQ, processes or temporary files.

Each test here runs with those doors shut, so a test that needs one fails at once with a
message saying where it belongs (tests/integration), instead of the tier drifting. Reading
the repository's own files (a shipped config, a doc) stays allowed: that is the code
under test, not the test's own I/O.
"""

from __future__ import annotations

import socket
import sqlite3
import subprocess

import pytest

_WHY = "tests/unit is pure code only; a test that needs {what} belongs in tests/integration"


def _refuse(what: str):
    def refused(*args, **kwargs):
        raise AssertionError(_WHY.format(what=what))
    return refused


@pytest.fixture(autouse=True)
def _no_io_in_unit_tests(monkeypatch):
    monkeypatch.setattr(sqlite3, "connect", _refuse("SQLite"))
    monkeypatch.setattr(socket, "socket", _refuse("a socket"))
    monkeypatch.setattr(subprocess, "Popen", _refuse("a process"))
    try:
        import zmq
    except ImportError:  # pragma: no cover - zmq is a project dependency
        return
    # A context alone opens nothing (bootstrap tests build one); its sockets are the I/O.
    monkeypatch.setattr(zmq.Context, "socket", _refuse("a ZeroMQ socket"))


@pytest.fixture
def tmp_path():
    raise AssertionError(_WHY.format(what="files (tmp_path)"))


@pytest.fixture
def tmp_path_factory():
    raise AssertionError(_WHY.format(what="files (tmp_path_factory)"))
