"""Where the treasury raises its alerts: one function per event, writing to the outbox.

Each function builds the alert with `alerts.events` (which fixes its kind, severity and
facts) and INSERTs it on the caller's connection, inside the caller's open transaction:
the alert commits or rolls back with the change that raised it, so a crash can lose
neither. The sender thread mails them later.
"""

from __future__ import annotations

import sqlite3
from typing import Sequence

from treasury_bot.alerts import events, store
from treasury_bot.ledger import IntentRecord
from treasury_bot.policy import WindowPressure


def transfer(record: IntentRecord) -> events.Transfer:
    return events.Transfer(intent_id=record.intent_id, client=record.client, coin=record.coin,
                           network=record.network, amount=record.amount,
                           destination=record.destination, address=record.address)


def _exchange_code(code: str | None) -> int | None:
    try:
        return int(code) if code is not None else None
    except ValueError:
        return None


def intent_rejected(conn: sqlite3.Connection, what: events.Transfer, at: int, reason_code: str,
                    detail: str, reason: str | None = None) -> None:
    store.enqueue(conn, events.intent_rejected(what, at_ms=at, reason_code=reason_code,
                                               detail=detail, reason=reason))


def record_rejected(conn: sqlite3.Connection, record: IntentRecord, at: int) -> None:
    intent_rejected(conn, transfer(record), at, record.reason_code or "rejected", record.detail,
                    record.reason)


def approval_needed(conn: sqlite3.Connection, record: IntentRecord, approval_above) -> None:
    store.enqueue(conn, events.approval_needed(transfer(record), at_ms=record.updated_at,
                                               approval_above=approval_above, reason=record.reason))


def window_cap_80(conn: sqlite3.Connection, record: IntentRecord, pressure: WindowPressure, at: int) -> None:
    store.enqueue(conn, events.window_cap_80(
        at_ms=at, coin=pressure.coin, used=pressure.used, cap=pressure.cap,
        destination=pressure.name if pressure.scope == "destination" else None,
        intent_id=record.intent_id))


def withdrawal_submitted(conn: sqlite3.Connection, record: IntentRecord, withdrawal_id: str, at: int) -> None:
    store.enqueue(conn, events.withdrawal_submitted(transfer(record), at_ms=at, withdrawal_id=withdrawal_id))


def withdrawal_failed(conn: sqlite3.Connection, record: IntentRecord, code: str | None, message: str,
                      at: int, withdrawal_id: str | None = None) -> None:
    exchange_code = _exchange_code(code)
    store.enqueue(conn, events.withdrawal_failed(
        transfer(record), at_ms=at, withdrawal_id=withdrawal_id or record.withdrawal_id,
        exchange_code=exchange_code, exchange_message=message if exchange_code is not None else None,
        detail="" if exchange_code is not None else f"{code}: {message}" if code else message))


def withdrawal_finished(conn: sqlite3.Connection, record: IntentRecord, status: str, at: int, *,
                        withdrawal_id: str | None = None, tx_id: str | None = None,
                        info: str | None = None) -> None:
    """The exchange (or the operator, for needs_review) closed the withdrawal."""
    what = transfer(record)
    wid = withdrawal_id or record.withdrawal_id
    if status == "completed":
        alert = events.withdrawal_completed(what, at_ms=at, withdrawal_id=wid, tx_id=tx_id or record.tx_id,
                                            completed_at_ms=at)
    elif status == "failed":
        alert = events.withdrawal_failed(what, at_ms=at, withdrawal_id=wid, detail=info or "")
    elif status == "rejected":
        alert = events.withdrawal_rejected(what, at_ms=at, withdrawal_id=wid, detail=info or "")
    elif status == "cancelled":
        alert = events.withdrawal_cancelled(what, at_ms=at, withdrawal_id=wid, detail=info or "")
    else:
        raise ValueError(f"{status!r} is not a final withdrawal status")
    store.enqueue(conn, alert)


