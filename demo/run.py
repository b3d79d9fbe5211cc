"""`make demo`: generate var/, then run supervisord in the foreground and narrate.

    python -m demo.run            (what `make demo` runs, from the checkout's root)

1. Refuses to start a second demo beside a running one (its supervisor socket answers),
   removes a stale socket/pid file left by a killed one, and checks the demo's ports are
   free (each is a DEMO_*_PORT variable, so a busy one can be moved).
2. `demo.prepare`: CURVE keys once, env files (0600), the demo policy and configs.
3. Says what is about to happen and how to stop it, starts `supervisord -c
   supervisord.conf` (in its own session: Ctrl-C reaches this process, which asks
   supervisord to stop everything exactly once), and copies its output through.
4. Ticks off the story's milestones (`demo.story`) as they appear in the log; when all
   are there it says so and how to look at the result, and keeps running until Ctrl-C.
5. At the end, the checklist, the last intents in the ledger and the commands to inspect it.
"""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Iterable, TextIO

from demo import metrics_view  # issue 14: where the metrics are, a few figures
from demo.prepare import (DemoConfigError, DemoFiles, DemoPorts, Prepared, prepare,
                          remove_stale_supervisor_files, supervisord_environ)
from demo.story import MILESTONES, Story

PR_SET_PDEATHSIG = 1
UNIX_PATH_MAX = 100   # sun_path holds 104-108 bytes depending on the system
RULE = "=" * 78


def supervisor_answers(sock_path: Path) -> bool:
    """True when a supervisord listens on this unix socket (a stale file refuses)."""
    if not sock_path.exists():
        return False
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(1.0)
        try:
            probe.connect(str(sock_path))
            return True
        except OSError:
            return False


def busy_ports(ports: DemoPorts) -> list[tuple[str, int]]:
    """The demo ports something else already listens on (checked like the servers bind)."""
    busy = []
    for name, port in ports.named().items():
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                busy.append((name, port))
    return busy


def shown(path: Path) -> str:
    """A path as the user would type it from where they are."""
    try:
        return os.path.relpath(path)
    except ValueError:
        return str(path)


def banner(prepared: Prepared, ports: DemoPorts, bin_dir: Path) -> list[str]:
    files = prepared.files
    state = ("first run: new demo CURVE keys and env files were written to "
             if prepared.first_run else "reusing the keys, configs and ledger in ")
    return [
        RULE,
        "make demo: the signal bot and the treasury bot on this machine, against a local",
        "sandbox exchange (fake keys, fake money). supervisord runs five programs; each",
        "line below starts with the name of the program that wrote it:",
        f"  sandbox    the local Binance-compatible exchange      http://127.0.0.1:{ports.sandbox}",
        f"  smtp-sink  prints every alert mail it receives        127.0.0.1:{ports.smtp}",
        f"  treasury   the only holder of the withdraw key        CURVE tcp://127.0.0.1:{ports.intent}, :{ports.event}",
        f"  signal     trading-only key, webhook for signals      http://127.0.0.1:{ports.webhook}/signal",
        "  feeder     posts the demo's signals, then exits",
        *metrics_view.where(),
        "Within a minute the log shows:",
        "  1. orders placed: two buys, later a sell (signal: event=order_placed)",
        "  2. bad signals refused with their reasons: a wrong secret (webhook_refused",
        "     status=401), a duplicate, a symbol not allowed, an order under the minimum",
        "     (order_refused reason=...)",
        "  3. the sell's fill making a sweep that the treasury accepts (intent_decided)",
        "  4. the withdrawal going submitted -> processing -> completed (withdrawal_status)",
        "  5. the treasury's alert mails, printed by smtp-sink",
        "The treasury signs with an Ed25519 API key made on this host (var/keys/treasury/",
        "binance-ed25519.pem, as `treasuryctl keys binance` makes one); the sandbox holds",
        "only its public half, as Binance would.",
        f"Files: {state}{shown(files.var)}/",
        "Stop it all with Ctrl-C. Meanwhile, from another terminal:",
        f"  {shown(bin_dir / 'supervisorctl')} -c {shown(files.config)} status",
        RULE,
    ]


def inspect_hints(files: DemoFiles, bin_dir: Path) -> list[str]:
    ctl, env = shown(bin_dir / "treasuryctl"), f"--env-file {shown(files.treasury_env)}"
    rows = [(f"{ctl} status {env}", "open intents, window usage, last poll"),
            (f"{ctl} list {env}", "every intent, its status and reason"),
            (f"{ctl} show INTENT_ID {env}", "one intent's decisions and status history"),
            (f"{ctl} alerts list {env}", "the alert outbox, mailed or not")]
    width = max(len(command) for command, _ in rows)
    return ["Inspect the result (the ledger stays in var/; treasuryctl is safe while the treasury runs):",
            *(f"  {command:<{width}}  # {what}" for command, what in rows)]


