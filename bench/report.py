"""Run every benchmark, one after another, and write their figures as one table: docs/benchmarks.md.

Each benchmark is a script in bench/ run as its own process; each ends with one line
`RESULT name=value ...` that this script reads (plus, for signal_to_order.py, the two
latency rows it prints, the raw path being its baseline). Every figure is shown next to
its baseline measured in the same run of the same script, never next to a number from
another day or another machine. A benchmark that is missing or fails is reported as
such in the table and the others still run.

    .venv/bin/python bench/report.py            # full sizes (what `make bench` runs)
    .venv/bin/python bench/report.py --quick    # smaller sizes, a few minutes
    .venv/bin/python bench/report.py --only flood,poll_cost --no-write

Ends with: RESULT benchmarks=N failed=N not_run=N
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "benchmarks.md"
RESULT_LINE = re.compile(r"^RESULT (.*)$", re.MULTILINE)


@dataclass(frozen=True)
class Bench:
    name: str
    script: str
    args: tuple[str, ...]
    quick_args: tuple[str, ...]
    timeout: float
    what: str


BENCHES = (
    Bench("decision_latency", "decision_latency.py", ("--requests", "2000", "--seconds", "5"),
          ("--requests", "500", "--seconds", "3"), 600,
          "treasury decision round trip and group-commit throughput vs a raw CURVE echo + one FULL-sync commit"),
    Bench("signal_to_order", "signal_to_order.py", ("--signals", "300"), ("--signals", "100"), 600,
          "signal bot webhook-to-order latency vs a raw signed requests POST"),
    Bench("flood", "flood.py", ("--count", "1000"), ("--count", "300", "--no-digest-wait"), 900,
          "a polite client's decision latency quiet vs under a pipelined flood; RSS; digests"),
    Bench("poll_cost", "poll_cost.py", ("--open", "10,45,100"), ("--open", "10,100", "--polls", "12"), 600,
          "history requests and UID weight per open withdrawal vs one request per withdrawal"),
    Bench("footprint", "footprint.py", ("--seconds", "10"), ("--seconds", "5", "--settle", "2"), 300,
          "RSS and idle CPU of each bot vs an idle Python with the same libraries"),
    Bench("chaos", "chaos.py", ("--treasury-kills", "40", "--signal-kills", "12"),
          ("--treasury-kills", "20", "--signal-kills", "6"), 1800,
          "crash soak: SIGKILLs of both bots, ledger vs the exchange's own record"),
    Bench("fuzz", "fuzz.py", ("--frames", "20000"), ("--frames", "5000"), 1800,
          "seeded hostile frames against a live treasury"),
)


@dataclass
class Outcome:
    bench: Bench
    status: str                       # "ok", "failed (exit N)", "timed out", "not run (...)"
    seconds: float = 0.0
    figures: dict[str, str] = field(default_factory=dict)
    result_line: str = ""
    log_path: Path | None = None


def parse_result(output: str) -> dict[str, str]:
    """The last RESULT line's name=value pairs."""
    lines = RESULT_LINE.findall(output)
    if not lines:
        return {}
    return dict(pair.split("=", 1) for pair in lines[-1].split() if "=" in pair)


def parse_signal_rows(output: str) -> dict[str, str]:
    """signal_to_order.py prints p50/p90/p99 per path; its RESULT holds only the difference."""
    figures = {}
    for key, label in (("bot", r"signal bot \(webhook -> order\)"), ("raw", r"raw requests POST \(signed\)")):
        match = re.search(rf"^{label}\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)", output, re.MULTILINE)
        if match:
            figures[f"{key}_p50_ms"], figures[f"{key}_p99_ms"] = match.group(1), match.group(3)
    return figures


def run(bench: Bench, quick: bool, logs: Path) -> Outcome:
    script = ROOT / "bench" / bench.script
    if not script.is_file():
        return Outcome(bench, f"not run (bench/{bench.script} does not exist)")
    argv = [sys.executable, str(script), *(bench.quick_args if quick else bench.args)]
    log_path = logs / f"{bench.name}.log"
    print(f"== {bench.name}: {' '.join(argv[1:])}", flush=True)
    started = time.monotonic()
    try:
        done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=bench.timeout,
                              env={**os.environ, "PYTHONPATH": str(ROOT)})
        output, code = done.stdout + "\n" + done.stderr, done.returncode
    except subprocess.TimeoutExpired as exc:
        output = (exc.stdout or b"").decode(errors="replace") if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        log_path.write_text(output)
        return Outcome(bench, f"timed out after {bench.timeout:.0f} s", time.monotonic() - started, log_path=log_path)
    seconds = time.monotonic() - started
    log_path.write_text(output)
    figures = parse_result(done.stdout)
    if bench.name == "signal_to_order":
        figures.update(parse_signal_rows(done.stdout))
    lines = RESULT_LINE.findall(done.stdout)
    status = "ok" if code == 0 and figures else (f"failed (exit {code})" if code else "failed (no RESULT line)")
    print(f"   {status} in {seconds:.0f} s" + (f": RESULT {lines[-1]}" if lines else ""), flush=True)
    return Outcome(bench, status, seconds, figures, f"RESULT {lines[-1]}" if lines else "", log_path)


