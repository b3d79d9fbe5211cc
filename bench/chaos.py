"""Crash soak, long mode: the scenario of tests/chaos/test_crash_soak.py with many more kills.

Real processes (sandbox exchange, treasury-bot, signal-bot) on loopback; two intent
clients ("signal", "other") and a signal poster run while the treasury is SIGKILLed
`--treasury-kills` times and the signal bot `--signal-kills` times at random moments
(plain uptime, an apply held in flight, applied but unanswered, answered 5XX / dropped,
while processing), each restarted on the same files. The policy's limits grow with the
run so the withdraw path stays busy. Issue 10's faults are on unless switched off, dosed
to the number of kills: clock faults (the sandbox's clock hours ahead, stepped forward by
minutes during unknown outcomes and back by hours while nothing is in flight; the
treasury's host clock stepped forward and back by up to 6 h through the test-only
TREASURY_TEST_CLOCK_OFFSET_FILE / _MS) and operators (treasuryctl approvals, late
approvals, rejections and contested approve+reject against approval_above = 80; caps
tightened and loosened between restarts under a 12 h quarantine). At the end the sandbox's
own withdrawal and order records are compared with the ledger, with what the clients and
the operator were told, and, in true time, with the strictest caps ever configured (see
tests/chaos/soak.py, `judge`, and tests/chaos/limits_judge.py).

Usage: .venv/bin/python bench/chaos.py [--treasury-kills 100] [--signal-kills 30] [--seed N] [--workdir DIR]
                                       [--no-clock-faults] [--no-operators]
Ends with one line:
RESULT kills=... clock_faults=... operator_actions=... policy_edits=... doubles=... lost=... cap_breaches=... ...
Exit status 1 when anything was doubled, lost, unjustified, over a cap, treasuryctl and the
ledger disagree, or the harness saw a hang.
"""

from __future__ import annotations

import argparse
import logging
import random
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.chaos.soak import Soak, SoakConfig  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--treasury-kills", type=int, default=100)
    parser.add_argument("--signal-kills", type=int, default=30)
    parser.add_argument("--seed", type=int, default=None, help="random choices (default: a fresh one, printed)")
    parser.add_argument("--workdir", type=Path, default=None,
                        help="keep the processes' files and logs here (default: a temporary folder)")
    parser.add_argument("--no-clock-faults", action="store_true", help="no sandbox or host clock moves")
    parser.add_argument("--no-operators", action="store_true", help="no treasuryctl actions, no policy edits")
    args = parser.parse_args(argv)
    # Lazy Pirate's "no reply" warnings are the expected noise of a treasury being killed.
    logging.getLogger("intent_client").setLevel(logging.ERROR)
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1, 10**6)
    cfg = SoakConfig.scaled(seed, args.treasury_kills, args.signal_kills).with_faults(
        clocks=not args.no_clock_faults, operators=not args.no_operators)
    if args.workdir is not None:
        args.workdir.mkdir(parents=True, exist_ok=True)
        report = Soak(args.workdir, cfg).run()
    else:
        with tempfile.TemporaryDirectory(prefix="chaos-") as folder:
            report = Soak(Path(folder), cfg).run()
    print(report.summary())
    bad = (report.doubles or report.lost or report.unjustified or report.cap_breaches
           or report.disagreements or report.final_status_mismatch or report.order_doubles
           or report.unknown_orders or report.problems or report.operator_mismatches)
    print(report.result_line())
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
