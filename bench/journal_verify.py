"""How long the treasury's start-up check of the journal's hash chain takes on a big ledger.

What runs (one process, a real SQLite file): a ledger filled through the real decider in
batches of 100 (each intent an intents row, a decision, a transition; some alerts), so
about 3 links per intent; then, in the same run:
- verify: `Ledger.verify_chain()`, the walk the treasury does at each start (and
  `treasuryctl verify`): every link recomputed against its row;
- the baseline: reading the same sealed columns of every row with no hashing (the least
  any check of every row must do). ratio = verify / baseline.

Usage: .venv/bin/python bench/journal_verify.py [--intents 100000]
Ends with: RESULT links=... verify_s=... baseline_s=... ratio=... links_per_s=...
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from common.clock import FakeClock  # noqa: E402
from tests.support.treasury_core import decide, incoming, make_policy  # noqa: E402
from treasury_bot import journal_chain  # noqa: E402
from treasury_bot.ledger import Ledger  # noqa: E402


def fill(ledger: Ledger, intents: int) -> None:
    policy = make_policy(window_cap="100000000000", per_hour=100_000_000, approval_above=None)
    clock = FakeClock()
    n = 0
    while n < intents:
        batch = [incoming(f"bench-{n + i}", "100" if (n + i) % 50 else "999999", created_at=clock.now_ms())
                 for i in range(min(100, intents - n))]
        decide(ledger, policy, clock, *batch)
        n += len(batch)
        clock.advance(1)


def baseline(ledger: Ledger) -> float:
    conn = ledger._conn  # the bench reads the same rows the verifier does, without hashing
    started = time.perf_counter()
    for seq, tbl, key, digest in conn.execute("SELECT seq, tbl, row_key, hash FROM journal_chain ORDER BY seq"):
        pass
    for table in journal_chain.TABLES.values():
        for row in conn.execute(f"{table.select()} ORDER BY {table.key}"):
            pass
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--intents", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        ledger = Ledger(Path(folder) / "ledger.sqlite")
        try:
            started = time.perf_counter()
            fill(ledger, args.intents)
            print(f"filled {args.intents:,} intents in {time.perf_counter() - started:.1f} s")
            baseline_s = baseline(ledger)
            started = time.perf_counter()
            verdict = ledger.verify_chain()
            verify_s = time.perf_counter() - started
        finally:
            ledger.close()
    assert verdict.intact, verdict.broken
    print(f"{'read every sealed row (baseline)':<40} {baseline_s:8.3f} s")
    print(f"{'verify the chain':<40} {verify_s:8.3f} s  ({verdict.links:,} links, head {verdict.head})")
    print(f"RESULT links={verdict.links} verify_s={verify_s:.3f} baseline_s={baseline_s:.3f} "
          f"ratio={verify_s / baseline_s:.2f} links_per_s={verdict.links / verify_s:.0f}")


if __name__ == "__main__":
    main()