# -- the table ------------------------------------------------------------------------------

def _num(figures: dict[str, str], key: str) -> float | None:
    try:
        return float(figures[key])
    except (KeyError, ValueError):
        return None


def _fmt(value: float | None, unit: str = "", digits: int = 2) -> str:
    if value is None:
        return "n/a"
    text = f"{value:,.{digits}f}" if abs(value) < 1e6 else f"{value:,.0f}"
    return f"{text} {unit}".strip()


@dataclass(frozen=True)
class Row:
    bench: str
    measure: str
    value: Callable[[dict], str]
    baseline: Callable[[dict], str]
    compare: Callable[[dict], str]


def _v(key: str, unit: str = "", digits: int = 2):
    return lambda f: _fmt(_num(f, key), unit, digits)


def _ratio(num: str, den: str, target: str = "", digits: int = 2):
    def cell(f: dict) -> str:
        a, b = _num(f, num), _num(f, den)
        text = _fmt(a / b, "x", digits) if a is not None and b else "n/a"
        return f"{text} ({target})" if target else text
    return cell


def _given(key: str, target: str, digits: int = 2, unit: str = "x"):
    return lambda f: f"{_fmt(_num(f, key), unit, digits)} ({target})"


def _text(value: str):
    return lambda f: value


def _diff(a: str, b: str, unit: str):
    def cell(f: dict) -> str:
        x, y = _num(f, a), _num(f, b)
        if x is None or y is None:
            return "n/a"
        return ("+" if x >= y else "") + _fmt(x - y, unit, 1)
    return cell


