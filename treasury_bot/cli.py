"""`treasury-bot`: the treasury's command line."""

from __future__ import annotations

import argparse
import sys

from common.config import ConfigError, load_treasury_settings
from common.logs import setup_logging

DESCRIPTION = """\
The treasury bot: the only process that holds the withdraw-enabled key. It answers
transfer intents from authorised clients over a CURVE-secured ZeroMQ channel, checks
each against its own policy (whitelist, limits, rate, quarantine, approvals), journals
every decision in its SQLite ledger, withdraws, polls each withdrawal to its end and
mails the operator."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="treasury-bot", description=DESCRIPTION,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    run = sub.add_parser("run", help="run the treasury in the foreground until SIGTERM",
                         description="Run the treasury in the foreground. Stops cleanly on "
                                     "SIGTERM or Ctrl-C (exit status 0). Exit 2: bad configuration; "
                                     "3: the key self-audit or the exchange refused the start.")
    run.add_argument("--env-file", default="treasury.env",
                     help="the treasury's env file (default: treasury.env in the working folder); "
                          "variables in the real environment override it")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command != "run":
        parser.print_help()
        return 2
    try:
        settings = load_treasury_settings(args.env_file)
        setup_logging("treasury", settings.log_level, settings.log_format)
    except (ConfigError, ValueError) as exc:
        print(f"treasury-bot: {exc}", file=sys.stderr)
        return 2
    from treasury_bot.app import run  # after logging is set up
    return run(settings)


if __name__ == "__main__":
    sys.exit(main())
