"""`treasuryctl`: the operator's tool. It works on the ledger directly and is safe to run
while the treasury runs (every change is one short `BEGIN IMMEDIATE` transaction)."""

from __future__ import annotations

import argparse
import re
import sys
from datetime import datetime, timezone
from pathlib import Path

from common.clock import SystemClock
from common.config import ConfigError, TreasurySettings, load_treasury_settings
from common.curve import generate, load_authorized_clients, load_key_pair
from common.logs import mask_key, setup_logging
from treasury_bot.app import open_ledger
from treasury_bot.decider import load_usage
from treasury_bot import lifecycle
from treasury_bot.ledger import IntentRecord
from treasury_bot.operator import OperatorError, approve, ledger_now, reject, resolve
from treasury_bot.ledger import Ledger
from treasury_bot.loosening import Resolution, describe
from treasury_bot.policy_file import PolicyError, load_policy_for
from treasury_bot.policy_in_force import resolve_from_ledger
from treasury_bot.policy_model import Policy
from treasury_bot.trusted_clock import (META_DISAGREEMENT_SINCE, META_MEASURED_AT, META_OFFSET_MS,
                                        host_clock)

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2

DESCRIPTION = """\
The treasury operator's tool: keys, checks, status, and decisions on intents.
It reads and writes the treasury's ledger directly (safe while the treasury runs)."""


def _utc(ms: int | None) -> str:
    if ms is None:
        return "-"
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ")


def parse_since(text: str, now_ms: int) -> int:
    """`24h`, `7d`, `30m`, milliseconds, or an ISO date/time (UTC if no zone)."""
    match = re.fullmatch(r"(\d+)([smhd])", text.strip())
    if match:
        unit = {"s": 1_000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}[match.group(2)]
        return now_ms - int(match.group(1)) * unit
    if text.isdigit():
        return int(text)
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"--since: {text!r} is not like 24h, 7d, an ISO time or milliseconds") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return int(when.timestamp() * 1000)


# -- commands ------------------------------------------------------------------------------

def cmd_keys_generate(args) -> int:
    public, secret = generate(Path(args.dir), args.name)
    print(f"public certificate: {public}  (give it to the treasury's TREASURY_AUTHORIZED_CLIENTS_DIR,")
    print("                     or, for the treasury's own pair, to each client's TREASURY_CURVE_PUBLIC_FILE)")
    print(f"secret certificate: {secret}  (mode 0600; never leaves this host)")
    return EXIT_OK


def cmd_check(args) -> int:
    lines: list[tuple[bool, str, str]] = []
    try:
        settings = load_treasury_settings(args.env_file)
        lines.append((True, "env", f"{settings.env_path} (key {mask_key(settings.credentials.key)})"))
        for warning in settings.warnings:
            lines.append((False, "env mode", warning))
    except ConfigError as exc:
        lines.append((False, "env", str(exc)))
        return _print_check(lines)
    policy = None
    try:
        loaded = load_policy_for(settings.policy_file, settings.base_url)
        policy = loaded.policy
        lines.append((True, "policy", f"{loaded.path} sha256 {loaded.sha256[:16]}…, "
                                      f"{len(policy.destinations)} destination(s)"))
    except PolicyError as exc:
        lines.append((False, "policy", str(exc)))
    try:
        load_key_pair(settings.curve_secret_file, "TREASURY_CURVE_SECRET_FILE")
        lines.append((True, "curve key", str(settings.curve_secret_file)))
    except ConfigError as exc:
        lines.append((False, "curve key", str(exc)))
    try:
        clients = load_authorized_clients(settings.authorized_clients_dir)
        lines.append((True, "clients", ", ".join(sorted(clients.values()))))
    except ConfigError as exc:
        lines.append((False, "clients", str(exc)))
    try:
        ledger = open_ledger(settings.ledger_path)
        count = ledger.intent_count()
        lines.append((True, "ledger", f"{settings.ledger_path} ({count} intents)"))
        if policy is not None:
            # What the treasury would run with: the audit below judges the policy IN FORCE.
            lines.extend(_pending_lines(ledger, policy))
            policy = _in_force(ledger, policy).effective
        ledger.close()
    except Exception as exc:  # any failure to open is the check's answer
        lines.append((False, "ledger", f"{settings.ledger_path}: {type(exc).__name__}: {exc}"))
    if policy is not None:
        lines.extend(_exchange_checks(settings, policy))
    return _print_check(lines)


