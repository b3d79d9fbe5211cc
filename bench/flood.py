"""Flood and fairness: a polite client's decision latency, quiet and under a flood, in one run.

What runs (real processes, loopback, CURVE everywhere):
- a sandbox exchange, an SMTP sink (aiosmtpd, in this process) and a real `treasury-bot run`;
- the polite client `signal`: one transfer intent at a time through the real IntentClient
  (the signal bot's Lazy Pirate client); every intent is accepted and withdrawn;
- the flooder `other`, authorised but misbehaving, in its own process: several DEALER
  sockets, each with up to `--window` requests in flight, sending intents the policy
  rejects as fast as it can (tests/support/flood.py).

Figures:
- the polite client's decision round trip p50/p99, quiet and under the flood;
  ratio = flood p99 / quiet p99 (target <= 10);
- the flood's rate and whether every request it sent was answered;
- the treasury's RSS before the flood, its peak during it and after it;
  rss_growth_mb = after - before (memory must stay bounded);
- the alert mails: every rejection is an alert; they fold into digests. The treasury
  holds a digest for the 60 s fold window, so this waits for the window to close
  (`--no-digest-wait` skips it) and counts the mails and the alerts they carry.

The flood starts after the quiet phase and is stopped once the polite client has sent
its `--count` intents under it.

Usage: .venv/bin/python bench/flood.py [--count 1000] [--sockets 4] [--window 200] [--no-digest-wait]
Ends with: RESULT quiet_p99_ms=... flood_p99_ms=... ratio=... rss_growth_mb=...
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.flood import Flooder, percentile, rss_mb, timed_intents  # noqa: E402
from tests.support.sandbox import start_sandbox  # noqa: E402
from tests.support.smtp import SmtpSink  # noqa: E402
from tests.support.treasury_proc import TreasuryProcess, e2e_policy, new_intent  # noqa: E402
from tests.support.waiting import wait_until  # noqa: E402

# The flooder gets a budget it never reaches: this bench measures the decider under a flood
# of journaled rejections (the budget itself: tests/e2e/test_flood_fairness.py).
BENCH_POLICY = e2e_policy(max_transfers_per_hour=1_000_000,
                          client_budgets={"other": 1_000_000, "signal": 1_000_000})


class RssSampler:
    """The peak RSS of a process, sampled every `interval` seconds in a thread."""

    def __init__(self, pid: int, interval: float = 0.1) -> None:
        self.pid, self.interval = pid, interval
        self.peak = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.peak = max(self.peak, rss_mb(self.pid))
            except (OSError, RuntimeError):
                return
            self._stop.wait(self.interval)

    def __enter__(self) -> "RssSampler":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(5)


def mail_counts(sink: SmtpSink) -> dict[str, tuple[int, int]]:
    """kind -> (mails, alerts they carry), from the X-Treasury-Alert header."""
    out: dict[str, tuple[int, int]] = {}
    for mail in sink.mails:
        header = mail.header("X-Treasury-Alert") or ""
        kind = re.search(r"kind=(\w+)", header).group(1)
        count = int(re.search(r"count=(\d+)", header).group(1))
        mails, alerts = out.get(kind, (0, 0))
        out[kind] = (mails + 1, alerts + count)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=1000, help="polite intents per phase (default 1000)")
    parser.add_argument("--sockets", type=int, default=4, help="flooder DEALER sockets")
    parser.add_argument("--window", type=int, default=200, help="requests in flight per flooder socket")
    parser.add_argument("--no-digest-wait", action="store_true", help="do not wait for the 60 s digest window")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-flood-") as folder:
        tmp = Path(folder)
        sandbox = start_sandbox(tmp, persistent=False, complete_after_seconds=0.5)
        sink = SmtpSink().start()
        treasury = TreasuryProcess(tmp, sandbox, policy_text=BENCH_POLICY, poll_seconds=0.5,
                                   smtp=(sink.host, sink.port)).start()
        flooder = None
        try:
            pid = treasury.proc.pid
            with treasury.client("signal", timeout=5.0) as client:
                timed_intents(client, "warm", 30, lambda i: new_intent(i, amount="10"))
                rss_before = rss_mb(pid)
                quiet, quiet_replies = timed_intents(client, "quiet", args.count,
                                                     lambda i: new_intent(i, amount="10"))
                flooder = Flooder(treasury.intent_endpoint, treasury.curve.client_secrets["other"],
                                  treasury.curve.treasury_public, workdir=tmp, sockets=args.sockets,
                                  window=args.window, seconds=600)
                wait_until(lambda: treasury.query("SELECT COUNT(*) FROM intents WHERE client='other'")[0][0] > 500,
                           timeout=30, what="the flood to reach the treasury")
                with RssSampler(pid) as sampler:
                    flooded, flood_replies = timed_intents(client, "flooded", args.count,
                                                           lambda i: new_intent(i, amount="10"))
                    overlapped = flooder.running()
                    flooder.stop()
                    result = flooder.result()
                rss_peak = sampler.peak
                # Every decision committed and answered: now let the sender and logs settle.
                wait_until(lambda: treasury.query(
                    "SELECT COUNT(*) FROM intents WHERE client='signal' AND status NOT IN "
                    "('completed','failed','rejected','cancelled','denied')")[0][0] == 0,
                    timeout=120, what="the polite client's withdrawals to complete")
                rss_after = rss_mb(pid)
            rejected_in_ledger = treasury.query(
                "SELECT COUNT(*) FROM intents WHERE client='other' AND outcome='rejected'")[0][0]
            alerts_rejected = treasury.query(
                "SELECT COUNT(*) FROM alert_outbox WHERE kind='intent_rejected'")[0][0]
            if not args.no_digest_wait:
                wait_until(lambda: treasury.query(
                    "SELECT COUNT(*) FROM alert_delivery WHERE state != 'sent'")[0][0] == 0,
                    timeout=150, interval=0.5, what="every alert mailed (the 60 s fold window)")
                wait_until(lambda: mail_counts(sink).get("intent_rejected", (0, 0))[1] >= alerts_rejected,
                           timeout=30, what="the digests at the sink")
            mails = mail_counts(sink)
        finally:
            if flooder is not None:
                flooder.kill()
            treasury.terminate()
            sink.stop()
            sandbox.stop()

    bad = [r for r in quiet_replies + flood_replies if getattr(r, "outcome", None) != "accepted"]
    q50, q99 = percentile(quiet, 50) * 1000, percentile(quiet, 99) * 1000
    f50, f99 = percentile(flooded, 50) * 1000, percentile(flooded, 99) * 1000
    ratio = f99 / q99
    print(f"polite client, {args.count} intents per phase, one at a time (accepted and withdrawn)")
    print(f"{'':28} {'p50 ms':>9} {'p99 ms':>9} {'max ms':>9}")
    print(f"{'quiet':28} {q50:9.3f} {q99:9.3f} {max(quiet) * 1000:9.3f}")
    print(f"{'under flood':28} {f50:9.3f} {f99:9.3f} {max(flooded) * 1000:9.3f}")
    print(f"flood p99 / quiet p99: {ratio:.2f} (target <= 10); polite replies not accepted: {len(bad)}")
    print(f"flooder: {args.sockets} DEALER sockets x {args.window} in flight, sent {result.sent} in "
          f"{result.seconds:.1f} s ({result.rate:,.0f}/s), answered {result.answered}, "
          f"last reply {result.drain_seconds:.2f} s after sending stopped; flood outlasted the polite phase: {overlapped}")
    print(f"flood outcomes: {result.outcomes}; rejected intents journaled: {rejected_in_ledger}")
    print(f"treasury RSS: before {rss_before:.1f} MiB, peak {rss_peak:.1f} MiB, after {rss_after:.1f} MiB")
    for kind, (n_mails, n_alerts) in sorted(mails.items()):
        print(f"mails {kind}: {n_mails} carrying {n_alerts} alerts")
    digest_mails, digest_alerts = mails.get("intent_rejected", (0, 0))
    print(f"RESULT quiet_p99_ms={q99:.3f} flood_p99_ms={f99:.3f} ratio={ratio:.2f} "
          f"rss_growth_mb={rss_after - rss_before:.1f} rss_peak_growth_mb={rss_peak - rss_before:.1f} "
          f"quiet_p50_ms={q50:.3f} flood_p50_ms={f50:.3f} flood_rate_per_s={result.rate:.0f} "
          f"flood_sent={result.sent} flood_unanswered={result.sent - result.answered} "
          f"rejection_alerts={alerts_rejected} rejection_mails={digest_mails} rejection_mailed={digest_alerts}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
