"""Each raised alert has its kind and severity, and `Ledger.enqueue` writes it inside the
caller's transaction and refuses loudly outside one."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from common.clock import FakeClock
from tests.support.ledger_peek import peek
from tests.support.treasury_core import T0, accept, make_policy, open_ledger
from treasury_bot.alerts import raised
from treasury_bot.ledger import OutboxError
from treasury_bot.usage import WindowPressure

API_KEY = "alertKEYnotreal0000000000000000000000ZZZZ"


@pytest.fixture
def ledger(tmp_path):
    opened = open_ledger(tmp_path / "ledger.sqlite")
    yield opened
    opened.close()


@pytest.fixture
def record(ledger):
    return accept(ledger, make_policy(), FakeClock(T0), "al-1", "250")


PRESSURE = WindowPressure(scope="destination", name="cold-wallet", coin="USDT", used=Decimal("850"),
                          cap=Decimal("1000"), window_hours=24)

CALLS = [
    ("intent_rejected", lambda r: raised.intent_rejected(raised.transfer(r), T0, "over_window_limit", "d"),
     "intent_rejected", "WARNING", "al-1"),
    ("record_rejected", lambda r: raised.record_rejected(r, T0), "intent_rejected", "WARNING", "al-1"),
    ("approval_needed", lambda r: raised.approval_needed(r, Decimal("800")), "approval_needed", "WARNING",
     "al-1"),
    ("window_cap_80", lambda r: raised.window_cap_80(r, PRESSURE, T0), "window_cap_80", "WARNING", "al-1"),
    ("withdrawal_submitted", lambda r: raised.withdrawal_submitted(r, "w-1", T0), "withdrawal_submitted",
     "INFO", "al-1"),
    ("withdrawal_failed", lambda r: raised.withdrawal_failed(r, "-4026", "Insufficient", T0),
     "withdrawal_failed", "CRITICAL", "al-1"),
    ("finished completed", lambda r: raised.withdrawal_finished(r, "completed", T0, tx_id="0x1"),
     "withdrawal_completed", "INFO", "al-1"),
    ("finished failed", lambda r: raised.withdrawal_finished(r, "failed", T0, info="x"), "withdrawal_failed",
     "CRITICAL", "al-1"),
    ("finished rejected", lambda r: raised.withdrawal_finished(r, "rejected", T0), "withdrawal_rejected",
     "CRITICAL", "al-1"),
    ("finished cancelled", lambda r: raised.withdrawal_finished(r, "cancelled", T0), "withdrawal_cancelled",
     "WARNING", "al-1"),
    ("withdrawal_stuck", lambda r: raised.withdrawal_stuck(r, T0, submitted_at=T0 - 1, stuck_after_minutes=60),
     "withdrawal_stuck", "WARNING", "al-1"),
    ("needs_review", lambda r: raised.needs_review(r, "cannot prove", T0), "needs_review", "CRITICAL", "al-1"),
    ("exchange_auth_error", lambda r: raised.exchange_auth_error(r, API_KEY, "-2015", "Invalid key", T0),
     "exchange_auth_error", "CRITICAL", "al-1"),
    ("exchange_auth_error without intent",
     lambda r: raised.exchange_auth_error(None, API_KEY, None, "Invalid key", T0),
     "exchange_auth_error", "CRITICAL", None),
    ("key_audit_failed", lambda r: raised.key_audit_failed(["key can trade", "no IP"], API_KEY, T0),
     "key_audit_failed", "CRITICAL", None),
    ("policy_changed", lambda r: raised.policy_changed("aa" * 32, "bb" * 32, "/etc/t.toml", T0),
     "policy_changed", "CRITICAL", None),
    ("start_summary", lambda r: raised.start_summary(at=T0, version="0.1.0", api_key=API_KEY, policy_sha256="cc" * 32, destinations=2, open_withdrawals=0,
        pending_approvals=1, mail="log only", warnings=[]), "start_summary", "INFO", None),
]


def outbox(ledger) -> list[tuple]:
    return peek(ledger, "SELECT kind, severity, intent_id, facts, created_at_ms FROM alert_outbox")


@pytest.mark.parametrize("call, kind, severity, intent_id", [c[1:] for c in CALLS], ids=[c[0] for c in CALLS])
def test_each_function_enqueues_its_kind_and_severity_in_the_transaction(ledger, record, call, kind, severity,
                                                                         intent_id):
    """Inside a transaction: exactly one outbox row of the right kind, severity and intent."""
    with ledger.transaction():
        ledger.enqueue(call(record))
    [row] = outbox(ledger)
    assert row[:3] == (kind, severity, intent_id)
    assert API_KEY not in row[3]


@pytest.mark.parametrize("call", [c[1] for c in CALLS], ids=[c[0] for c in CALLS])
def test_each_function_refuses_to_run_outside_a_transaction(ledger, record, call):
    """Outside a transaction: OutboxError no_transaction, and nothing written."""
    with pytest.raises(OutboxError) as caught:
        ledger.enqueue(call(record))
    assert caught.value.code == "no_transaction"
    assert outbox(ledger) == []


@pytest.mark.parametrize("call", [c[1] for c in CALLS], ids=[c[0] for c in CALLS])
def test_an_alert_rolls_back_with_its_change(ledger, record, call):
    """An alert raised in a transaction that fails is gone with it."""
    with pytest.raises(RuntimeError):
        with ledger.transaction():
            ledger.enqueue(call(record))
            raise RuntimeError
    assert outbox(ledger) == []


def facts_of(ledger) -> dict:
    return json.loads(outbox(ledger)[-1][3])


def test_an_operators_rejection_is_info(ledger, record):
    """record_rejected of an operator_rejected intent is INFO (the operator's own act)."""
    rejected = record.__class__(**{**record.__dict__, "reason_code": "operator_rejected", "status": "denied"})
    with ledger.transaction():
        ledger.enqueue(raised.record_rejected(rejected, T0))
    assert outbox(ledger)[0][:2] == ("intent_rejected", "INFO")
    assert facts_of(ledger)["reason_code"] == "operator_rejected"


def test_an_exchange_code_is_kept_as_a_number_and_ours_as_text(ledger, record):
    """'-4026' becomes exchange_code -4026; 'destination_changed' goes to the detail instead."""
    with ledger.transaction():
        ledger.enqueue(raised.withdrawal_failed(record, "-4026", "Insufficient balance", T0))
        ledger.enqueue(raised.withdrawal_failed(record, "destination_changed", "entry changed", T0))
    rows = [json.loads(r[3]) for r in outbox(ledger)]
    assert (rows[0]["exchange_code"], rows[0]["exchange_message"], rows[0]["detail"]) == (-4026, "Insufficient balance", "")
    assert rows[1]["exchange_code"] is None and rows[1]["detail"] == "destination_changed: entry changed"


def test_transfer_facts_come_from_the_record(ledger, record):
    """Intent alerts carry client, coin, network, amount, destination and address."""
    with ledger.transaction():
        ledger.enqueue(raised.withdrawal_submitted(record, "w-9", T0))
    facts = facts_of(ledger)
    assert {k: facts[k] for k in ("client", "coin", "network", "amount", "destination", "withdrawal_id")} == {
        "client": "signal", "coin": "USDT", "network": "TRX", "amount": "250", "destination": "cold-wallet",
        "withdrawal_id": "w-9"}
    assert facts["address"] == record.address


def test_the_api_key_is_only_ever_stored_masked(ledger, record):
    """Auth-error, audit and start alerts hold the key as its first and last 4 characters."""
    with ledger.transaction():
        ledger.enqueue(raised.exchange_auth_error(record, API_KEY, "-2015", "x", T0))
        ledger.enqueue(raised.key_audit_failed(["p"], API_KEY, T0))
    assert all(json.loads(row[3])["api_key"] == "aler...ZZZZ" for row in outbox(ledger))


def test_a_destination_window_alert_names_the_destination(ledger, record):
    """window_cap_80 for a destination's cap carries its label and the percentage."""
    with ledger.transaction():
        ledger.enqueue(raised.window_cap_80(record, PRESSURE, T0))
    facts = facts_of(ledger)
    assert (facts["scope"], facts["destination"], facts["percent"]) == ("destination", "cold-wallet", 85)


def test_withdrawal_finished_refuses_a_status_that_is_not_final(ledger, record):
    """Only completed, failed, rejected and cancelled end a withdrawal."""
    with pytest.raises(ValueError, match="processing"):
        with ledger.transaction():
            ledger.enqueue(raised.withdrawal_finished(record, "processing", T0))
    assert outbox(ledger) == []
