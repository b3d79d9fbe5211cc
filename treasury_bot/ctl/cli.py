"""treasuryctl's command line: its arguments, and the dispatch to the command they name."""

from __future__ import annotations

import argparse
import signal

from common.config import ConfigError
from common.logs import setup_logging
from treasury_bot import lifecycle
from treasury_bot.ctl.actions import (cmd_alerts_test, cmd_approve, cmd_freeze, cmd_keys_binance,
                                      cmd_keys_generate, cmd_reject, cmd_resolve)
from treasury_bot.ctl.check import cmd_check
from treasury_bot.ctl.journal import add_commands as add_journal_commands
from treasury_bot.ctl.operators import cmd_loosen_early, cmd_operators_add, cmd_operators_list, cmd_unfreeze
from treasury_bot.ctl.reports import cmd_alerts_list, cmd_list, cmd_show, cmd_status
from treasury_bot.ctl.site import EXIT_USAGE, error_line
from treasury_bot.policy_file import PolicyError

DESCRIPTION = """\
The treasury operator's tool: keys, checks, status, and decisions on intents.
It reads and writes the treasury's ledger directly (safe while the treasury runs)."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="treasuryctl", description=DESCRIPTION,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    env_help = "the treasury's env file (default: treasury.env in the working folder)"
    # Accepted before or after the command: `treasuryctl --env-file F status` and
    # `treasuryctl status --env-file F` both work.
    parser.add_argument("--env-file", default="treasury.env", help=env_help)
    env = argparse.ArgumentParser(add_help=False)
    env.add_argument("--env-file", default=argparse.SUPPRESS, help=env_help)
    # Issue 13 item 3: signed operator actions, on the host or --remote (the operator wire).
    remote_help = ("send the signed action to the treasury's operator wire (TREASURY_OPERATOR_BIND, "
                   "tcp://HOST:PORT) instead of writing the ledger here")
    parser.add_argument("--remote", metavar="ENDPOINT", default=None, help=remote_help)
    parser.add_argument("--curve-secret", default=None, help="--remote: your CURVE certificate "
                        "(default: NAME.key_secret, from operators add)")
    parser.add_argument("--treasury-public", default=None, help="--remote: the treasury's CURVE public certificate")
    parser.add_argument("--remote-timeout", type=float, default=None, help="--remote: seconds to wait (default 10)")
    signed = argparse.ArgumentParser(add_help=False, parents=[env])
    signed.add_argument("--operator", metavar="NAME", default=None,
                        help="sign the action as this operator (required when [approvals] lists operators)")
    signed.add_argument("--key-file", default=None, help="the operator's Ed25519 private key (default: NAME.pem)")
    signed.add_argument("--remote", metavar="ENDPOINT", default=argparse.SUPPRESS, help=remote_help)
    signed.add_argument("--curve-secret", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    signed.add_argument("--treasury-public", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    signed.add_argument("--remote-timeout", type=float, default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    keys = sub.add_parser("keys", help="CURVE certificates and Binance API keys"
                          ).add_subparsers(dest="keys_command", required=True)
    gen = keys.add_parser("generate", help="create NAME.key and NAME.key_secret (mode 0600)")
    gen.add_argument("name", help="the certificate name: a client's identity in the ledger and policy")
    gen.add_argument("--dir", default=".", help="folder to write the pair into (default: .)")
    gen.set_defaults(func=cmd_keys_generate)
    api = keys.add_parser("binance", help="make an Ed25519 key pair for a Binance API key; paste only "
                          "the public key into Binance")
    api.add_argument("--dir", default=".", help="folder to write NAME.pem (0600) and NAME.pub.pem into")
    api.add_argument("--name", default="binance-ed25519", help="file name stem (default: binance-ed25519)")
    api.set_defaults(func=cmd_keys_binance)

    sub.add_parser("check", parents=[env], help="check env, policy, keys, ledger and the exchange "
                   "self-audit; one OK/FAIL line each").set_defaults(func=cmd_check)
    st = sub.add_parser("status", parents=[env], help="open intents, window usage per coin, last poll")
    st.set_defaults(func=cmd_status)
    lst = sub.add_parser("list", parents=[env], help="intents, oldest first")
    lst.add_argument("--status", help="only intents in this status (e.g. pending_approval)")
    lst.add_argument("--since", help="only intents received since: 24h, 7d, an ISO time or ms")
    lst.add_argument("--limit", type=int, default=200, help="at most this many (the newest; default 200)")
    lst.set_defaults(func=cmd_list)
    for parser_with_json in (st, lst):  # issue 14: the stable shape for scripts (docs/operations.md)
        parser_with_json.add_argument("--json", action="store_true", help="print one JSON document "
                                      "(stable shape: docs/operations.md, treasuryctl's JSON)")
    show = sub.add_parser("show", parents=[env], help="one intent with its whole history")
    show.add_argument("intent_id")
    show.set_defaults(func=cmd_show)
    for name, func, text in (("approve", cmd_approve, "approve a pending_approval intent (re-checks limits now)"),
                             ("reject", cmd_reject, "reject a pending_approval intent")):
        action = sub.add_parser(name, parents=[signed], help=text)
        action.add_argument("intent_id")
        action.add_argument("--note", help="why (kept in the ledger)")
        action.set_defaults(func=func)
    res = sub.add_parser("resolve", parents=[env], help="close a needs_review intent after checking the exchange")
    res.add_argument("intent_id")
    res.add_argument("--as", dest="as_status", required=True, choices=lifecycle.RESOLVE_AS,
                     help="what the exchange shows for it")
    res.add_argument("--note", required=True, help="what you checked (kept in the ledger)")
    res.set_defaults(func=cmd_resolve)

    frz = sub.add_parser("freeze", parents=[env], help="stop every withdrawal now (survives restarts); "
                         "new intents are rejected as frozen")
    frz.add_argument("--reason", required=True, help="why (in the CRITICAL mail and the ledger)")
    frz.add_argument("--operator", help="who freezes (default: this host's user@host)")
    frz.set_defaults(func=cmd_freeze)
    ops = sub.add_parser("operators", help="the approvers' signing keys ([approvals], issue 13)"
                         ).add_subparsers(dest="operators_command", required=True)
    add = ops.add_parser("add", help="make NAME.pem (0600) + NAME.pub.pem (Ed25519) and NAME.key_secret + "
                         "NAME.key (CURVE, for --remote) for a person")
    add.add_argument("name", help="the operator's name, as listed in [approvals] operators")
    add.add_argument("--dir", default=".", help="folder to write the four files into (default: .)")
    add.set_defaults(func=cmd_operators_add)
    ops.add_parser("list", parents=[env], help="the operators known beside the policy file, and the quorum"
                   ).set_defaults(func=cmd_operators_list)
    unfreeze = sub.add_parser("unfreeze", parents=[signed], help="lift the freeze (with a quorum: one signed "
                              "vote per operator)")
    unfreeze.add_argument("--note", help="why it is safe now (kept in the ledger)")
    unfreeze.set_defaults(func=cmd_unfreeze)
    early = sub.add_parser("loosen-early", parents=[signed], help="one signed vote to let a pending loosening "
                           "take effect before its quarantine ends (at the quorum; from the next start)")
    early.add_argument("setting", help="the pending loosening's setting, as `status` lists it "
                       "(e.g. limits.coins.USDT.max_per_transfer)")
    early.set_defaults(func=cmd_loosen_early)

    alerts = sub.add_parser("alerts", help="the alert mail outbox").add_subparsers(dest="alerts_command", required=True)
    alerts.add_parser("test", parents=[env], help="send a test mail through the configured SMTP server"
                      ).set_defaults(func=cmd_alerts_test)
    alist = alerts.add_parser("list", parents=[env], help="show the outbox")
    alist.add_argument("--unsent", action="store_true", help="only alerts not yet accepted by the mail server")
    alist.add_argument("--limit", type=int, default=50)
    alist.set_defaults(func=cmd_alerts_list)
    add_journal_commands(sub, env)  # verify, export, backup (issue 13 items 4 and 6)
    from treasury_bot.ctl.reload import cmd_reload  # issue 16 item 1
    sub.add_parser("reload", parents=[env], help="re-read the allow-list, the policy file and the exchange "
                   "key (SIGHUP to the pid in <ledger>.pid)").set_defaults(func=cmd_reload)
    return parser


def console_main() -> int:
    """The `treasuryctl` console script: `treasuryctl list | head` ends quietly once head has
    read enough, as a Unix tool does, not with a BrokenPipeError traceback (seen trying the
    demo as a new user). Only here: `main` runs inside other processes (the tests) too."""
    if hasattr(signal, "SIGPIPE"):
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    return main()


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    setup_logging("treasuryctl", "WARNING")
    try:
        return args.func(args)
    except (ConfigError, PolicyError, ValueError) as exc:
        error_line(f"treasuryctl: {exc}")
        return EXIT_USAGE
