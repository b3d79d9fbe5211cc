"""`sandbox-exchange`: run the local Binance-compatible exchange in the foreground."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from decimal import Decimal
from pathlib import Path
from typing import Sequence

from sandbox.app import SandboxApp
from sandbox.config import ConfigError, SandboxConfig, load_config
from sandbox.server import SandboxServer
from sandbox.state import BalanceRecord, StateData, StateError, Store

DESCRIPTION = """\
A local exchange speaking the subset of Binance's REST API the bots use: signed requests
(HMAC-SHA256, timestamp/recvWindow) verified with its own code, per-key permissions, one
shared account, spot MARKET/LIMIT orders, withdrawals whose status advances with time, and
fault injection. Unsigned admin endpoints under /sandbox/ (loopback only) let tests inject
faults, move the clock, change keys and balances, and read every order and withdrawal.
Once ready it prints exactly one line: "sandbox listening on http://HOST:PORT".
"""

EPILOG = """\
environment (or --env-file): SANDBOX_HOST, SANDBOX_PORT, SANDBOX_STATE, SANDBOX_CONFIG
provide defaults for the options; paths in an env file are relative to its folder.
examples:
  sandbox-exchange --port 8300 --state var/sandbox.json
  sandbox-exchange --port 0 --config my-sandbox.toml     # prints the port it picked
See sandbox/README.md for the configuration, the endpoints and the admin API.
"""


def read_env_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines (comments, blank lines and `export` allowed); relative paths in
    SANDBOX_STATE / SANDBOX_CONFIG are made relative to the file's folder."""
    values: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        name, _, value = line.removeprefix("export ").partition("=")
        value = value.strip().strip("'\"")
        if name.strip() in ("SANDBOX_STATE", "SANDBOX_CONFIG") and value and not os.path.isabs(value):
            value = str(path.parent / value)
        values[name.strip()] = value
    return values


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="sandbox-exchange", description=DESCRIPTION, epilog=EPILOG,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, help="TCP port; 0 picks a free one (default 0)")
    parser.add_argument("--host", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--state", type=Path, metavar="FILE",
                        help="JSON state file: read at start, rewritten atomically on every change "
                             "(default: in memory, forgotten at exit)")
    parser.add_argument("--config", type=Path, metavar="FILE",
                        help="TOML configuration (default: the packaged sandbox/demo.toml)")
    parser.add_argument("--env-file", type=Path, metavar="PATH",
                        help="optional env file with SANDBOX_* defaults (none by default)")
    parser.add_argument("--quiet", action="store_true", help="do not log one line per request")
    args = parser.parse_args(argv)
    env = dict(read_env_file(args.env_file)) if args.env_file else {}
    env.update({k: v for k, v in os.environ.items() if k.startswith("SANDBOX_")})
    args.port = args.port if args.port is not None else int(env.get("SANDBOX_PORT", "0"))
    args.host = args.host or env.get("SANDBOX_HOST", "127.0.0.1")
    args.state = args.state or (Path(env["SANDBOX_STATE"]) if env.get("SANDBOX_STATE") else None)
    args.config = args.config or (Path(env["SANDBOX_CONFIG"]) if env.get("SANDBOX_CONFIG") else None)
    return args


def fresh_state(config: SandboxConfig) -> StateData:
    return StateData(balances={asset: BalanceRecord(free=Decimal(amount))
                               for asset, amount in config.account.balances.items()},
                     funding={asset: BalanceRecord(free=Decimal(amount))
                              for asset, amount in config.account.funding_balances.items()})


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        config = load_config(args.config)
        store = Store.open(args.state, lambda: fresh_state(config))
    except (ConfigError, StateError, OSError) as exc:
        print(f"sandbox-exchange: error: {exc}", file=sys.stderr)
        return 2
    try:
        server = SandboxServer((args.host, args.port), SandboxApp(config, store), quiet=args.quiet)
    except OSError as exc:
        print(f"sandbox-exchange: error: cannot listen on {args.host}:{args.port}: {exc.strerror}",
              file=sys.stderr)
        return 2

    def stop(signum: int, frame: object) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"sandbox config={args.config or 'demo.toml (packaged)'} state={args.state or 'memory'}",
          file=sys.stderr, flush=True)
    print(f"sandbox listening on {server.url()}", flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
    print("sandbox stopped", file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
