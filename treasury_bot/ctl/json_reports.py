"""`treasuryctl status --json` and `treasuryctl list --json` (issue 14): the same facts as
the text commands, in a stable shape for scripts (docs/operations.md, "treasuryctl's JSON").

Rules of the shape (`schema` names it; a field is only ever added, never renamed or
retyped, while the number stays): money as strings (the ledger's Decimal text, exactly),
times twice: `*_ms` (integer ms since the epoch, the treasury's clock) and the same instant
as an ISO 8601 UTC string (`*_at`, `2026-05-09T12:00:01.123Z`); absent values are null.
The builders are pure (`status_document`, `intent_document`); the commands read the ledger.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any, Iterable, Mapping

from treasury_bot import lifecycle
from treasury_bot.alerts.formats import iso_utc
from treasury_bot.ledger import IntentRecord

STATUS_SCHEMA = "treasuryctl.status/1"
LIST_SCHEMA = "treasuryctl.list/1"


def when(ms: int | None) -> str | None:
    return iso_utc(ms) if ms is not None else None


def _money(value: Decimal | str) -> str:
    return str(value)


def intent_document(r: IntentRecord) -> dict[str, Any]:
    """Pure: one intent as scripts see it."""
    return {"intent_id": r.intent_id, "client": r.client, "coin": r.coin, "network": r.network,
            "destination": r.destination, "amount": _money(r.amount), "reason": r.reason,
            "outcome": r.outcome, "reason_code": r.reason_code, "status": r.status,
            "withdrawal_id": r.withdrawal_id, "tx_id": r.tx_id,
            "created_ms": r.created_at, "created_at": when(r.created_at),
            "received_ms": r.received_at, "received_at": when(r.received_at),
            "updated_ms": r.updated_at, "updated_at": when(r.updated_at)}


def _used(used: Decimal, cap: Decimal) -> dict[str, Any]:
    return {"used": _money(used), "cap": _money(cap),
            "ratio": _money((used / cap).normalize()) if cap else None}


def status_document(*, now_ms: int, frozen: Any, halted: tuple[str, int] | None, open_items: Iterable[IntentRecord],
                    policy: Any, usage: Any, last_poll_ms: int | None, coin_rules_ms: int | None,
                    outbox_unsent: int, clock_offset_ms: int | None, clock_measured_ms: int | None,
                    stalls: Iterable[Any], pending_loosenings: Iterable[str]) -> dict[str, Any]:
    """Pure: `treasuryctl status --json` from what the command read."""
    limits = policy.limits
    open_list = [intent_document(r) for r in open_items]
    return {
        "schema": STATUS_SCHEMA,
        "now_ms": now_ms, "now_at": when(now_ms),
        "frozen": None if frozen is None else {
            "reason": frozen.label, "by": frozen.frozen_by, "detail": frozen.reason,
            "since_ms": frozen.frozen_at, "since_at": when(frozen.frozen_at)},
        "withdrawals": {"halted": halted is not None, "halted_reason": halted[0] if halted else None,
                        "halted_since_ms": halted[1] if halted else None,
                        "halted_since_at": when(halted[1]) if halted else None},
        "open_intents": open_list,
        "counts": {"open": len(open_list),
                   lifecycle.PENDING_APPROVAL: sum(1 for i in open_list if i["status"] == lifecycle.PENDING_APPROVAL),
                   lifecycle.NEEDS_REVIEW: sum(1 for i in open_list if i["status"] == lifecycle.NEEDS_REVIEW)},
        "window": {
            "hours": limits.window_hours,
            "transfers_last_hour": usage.hour_count, "max_transfers_per_hour": limits.max_transfers_per_hour,
            "coins": {coin: _used(usage.coin_sum(coin), Decimal(c.window_cap))
                      for coin, c in sorted(limits.coins.items())},
            "destinations": {d.label: _used(usage.destination_sum(d.label), Decimal(d.window_cap))
                             for d in policy.destinations if d.window_cap is not None},
        },
        "last_poll_ms": last_poll_ms, "last_poll_at": when(last_poll_ms),
        "coin_rules_fetched_ms": coin_rules_ms, "coin_rules_fetched_at": when(coin_rules_ms),
        "outbox": {"unsent": outbox_unsent},
        "clock": {"offset_ms": clock_offset_ms, "measured_ms": clock_measured_ms,
                  "measured_at": when(clock_measured_ms)},
        "stalled": [{"intent_id": s.intent_id, "reason": s.reason, "alerted_ms": s.alerted_at,
                     "alerted_at": when(s.alerted_at)} for s in stalls],
        "pending_loosenings": list(pending_loosenings),
    }


def list_document(records: Iterable[IntentRecord]) -> dict[str, Any]:
    intents = [intent_document(r) for r in records]
    return {"schema": LIST_SCHEMA, "count": len(intents), "intents": intents}


def dump(document: Mapping[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=False, ensure_ascii=False)


def cmd_status_json(args) -> int:
    from treasury_bot import freeze, withdrawal_notes
    from treasury_bot.ctl.reports import in_force
    from treasury_bot.ctl.site import EXIT_OK, ledger_and_policy
    from treasury_bot.decider import load_usage
    from treasury_bot.loosening import describe
    from treasury_bot.operator import ledger_now
    from treasury_bot.trusted_clock import META_MEASURED_AT, META_OFFSET_MS, host_clock
    ledger, policy, settings = ledger_and_policy(args, need_policy=True)
    try:
        now = ledger_now(ledger, host_clock(settings))
        resolution = in_force(ledger, policy)
        effective = resolution.effective
        last_poll, offset, measured = (ledger.get_meta(k) for k in ("last_poll_at", META_OFFSET_MS, META_MEASURED_AT))
        rules = ledger.load_coin_rules()
        print(dump(status_document(
            now_ms=now, frozen=freeze.current(ledger), halted=withdrawal_notes.halted(ledger),
            open_items=ledger.intents_with_status(lifecycle.OPEN, limit=100_000), policy=effective,
            usage=load_usage(ledger, effective, now), last_poll_ms=int(last_poll) if last_poll else None,
            coin_rules_ms=rules[0] if rules else None, outbox_unsent=ledger.outbox.counts().unsent,
            clock_offset_ms=int(offset) if offset else None, clock_measured_ms=int(measured) if measured else None,
            stalls=ledger.open_stalls(), pending_loosenings=[describe(p) for p in resolution.pending])))
    finally:
        ledger.close()
    return EXIT_OK


def cmd_list_json(args) -> int:
    from common.clock import SystemClock
    from treasury_bot.ctl.site import EXIT_OK, ledger_and_policy
    from treasury_bot.ctl.text import parse_since
    ledger, _, _ = ledger_and_policy(args)
    try:
        since = parse_since(args.since, SystemClock().now_ms()) if args.since else None
        print(dump(list_document(ledger.list_intents(status=args.status, since_ms=since, limit=args.limit))))
    finally:
        ledger.close()
    return EXIT_OK
