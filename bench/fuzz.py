"""Fuzz a live `treasury-bot run` with request frames and count what happened, in one run.

What runs (real processes, loopback, CURVE everywhere): a sandbox exchange and the real
treasury with a policy under which every admissible intent waits for approval (so the
executor never runs and the decider is the only writer of the journal tables). Frames come
from the hypothesis strategies of tests/fuzz/frames.py (every category: valid, nearly valid,
amounts, unicode tricks, wrong tags, structures, garbage bytes, several frames, over 64 KiB,
no delimiter), seeded, and each is judged by tests/fuzz/harness.py: its typed error or its
decision, the journal rows it added (none for a refused frame), a ping answered after each
bad one. No reply is proven without waiting: by order for a frame without delimiter (the
ping behind it is answered first) and by the disconnect for an oversize frame.

Figures: frames sent per category, replies by type/code, dropped frames, treasury crashes
(the process gone, or an internal error / crash line in its log), journal writes for
refused frames, and the reply latency p50/p99 over every answered frame.

Usage: .venv/bin/python bench/fuzz.py [--frames 100000] [--seed 0]
Ends with: RESULT frames=... malformed=... unknown_type=... decisions=... dropped=...
           crashes=0 ledger_writes_for_bad=0 p99_ms=...
"""

from __future__ import annotations

import argparse
import itertools
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hypothesis import HealthCheck, Phase, given, seed, settings  # noqa: E402

from tests.fuzz import wire_model as model  # noqa: E402
from tests.fuzz.frames import CLIENTS, any_case, fresh_ids  # noqa: E402
from tests.fuzz.harness import Judge, LedgerCounter, WireLink  # noqa: E402
from tests.support.sandbox import DEMO_TRX_ADDRESS, DEMO_TRX_HOT_ADDRESS, start_sandbox  # noqa: E402
from tests.support.treasury_proc import TreasuryProcess  # noqa: E402

CRASH_MARKERS = ("Traceback", "thread_crashed", "decision_batch_failed")


def percentile(values: list[float], p: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(round(p / 100 * (len(ordered) - 1)))))]


class Run:
    """The treasury under test, the judge, and the crash count (a dead treasury is restarted)."""

    def __init__(self, folder: Path, sandbox) -> None:
        self.treasury = TreasuryProcess(folder, sandbox, policy_text=model.pending_only_policy_toml(
            DEMO_TRX_ADDRESS, DEMO_TRX_HOT_ADDRESS)).start()
        self.link = WireLink(self.treasury.intent_endpoint,
                             {name: self.treasury.curve.keys(name) for name in CLIENTS},
                             self.treasury.curve.server_public)
        self.ledger = LedgerCounter(self.treasury.ledger_path, exact=False)
        self.judge = Judge(self.link, self.ledger, lambda: int(time.time() * 1000), exact=False,
                           reply_wait=5.0, fast_drops=True)
        self.crashes = 0
        self.by_category: dict[str, Counter] = {}

    def one(self, case) -> None:
        replies_before = Counter(self.judge.tally.replies)
        problems = self.judge.run(case)
        added = Counter(self.judge.tally.replies)
        added.subtract(replies_before)
        row = self.by_category.setdefault(case.category, Counter())
        row["sent"] += 1
        row.update({key: n for key, n in added.items() if n > 0})
        row["problems"] += len(problems)
        if not self.treasury.proc.alive():
            self.crashes += 1
            print(f"treasury died after a {case.category} frame; restarting", flush=True)
            self.link.close()
            self.treasury.start()

    def close(self) -> None:
        self.link.close()
        self.ledger.close()
        self.treasury.terminate()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=100_000, help="frames to send (default 100000)")
    parser.add_argument("--seed", type=int, default=0, help="hypothesis seed (default 0)")
    parser.add_argument("--dropped-weight", type=int, default=1,
                        help="weight of each dropped category among ~60 (default 1)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="fuzz-bench-") as tmp:
        folder = Path(tmp)
        sandbox = start_sandbox(folder)
        run = Run(folder, sandbox)
        started = time.perf_counter()
        try:
            # New strategies per block of frames, so that `created_at` follows the clock.
            done = 0
            serial = itertools.count()
            while done < args.frames:
                block = min(5_000, args.frames - done)
                now_ms = int(time.time() * 1000)

                @seed(args.seed * 1_000_003 + done)
                @settings(max_examples=block, database=None, deadline=None, derandomize=False,
                          phases=[Phase.generate], suppress_health_check=list(HealthCheck))
                @given(case=any_case(now_ms, dropped_weight=args.dropped_weight))
                def send(case):
                    # Hypothesis repeats values on purpose; valid intents get fresh ids (the
                    # shared dup-N ids stay) so that most are decided rather than conflicts.
                    run.one(fresh_ids(case, next(serial)) if case.category == "valid" else case)

                before = sum(row["sent"] for row in run.by_category.values())
                send()
                done += sum(row["sent"] for row in run.by_category.values()) - before
                elapsed = time.perf_counter() - started
                print(f"{done} frames in {elapsed:.0f} s, problems so far {len(run.judge.tally.problems)}",
                      flush=True)
        finally:
            alive = run.treasury.proc.alive()
            log = run.treasury.log()
            run.close()
            sandbox.stop()

    tally = run.judge.tally
    crash_lines = sum(log.count(marker) for marker in CRASH_MARKERS)
    crashes = run.crashes + (0 if alive else 1) + crash_lines + tally.replies["error:internal"]
    frames = sum(row["sent"] for row in run.by_category.values())
    decisions = sum(n for key, n in tally.replies.items() if key.startswith("decision:"))

    print("\nper category:")
    columns = ["sent", "error:malformed", "error:unknown_type", "decision", "pong/state", "dropped", "problems"]
    print("  " + "".join(f"{c:>20}" for c in ["category", *columns]))
    for category, row in sorted(run.by_category.items()):
        cells = [row["sent"], row["error:malformed"], row["error:unknown_type"],
                 sum(n for k, n in row.items() if k.startswith("decision:")),
                 row["Pong"] + row["IntentState"] + row["error:unknown_intent"], row["dropped"], row["problems"]]
        print("  " + "".join(f"{v:>20}" for v in [category, *cells]))
    print("\nreplies by type/code:")
    for key, n in sorted(tally.replies.items()):
        print(f"  {key:<40}{n:>10}")
    print(f"\nintents: {dict(tally.intents)}")
    print(f"treasury alive at the end: {alive}; restarts: {run.crashes}; crash lines in its log: {crash_lines}")
    print(f"ledger writes for refused frames: {tally.bad_ledger_writes}")
    print(f"reply latency: p50 {percentile(tally.latencies_ms, 50):.2f} ms, "
          f"p99 {percentile(tally.latencies_ms, 99):.2f} ms over {len(tally.latencies_ms)} replies")
    print(f"wall time: {time.perf_counter() - started:.0f} s")
    for problem in tally.problems[:20]:
        print(f"PROBLEM {problem[:500]}")
    if len(tally.problems) > 20:
        print(f"... and {len(tally.problems) - 20} more problems")
    print(f"RESULT frames={frames} malformed={tally.replies['error:malformed']} "
          f"unknown_type={tally.replies['error:unknown_type']} decisions={decisions} "
          f"dropped={tally.replies['dropped']} crashes={crashes} "
          f"ledger_writes_for_bad={tally.bad_ledger_writes} p99_ms={percentile(tally.latencies_ms, 99):.2f}")
    return 1 if (tally.problems or crashes or tally.bad_ledger_writes) else 0


if __name__ == "__main__":
    sys.exit(main())