def _tie_to_parent() -> None:
    """In supervisord's child process: TERM it if this process dies (Linux)."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


def relay(lines: Iterable[str], out: TextIO, story: Story, files: DemoFiles, bin_dir: Path) -> None:
    told = False
    for line in lines:
        out.write(line)
        out.flush()
        story.feed(line)
        if story.complete and not told:
            told = True
            sweep = story.sweep_intents[-1]
            out.write("\n".join([
                RULE,
                f"demo: the story is complete: sweep {sweep} was withdrawn and "
                f"{len(story.mails)} alert mail(s) printed.",
                *metrics_view.headlines(),
                "Everything keeps running. Ctrl-C stops it; meanwhile, from another terminal:",
                *inspect_hints(files, bin_dir)[1:],
                RULE, ""]))
            out.flush()


def epilogue(story: Story, files: DemoFiles, bin_dir: Path) -> list[str]:
    lines = [RULE, "demo stopped. What the log showed:", *story.checklist()]
    if not story.complete:
        missing = [text for key, text in MILESTONES if key not in story.reached]
        lines.append(f"  (not seen: {'; '.join(missing)}; the log above says why)")
        if "completion_mailed" not in story.reached:
            lines += ["  (an alert of a kind already mailed in the last 60 s waits up to a minute to be folded",
                      "  into a digest, so a quick second run mails later; `treasuryctl alerts list` shows them)"]
    if files.ledger.exists():
        listing = subprocess.run([str(bin_dir / "treasuryctl"), "list", "--limit", "5",
                                  "--env-file", str(files.treasury_env)],
                                 capture_output=True, text=True, timeout=30)
        rows = (listing.stdout or listing.stderr).rstrip("\n").splitlines()
        lines += ["The last intents in the treasury's ledger (treasuryctl list --limit 5):",
                  *("  " + row for row in rows)]
    lines += inspect_hints(files, bin_dir)
    lines += ["`make demo` again continues on the same ledger and exchange state; "
              f"`rm -rf {shown(files.var)}` starts from scratch.", RULE]
    return lines


def main() -> int:
    root = Path(__file__).resolve().parents[1]
    files = DemoFiles(root)
    bin_dir = Path(sys.executable).parent
    supervisord = bin_dir / "supervisord"
    if not files.config.is_file():
        print(f"demo: {files.config} is missing; run `make demo` from a checkout of the repository", file=sys.stderr)
        return 2
    if len(str(files.socket)) > UNIX_PATH_MAX:
        print(f"demo: the path {files.socket} is too long for a unix socket ({UNIX_PATH_MAX} characters at most); "
              "run the demo from a checkout in a shorter folder", file=sys.stderr)
        return 2
    if not supervisord.exists():
        print(f"demo: {shown(supervisord)} is missing; `make demo` installs it into the venv", file=sys.stderr)
        return 2
    try:
        ports = DemoPorts.from_environ(os.environ)
    except DemoConfigError as exc:
        print(f"demo: {exc}", file=sys.stderr)
        return 2
    if supervisor_answers(files.socket):
        print(f"demo: a demo is already running (its socket {shown(files.socket)} answers).\n"
              f"  see it:  {shown(bin_dir / 'supervisorctl')} -c {shown(files.config)} status\n"
              f"  stop it: {shown(bin_dir / 'supervisorctl')} -c {shown(files.config)} shutdown", file=sys.stderr)
        return 1
    for path in remove_stale_supervisor_files(files):
        print(f"demo: removed {shown(path)}, left by a supervisord that did not stop cleanly")
    busy = busy_ports(ports)
    if busy:
        for name, port in busy:
            print(f"demo: port {port} is already in use; pick another with {name}=PORT make demo", file=sys.stderr)
        return 1
    prepared = prepare(root, ports)
    print("\n".join(banner(prepared, ports, bin_dir)), flush=True)

    process = subprocess.Popen(
        [str(supervisord), "-c", str(files.config)], cwd=root,
        env=supervisord_environ(ports, os.environ, bin_dir), stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True, errors="replace", bufsize=1,
        start_new_session=True, preexec_fn=_tie_to_parent)
    stops = 0

    def stop(signum, frame) -> None:
        nonlocal stops
        stops += 1
        if stops == 1:
            print("\ndemo: stopping every program (supervisord waits for each to exit cleanly)...", flush=True)
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        else:  # make and timeout pass a signal on too: one stop request is enough
            print("demo: already stopping; each program has up to its stopwaitsecs to exit", flush=True)

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    story = Story()
    relay(process.stdout, sys.stdout, story, files, bin_dir)
    status = process.wait()
    print("\n".join(epilogue(story, files, bin_dir)), flush=True)
    if status != 0:
        print(f"demo: supervisord exited with status {status}", file=sys.stderr)
    return status


if __name__ == "__main__":
    sys.exit(main())
