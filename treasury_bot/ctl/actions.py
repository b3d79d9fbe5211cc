"""The commands that change something: `keys generate`, `keys binance`, `approve`, `reject`, `resolve`,
`freeze`, `alerts test` (a mail)."""

from __future__ import annotations

from pathlib import Path

from common.api_key_files import next_steps, write_ed25519_key_pair
from common.config import load_treasury_settings
from common.curve import generate
from treasury_bot.ctl.site import EXIT_FAIL, EXIT_OK, error_line, ledger_and_policy
from treasury_bot.ctl.text import utc
from treasury_bot.operator import OperatorError, approve, reject, resolve
from treasury_bot.trusted_clock import host_clock


def cmd_keys_generate(args) -> int:
    public, secret = generate(Path(args.dir), args.name)
    print(f"public certificate: {public}  (give it to the treasury's TREASURY_AUTHORIZED_CLIENTS_DIR,")
    print("                     or, for the treasury's own pair, to each client's TREASURY_CURVE_PUBLIC_FILE)")
    print(f"secret certificate: {secret}  (mode 0600; never leaves this host)")
    return EXIT_OK


def cmd_keys_binance(args) -> int:
    written = write_ed25519_key_pair(Path(args.dir), args.name)
    print(next_steps(written, "TREASURY_API_KEY", "TREASURY_PRIVATE_KEY_FILE"))
    return EXIT_OK


def _operator_action(args, action, *, need_policy: bool = False) -> int:
    """Run one operator action on the ledger; print its result, or why it was refused."""
    ledger, policy, settings = ledger_and_policy(args, need_policy=need_policy)
    try:
        # The same host clock as the treasury's (with its test-only offset, sandbox only), so
        # that the offset it stored in the ledger corrects it exactly (operator.ledger_now).
        result = action(ledger, policy, host_clock(settings))
    except OperatorError as exc:
        error_line(f"treasuryctl: {exc} [{exc.code}]")
        return EXIT_FAIL
    finally:
        ledger.close()
    print(f"{result.intent_id}: {result.message} (status {result.status})")
    return EXIT_OK


def _signed(args) -> bool:
    """Issue 13 item 3: --operator (or --remote) makes it a signed action (ctl/operators.py)."""
    return bool(getattr(args, "operator", None) or getattr(args, "remote", None))


def cmd_approve(args) -> int:
    if _signed(args):
        from treasury_bot.ctl.operators import cmd_signed
        return cmd_signed(args, "approve")
    return _operator_action(args, lambda ledger, policy, clock: approve(
        ledger, policy, args.intent_id, clock, args.note or ""), need_policy=True)


def cmd_reject(args) -> int:
    if _signed(args):
        from treasury_bot.ctl.operators import cmd_signed
        return cmd_signed(args, "reject")
    return _operator_action(args, lambda ledger, policy, clock: reject(
        ledger, args.intent_id, clock, args.note or "", policy=policy), need_policy=True)


def cmd_resolve(args) -> int:
    return _operator_action(args, lambda ledger, _policy, clock: resolve(
        ledger, args.intent_id, args.as_status, args.note, clock))


def who_acts(operator: str | None) -> str:
    """The name a freeze is recorded under: the operator named, else this host's user."""
    if operator:
        return operator
    import getpass
    import socket
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown-user"
    return f"{user}@{socket.gethostname()}"


def cmd_freeze(args) -> int:
    """Issue 13 item 1: stop every apply now; tightening, so no quorum is ever needed."""
    from treasury_bot.freeze import FreezeError, freeze
    ledger, _policy, settings = ledger_and_policy(args)
    try:
        before = ledger.open_freeze()
        state = freeze(ledger, by=who_acts(args.operator), reason=args.reason, now=host_clock(settings).now_ms())
    except FreezeError as exc:
        error_line(f"treasuryctl: {exc} [{exc.code}]")
        return EXIT_FAIL
    finally:
        ledger.close()
    if before is not None:
        print(f"already frozen since {utc(state.frozen_at)}: {state.describe()} (kept as it was)")
    else:
        print(f"FROZEN: {state.describe()}. No withdrawal is sent until `treasuryctl unfreeze`.")
    return EXIT_OK


def cmd_alerts_test(args) -> int:
    from treasury_bot.alerts.transport import send_test_mail
    settings = load_treasury_settings(args.env_file)
    accepted, detail = send_test_mail(settings.smtp)
    print(("accepted: " if accepted else "NOT accepted: ") + detail)
    return EXIT_OK if accepted else EXIT_FAIL
