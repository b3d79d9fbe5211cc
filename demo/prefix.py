"""Run one program with its name in front of every output line: `treasury  | ...`.

    python -m demo.prefix NAME [--after LABEL=HOST:PORT ...] [--wait-seconds 60] -- COMMAND [ARG ...]

supervisord 4 cannot prefix a program's lines by itself, and the demo shows five programs
in one terminal; this is the smallest thing that can. It also orders the start by
readiness rather than by luck: before starting COMMAND it waits (bounded) until every
`--after` port accepts a TCP connection (supervisord's `priority` orders the spawns, it
does not wait for a program to be ready).

Exit status: COMMAND's own (a COMMAND killed by a signal makes this wrapper die of the
same signal), so supervisord judges the real program. A stop requested while still
waiting exits 0; a port that never opens exits 1.

Signals: COMMAND runs in a process group of its own and every TERM, INT, HUP, QUIT, USR1
or USR2 this wrapper receives is passed on to that group exactly once. So supervisord's
`stopasgroup` (which signals the wrapper's group) stops COMMAND once, not twice, and
`supervisorctl signal` reaches it too. If the wrapper itself is killed (`killasgroup`'s
SIGKILL after `stopwaitsecs`), Linux's parent-death signal kills COMMAND with it. On other
systems COMMAND stays in the wrapper's group, so the group's SIGKILL reaches it, and a
group signal may reach it twice (harmless for the demo's programs). And if supervisord
itself is killed, the wrapper gets SIGTERM (Linux) and stops COMMAND cleanly, so no
program outlives it holding the demo's ports.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
from typing import BinaryIO, Sequence

FORWARDED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2)
WIDTH = 10            # the longest demo program name, "smtp-sink", plus one
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


class _StopWhileWaiting(Exception):
    pass


def label(name: str) -> bytes:
    return f"{name:<{WIDTH}}| ".encode()


def relay(source: BinaryIO, sink: BinaryIO, prefix: bytes) -> None:
    """Copy lines from `source` to `sink` with `prefix`, flushing each (pure but for I/O)."""
    for line in iter(source.readline, b""):
        sink.write(prefix + (line if line.endswith(b"\n") else line + b"\n"))
        sink.flush()


def parse_after(text: str) -> tuple[str, str, int]:
    """`sandbox=127.0.0.1:7790` -> ("sandbox", "127.0.0.1", 7790)."""
    name, _, address = text.rpartition("=")
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise argparse.ArgumentTypeError(f"--after wants LABEL=HOST:PORT, not {text!r}")
    return (name or address), host.strip("[]"), int(port)


def wait_for_port(host: str, port: int, deadline: float) -> bool:
    while True:
        try:
            with socket.create_connection((host, port), timeout=1.0):
                return True
        except OSError:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.2)


def _term_when_parent_dies() -> None:
    """This wrapper gets SIGTERM (and so stops its program cleanly) if supervisord is killed."""
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


def _die_with_parent() -> None:
    """In the child, before exec: own process group, and SIGKILL when the wrapper dies."""
    os.setpgid(0, 0)
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m demo.prefix", description=__doc__.split("\n\n")[0])
    parser.add_argument("name", help="the program's name, put in front of every line")
    parser.add_argument("--after", action="append", type=parse_after, default=[], metavar="LABEL=HOST:PORT",
                        help="start only once this TCP port accepts connections (repeatable)")
    parser.add_argument("--wait-seconds", type=float, default=60.0, help="how long to wait for --after ports")
    argv = list(sys.argv[1:] if argv is None else argv)
    if "--" not in argv:
        parser.error("put the command after --")
    split = argv.index("--")
    args, command = parser.parse_args(argv[:split]), argv[split + 1:]
    if not command:
        parser.error("no COMMAND given after --")
    out = sys.stdout.buffer
    prefix = label(args.name)

    def say(text: str) -> None:
        out.write(prefix + f"[demo.prefix] {text}\n".encode())
        out.flush()

    def stop_waiting(signum, frame) -> None:
        raise _StopWhileWaiting()

    for sig in FORWARDED:
        signal.signal(sig, stop_waiting)
    linux = sys.platform.startswith("linux")
    if linux:
        _term_when_parent_dies()
    try:
        deadline = time.monotonic() + args.wait_seconds
        for what, host, port in args.after:
            if not wait_for_port(host, port, 0):
                say(f"waiting for {what} on {host}:{port}")
                if not wait_for_port(host, port, deadline):
                    say(f"gave up: {what} on {host}:{port} did not accept a connection "
                        f"within {args.wait_seconds:g} s")
                    return 1
    except _StopWhileWaiting:
        say("stopped while waiting; nothing was started")
        return 0

    try:
        child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                 preexec_fn=_die_with_parent if linux else None)
    except OSError as exc:
        say(f"cannot start {command[0]}: {exc.strerror}")
        return 127

    def forward(signum, frame) -> None:
        try:
            if linux:
                os.killpg(child.pid, signum)
            else:
                child.send_signal(signum)
        except ProcessLookupError:
            pass

    for sig in FORWARDED:
        signal.signal(sig, forward)
    try:
        relay(child.stdout, out, prefix)
    except BrokenPipeError:  # supervisord went away: keep draining so the child never blocks
        for _ in iter(child.stdout.readline, b""):
            pass
    status = child.wait()
    if status < 0:  # killed by a signal: die the same way so supervisord reports it truly
        signal.signal(-status, signal.SIG_DFL)
        os.kill(os.getpid(), -status)
    return status


if __name__ == "__main__":
    sys.exit(main())
