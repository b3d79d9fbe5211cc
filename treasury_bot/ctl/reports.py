"""The read-only commands: `status`, `list`, `show` and `alerts list`, printed from the ledger."""

from __future__ import annotations

from common.clock import SystemClock
from treasury_bot import lifecycle
from treasury_bot.ctl.site import EXIT_FAIL, EXIT_OK, error_line, ledger_and_policy
from treasury_bot.ctl.text import intent_line, parse_since, percent, utc
from treasury_bot.decider import load_usage
from treasury_bot.ledger import Ledger
from treasury_bot.loosening import Resolution, describe
from treasury_bot.operator import ledger_now
from treasury_bot.policy_model import Policy
from treasury_bot.policy_in_force import resolve_from_ledger
from treasury_bot.trusted_clock import (META_DISAGREEMENT_SINCE, META_MEASURED_AT, META_OFFSET_MS,
                                        host_clock)


def cmd_status(args) -> int:
    if getattr(args, "json", False):
        from treasury_bot.ctl.json_reports import cmd_status_json
        return cmd_status_json(args)
    ledger, policy, settings = ledger_and_policy(args, need_policy=True)
    try:
        # The treasury's time (the exchange's), not this host's: see operator.ledger_now.
        now = ledger_now(ledger, host_clock(settings))
        print(freeze_line(ledger))
        for _, name, detail in pending_lines(ledger, policy):
            print(f"{name}: {detail}")
        policy = in_force(ledger, policy).effective  # the limits in force, not the file's
        print(_mode_line(policy))
        open_items = ledger.intents_with_status(lifecycle.OPEN, limit=100_000)
        print(f"open intents: {len(open_items)}")
        for record in open_items:
            print("  " + intent_line(record))
        usage = load_usage(ledger, policy, now)
        print(f"window usage (last {policy.limits.window_hours} h), transfers in the last hour: "
              f"{usage.hour_count}/{policy.limits.max_transfers_per_hour}")
        for coin, limits in sorted(policy.limits.coins.items()):
            used = usage.coin_sum(coin)
            print(f"  {coin}: {used} of {limits.window_cap} ({percent(used, limits.window_cap)})")
        for destination in policy.destinations:
            if destination.window_cap is not None:
                used = usage.destination_sum(destination.label)
                print(f"  {destination.label}: {used} of {destination.window_cap} "
                      f"({percent(used, destination.window_cap)})")
        last_poll = ledger.get_meta("last_poll_at")
        print(f"last poll: {utc(int(last_poll)) if last_poll else 'never'}")
        rules = ledger.load_coin_rules()
        print(f"coin rules fetched: {utc(rules[0]) if rules else 'never'}")
        print(f"alerts waiting to be mailed: {ledger.outbox.counts().unsent}")
        print(_clock_line(ledger))
        print(_quota_line(ledger))
        print(_approvals_line(ledger, policy))
        _print_withdrawal_blocks(ledger)
        _print_foreign_withdrawals(ledger)
    finally:
        ledger.close()
    return EXIT_OK


def freeze_line(ledger) -> str:
    """First, because it overrides everything below it (issue 13 item 1)."""
    from treasury_bot.freeze import current
    state = current(ledger)
    if state is None:
        return "frozen: no"
    return (f"FROZEN since {utc(state.frozen_at)} ({state.label}): {state.describe()}; "
            "no withdrawal is sent, new intents are rejected (treasuryctl unfreeze)")

def _mode_line(policy: Policy) -> str:
    """Issue 13 item 7: shadow mode is the first thing an operator must not miss."""
    if policy.shadow:
        return "mode: SHADOW (decides, journals and mails; sends no withdrawal)"
    return "mode: live"


def _print_foreign_withdrawals(ledger) -> None:
    """Issue 13 item 5: withdrawals on the account the ledger did not make, newest first."""
    from treasury_bot.foreign_watch import LAST_PASS_META
    last = ledger.get_meta(LAST_PASS_META)
    found = ledger.foreign_withdrawals(limit=20)
    print(f"foreign-withdrawal watch: last pass {utc(int(last)) if last else 'never'}; "
          f"{len(found)} foreign withdrawal(s) found")
    for row in found:
        print(f"  {row.withdrawal_id} {row.amount} {row.coin}/{row.network or '?'} to {row.address} "
              f"order id {row.withdraw_order_id or '(none)'} found {utc(row.found_at)}: {row.detail}")


def _quota_line(ledger) -> str:
    """The exchange's 24-hour withdrawal quota as the treasury last read it (issue 12 item 4)."""
    from treasury_bot.quota_guard import saved_note
    from treasury_bot.withdraw_quota import summary
    note = saved_note(ledger)
    if note.reading is None:
        return "withdraw quota (exchange, 24 h): not read yet (it is read before each withdrawal)"
    high = " (at or above 80%: alerted)" if note.reading.high else ""
    waiting = [i for i in note.held_alerted
               if (record := ledger.get_intent(i)) is not None and record.status == lifecycle.QUEUED]
    held = f", {len(waiting)} intent(s) waiting for it: {', '.join(waiting)}" if waiting else ""
    return (f"withdraw quota (exchange, 24 h): {summary(note.reading)}{high}{held}, "
            f"read {utc(note.reading.read_at_ms)}")


