"""Webhook-to-order latency of the signal bot, next to a raw signed `requests` POST, in one run.

Starts a sandbox exchange and a signal bot (real processes, loopback), then for N rounds,
rotating the paths so drift hits all alike:
  bot:  t0 just before POST /signal to the bot's webhook;
  raw:  t0 just before signing and POSTing the same order to the sandbox's /api/v3/order
        with `requests` (a kept-alive default session): the baseline of the overhead;
  lean: the same with a session that does not re-read the environment on every request
        (`trust_env = False`), as the bot's exchange session does: shown for comparison.
Each path's latency is the sandbox's `receivedAt` for that clientOrderId (wall-clock ms as
a float, taken when the sandbox starts handling the request) minus t0 (the same host's
wall clock, so both ends read one clock; microsecond resolution). Rounds are paced so one
order is done before the next starts: this measures latency, not queueing. Overhead is
bot minus raw at each percentile. The bot runs as configured for production (each signal
journaled in SQLite with synchronous=FULL - one fsync - before its 202 and its order,
INFO logging). After the rounds, the same kind of commit (one row, synchronous=FULL, WAL)
is timed on a scratch file in the same folder, paced alike: the part of the overhead that
durability costs on this disk.

Usage: .venv/bin/python bench/signal_to_order.py [--signals 300] [--pace-ms 50]
Ends with one line: RESULT overhead_p50_ms=... overhead_p99_ms=... overhead_vs_lean_p50_ms=...
fsync_commit_p50_ms=... (target: overhead p50 <= 1.5 ms)
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from common.curve import generate  # noqa: E402

BIN = Path(sys.executable).parent
SECRET = "bench-secret-not-real-000001"
# The sandbox's demo signal key (sandbox/demo.toml): fake, sandbox only.
API_KEY = "demo-signal-key-000000000000000000000000000000000000000000000000"
API_SECRET = "demo-signal-secret-not-real-000000000000000000000000000000000000"
CONFIG = """
[risk]
symbols = ["BTCUSDT"]
max_quote_per_order = "100000"
max_orders_per_minute = 100000
"""


def free_port() -> int:
    import socket
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(path: Path, text: str, proc: subprocess.Popen, timeout: float = 20.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        content = path.read_text(errors="replace") if path.exists() else ""
        if text in content:
            return content
        if proc.poll() is not None:
            raise SystemExit(f"{proc.args[0]} exited:\n{content[-2000:]}")
        time.sleep(0.02)
    raise SystemExit(f"timed out waiting for {text!r} in {path}")


def start(argv: list[str], log: Path, cwd: Path, env: dict | None = None) -> subprocess.Popen:
    out = open(log, "wb")
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("TREASURY_")}
    full_env.update(env or {})
    return subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, cwd=cwd, env=full_env,
                            start_new_session=True)


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * q
    low, high = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (k - low)


def raw_order(session: requests.Session, base_url: str, client_id: str, offset_ms: int) -> None:
    params = [("symbol", "BTCUSDT"), ("side", "BUY"), ("type", "LIMIT"), ("timeInForce", "GTC"),
              ("quantity", "0.001"), ("price", "30000"), ("newClientOrderId", client_id),
              ("newOrderRespType", "FULL"), ("recvWindow", "5000"),
              ("timestamp", str(int(time.time() * 1000) + offset_ms))]
    body = urlencode(params)
    body += "&signature=" + hmac.new(API_SECRET.encode(), body.encode(), hashlib.sha256).hexdigest()
    answer = session.post(base_url + "/api/v3/order", data=body, timeout=10,
                          headers={"X-MBX-APIKEY": API_KEY, "Content-Type": "application/x-www-form-urlencoded"})
    answer.raise_for_status()


def time_commits(path: Path, count: int, pace_ms: float) -> list[float]:
    """Milliseconds per one-row commit with synchronous=FULL in WAL mode (the journal's), paced like the rounds."""
    db = sqlite3.connect(str(path), isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("CREATE TABLE t (id TEXT PRIMARY KEY, body TEXT)")
    took = []
    for n in range(count):
        t0 = time.perf_counter()
        db.execute("BEGIN IMMEDIATE")
        db.execute("INSERT INTO t VALUES (?, ?)", (f"c{n}", "x" * 120))
        db.execute("COMMIT")
        took.append((time.perf_counter() - t0) * 1000)
        time.sleep(pace_ms / 1000)
    db.close()
    return took


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--signals", type=int, default=300, help="measured rounds per path (default 300)")
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--pace-ms", type=float, default=50.0,
                        help="pause between rounds (default 50 ms: the bot trades one signal at a time, so "
                             "each order must be done before the next signal, or this would measure queueing)")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench-signal-"))
    sandbox_port, webhook_port = free_port(), free_port()
    sandbox = start([str(BIN / "sandbox-exchange"), "--port", str(sandbox_port)], work / "sandbox.log", work)
    bot = None
    try:
        wait_for(work / "sandbox.log", "sandbox listening on", sandbox)
        base_url = f"http://127.0.0.1:{sandbox_port}"
        generate(work / "keys", "signal")
        generate(work / "treasury-keys", "treasury")
        (work / "signal_side").mkdir()
        (work / "signal_side" / "treasury.key").write_bytes((work / "treasury-keys" / "treasury.key").read_bytes())
        env_file = work / "signal.env"
        env_file.write_text(
            f"BINANCE_BASE_URL={base_url}\nSIGNAL_API_KEY={API_KEY}\nSIGNAL_API_SECRET={API_SECRET}\n"
            f"SIGNAL_WEBHOOK_BIND=127.0.0.1:{webhook_port}\nSIGNAL_WEBHOOK_SECRET={SECRET}\n"
            "SIGNAL_CURVE_SECRET_FILE=keys/signal.key_secret\nTREASURY_CURVE_PUBLIC_FILE=signal_side/treasury.key\n"
            f"TREASURY_INTENT_ENDPOINT=tcp://127.0.0.1:{free_port()}\nTREASURY_EVENT_ENDPOINT=tcp://127.0.0.1:{free_port()}\n"
            "SIGNAL_CONFIG_FILE=signal.toml\nSIGNAL_STATE_PATH=state.sqlite\n")
        env_file.chmod(0o600)
        (work / "signal.toml").write_text(CONFIG)
        bot = start([str(BIN / "signal-bot"), "run", "--env-file", str(env_file)], work / "bot.log", work)
        wait_for(work / "bot.log", "event=signal_bot_started", bot)

        webhook = requests.Session()
        raw = requests.Session()
        lean = requests.Session()
        lean.trust_env = False
        offset_ms = requests.get(base_url + "/api/v3/time", timeout=5).json()["serverTime"] - int(time.time() * 1000)
        sent: dict[str, float] = {}
        ack_ms: list[float] = []
        total = args.warmup + args.signals
        rotations = (("bot", "raw", "lean"), ("raw", "lean", "bot"), ("lean", "bot", "raw"))
        for i in range(total):
            for path in rotations[i % 3]:
                client_id = f"{path}-{i}"
                t0 = time.time()
                if path == "bot":
                    reply = webhook.post(f"http://127.0.0.1:{webhook_port}/signal", data=json.dumps({
                        "id": client_id, "symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT",
                        "quantity": "0.001", "price": "30000", "passphrase": SECRET}), timeout=10)
                    if reply.status_code != 202:
                        raise SystemExit(f"webhook answered {reply.status_code}: {reply.text}")
                    if i >= args.warmup:
                        ack_ms.append((time.time() - t0) * 1000)
                else:
                    raw_order(raw if path == "raw" else lean, base_url, client_id, offset_ms)
                if i >= args.warmup:
                    sent[client_id] = t0 * 1000
                time.sleep(args.pace_ms / 1000)

        deadline = time.monotonic() + 30
        while True:
            orders = {o["clientOrderId"]: o["receivedAt"] for o in
                      requests.get(base_url + "/sandbox/orders", timeout=30).json()["orders"]}
            if all(c in orders for c in sent) or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        missing = [c for c in sent if c not in orders]
        if missing:
            raise SystemExit(f"{len(missing)} orders never reached the sandbox, e.g. {missing[:3]}")
        bot_ms = [orders[c] - t for c, t in sent.items() if c.startswith("bot-")]
        raw_ms = [orders[c] - t for c, t in sent.items() if c.startswith("raw-")]
        lean_ms = [orders[c] - t for c, t in sent.items() if c.startswith("lean-")]
        commit_ms = time_commits(work / "scratch.sqlite", min(args.signals, 200), args.pace_ms)
    finally:
        if bot is not None:
            stop(bot)
        stop(sandbox)

    rows = [("signal bot (webhook -> order)", bot_ms), ("raw requests POST (signed)", raw_ms),
            ("lean requests POST (trust_env off)", lean_ms), ("bot webhook 202 round trip", ack_ms),
            ("SQLite commit, synchronous=FULL", commit_ms)]
    print(f"signal -> order latency, {args.signals} rounds per path, paced {args.pace_ms:g} ms, loopback")
    print(f"{'path':34} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} {'mean ms':>8}")
    for name, values in rows:
        print(f"{name:34} {percentile(values, .5):8.3f} {percentile(values, .9):8.3f} "
              f"{percentile(values, .99):8.3f} {statistics.fmean(values):8.3f}")
    p50 = percentile(bot_ms, .5) - percentile(raw_ms, .5)
    p99 = percentile(bot_ms, .99) - percentile(raw_ms, .99)
    lean_p50 = percentile(bot_ms, .5) - percentile(lean_ms, .5)
    print(f"{'overhead (bot - raw)':34} {p50:8.3f} {'':8} {p99:8.3f}")
    print(f"{'overhead (bot - lean)':34} {lean_p50:8.3f}")
    print(f"RESULT overhead_p50_ms={p50:.3f} overhead_p99_ms={p99:.3f} overhead_vs_lean_p50_ms={lean_p50:.3f} "
          f"fsync_commit_p50_ms={percentile(commit_ms, .5):.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
