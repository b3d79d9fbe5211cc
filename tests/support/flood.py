"""A misbehaving but authorised client, a polite one, and /proc readings, for flood tests.

The flooder runs in its own process (`python -m tests.support.flood ...`, started by
`Flooder`), with several DEALER sockets under one client certificate. Each socket keeps
up to `window` requests in flight (pipelined: it sends without waiting for replies, and
reads replies as they come), so the treasury always has a queue from it. Its intents are
all ones the policy rejects (unknown destination, over the per-transfer cap, stale),
so each costs the treasury a journaled row and an alert, never a withdrawal. When its
time is up it stops sending, waits for every outstanding reply (bounded) and prints
one JSON line: sent, answered, outcomes by reason code, and the intent ids that were
rejected (a count, the ids are in the ledger).

The polite client is `timed_intents`: one intent at a time through the real
`IntentClient` (the signal bot's Lazy Pirate client), timing each decision round trip.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import zmq

from common import messages
from common.curve import configure_client, load_key_pair, load_public_key

ROOT = Path(__file__).resolve().parents[2]

# What the flooder asks for, in turn: each is a rejection under E2E_POLICY-like policies.
REJECTED_SHAPES = (
    ("nowhere", "25", None),             # unknown_destination
    ("cold-wallet", "5000", None),       # over_transfer_limit (cap 1000)
    ("cold-wallet", "25", 1),            # stale_intent (created_at far in the past)
)


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile, p in 0..100."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, int(round(p / 100 * (len(ordered) - 1)))))
    return ordered[index]


# -- /proc readings ------------------------------------------------------------------------

def rss_mb(pid: int) -> float:
    """Resident set size of a process, from /proc/PID/status (VmRSS), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads), from /proc/PID/stat."""
    text = Path(f"/proc/{pid}/stat").read_text()
    fields = text[text.rindex(")") + 2:].split()   # the command name may hold spaces
    utime, stime = int(fields[11]), int(fields[12])  # fields 14 and 15 of proc(5)
    return (utime + stime) / os.sysconf("SC_CLK_TCK")


# -- the polite client ---------------------------------------------------------------------

def timed_intents(client, prefix: str, count: int, make_intent: Callable[[str], messages.TransferIntent],
                  *, pause_s: float = 0.0) -> tuple[list[float], list]:
    """Send `count` intents one at a time; return each round trip (seconds) and each reply."""
    times, replies = [], []
    for n in range(count):
        intent = make_intent(f"{prefix}-{n}")
        start = time.perf_counter()
        reply = client.send_intent(intent)
        times.append(time.perf_counter() - start)
        replies.append(reply)
        if pause_s:
            time.sleep(pause_s)
    return times, replies


# -- the flooder (its own process) ---------------------------------------------------------

@dataclass(frozen=True)
class FloodResult:
    sent: int
    answered: int
    outcomes: dict[str, int]      # "rejected/unknown_destination" -> n, "error/malformed" -> n
    seconds: float                # sending time
    drain_seconds: float          # from the end of sending to the last reply

    @property
    def rejected(self) -> int:
        return sum(n for key, n in self.outcomes.items() if key.startswith("rejected/"))

    @property
    def rate(self) -> float:
        return self.sent / self.seconds if self.seconds else 0.0


def _frame(prefix: str, n: int) -> bytes:
    destination, amount, created_at = REJECTED_SHAPES[n % len(REJECTED_SHAPES)]
    return messages.encode(messages.TransferIntent(
        intent_id=f"{prefix}{n}", coin="USDT", network="TRX", destination=destination, amount=amount,
        reason="flood", created_at=created_at if created_at is not None else int(time.time() * 1000)))


def flood(endpoint: str, secret_file: Path, server_public_file: Path, *, sockets: int, window: int,
          seconds: float, prefix: str, stop_file: Path | None = None,
          drain_timeout: float = 30.0) -> FloodResult:
    """Send for `seconds`, or until `stop_file` exists; then collect every outstanding reply."""
    keys = load_key_pair(secret_file, "flooder")
    server_public = load_public_key(server_public_file, "treasury")
    context = zmq.Context()
    socks = []
    for _ in range(sockets):
        sock = context.socket(zmq.DEALER)
        sock.setsockopt(zmq.LINGER, 0)
        configure_client(sock, keys, server_public)
        sock.connect(endpoint)
        socks.append(sock)
    poller = zmq.Poller()
    for sock in socks:
        poller.register(sock, zmq.POLLIN)
    in_flight = {sock: 0 for sock in socks}
    outcomes: Counter[str] = Counter()
    sent = answered = 0

    def read_ready(timeout_ms: int) -> None:
        nonlocal answered
        for sock, _ in poller.poll(timeout_ms):
            while True:
                try:
                    parts = sock.recv_multipart(zmq.NOBLOCK)
                except zmq.Again:
                    break
                in_flight[sock] -= 1
                answered += 1
                reply = messages.decode_reply(parts[-1])
                if isinstance(reply, messages.Decision):
                    outcomes[f"{reply.outcome}/{reply.reason_code}"] += 1
                else:
                    outcomes[f"{type(reply).__name__.lower()}/{getattr(reply, 'code', '')}"] += 1

    start = time.monotonic()
    stop_at = start + seconds
    next_stop_check = start
    while time.monotonic() < stop_at:
        if stop_file is not None and time.monotonic() >= next_stop_check:
            if stop_file.exists():
                break
            next_stop_check = time.monotonic() + 0.05
        for sock in socks:
            while in_flight[sock] < window:
                try:
                    sock.send_multipart([b"", _frame(prefix, sent)], zmq.NOBLOCK)
                except zmq.Again:
                    break
                in_flight[sock] += 1
                sent += 1
        read_ready(5)
    sending = time.monotonic() - start
    drain_deadline = time.monotonic() + drain_timeout
    while sum(in_flight.values()) > 0 and time.monotonic() < drain_deadline:
        read_ready(100)
    drained = time.monotonic() - start - sending
    for sock in socks:
        sock.close(linger=0)
    context.term()
    return FloodResult(sent, answered, dict(outcomes), sending, drained)


class Flooder:
    """Runs `flood` in a child process until `stop()` (or `seconds`, a bound); `result()`
    waits for it and returns a FloodResult."""

    def __init__(self, endpoint: str, secret_file: Path, server_public_file: Path, *, workdir: Path,
                 sockets: int = 4, window: int = 200, seconds: float = 120.0, prefix: str = "flood-") -> None:
        self.stop_file = workdir / "flooder.stop"
        self.stop_file.unlink(missing_ok=True)
        argv = [sys.executable, "-m", "tests.support.flood", endpoint, str(secret_file),
                str(server_public_file), "--sockets", str(sockets), "--window", str(window),
                "--seconds", str(seconds), "--prefix", prefix, "--stop-file", str(self.stop_file)]
        self.seconds = seconds
        log_path = workdir / "flooder.log"
        self.stderr = open(log_path, "wb")
        self.popen = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=self.stderr,
                                      env={**os.environ, "PYTHONPATH": str(ROOT)})

    @property
    def pid(self) -> int:
        return self.popen.pid

    def running(self) -> bool:
        return self.popen.poll() is None

    def stop(self) -> None:
        """Ask it to stop sending; it then collects its outstanding replies and exits."""
        self.stop_file.touch()

    def result(self, timeout: float = 60.0) -> FloodResult:
        """Wait for it to end (call `stop()` first, or it sends for `seconds`)."""
        try:
            out, _ = self.popen.communicate(timeout=timeout)
        finally:
            self.stderr.close()
        if self.popen.returncode != 0:
            raise AssertionError(f"flooder exited {self.popen.returncode}")
        data = json.loads(out.decode().strip().splitlines()[-1])
        return FloodResult(**data)

    def kill(self) -> None:
        if self.popen.poll() is None:
            self.popen.kill()
            self.popen.wait(10)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="send rejected intents as fast as possible")
    parser.add_argument("endpoint")
    parser.add_argument("secret_file", type=Path)
    parser.add_argument("server_public_file", type=Path)
    parser.add_argument("--sockets", type=int, default=4)
    parser.add_argument("--window", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--prefix", default="flood-")
    parser.add_argument("--stop-file", type=Path, default=None, help="stop sending once this file exists")
    args = parser.parse_args(argv)
    result = flood(args.endpoint, args.secret_file, args.server_public_file, sockets=args.sockets,
                   window=args.window, seconds=args.seconds, prefix=args.prefix, stop_file=args.stop_file)
    print(json.dumps(result.__dict__))
    return 0


if __name__ == "__main__":
    sys.exit(main())
