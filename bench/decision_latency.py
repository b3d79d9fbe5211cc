"""The treasury's decision round trip and throughput, next to raw baselines, in one run.

What runs (real processes, loopback, CURVE everywhere):
- a sandbox exchange and a real `treasury-bot run` with a policy whose limits never bind,
  so every intent is decided, journaled and accepted (the executor is held back by a
  long `min_seconds_between_withdrawals`, so it does not compete for the CPU);
- the baseline: a raw pyzmq CURVE ROUTER (with a ZAP allow-list, in its own process)
  that, for each request, commits one row to a WAL SQLite file with synchronous=FULL
  and echoes the frame back: the least any durable decision service must do.

Figures:
- p1: one client, one request at a time: the treasury's decision round trip p50/p99
  next to the baseline's. p1_ratio = treasury p50 / baseline p50 (target <= 1.2).
- p2: 16 concurrent clients: the treasury's decisions per second next to the per-commit
  fsync ceiling (1 / the p50 of one FULL-sync commit, measured here on the same disk).
  p2_ratio = treasury decisions/s / ceiling (target >= 3: group commit at work).

Usage: .venv/bin/python bench/decision_latency.py [--requests 2000] [--seconds 5]
Ends with: RESULT p1_ratio=... p2_ratio=... (and the raw figures)
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import sqlite3
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import zmq  # noqa: E402
from zmq.auth.thread import ThreadAuthenticator  # noqa: E402

from common import messages  # noqa: E402
from common.curve import configure_client, configure_server, load_key_pair, load_public_key  # noqa: E402
from demo.policy_text import CoinTable, DestinationTable, policy_toml  # noqa: E402
from tests.support.sandbox import DEMO_TRX_ADDRESS, start_sandbox  # noqa: E402
from tests.support.treasury import make_curve  # noqa: E402
from tests.support.treasury_proc import TreasuryProcess  # noqa: E402

# Every bench client is "signal": a budget it never reaches, so that every request is
# decided and journaled (the default 600 a minute would answer most as client_rate_limited).
BENCH_POLICY = policy_toml(
    [DestinationTable("cold-wallet", DEMO_TRX_ADDRESS)],
    coins={"USDT": CoinTable(max_per_transfer="1000", window_cap="100000000000")},
    max_transfers_per_hour=100_000_000, min_seconds_between_withdrawals=100_000,
    poll_interval_seconds=60, stuck_after_minutes=100_000, client_budgets={"signal": 1_000_000})

CLIENTS = 16


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, int(round(p / 100 * (len(ordered) - 1)))))
    return ordered[index]


# -- the raw baseline: CURVE echo + one FULL-sync commit per request -----------------------------

def baseline_server(endpoint: str, secret_file: str, clients_dir: str, db_path: str, ready, stop) -> None:
    context = zmq.Context()
    auth = ThreadAuthenticator(context)
    auth.start()
    auth.configure_curve(domain="*", location=clients_dir)
    sock = context.socket(zmq.ROUTER)
    configure_server(sock, load_key_pair(Path(secret_file), "bench"))
    sock.bind(endpoint)
    conn = sqlite3.connect(db_path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("CREATE TABLE IF NOT EXISTS echo (seq INTEGER PRIMARY KEY, body BLOB)")
    ready.set()
    poller = zmq.Poller()
    poller.register(sock, zmq.POLLIN)
    while not stop.is_set():
        if not poller.poll(100):
            continue
        frames = sock.recv_multipart()
        conn.execute("BEGIN")
        conn.execute("INSERT INTO echo(body) VALUES (?)", (frames[-1],))
        conn.execute("COMMIT")
        sock.send_multipart(frames)
    sock.close(0)
    auth.stop()
    context.term()


def commit_p50_ms(db_path: str, count: int = 500) -> float:
    conn = sqlite3.connect(db_path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("CREATE TABLE IF NOT EXISTS t (seq INTEGER PRIMARY KEY, body BLOB)")
    times = []
    for _ in range(count):
        start = time.perf_counter()
        conn.execute("BEGIN")
        conn.execute("INSERT INTO t(body) VALUES (?)", (b"x" * 200,))
        conn.execute("COMMIT")
        times.append(time.perf_counter() - start)
    conn.close()
    return percentile(times, 50) * 1000


# -- clients -------------------------------------------------------------------------------------

def req_socket(context, endpoint: str, keys, server_public: bytes) -> zmq.Socket:
    sock = context.socket(zmq.REQ)
    sock.setsockopt(zmq.LINGER, 0)
    configure_client(sock, keys, server_public)
    sock.connect(endpoint)
    return sock


def intent_frame(prefix: str, n: int) -> bytes:
    return messages.encode(messages.TransferIntent(
        intent_id=f"{prefix}-{n}", coin="USDT", network="TRX", destination="cold-wallet",
        amount="10", reason="bench", created_at=int(time.time() * 1000)))


def round_trips(endpoint: str, keys, server_public: bytes, count: int, frame_of) -> list[float]:
    context = zmq.Context.instance()
    sock = req_socket(context, endpoint, keys, server_public)
    for n in range(50):  # warm up: connection, CURVE handshake, caches
        sock.send(frame_of(f"warm{n}"))
        sock.recv()
    times = []
    for n in range(count):
        frame = frame_of(n)
        start = time.perf_counter()
        sock.send(frame)
        sock.recv()
        times.append(time.perf_counter() - start)
    sock.close()
    return times


def load_worker(endpoint: str, secret_file: str, public_file: str, prefix: str, threads: int,
                seconds: float, result_queue) -> None:
    keys = load_key_pair(Path(secret_file), "bench")
    server_public = load_public_key(Path(public_file), "bench")
    context = zmq.Context()
    counts = [0] * threads
    start_at = time.monotonic() + 1.0
    stop_at = start_at + seconds

    def run(index: int) -> None:
        sock = req_socket(context, endpoint, keys, server_public)
        n = 0
        while time.monotonic() < start_at:
            sock.send(intent_frame(f"{prefix}w{index}", n))
            sock.recv()
            n += 1
        done = 0
        while time.monotonic() < stop_at:
            sock.send(intent_frame(f"{prefix}{index}", n))
            reply = messages.decode_reply(sock.recv())
            assert reply.outcome == "accepted", reply
            n += 1
            done += 1
        counts[index] = done
        sock.close()

    workers = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    result_queue.put(sum(counts))
    context.term()


def throughput(endpoint: str, curve, seconds: float) -> float:
    processes = 2
    queue = mp.Queue()
    workers = [mp.Process(target=load_worker, args=(
        endpoint, str(curve.client_secrets["signal"]), str(curve.treasury_public), f"t{p}-",
        CLIENTS // processes, seconds, queue)) for p in range(processes)]
    for worker in workers:
        worker.start()
    total = sum(queue.get(timeout=seconds + 60) for _ in workers)
    for worker in workers:
        worker.join()
    return total / seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=2000, help="single-client round trips per system")
    parser.add_argument("--seconds", type=float, default=5.0, help="duration of the 16-client load")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-decision-") as folder:
        tmp = Path(folder)
        sandbox = start_sandbox(tmp, persistent=False)
        treasury = TreasuryProcess(tmp, sandbox, policy_text=BENCH_POLICY, poll_seconds=30,
                                   extra_env={"LOG_LEVEL": os.environ.get("BENCH_TREASURY_LOG_LEVEL", "INFO")}).start()
        base_curve = make_curve(tmp / "baseline")
        base_endpoint = f"tcp://127.0.0.1:{_free_port()}"
        ready, stop = mp.Event(), mp.Event()
        baseline = mp.Process(target=baseline_server, args=(
            base_endpoint, str(base_curve.treasury_secret), str(base_curve.clients_dir),
            str(tmp / "baseline.sqlite"), ready, stop))
        baseline.start()
        ready.wait(10)
        try:
            keys = treasury.curve.keys("signal")
            base_keys = base_curve.keys("signal")
            ceiling_commit_ms = commit_p50_ms(str(tmp / "ceiling.sqlite"))
            base_times = round_trips(base_endpoint, base_keys, base_curve.server_public, args.requests,
                                     lambda n: intent_frame("base", n))
            treasury_times = round_trips(treasury.intent_endpoint, keys, treasury.curve.server_public,
                                         args.requests, lambda n: intent_frame("single", n))
            rate = throughput(treasury.intent_endpoint, treasury.curve, args.seconds)
        finally:
            stop.set()
            baseline.join(10)
            treasury.terminate()
            sandbox.stop()
    base_p50, base_p99 = percentile(base_times, 50) * 1000, percentile(base_times, 99) * 1000
    t_p50, t_p99 = percentile(treasury_times, 50) * 1000, percentile(treasury_times, 99) * 1000
    ceiling = 1000 / ceiling_commit_ms
    print(f"{'':44} {'p50 ms':>9} {'p99 ms':>9}")
    print(f"{'raw CURVE echo + 1 FULL-sync commit':44} {base_p50:9.3f} {base_p99:9.3f}")
    print(f"{'treasury decision round trip (1 client)':44} {t_p50:9.3f} {t_p99:9.3f}")
    print(f"one FULL-sync commit p50: {ceiling_commit_ms:.3f} ms -> per-commit ceiling {ceiling:,.0f} commits/s")
    print(f"treasury with {CLIENTS} concurrent clients: {rate:,.0f} decisions/s")
    p1 = t_p50 / base_p50
    p2 = rate / ceiling
    print(f"RESULT p1_ratio={p1:.3f} p2_ratio={p2:.3f} treasury_p50_ms={t_p50:.3f} "
          f"treasury_p99_ms={t_p99:.3f} baseline_p50_ms={base_p50:.3f} baseline_p99_ms={base_p99:.3f} "
          f"decisions_per_s={rate:.0f} fsync_ceiling_per_s={ceiling:.0f}")
    return 0


def _free_port() -> int:
    import socket
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


if __name__ == "__main__":
    sys.exit(main())