def _approvals_line(ledger, policy: Policy) -> str:
    """Issue 13 item 3: the quorum in force and the expiry thread's last check."""
    from treasury_bot.operator_actions import META_CHECKED_AT
    approvals = policy.approvals
    who = (f"quorum {approvals.quorum} of {', '.join(approvals.operators)} (signed)" if approvals.signed
           else "unsigned (no operators listed)")
    checked = ledger.get_meta(META_CHECKED_AT)
    return (f"approvals: {who}, pending intents expire after {approvals.ttl_hours} h; "
            f"last expiry check {utc(int(checked)) if checked else 'never'}")


def _clock_line(ledger) -> str:
    """The host-to-exchange offset the treasury last measured (treasury_bot/trusted_clock.py)."""
    offset = ledger.get_meta(META_OFFSET_MS)
    if not offset:
        return "clock: not measured yet"
    measured = ledger.get_meta(META_MEASURED_AT)
    apart = " (more than 60 s apart: alerted)" if ledger.get_meta(META_DISAGREEMENT_SINCE) else ""
    return (f"clock: exchange minus host {offset} ms, measured "
            f"{utc(int(measured)) if measured else '?'}{apart}")


def cmd_list(args) -> int:
    if getattr(args, "json", False):
        from treasury_bot.ctl.json_reports import cmd_list_json
        return cmd_list_json(args)
    ledger, _, _ = ledger_and_policy(args)
    try:
        since = parse_since(args.since, SystemClock().now_ms()) if args.since else None
        records = ledger.list_intents(status=args.status, since_ms=since, limit=args.limit)
        print(f"{'INTENT':<36} {'STATUS':<17} {'AMOUNT':>14} {'COIN':<6}    {'DESTINATION':<20} "
              f"{'CLIENT':<12} {'REASON':<24} UPDATED")
        for record in records:
            print(intent_line(record))
        print(f"({len(records)} intent(s))")
    finally:
        ledger.close()
    return EXIT_OK


def cmd_show(args) -> int:
    ledger, _, _ = ledger_and_policy(args)
    try:
        record = ledger.get_intent(args.intent_id)
        if record is None:
            error_line(f"no intent {args.intent_id!r}")
            return EXIT_FAIL
        for name in ("intent_id", "client", "coin", "network", "destination", "address", "tag", "amount",
                     "reason", "outcome", "reason_code", "detail", "status", "withdrawal_id", "tx_id"):
            print(f"{name:<14} {getattr(record, name)}")
        print(f"{'created_at':<14} {utc(record.created_at)}")
        print(f"{'received_at':<14} {utc(record.received_at)}")
        withdrawal = ledger.withdrawal(record.seq)
        if withdrawal is not None:
            print(f"{'attempts':<14} {withdrawal.attempts}")
            if withdrawal.error_code:
                print(f"{'error':<14} {withdrawal.error_code} {withdrawal.error_message or ''}")
        print("decisions:")
        for at, by, outcome, code, detail in ledger.decisions_of(record):
            print(f"  {utc(at)} {by:<9} {outcome:<17} {code or '':<24} {detail}")
        print("status history:")
        for at, before, after, source, note in ledger.transitions_of(record):
            print(f"  {utc(at)} {before or '-':>17} -> {after:<17} by {source:<9} {note}")
        actions = ledger.operator_actions_of(record.intent_id)  # issue 13 item 3
        if actions:
            print("signed operator actions:")
            for row in actions:
                print(f"  {utc(row.received_at)} {row.operator:<12} {row.action:<8} via {row.via:<6} "
                      f"signed {utc(row.signed_at)}: {row.result}")
    finally:
        ledger.close()
    return EXIT_OK


def cmd_alerts_list(args) -> int:
    from treasury_bot.alerts.ctl import outbox_lines
    ledger, _, _ = ledger_and_policy(args)
    try:
        for line in outbox_lines(ledger, unsent_only=args.unsent, limit=args.limit):
            print(line)
    finally:
        ledger.close()
    return EXIT_OK


def in_force(ledger: Ledger, policy: Policy) -> Resolution:
    """The policy the treasury runs with now (docs/design.md section 9), read without writing."""
    return resolve_from_ledger(ledger, policy, ledger_now(ledger, SystemClock()))


def pending_lines(ledger: Ledger, policy: Policy) -> list[tuple[bool, str, str]]:
    """The loosenings waiting for their quarantine (docs/design.md section 9), one line each. A
    change the treasury has not seen yet (edited since its start) shows as first seen now:
    its quarantine starts only when the treasury next starts."""
    pending = in_force(ledger, policy).pending
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
        print(f"withdrawals: HALTED since {utc(at)}: {reason}")
    stalls = ledger.open_stalls()
    print(f"stalled intents (queued, not sent for stuck_after_minutes): {len(stalls)}")
    for stall in stalls:
        print(f"  {stall.intent_id:<36} alerted {utc(stall.alerted_at)}: {stall.reason}")
