"""Poll cost per open withdrawal: the treasury's history requests next to a naive poller's, one run.

What runs (real processes, loopback): a sandbox exchange whose withdrawals stay open
(`processing` for an hour) and a real `treasury-bot run` whose poll interval is shortened
to `--interval` seconds (TREASURY_SANDBOX_POLL_SECONDS: sandbox only; Binance's floor is
6 s and the default 15 s). Intents are accepted and withdrawn until N withdrawals are
open, for each N of `--open`; then the history requests the treasury makes during
`--polls` intervals are counted in the sandbox's request log.

Figures, for each N:
- history requests per poll interval (docs/design.md: one per interval, `idList` of up to 45);
- exchange UID weight per interval (18,000 per history request, whatever its idList),
  and per open withdrawal;
- how many intervals pass between two looks at one withdrawal (ceil(N / 45));
- the baseline: a naive poller making one history request per open withdrawal per
  interval (N requests, 18,000 weight each). ratio = naive weight / treasury weight.
The UID budget is 180,000 a minute: at the default 15 s interval the treasury uses
72,000 (40 %) whatever N is; the naive poller is over budget from N = 3.

Usage: .venv/bin/python bench/poll_cost.py [--open 10,45,100] [--polls 20] [--interval 0.25]
Ends with: RESULT requests_per_poll=... weight_per_withdrawal_per_poll=... naive_weight_per_withdrawal_per_poll=18000 ratio=... (for the largest N)
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.sandbox import start_sandbox  # noqa: E402
from tests.support.treasury_proc import TreasuryProcess, e2e_policy, new_intent  # noqa: E402
from tests.support.waiting import wait_until  # noqa: E402

HISTORY_PATH = "path=/sapi/v1/capital/withdraw/history "
HISTORY_WEIGHT = 18_000            # sandbox/README.md, Binance's documented UID weight
ID_LIST_MAX = 45
UID_BUDGET_PER_MINUTE = 180_000
POLICY = e2e_policy(max_transfers_per_hour=100_000, usdt={"approval_above": None})


def history_requests(sandbox) -> int:
    return sandbox.log().count(HISTORY_PATH)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--open", default="10,45,100", help="open withdrawals to measure at (ascending)")
    parser.add_argument("--polls", type=int, default=20, help="poll intervals counted per N")
    parser.add_argument("--interval", type=float, default=0.25, help="poll interval in seconds (sandbox only)")
    args = parser.parse_args()
    sizes = sorted(int(n) for n in args.open.split(","))

    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-poll-") as folder:
        tmp = Path(folder)
        sandbox = start_sandbox(tmp, persistent=False, complete_after_seconds=3600)
        treasury = TreasuryProcess(tmp, sandbox, policy_text=POLICY, poll_seconds=args.interval).start()
        try:
            sent = 0
            with treasury.client("signal", timeout=5.0) as client:
                for size in sizes:
                    while sent < size:
                        reply = client.send_intent(new_intent(f"poll-{sent}", amount="10"))
                        assert reply.outcome == "accepted", reply
                        sent += 1
                    wait_until(lambda: treasury.query(
                        "SELECT COUNT(*) FROM intents WHERE status = 'processing'")[0][0] == size,
                        timeout=60 + size * args.interval, interval=0.05,
                        what=f"{size} withdrawals open at the exchange and seen as processing")
                    before, start = history_requests(sandbox), time.monotonic()
                    time.sleep(args.polls * args.interval)
                    requests_made, elapsed = history_requests(sandbox) - before, time.monotonic() - start
                    rows.append((size, requests_made * args.interval / elapsed))
        finally:
            treasury.terminate()
            sandbox.stop()

    print(f"poll interval {args.interval:g} s (sandbox), {args.polls} intervals per N; history request = "
          f"{HISTORY_WEIGHT:,} UID weight, idList up to {ID_LIST_MAX}")
    print(f"{'open':>5} {'req/poll':>9} {'weight/poll':>12} {'weight/wd/poll':>15} {'polls between looks':>20} "
          f"{'naive req/poll':>15} {'naive weight/wd/poll':>21} {'ratio':>7}")
    for size, per_poll in rows:
        weight = per_poll * HISTORY_WEIGHT
        print(f"{size:5d} {per_poll:9.2f} {weight:12,.0f} {weight / size:15,.0f} {math.ceil(size / ID_LIST_MAX):20d} "
              f"{size:15d} {HISTORY_WEIGHT:21,d} {size * HISTORY_WEIGHT / weight if weight else float('inf'):7.1f}")
    per_minute_15s = 4 * HISTORY_WEIGHT
    print(f"at the default 15 s interval: treasury {per_minute_15s:,} UID weight a minute "
          f"({per_minute_15s / UID_BUDGET_PER_MINUTE:.0%} of {UID_BUDGET_PER_MINUTE:,}) for any N; naive poller with "
          f"N={sizes[-1]}: {sizes[-1] * per_minute_15s:,} ({sizes[-1] * per_minute_15s / UID_BUDGET_PER_MINUTE:.0%})")
    size, per_poll = rows[-1]
    weight_per_wd = per_poll * HISTORY_WEIGHT / size
    ratio = HISTORY_WEIGHT / weight_per_wd if weight_per_wd else float("inf")
    print(f"RESULT open_withdrawals={size} requests_per_poll={per_poll:.2f} weight_per_withdrawal_per_poll="
          f"{weight_per_wd:.0f} naive_weight_per_withdrawal_per_poll={HISTORY_WEIGHT} ratio={ratio:.1f} "
          f"polls_between_looks={math.ceil(size / ID_LIST_MAX)} "
          + " ".join(f"requests_per_poll_n{n}={p:.2f}" for n, p in rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
