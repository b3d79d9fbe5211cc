"""The alert each treasury event raises, built from the ledger's records (pure).

Each function builds the alert with `alerts.events` (which fixes its kind, severity and
facts) and returns it; the caller hands it to `Ledger.enqueue` inside the transaction of
the change that raised it, so the alert commits or rolls back with that change and a
crash can lose neither. The sender thread mails them later.
"""

from __future__ import annotations

from typing import Any, Sequence

from treasury_bot import lifecycle
from treasury_bot.alerts import events, model
from treasury_bot.alerts.model import Alert
from treasury_bot.ledger import IntentRecord
from treasury_bot.policy_model import Destination
from treasury_bot.usage import WindowPressure
from treasury_bot.verdict import REJECTED


def transfer(record: IntentRecord) -> events.Transfer:
    return events.Transfer(intent_id=record.intent_id, client=record.client, coin=record.coin,
                           network=record.network, amount=record.amount,
                           destination=record.destination, address=record.address)


def _exchange_code(code: str | None) -> int | None:
    try:
        return int(code) if code is not None else None
    except ValueError:
        return None


def intent_rejected(what: events.Transfer, at: int, reason_code: str,
                    detail: str, reason: str | None = None) -> Alert:
    return events.intent_rejected(what, at_ms=at, reason_code=reason_code,
                                               detail=detail, reason=reason)


def record_rejected(record: IntentRecord, at: int) -> Alert:
    return intent_rejected(transfer(record), at, record.reason_code or REJECTED, record.detail,
                    record.reason)


def approval_needed(record: IntentRecord, approval_above) -> Alert:
    return events.approval_needed(transfer(record), at_ms=record.updated_at,
                                               approval_above=approval_above, reason=record.reason)


def window_cap_80(record: IntentRecord, pressure: WindowPressure, at: int) -> Alert:
    return events.window_cap_80(
        at_ms=at, coin=pressure.coin, used=pressure.used, cap=pressure.cap,
        destination=pressure.name if pressure.scope == "destination" else None,
        intent_id=record.intent_id)


def withdrawal_submitted(record: IntentRecord, withdrawal_id: str, at: int) -> Alert:
    return events.withdrawal_submitted(transfer(record), at_ms=at, withdrawal_id=withdrawal_id)


def withdrawal_failed(record: IntentRecord, code: str | None, message: str,
                      at: int, withdrawal_id: str | None = None) -> Alert:
    exchange_code = _exchange_code(code)
    return events.withdrawal_failed(
        transfer(record), at_ms=at, withdrawal_id=withdrawal_id or record.withdrawal_id,
        exchange_code=exchange_code, exchange_message=message if exchange_code is not None else None,
        detail="" if exchange_code is not None else f"{code}: {message}" if code else message)


def withdrawal_finished(record: IntentRecord, status: str, at: int, *,
                        withdrawal_id: str | None = None, tx_id: str | None = None,
                        info: str | None = None) -> Alert:
    """The exchange (or the operator, for needs_review) closed the withdrawal."""
    what = transfer(record)
    wid = withdrawal_id or record.withdrawal_id
    if status == lifecycle.COMPLETED:
        alert = events.withdrawal_completed(what, at_ms=at, withdrawal_id=wid, tx_id=tx_id or record.tx_id,
                                            completed_at_ms=at)
    elif status == lifecycle.FAILED:
        alert = events.withdrawal_failed(what, at_ms=at, withdrawal_id=wid, detail=info or "")
    elif status == lifecycle.REJECTED:
        alert = events.withdrawal_rejected(what, at_ms=at, withdrawal_id=wid, detail=info or "")
    elif status == lifecycle.CANCELLED:
        alert = events.withdrawal_cancelled(what, at_ms=at, withdrawal_id=wid, detail=info or "")
    else:
        raise ValueError(f"{status!r} is not a final withdrawal status")
    return alert


def withdrawal_stuck(record: IntentRecord, at: int, *,
                     submitted_at: int | None, stuck_after_minutes: int) -> Alert:
    return events.withdrawal_stuck(
        transfer(record), at_ms=at, withdrawal_id=record.withdrawal_id, status=record.status,
        submitted_at_ms=submitted_at, stuck_after_minutes=stuck_after_minutes)


def needs_review(record: IntentRecord, why: str, at: int) -> Alert:
    return events.needs_review(transfer(record), at_ms=at, detail=why,
                                            withdrawal_id=record.withdrawal_id)


