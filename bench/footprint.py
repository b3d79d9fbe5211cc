"""Resident memory and idle CPU of each bot, next to an idle Python baseline, in one run.

What runs (real processes, loopback): a sandbox exchange, a real `treasury-bot run`
(production poll interval: `--poll` seconds, default 15) and a real `signal-bot run`
wired to it, both started and then left alone; and the baseline, a Python process of the
same interpreter that imports what the bots import (pyzmq, sqlite3, requests, msgspec)
and sleeps. After `--settle` seconds, each process's CPU time (user + system, all
threads, from /proc/PID/stat) is read over `--seconds` of idleness, and its RSS (VmRSS
from /proc/PID/status) at the end.

Idle is not zero for the bots, by design: the treasury's socket loop wakes every 100 ms
(to publish the executor's and poller's transitions), the executor every 200 ms, the
alert sender every 500 ms, the poller every interval; the signal bot's workers wait on
queues and sockets with timeouts.

Usage: .venv/bin/python bench/footprint.py [--seconds 10] [--settle 3] [--poll 15]
Ends with: RESULT treasury_rss_mb=... signal_rss_mb=... baseline_rss_mb=... treasury_idle_cpu_pct=...
           signal_idle_cpu_pct=... baseline_idle_cpu_pct=...
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.flood import cpu_seconds, rss_mb  # noqa: E402
from tests.support.sandbox import start_sandbox  # noqa: E402
from tests.support.signal_proc import SignalBot  # noqa: E402
from tests.support.treasury_proc import TreasuryProcess  # noqa: E402

BASELINE = "import sqlite3, time, msgspec, requests, zmq; print('ready', flush=True); time.sleep(3600)"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10.0, help="idle time measured")
    parser.add_argument("--settle", type=float, default=3.0, help="wait after start before measuring")
    parser.add_argument("--poll", type=float, default=15.0, help="the treasury's poll interval in seconds")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-footprint-") as folder:
        tmp = Path(folder)
        sandbox = start_sandbox(tmp, persistent=False)
        treasury = TreasuryProcess(tmp, sandbox, poll_seconds=args.poll).start()
        bot = None
        baseline = subprocess.Popen([sys.executable, "-c", BASELINE], stdout=subprocess.PIPE, text=True)
        try:
            bot = SignalBot(tmp / "signal", sandbox, treasury)
            assert baseline.stdout.readline().strip() == "ready"
            pids = {"treasury": treasury.proc.pid, "signal": bot.proc.pid, "baseline": baseline.pid}
            time.sleep(args.settle)   # start-up work (audits, rules, first polls) is not idle
            cpu_before = {name: cpu_seconds(pid) for name, pid in pids.items()}
            start = time.monotonic()
            time.sleep(args.seconds)
            elapsed = time.monotonic() - start
            cpu = {name: (cpu_seconds(pid) - cpu_before[name]) / elapsed * 100 for name, pid in pids.items()}
            rss = {name: rss_mb(pid) for name, pid in pids.items()}
        finally:
            baseline.kill()
            baseline.wait(10)
            if bot is not None:
                bot.proc.terminate()
            treasury.terminate()
            sandbox.stop()

    print(f"idle for {args.seconds:g} s after {args.settle:g} s of settling; treasury poll interval {args.poll:g} s")
    print(f"{'process':44} {'RSS MiB':>8} {'idle CPU %':>11}")
    labels = {"treasury": "treasury-bot run", "signal": "signal-bot run",
              "baseline": "python + zmq/sqlite3/requests/msgspec, asleep"}
    for name in ("treasury", "signal", "baseline"):
        print(f"{labels[name]:44} {rss[name]:8.1f} {cpu[name]:11.2f}")
    print(f"RESULT treasury_rss_mb={rss['treasury']:.1f} signal_rss_mb={rss['signal']:.1f} "
          f"baseline_rss_mb={rss['baseline']:.1f} treasury_idle_cpu_pct={cpu['treasury']:.2f} "
          f"signal_idle_cpu_pct={cpu['signal']:.2f} baseline_idle_cpu_pct={cpu['baseline']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
