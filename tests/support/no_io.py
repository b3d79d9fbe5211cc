"""A guard for tests that prove building an object touches nothing.

`forbid_io(monkeypatch)` makes every way this project reaches the outside raise
`TouchedIO` naming it: opening a socket (TCP, UDP, a name look-up), a ZeroMQ socket, an
HTTP request, a SQLite connection, opening, creating or listing a file or folder. The
test builds the objects under the guard and asserts it returned; `touched` lists any
attempt that a caller swallowed.
"""

from __future__ import annotations

import builtins
import io
import os
import socket
import sqlite3
from pathlib import Path

import pytest
import requests
import zmq


class TouchedIO(AssertionError):
    """Something tried to reach a socket, a file or the network while being built."""


def forbid_io(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    touched: list[str] = []

    def refuse(what: str):
        def refused(*args, **kwargs):
            touched.append(what)
            raise TouchedIO(f"{what} while building: {args[:2]!r}")
        return refused

    for name in ("socket", "create_connection", "getaddrinfo", "gethostbyname", "getfqdn",
                 "create_server", "socketpair"):
        monkeypatch.setattr(socket, name, refuse(f"socket.{name}"))
    monkeypatch.setattr(zmq.Context, "socket", refuse("zmq.Context.socket"))
    monkeypatch.setattr(requests.Session, "request", refuse("requests.Session.request"))
    monkeypatch.setattr(sqlite3, "connect", refuse("sqlite3.connect"))
    monkeypatch.setattr(builtins, "open", refuse("open"))
    monkeypatch.setattr(io, "open", refuse("io.open"))
    for name in ("open", "mkdir", "makedirs", "listdir", "scandir", "stat"):
        monkeypatch.setattr(os, name, refuse(f"os.{name}"))
    for name in ("open", "mkdir", "touch", "read_text", "read_bytes", "write_text", "write_bytes", "exists",
                 "is_file", "stat"):
        monkeypatch.setattr(Path, name, refuse(f"Path.{name}"))
    return touched
