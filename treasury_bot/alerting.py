"""Where the treasury raises its alerts: one function per event, writing to the outbox.

Each function only INSERTs into the alert outbox on the caller's connection, inside the
caller's open transaction, so the alert commits or rolls back with the change that raised
it (a crash can lose neither). The sender thread mails them later.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from treasury_bot.alerts import store
from treasury_bot.alerts.model import Alert
from treasury_bot.ledger import IntentRecord

CRITICAL_KINDS = frozenset({"key_audit_failed", "needs_review", "exchange_auth_error", "policy_changed"})


def _severity(kind: str) -> str:
    if kind in CRITICAL_KINDS:
        return "CRITICAL"
    if kind in ("withdrawal_failed", "withdrawal_rejected", "withdrawal_cancelled", "withdrawal_stuck",
                "intent_rejected", "window_cap_80", "approval_needed", "whitelist_warning"):
        return "WARNING"
    return "INFO"


def raise_alert(conn: sqlite3.Connection, kind: str, intent_id: str | None, facts: dict[str, Any],
                at: int) -> None:
    clean = {k: (v if v is None or isinstance(v, (int, str)) else str(v)) for k, v in facts.items()}
    store.enqueue(conn, Alert(kind=kind, severity=_severity(kind), intent_id=intent_id,
                              facts=clean, created_at_ms=at))


def intent_facts(record: IntentRecord) -> dict[str, Any]:
    return {"intent_id": record.intent_id, "client": record.client, "coin": record.coin,
            "network": record.network, "destination": record.destination, "amount": record.amount,
            "address": record.address, "reason": record.reason, "status": record.status,
            "reason_code": record.reason_code, "detail": record.detail,
            "withdrawal_id": record.withdrawal_id, "tx_id": record.tx_id, "at": record.updated_at}


def intent_rejected(conn: sqlite3.Connection, facts: dict[str, Any]) -> None:
    raise_alert(conn, "intent_rejected", facts.get("intent_id"), facts, facts.get("at") or 0)


def approval_needed(conn: sqlite3.Connection, record: IntentRecord) -> None:
    raise_alert(conn, "approval_needed", record.intent_id, intent_facts(record), record.updated_at)


def window_cap_80(conn: sqlite3.Connection, record: IntentRecord, pressure: Any, at: int) -> None:
    facts = intent_facts(record) | {
        "window_scope": pressure.scope, "window_name": pressure.name, "window_used": str(pressure.used),
        "window_cap": str(pressure.cap), "window_hours": pressure.window_hours, "detail": pressure.detail}
    raise_alert(conn, "window_cap_80", record.intent_id, facts, at)


def withdrawal_submitted(conn: sqlite3.Connection, record: IntentRecord, withdrawal_id: str, at: int) -> None:
    facts = intent_facts(record) | {"withdrawal_id": withdrawal_id, "status": "submitted", "at": at}
    raise_alert(conn, "withdrawal_submitted", record.intent_id, facts, at)


def withdrawal_failed(conn: sqlite3.Connection, record: IntentRecord, code: str, message: str, at: int) -> None:
    facts = intent_facts(record) | {"status": "failed", "error_code": code, "error_message": message, "at": at}
    raise_alert(conn, "withdrawal_failed", record.intent_id, facts, at)


def withdrawal_finished(conn: sqlite3.Connection, record: IntentRecord, status: str, at: int, *,
                        tx_id: str | None = None, info: str | None = None) -> None:
    facts = intent_facts(record) | {"status": status, "at": at}
    if tx_id:
        facts["tx_id"] = tx_id
    if info:
        facts["error_message"] = info
    raise_alert(conn, f"withdrawal_{status}", record.intent_id, facts, at)


def withdrawal_stuck(conn: sqlite3.Connection, record: IntentRecord, at: int) -> None:
    raise_alert(conn, "withdrawal_stuck", record.intent_id, intent_facts(record) | {"at": at}, at)


def needs_review(conn: sqlite3.Connection, record: IntentRecord, why: str, at: int) -> None:
    facts = intent_facts(record) | {"status": "needs_review", "detail": why, "at": at}
    raise_alert(conn, "needs_review", record.intent_id, facts, at)


def exchange_auth_error(conn: sqlite3.Connection, record: IntentRecord | None, code: str, message: str,
                        at: int) -> None:
    facts = (intent_facts(record) if record else {}) | {"error_code": code, "error_message": message, "at": at}
    raise_alert(conn, "exchange_auth_error", record.intent_id if record else None, facts, at)


def key_audit_failed(conn: sqlite3.Connection, problems: list[str], api_key_masked: str, at: int) -> None:
    raise_alert(conn, "key_audit_failed", None,
                {"problems": "; ".join(problems), "api_key": api_key_masked, "at": at}, at)


def policy_changed(conn: sqlite3.Connection, old_hash: str, new_hash: str, path: str,
                   destination_changes: list[str], at: int) -> None:
    raise_alert(conn, "policy_changed", None,
                {"old_sha256": old_hash, "new_sha256": new_hash, "path": path,
                 "destination_changes": "; ".join(destination_changes), "at": at}, at)


def start_summary(conn: sqlite3.Connection, facts: dict[str, Any], at: int) -> None:
    raise_alert(conn, "start_summary", None, facts | {"at": at}, at)