def _exchange_checks(settings: TreasurySettings, policy) -> list[tuple[bool, str, str]]:
    from common.binance import BinanceClient, ExchangeError
    from treasury_bot.audit import audit_key, audit_whitelist
    from treasury_bot.withdraw_rules import coin_rules_from_config
    client = BinanceClient(settings.base_url, settings.credentials.key, settings.credentials.secret)
    try:
        offset = client.sync_time()
        lines = [(True, "exchange clock", f"offset {offset} ms from {settings.base_url}")]
        findings = audit_key(client.api_restrictions(), client.account(), policy)
        findings += audit_whitelist(policy, coin_rules_from_config(client.coin_config()))
    except ExchangeError as exc:
        return [(False, "exchange", str(exc))]
    finally:
        client.close()
    for finding in findings:
        lines.append((finding.ok or finding.overridden, finding.check, finding.detail))
    return lines


def _print_check(lines) -> int:
    for ok, name, detail in lines:
        print(f"{'OK  ' if ok else 'FAIL'} {name:<24} {detail}")
    return EXIT_OK if all(ok for ok, _, _ in lines) else EXIT_FAIL


def _ledger_and_policy(args, need_policy: bool = False):
    settings = load_treasury_settings(args.env_file)
    policy = load_policy_for(settings.policy_file, settings.base_url).policy if need_policy else None
    return open_ledger(settings.ledger_path), policy, settings


def cmd_status(args) -> int:
    ledger, policy, settings = _ledger_and_policy(args, need_policy=True)
    try:
        # The treasury's time (the exchange's), not this host's: see operator.ledger_now.
        now = ledger_now(ledger, host_clock(settings))
        for _, name, detail in _pending_lines(ledger, policy):
            print(f"{name}: {detail}")
        policy = _in_force(ledger, policy).effective  # the limits in force, not the file's
        open_items = ledger.intents_with_status(lifecycle.OPEN, limit=100_000)
        print(f"open intents: {len(open_items)}")
        for record in open_items:
            print("  " + _line(record))
        usage = load_usage(ledger, policy, now)
        print(f"window usage (last {policy.limits.window_hours} h), transfers in the last hour: "
              f"{usage.hour_count}/{policy.limits.max_transfers_per_hour}")
        for coin, limits in sorted(policy.limits.coins.items()):
            used = usage.coin_sum(coin)
            print(f"  {coin}: {used} of {limits.window_cap} ({_percent(used, limits.window_cap)})")
        for destination in policy.destinations:
            if destination.window_cap is not None:
                used = usage.destination_sum(destination.label)
                print(f"  {destination.label}: {used} of {destination.window_cap} "
                      f"({_percent(used, destination.window_cap)})")
        last_poll = ledger.get_meta("last_poll_at")
        print(f"last poll: {_utc(int(last_poll)) if last_poll else 'never'}")
        rules = ledger.load_coin_rules()
        print(f"coin rules fetched: {_utc(rules[0]) if rules else 'never'}")
        print(f"alerts waiting to be mailed: {ledger.outbox.counts().unsent}")
        print(_clock_line(ledger))
        _print_withdrawal_blocks(ledger)
    finally:
        ledger.close()
    return EXIT_OK


def _clock_line(ledger) -> str:
    """The host-to-exchange offset the treasury last measured (treasury_bot/trusted_clock.py)."""
    offset = ledger.get_meta(META_OFFSET_MS)
    if not offset:
        return "clock: not measured yet"
    measured = ledger.get_meta(META_MEASURED_AT)
    apart = " (more than 60 s apart: alerted)" if ledger.get_meta(META_DISAGREEMENT_SINCE) else ""
    return (f"clock: exchange minus host {offset} ms, measured "
            f"{_utc(int(measured)) if measured else '?'}{apart}")


def _percent(used, cap) -> str:
    return f"{(used * 100 / cap):.0f}%" if cap else "-"


def _line(record: IntentRecord) -> str:
    return (f"{record.intent_id:<36} {record.status:<17} {record.amount:>14} {record.coin:<6} "
            f"-> {record.destination:<20} {record.client:<12} {record.reason_code or '':<24} "
            f"{_utc(record.updated_at)}")