ROWS = (
    Row("decision_latency", "Decision round trip p50, one client", _v("treasury_p50_ms", "ms", 3),
        _v("baseline_p50_ms", "ms", 3), _given("p1_ratio", "target <= 1.2")),
    Row("decision_latency", "Decision round trip p99, one client", _v("treasury_p99_ms", "ms", 3),
        _v("baseline_p99_ms", "ms", 3), _ratio("treasury_p99_ms", "baseline_p99_ms")),
    Row("decision_latency", "Decisions per second, 16 clients (group commit)", _v("decisions_per_s", "/s", 0),
        lambda f: _fmt(_num(f, "fsync_ceiling_per_s"), "/s (one commit per decision)", 0),
        _given("p2_ratio", "target >= 3")),
    Row("signal_to_order", "Webhook to order at the exchange, p50", _v("bot_p50_ms", "ms", 3),
        lambda f: _fmt(_num(f, "raw_p50_ms"), "ms (raw signed POST)", 3),
        lambda f: f"+{_fmt(_num(f, 'overhead_p50_ms'), 'ms', 3)} (target <= +1.5 ms)"),
    Row("signal_to_order", "Webhook to order at the exchange, p99", _v("bot_p99_ms", "ms", 3),
        lambda f: _fmt(_num(f, "raw_p99_ms"), "ms (raw signed POST)", 3),
        lambda f: f"+{_fmt(_num(f, 'overhead_p99_ms'), 'ms', 3)}"),
    Row("flood", "Polite client decision p99, under a flood vs quiet", _v("flood_p99_ms", "ms", 2),
        lambda f: _fmt(_num(f, "quiet_p99_ms"), "ms (quiet)", 2), _given("ratio", "target <= 10")),
    Row("flood", "Polite client decision p50, under a flood vs quiet", _v("flood_p50_ms", "ms", 2),
        lambda f: _fmt(_num(f, "quiet_p50_ms"), "ms (quiet)", 2), _ratio("flood_p50_ms", "quiet_p50_ms")),
    Row("flood", "Flood requests answered (pipelined DEALERs)", lambda f: (
        f"{_fmt(_num(f, 'flood_sent'), '', 0)} sent at {_fmt(_num(f, 'flood_rate_per_s'), '/s', 0)}"),
        _text("every one answered"), lambda f: f"{_fmt(_num(f, 'flood_unanswered'), '', 0)} unanswered (target 0)"),
    Row("flood", "Treasury RSS growth over the flood", _v("rss_growth_mb", "MiB", 1),
        _text("RSS before the flood"), lambda f: f"peak +{_fmt(_num(f, 'rss_peak_growth_mb'), 'MiB', 1)} (bounded)"),
    Row("flood", "Rejection alerts folded into mails", lambda f: _fmt(_num(f, "rejection_mails"), "mails", 0),
        lambda f: _fmt(_num(f, "rejection_alerts"), "alerts", 0),
        lambda f: f"{_fmt(_num(f, 'rejection_mailed'), 'alerts mailed', 0)}"),
    Row("poll_cost", "History requests per poll interval", lambda f: (
        f"{_fmt(_num(f, 'requests_per_poll'), '', 2)} for {_fmt(_num(f, 'open_withdrawals'), 'open', 0)}"),
        lambda f: _fmt(_num(f, "open_withdrawals"), "(one per withdrawal)", 0), _text("one per interval")),
    Row("poll_cost", "UID weight per open withdrawal per poll", _v("weight_per_withdrawal_per_poll", "", 0),
        lambda f: _fmt(_num(f, "naive_weight_per_withdrawal_per_poll"), "(one request each)", 0),
        lambda f: f"{_fmt(_num(f, 'ratio'), 'x less', 1)}; each looked at every "
                  f"{_fmt(_num(f, 'polls_between_looks'), '', 0)} polls"),
    Row("footprint", "Treasury RSS, idle", _v("treasury_rss_mb", "MiB", 1),
        lambda f: _fmt(_num(f, "baseline_rss_mb"), "MiB (idle Python + libraries)", 1),
        _diff("treasury_rss_mb", "baseline_rss_mb", "MiB")),
    Row("footprint", "Signal bot RSS, idle", _v("signal_rss_mb", "MiB", 1),
        lambda f: _fmt(_num(f, "baseline_rss_mb"), "MiB (idle Python + libraries)", 1),
        _diff("signal_rss_mb", "baseline_rss_mb", "MiB")),
    Row("footprint", "Treasury CPU, idle", _v("treasury_idle_cpu_pct", "% of a core", 2),
        lambda f: _fmt(_num(f, "baseline_idle_cpu_pct"), "%", 2), _text("timers: 0.1-0.5 s loops")),
    Row("footprint", "Signal bot CPU, idle", _v("signal_idle_cpu_pct", "% of a core", 2),
        lambda f: _fmt(_num(f, "baseline_idle_cpu_pct"), "%", 2), _text("")),
    Row("chaos", "Crash soak: kills survived", _v("kills", "", 0),
        lambda f: f"{_fmt(_num(f, 'accepted'), 'accepted', 0)} / {_fmt(_num(f, 'withdrawn'), 'withdrawn', 0)}",
        lambda f: f"doubles {_fmt(_num(f, 'doubles'), '', 0)}, lost {_fmt(_num(f, 'lost'), '', 0)} (target 0)"),
    Row("chaos", "Crash soak: signals traded", _v("orders", "orders", 0), _text("at most one per signal"),
        lambda f: f"doubles {_fmt(_num(f, 'order_doubles'), '', 0)} (target 0)"),
    Row("fuzz", "Fuzzed frames against a live treasury", _v("frames", "frames", 0),
        lambda f: (f"{_fmt(_num(f, 'malformed'), 'malformed', 0)}, {_fmt(_num(f, 'decisions'), 'decisions', 0)}, "
                   f"{_fmt(_num(f, 'dropped'), 'dropped', 0)}"),
        lambda f: (f"crashes {_fmt(_num(f, 'crashes'), '', 0)}, ledger writes for bad "
                   f"{_fmt(_num(f, 'ledger_writes_for_bad'), '', 0)} (target 0); p99 {_fmt(_num(f, 'p99_ms'), 'ms')}")),
)


def table(outcomes: dict[str, Outcome]) -> str:
    lines = ["| Benchmark | Measure | This run | Baseline (same run) | Comparison |",
             "|---|---|---|---|---|"]
    for row in ROWS:
        outcome = outcomes.get(row.bench)
        if outcome is None:
            continue
        if outcome.status != "ok" and not outcome.figures:
            cells = [outcome.status, "", ""]
        else:
            cells = [row.value(outcome.figures), row.baseline(outcome.figures), row.compare(outcome.figures)]
            if outcome.status != "ok":
                cells[2] += f" - {outcome.status}"
        lines.append(f"| `{row.bench}` | {row.measure} | " + " | ".join(c.replace("|", "/") for c in cells) + " |")
    return "\n".join(lines)