def withdrawal_stuck(conn: sqlite3.Connection, record: IntentRecord, at: int, *,
                     submitted_at: int | None, stuck_after_minutes: int) -> None:
    store.enqueue(conn, events.withdrawal_stuck(
        transfer(record), at_ms=at, withdrawal_id=record.withdrawal_id, status=record.status,
        submitted_at_ms=submitted_at, stuck_after_minutes=stuck_after_minutes))


def needs_review(conn: sqlite3.Connection, record: IntentRecord, why: str, at: int) -> None:
    store.enqueue(conn, events.needs_review(transfer(record), at_ms=at, detail=why,
                                            withdrawal_id=record.withdrawal_id))


def exchange_auth_error(conn: sqlite3.Connection, record: IntentRecord | None, api_key: str | None,
                        code: str | None, message: str, at: int) -> None:
    store.enqueue(conn, events.exchange_auth_error(
        at_ms=at, api_key=api_key, exchange_code=_exchange_code(code), exchange_message=message,
        intent_id=record.intent_id if record else None))


def key_audit_failed(conn: sqlite3.Connection, problems: Sequence[str], api_key: str | None, at: int) -> None:
    store.enqueue(conn, events.key_audit_failed(at_ms=at, api_key=api_key, problem=problems[0][:200],
                                                detail="; ".join(problems)))


def policy_changed(conn: sqlite3.Connection, old_hash: str | None, new_hash: str, path: str, at: int,
                   pending_loosenings: Sequence[str] = ()) -> None:
    store.enqueue(conn, events.policy_changed(at_ms=at, path=path, old_sha256=old_hash, new_sha256=new_hash,
                                              pending_loosenings=tuple(pending_loosenings)))


def start_summary(conn: sqlite3.Connection, *, at: int, version: str, api_key: str | None,
                  policy_sha256: str, destinations: int, open_withdrawals: int,
                  pending_approvals: int, mail: str, warnings: Sequence[str],
                  pending_loosenings: Sequence[str] = ()) -> None:
    store.enqueue(conn, events.start_summary(
        at_ms=at, version=version, api_key=api_key, policy_sha256=policy_sha256,
        destinations=destinations, open_withdrawals=open_withdrawals,
        pending_approvals=pending_approvals, mail=mail, warnings=tuple(warnings),
        pending_loosenings=tuple(pending_loosenings)))


def clock_disagreement(conn: sqlite3.Connection, *, offset_ms: int, host_ms: int, exchange_ms: int,
                       threshold_ms: int, at: int) -> None:
    store.enqueue(conn, events.clock_disagreement(at_ms=at, offset_ms=offset_ms, host_ms=host_ms,
                                                  exchange_ms=exchange_ms, threshold_ms=threshold_ms))


def withdrawal_stalled(conn: sqlite3.Connection, record: IntentRecord, at: int, *, queued_since: int,
                       stuck_after_minutes: int, reason: str) -> None:
    """Issue 10, defect 3: queued for stuck_after_minutes without being sent."""
    store.enqueue(conn, events.withdrawal_stalled(
        transfer(record), at_ms=at, queued_since_ms=queued_since,
        stuck_after_minutes=stuck_after_minutes, detail=reason))


# Issue 10 defects 6 and 8.
def client_rate_limited(conn: sqlite3.Connection, client: str, refused: int, max_per_minute: int, at: int) -> None:
    store.enqueue(conn, events.client_rate_limited(at_ms=at, client=client, refused=refused,
                                                   max_requests_per_minute=max_per_minute))


def ledger_disk_low(conn: sqlite3.Connection, path: str, free_mb: int, min_free_mb: int, at: int) -> None:
    store.enqueue(conn, events.ledger_disk_low(at_ms=at, path=path, free_mb=free_mb, min_free_disk_mb=min_free_mb))


def thread_failing(conn: sqlite3.Connection, thread: str, error_type: str, at: int) -> None:
    store.enqueue(conn, events.thread_failing(at_ms=at, thread=thread, error_type=error_type))


def thread_recovered(conn: sqlite3.Connection, thread: str, failures: int, at: int) -> None:
    store.enqueue(conn, events.thread_recovered(at_ms=at, thread=thread, failures=failures))
