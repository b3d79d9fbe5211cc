"""`signal-bot run | replay | intent | check | test-signal | keys binance`: the signal bot's console script (docs/design.md section 7a).

Exit status: 0 fine; 1 replay skipped bad lines / an intent was rejected / `check` found a
problem / `test-signal`'s body is refused; 2 refused to start (config, self-audit); 3 the treasury gave no usable answer (intent).
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys
from pathlib import Path
from typing import Sequence

import msgspec

from common import messages
from common.api_key_files import next_steps, write_ed25519_key_pair
from common.clock import SystemClock
from common.config import ConfigError, SignalSettings, load_signal_settings
from common.intent_client import TreasuryUnavailable
from common.logs import get_logger, setup_logging
from common.money import AmountError, canonical, parse_amount
from signal_bot import app, bootstrap
from signal_bot.audit import AuditError, audit_environment
from signal_bot.config_file import SignalConfig, Treasury, load_config

log = get_logger("signal.cli")

EXIT_OK, EXIT_SOFT_FAIL, EXIT_REFUSED, EXIT_UNAVAILABLE = 0, 1, 2, 3

_ENV_HELP = "the signal bot's env file (default: signal.env in the working folder, if present)"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="signal-bot",
        description="Turn authenticated trading signals into risk-checked Binance spot orders with a "
                    "trading-only key, and ask the treasury (over CURVE/ZeroMQ) to sweep profits. "
                    "Settings come from the env file (SIGNAL_*, BINANCE_BASE_URL, TREASURY_CURVE_PUBLIC_FILE, "
                    "TREASURY_INTENT_ENDPOINT, TREASURY_EVENT_ENDPOINT) and the TOML file SIGNAL_CONFIG_FILE "
                    "(default signal.toml; see signal_bot/signal.example.toml).")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = sub.add_parser("run", help="serve the webhook and trade until SIGTERM/SIGINT",
                         description="Self-audit (a withdraw-capable key or a treasury secret in the environment "
                                     "stops the start), sync the clock, load exchange rules, reconcile unfinished "
                                     "orders, then serve POST /signal on SIGNAL_WEBHOOK_BIND in the foreground. "
                                     "SIGTERM/SIGINT stop it cleanly (exit 0).")
    run.add_argument("--env-file", metavar="PATH", help=_ENV_HELP)
    run.add_argument("--dry-run", action="store_true",
                     help="validate orders with POST /api/v3/order/test instead of placing them")

    rep = sub.add_parser("replay", help="trade the signals of a JSON-lines file (or - for stdin)",
                         description="Read one JSON signal per line (the same fields as the webhook; no passphrase "
                                     "needed). A bad line is reported with its line number and skipped; exit "
                                     "status 1 if any was skipped.")
    rep.add_argument("file", metavar="FILE|-", help="JSON-lines file, or - for standard input")
    rep.add_argument("--env-file", metavar="PATH", help=_ENV_HELP)
    rep.add_argument("--dry-run", action="store_true", help="use POST /api/v3/order/test")

    intent = sub.add_parser("intent", help="send one transfer intent to the treasury and print its decision",
                            description="Ask the treasury to move AMOUNT of COIN on NETWORK to the whitelisted "
                                        "destination LABEL. Prints the decision as one JSON line. Exit status "
                                        "0 accepted or pending_approval, 1 rejected, 3 no usable answer.")
    intent.add_argument("--destination", required=True, metavar="LABEL", help="the treasury's whitelist label")
    intent.add_argument("--coin", required=True, metavar="COIN", help="e.g. USDT")
    intent.add_argument("--network", required=True, metavar="NETWORK", help="e.g. TRX")
    intent.add_argument("--amount", required=True, metavar="AMOUNT", help='a decimal string, e.g. "25.5"')
    intent.add_argument("--reason", required=True, metavar="TEXT", help="why (at most 200 characters)")
    intent.add_argument("--intent-id", metavar="ID",
                        help="[A-Za-z0-9_-]{1,36}; give the same id to resend the same intent "
                             "(default: a new random id)")
    intent.add_argument("--env-file", metavar="PATH", help=_ENV_HELP)

    check = sub.add_parser("check", help="check env, keys, config, state, exchange key and treasury link",
                           description="A doctor like `treasuryctl check`: one OK/WARN/FAIL line per finding "
                                       "(the exchange key's rights from apiRestrictions among them). Changes "
                                       "nothing. Exit status 0 when nothing is FAIL, else 1.")
    check.add_argument("--env-file", metavar="PATH", help=_ENV_HELP)

    ts = sub.add_parser("test-signal", help="print what a webhook body would become, without trading",
                        description="Read one webhook body (the alert message, JSON or a text command) from "
                                    "FILE (or - for stdin) and print, as JSON, what the running bot would make of "
                                    "it under signal.toml's [feed] profile: the parsed signal and its exchange "
                                    "client order id, the order rounded to the symbol's filters (exchangeInfo "
                                    "and the last price, public reads), or the refusal naming the field. Places "
                                    "no order and writes no state. Exit status 0 an order, 1 a refusal.")
    ts.add_argument("file", metavar="FILE|-", help="the body, as TradingView would post it")
    ts.add_argument("--env-file", metavar="PATH", help=_ENV_HELP + "; without one the passphrase is not checked")
    ts.add_argument("--config", metavar="PATH", help="signal.toml (default: SIGNAL_CONFIG_FILE, else ./signal.toml)")
    ts.add_argument("--offline", action="store_true", help="do not ask the exchange for the symbol's rules")

    keys = sub.add_parser("keys", help="make keys on this host").add_subparsers(dest="keys_command", required=True)
    api = keys.add_parser("binance", help="make an Ed25519 key pair for a Binance API key",
                          description="Write NAME.pem (the private key, mode 0600, never overwritten) and "
                                      "NAME.pub.pem; paste only the public key into Binance.")
    api.add_argument("--dir", default=".", help="folder to write the pair into (default: .)")
    api.add_argument("--name", default="binance-ed25519", help="file name stem (default: binance-ed25519)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_REFUSED
    if args.command == "keys":
        return _keys_binance(args)
    if args.command == "test-signal":
        from signal_bot.test_signal import run_test_signal
        return run_test_signal(args.file, _env_file(args.env_file), args.config, offline=args.offline)
    if args.command == "check":  # reports every problem instead of refusing at the first
        from signal_bot.check import run_check
        return run_check(_env_file(args.env_file))
    try:
        settings = load_signal_settings(_env_file(args.env_file))
        setup_logging("signal-bot", settings.log_level, settings.log_format)
        for warning in settings.warnings:
            log.warning("config_warning", detail=warning)
        if args.command == "intent":
            return _intent(args, settings)
        config = load_config(settings.config_file)
        if args.command == "run":
            return app.run(settings, config, dry_run=args.dry_run)
        return _replay(args, settings, config)
    except (ConfigError, ValueError) as exc:
        return _refuse(str(exc))
    except app.StartupError as exc:
        log.critical("start_refused", code=exc.code, detail=exc.message)
        return _refuse(exc.message)


def _keys_binance(args: argparse.Namespace) -> int:
    try:
        written = write_ed25519_key_pair(Path(args.dir), args.name)
    except ConfigError as exc:
        print(f"signal-bot: {exc}", file=sys.stderr)
        return EXIT_SOFT_FAIL
    print(next_steps(written, "SIGNAL_API_KEY", "SIGNAL_PRIVATE_KEY_FILE"))
    return EXIT_OK


def _env_file(given: str | None) -> str | None:
    if given is not None:
        return given
    default = Path("signal.env")
    return str(default) if default.is_file() else None


def _refuse(message: str) -> int:
    print(f"signal-bot: refusing to start: {message}", file=sys.stderr)
    return EXIT_REFUSED


def _replay(args: argparse.Namespace, settings: SignalSettings, config: SignalConfig) -> int:
    if args.file == "-":
        return app.replay(settings, config, sys.stdin, dry_run=args.dry_run)
    try:
        source = open(args.file, encoding="utf-8")
    except OSError as exc:
        return _refuse(f"cannot read {args.file}: {exc.strerror}")
    with source:
        return app.replay(settings, config, source, dry_run=args.dry_run)


def _intent(args: argparse.Namespace, settings: SignalSettings) -> int:
    try:
        keys, server_public = audit_environment(settings)
    except AuditError as exc:
        return _refuse(exc.message)
    try:
        amount = canonical(parse_amount(args.amount))
    except AmountError as exc:
        return _refuse(f"--amount: {exc}")
    treasury = _treasury_tuning(settings)
    intent_id = args.intent_id or ("man-" + secrets.token_hex(16))
    try:
        intent = messages.TransferIntent(
            intent_id=intent_id, coin=args.coin, network=args.network, destination=args.destination,
            amount=amount, reason=args.reason, created_at=SystemClock().now_ms())
        # Construction does not check patterns; a round trip through the decoder does.
        messages.decode_request(messages.encode(intent))
    except messages.WireError as exc:
        return _refuse(f"invalid intent: {exc.detail}")
    client = bootstrap.intent_client(settings, keys, server_public, treasury)
    try:
        reply = client.send_intent(intent)
    except TreasuryUnavailable as exc:
        print(json.dumps({"intent_id": intent_id, "error": "treasury_unavailable", "detail": str(exc)}))
        return EXIT_UNAVAILABLE
    finally:
        client.close()
    print(msgspec.json.encode(reply).decode())
    if isinstance(reply, messages.Decision):
        log.info("intent_decided", intent_id=intent_id, outcome=reply.outcome, reason_code=reply.reason_code,
                 status=reply.status)
        return EXIT_OK if reply.outcome != "rejected" else EXIT_SOFT_FAIL
    return EXIT_UNAVAILABLE


def _treasury_tuning(settings: SignalSettings) -> Treasury:
    """[treasury] timeout/retries from the config file when it is there; defaults otherwise."""
    try:
        return load_config(settings.config_file).treasury
    except ConfigError:
        return Treasury()


if __name__ == "__main__":
    sys.exit(main())