def machine() -> str:
    load = os.getloadavg()
    return (f"{platform.node() or 'host'}: {os.cpu_count()} CPUs, Linux {platform.release()}, "
            f"Python {platform.python_version()}, load average {load[0]:.2f} at the end")


REPRODUCE = """\
## How to reproduce

```sh
make bench                                   # = .venv/bin/python bench/report.py: every benchmark, full sizes
.venv/bin/python bench/report.py --quick     # smaller sizes (a few minutes)
.venv/bin/python bench/report.py --only flood,poll_cost --no-write
```

Each benchmark also runs alone and ends with one `RESULT name=value ...` line:

| Script | What it measures | Baseline it runs beside it |
|---|---|---|
| `bench/decision_latency.py [--requests 2000] [--seconds 5]` | decision round trip (one client) and decisions/s (16 clients) of a real `treasury-bot run` | a raw pyzmq CURVE ROUTER that commits one row (WAL, `synchronous=FULL`) per request and echoes; the per-commit fsync ceiling on the same disk |
| `bench/signal_to_order.py [--signals 300]` | webhook POST to the order's arrival at the sandbox, through a real `signal-bot run` | the same order signed and POSTed with `requests` |
| `bench/flood.py [--count 1000] [--no-digest-wait]` | a polite client's decisions while another authorised client floods pipelined rejected intents from several DEALER sockets; RSS; alert mails | the same client's decisions before the flood |
| `bench/poll_cost.py [--open 10,45,100]` | history requests and UID weight per poll with N open withdrawals | a poller making one history request per open withdrawal |
| `bench/footprint.py [--seconds 10]` | RSS and idle CPU of each bot, idle | an idle Python process that imported the same libraries |
| `bench/chaos.py [--treasury-kills 100] [--signal-kills 30]` | SIGKILLs of both bots under load; ledger vs the sandbox's own record | zero doubles, zero lost |
| `bench/fuzz.py [--frames 100000]` | hostile frames against a live treasury | zero crashes, zero ledger writes for bad frames |

Figures depend on the machine and on what else runs on it: compare a figure only with
its baseline from the same run (the table never mixes runs). The raw output of each
benchmark of the last run is in the folder printed at the start of `bench/report.py`.
"""


def document(outcomes: dict[str, Outcome], quick: bool, started: datetime, seconds: float) -> str:
    results = "\n".join(f"{name}: {o.result_line or o.status}" for name, o in outcomes.items())
    sizes = "quick sizes (`--quick`)" if quick else "full sizes"
    return (f"# Benchmarks\n\nThe latest table from `bench/report.py` ({sizes}), run "
            f"{started.strftime('%Y-%m-%d %H:%M UTC')} in {seconds / 60:.1f} min on {machine()}.\n"
            "Every figure is next to a baseline measured in the same run of the same script.\n\n"
            f"{table(outcomes)}\n\n"
            "### The RESULT lines of this run\n\n```\n" + results + "\n```\n\n"
            "### What each benchmark ran\n\n"
            + "\n".join(f"- `{name}` ({o.status}, {o.seconds:.0f} s): {o.bench.what}; "
                        f"`bench/{o.bench.script} {' '.join(o.bench.quick_args if quick else o.bench.args)}`"
                        for name, o in outcomes.items())
            + "\n\n" + REPRODUCE)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smaller sizes for every benchmark")
    parser.add_argument("--only", default="", help="comma-separated benchmark names (default: all)")
    parser.add_argument("--no-write", action="store_true", help=f"print the table, do not write {DOC.relative_to(ROOT)}")
    args = parser.parse_args()
    chosen = [b for b in BENCHES if not args.only or b.name in args.only.split(",")]
    unknown = set(filter(None, args.only.split(","))) - {b.name for b in BENCHES}
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}")
    logs = Path(tempfile.mkdtemp(prefix="bench-report-"))
    print(f"raw output of each benchmark: {logs}", flush=True)
    started, clock = datetime.now(timezone.utc), time.monotonic()
    outcomes = {bench.name: run(bench, args.quick, logs) for bench in chosen}
    text = document(outcomes, args.quick, started, time.monotonic() - clock)
    print("\n" + table(outcomes) + "\n")
    if not args.no_write:
        DOC.parent.mkdir(exist_ok=True)
        DOC.write_text(text, encoding="utf-8")
        print(f"written: {DOC.relative_to(ROOT)}")
    failed = sum(1 for o in outcomes.values() if o.status.startswith(("failed", "timed out")))
    not_run = sum(1 for o in outcomes.values() if o.status.startswith("not run"))
    print(f"RESULT benchmarks={len(outcomes)} failed={failed} not_run={not_run}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