def cmd_list(args) -> int:
    ledger, _, _ = _ledger_and_policy(args)
    try:
        since = parse_since(args.since, SystemClock().now_ms()) if args.since else None
        records = ledger.list_intents(status=args.status, since_ms=since, limit=args.limit)
        print(f"{'INTENT':<36} {'STATUS':<17} {'AMOUNT':>14} {'COIN':<6}    {'DESTINATION':<20} "
              f"{'CLIENT':<12} {'REASON':<24} UPDATED")
        for record in records:
            print(_line(record))
        print(f"({len(records)} intent(s))")
    finally:
        ledger.close()
    return EXIT_OK


def cmd_show(args) -> int:
    ledger, _, _ = _ledger_and_policy(args)
    try:
        record = ledger.get_intent(args.intent_id)
        if record is None:
            _error_line(f"no intent {args.intent_id!r}")
            return EXIT_FAIL
        for name in ("intent_id", "client", "coin", "network", "destination", "address", "tag", "amount",
                     "reason", "outcome", "reason_code", "detail", "status", "withdrawal_id", "tx_id"):
            print(f"{name:<14} {getattr(record, name)}")
        print(f"{'created_at':<14} {_utc(record.created_at)}")
        print(f"{'received_at':<14} {_utc(record.received_at)}")
        withdrawal = ledger.withdrawal(record.seq)
        if withdrawal is not None:
            print(f"{'attempts':<14} {withdrawal.attempts}")
            if withdrawal.error_code:
                print(f"{'error':<14} {withdrawal.error_code} {withdrawal.error_message or ''}")
        print("decisions:")
        for at, by, outcome, code, detail in ledger.decisions_of(record):
            print(f"  {_utc(at)} {by:<9} {outcome:<17} {code or '':<24} {detail}")
        print("status history:")
        for at, before, after, source, note in ledger.transitions_of(record):
            print(f"  {_utc(at)} {before or '-':>17} -> {after:<17} by {source:<9} {note}")
    finally:
        ledger.close()
    return EXIT_OK


def _operator_action(args, action, *, need_policy: bool = False) -> int:
    """Run one operator action on the ledger; print its result, or why it was refused."""
    ledger, policy, settings = _ledger_and_policy(args, need_policy=need_policy)
    try:
        # The same host clock as the treasury's (with its test-only offset, sandbox only), so
        # that the offset it stored in the ledger corrects it exactly (operator.ledger_now).
        result = action(ledger, policy, host_clock(settings))
    except OperatorError as exc:
        _error_line(f"treasuryctl: {exc} [{exc.code}]")
        return EXIT_FAIL
    finally:
        ledger.close()
    print(f"{result.intent_id}: {result.message} (status {result.status})")
    return EXIT_OK


def cmd_approve(args) -> int:
    return _operator_action(args, lambda ledger, policy, clock: approve(
        ledger, policy, args.intent_id, clock, args.note or ""), need_policy=True)


def cmd_reject(args) -> int:
    return _operator_action(args, lambda ledger, _policy, clock: reject(
        ledger, args.intent_id, clock, args.note or ""))


def cmd_resolve(args) -> int:
    return _operator_action(args, lambda ledger, _policy, clock: resolve(
        ledger, args.intent_id, args.as_status, args.note, clock))


def cmd_alerts_test(args) -> int:
    from treasury_bot.alerts.transport import send_test_mail
    settings = load_treasury_settings(args.env_file)
    accepted, detail = send_test_mail(settings.smtp)
    print(("accepted: " if accepted else "NOT accepted: ") + detail)
    return EXIT_OK if accepted else EXIT_FAIL


def cmd_alerts_list(args) -> int:
    from treasury_bot.alerts.ctl import outbox_lines
    ledger, _, _ = _ledger_and_policy(args)
    try:
        for line in outbox_lines(ledger, unsent_only=args.unsent, limit=args.limit):
            print(line)
    finally:
        ledger.close()
    return EXIT_OK