def exchange_auth_error(record: IntentRecord | None, api_key: str | None,
                        code: str | None, message: str, at: int, *, diagnosis: Any = None) -> Alert:
    """`diagnosis`: a common.binance.key_refusal.KeyDiagnosis (the cause and the fix)."""
    named = {} if diagnosis is None else dict(cause=diagnosis.cause, problem=diagnosis.headline,
                                              detail=diagnosis.what, fix=diagnosis.fix)
    return events.exchange_auth_error(
        at_ms=at, api_key=api_key, exchange_code=_exchange_code(code), exchange_message=message,
        intent_id=record.intent_id if record else None, **named)


def key_audit_failed(problems: Sequence[str], api_key: str | None, at: int) -> Alert:
    return events.key_audit_failed(at_ms=at, api_key=api_key, problem=problems[0][:200],
                                                detail="; ".join(problems))


def policy_changed(old_hash: str | None, new_hash: str, path: str, at: int,
                   pending_loosenings: Sequence[str] = ()) -> Alert:
    return events.policy_changed(at_ms=at, path=path, old_sha256=old_hash, new_sha256=new_hash,
                                              pending_loosenings=tuple(pending_loosenings))


def start_summary(*, at: int, version: str, api_key: str | None,
                  policy_sha256: str, destinations: int, open_withdrawals: int,
                  pending_approvals: int, mail: str, warnings: Sequence[str],
                  pending_loosenings: Sequence[str] = (), chain_head: str | None = None) -> Alert:
    return events.start_summary(
        at_ms=at, version=version, api_key=api_key, policy_sha256=policy_sha256,
        destinations=destinations, open_withdrawals=open_withdrawals,
        pending_approvals=pending_approvals, mail=mail, warnings=tuple(warnings),
        pending_loosenings=tuple(pending_loosenings), chain_head=chain_head)


def clock_disagreement(*, offset_ms: int, host_ms: int, exchange_ms: int,
                       threshold_ms: int, at: int) -> Alert:
    return events.clock_disagreement(at_ms=at, offset_ms=offset_ms, host_ms=host_ms,
                                                  exchange_ms=exchange_ms, threshold_ms=threshold_ms)


def withdrawal_stalled(record: IntentRecord, at: int, *, queued_since: int,
                       stuck_after_minutes: int, reason: str) -> Alert:
    """Issue 10, defect 3: queued for stuck_after_minutes without being sent."""
    return events.withdrawal_stalled(
        transfer(record), at_ms=at, queued_since_ms=queued_since,
        stuck_after_minutes=stuck_after_minutes, detail=reason)


# Issue 10 defects 6 and 8.
def client_rate_limited(client: str, refused: int, max_per_minute: int, at: int) -> Alert:
    return events.client_rate_limited(at_ms=at, client=client, refused=refused,
                                                   max_requests_per_minute=max_per_minute)


def ledger_disk_low(path: str, free_mb: int, min_free_mb: int, at: int) -> Alert:
    return events.ledger_disk_low(at_ms=at, path=path, free_mb=free_mb, min_free_disk_mb=min_free_mb)


def thread_failing(thread: str, error_type: str, at: int) -> Alert:
    return events.thread_failing(at_ms=at, thread=thread, error_type=error_type)


def thread_recovered(thread: str, failures: int, at: int) -> Alert:
    return events.thread_recovered(at_ms=at, thread=thread, failures=failures)


# Issue 12 item 4: the exchange's 24-hour withdrawal quota (treasury_bot/quota_guard.py).
def withdraw_quota_80(used, total, at: int) -> Alert:
    return events.withdraw_quota_80(at_ms=at, used=used, total=total)


def withdraw_quota_held(record: IntentRecord, value_usd, remaining, total, at: int) -> Alert:
    return events.withdraw_quota_held(transfer(record), at_ms=at, value_usd=value_usd,
                                      remaining=remaining, total=total)


# Issue 12: the exchange's own rules refuse a destination (treasury_bot/destination_watch.py).
def address_book_missing(destination: Destination, detail: str, at: int) -> Alert:
    return events.destination_refused(model.ADDRESS_BOOK_MISSING, at_ms=at, destination=destination.label,
                                      coin=destination.coin, network=destination.network,
                                      address=destination.address, detail=detail)


def destination_tag_invalid(destination: Destination, detail: str, at: int) -> Alert:
    return events.destination_refused(model.DESTINATION_TAG_INVALID, at_ms=at, destination=destination.label,
                                      coin=destination.coin, network=destination.network,
                                      address=destination.address, detail=detail)


def would_withdraw(record: IntentRecord, at: int) -> Alert:
    """Shadow mode (issue 13 item 7): the apply live mode would have sent now; nothing was sent."""
    return events.would_withdraw(transfer(record), at_ms=at, status=lifecycle.SHADOWED)


def reload_refused(part: str, detail: str, at: int) -> Alert:
    return events.reload_refused(at_ms=at, part=part, detail=detail)