# -- parsing ---------------------------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="treasuryctl", description=DESCRIPTION,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    env_help = "the treasury's env file (default: treasury.env in the working folder)"
    # Accepted before or after the command: `treasuryctl --env-file F status` and
    # `treasuryctl status --env-file F` both work.
    parser.add_argument("--env-file", default="treasury.env", help=env_help)
    env = argparse.ArgumentParser(add_help=False)
    env.add_argument("--env-file", default=argparse.SUPPRESS, help=env_help)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    keys = sub.add_parser("keys", help="CURVE certificates").add_subparsers(dest="keys_command", required=True)
    gen = keys.add_parser("generate", help="create NAME.key and NAME.key_secret (mode 0600)")
    gen.add_argument("name", help="the certificate name: a client's identity in the ledger and policy")
    gen.add_argument("--dir", default=".", help="folder to write the pair into (default: .)")
    gen.set_defaults(func=cmd_keys_generate)

    sub.add_parser("check", parents=[env], help="check env, policy, keys, ledger and the exchange "
                   "self-audit; one OK/FAIL line each").set_defaults(func=cmd_check)
    sub.add_parser("status", parents=[env], help="open intents, window usage per coin, last poll"
                   ).set_defaults(func=cmd_status)
    lst = sub.add_parser("list", parents=[env], help="intents, oldest first")
    lst.add_argument("--status", help="only intents in this status (e.g. pending_approval)")
    lst.add_argument("--since", help="only intents received since: 24h, 7d, an ISO time or ms")
    lst.add_argument("--limit", type=int, default=200, help="at most this many (the newest; default 200)")
    lst.set_defaults(func=cmd_list)
    show = sub.add_parser("show", parents=[env], help="one intent with its whole history")
    show.add_argument("intent_id")
    show.set_defaults(func=cmd_show)
    for name, func, text in (("approve", cmd_approve, "approve a pending_approval intent (re-checks limits now)"),
                             ("reject", cmd_reject, "reject a pending_approval intent")):
        action = sub.add_parser(name, parents=[env], help=text)
        action.add_argument("intent_id")
        action.add_argument("--note", help="why (kept in the ledger)")
        action.set_defaults(func=func)
    res = sub.add_parser("resolve", parents=[env], help="close a needs_review intent after checking the exchange")
    res.add_argument("intent_id")
    res.add_argument("--as", dest="as_status", required=True, choices=lifecycle.RESOLVE_AS,
                     help="what the exchange shows for it")
    res.add_argument("--note", required=True, help="what you checked (kept in the ledger)")
    res.set_defaults(func=cmd_resolve)

    alerts = sub.add_parser("alerts", help="the alert mail outbox").add_subparsers(dest="alerts_command", required=True)
    alerts.add_parser("test", parents=[env], help="send a test mail through the configured SMTP server"
                      ).set_defaults(func=cmd_alerts_test)
    alist = alerts.add_parser("list", parents=[env], help="show the outbox")
    alist.add_argument("--unsent", action="store_true", help="only alerts not yet accepted by the mail server")
    alist.add_argument("--limit", type=int, default=50)
    alist.set_defaults(func=cmd_alerts_list)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    setup_logging("treasuryctl", "WARNING")
    try:
        return args.func(args)
    except (ConfigError, PolicyError, ValueError) as exc:
        _error_line(f"treasuryctl: {exc}")
        return EXIT_USAGE


def _in_force(ledger: Ledger, policy: Policy) -> Resolution:
    """The policy the treasury runs with now (docs/design.md section 9), read without writing."""
    return resolve_from_ledger(ledger, policy, ledger_now(ledger, SystemClock()))


def _pending_lines(ledger: Ledger, policy: Policy) -> list[tuple[bool, str, str]]:
    """The loosenings waiting for their quarantine (docs/design.md section 9), one line each. A
    change the treasury has not seen yet (edited since its start) shows as first seen now:
    its quarantine starts only when the treasury next starts."""
    pending = _in_force(ledger, policy).pending
    if not pending:
        return [(True, "pending loosenings", "none")]
    return [(True, "pending loosening", describe(p)) for p in pending]



def _print_withdrawal_blocks(ledger) -> None:
    """Issue 10, defect 3: why withdrawals are halted, and which queued intents could not
    be sent for stuck_after_minutes, each with its reason."""
    from treasury_bot import withdrawal_notes
    halted = withdrawal_notes.halted(ledger)
    if halted is None:
        print("withdrawals: running")
    else:
        reason, at = halted
        print(f"withdrawals: HALTED since {_utc(at)}: {reason}")
    stalls = ledger.open_stalls()
    print(f"stalled intents (queued, not sent for stuck_after_minutes): {len(stalls)}")
    for stall in stalls:
        print(f"  {stall.intent_id:<36} alerted {_utc(stall.alerted_at)}: {stall.reason}")


if __name__ == "__main__":
    sys.exit(main())


def _error_line(text: str) -> None:
    """One write for the text and its newline: `print` writes them apart, and a log line
    from another thread landing between them garbles the refusal code scripts read."""
    sys.stderr.write(text + "\n")
    sys.stderr.flush()
