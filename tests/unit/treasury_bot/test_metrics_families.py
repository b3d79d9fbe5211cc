"""Issue 14: the treasury's scrape-time figures from a ledger snapshot, and its readiness (pure)."""

from __future__ import annotations

from decimal import Decimal

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from treasury_bot import freeze, lifecycle
from treasury_bot.metrics import (FROZEN_REASONS, ExchangeSeen, LedgerState, Snapshot, ready_checks,
                                  snapshot_families)

NOW = 1_800_000_000_000


def snapshot(**over) -> Snapshot:
    values = dict(now_ms=NOW, status_counts={lifecycle.QUEUED: 2, lifecycle.PENDING_APPROVAL: 1,
                                             lifecycle.COMPLETED: 5, lifecycle.DENIED: 3},
                  oldest_open_received_at=NOW - 90_000, stalled=1, window_usage={"USDT": Decimal("0.85")},
                  outbox_unsent=2, oldest_unsent_alert_at=NOW - 30_000, alerts_raised=9, mails={"sent": 4},
                  frozen_reason=None, frozen_at=None, halted=False, last_poll_at=NOW - 6_000,
                  poll_interval_s=6.0, clock_offset_ms=-250, ledger_bytes=4096, disk_free_bytes=10**9)
    values.update(over)
    return Snapshot(**values)


def exposed(snap: Snapshot) -> dict:
    """The snapshot as Prometheus text, parsed back with prometheus_client's parser."""
    class One:
        def collect(self):
            return snapshot_families(snap)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(One())
    text = generate_latest(registry).decode()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for f in text_string_to_metric_families(text) for s in f.samples}


def test_open_intents_ages_and_the_window_ratio_are_exposed_in_base_units():
    """Counts by status, ages in seconds, the window usage as a ratio, the offset in seconds."""
    got = exposed(snapshot())
    assert got[("treasury_open_intents", (("status", "queued"),))] == 2
    assert got[("treasury_pending_approvals", ())] == 1
    assert got[("treasury_oldest_open_intent_age_seconds", ())] == 90
    assert got[("treasury_window_usage_ratio", (("coin", "USDT"),))] == 0.85
    assert got[("treasury_outbox_oldest_unsent_age_seconds", ())] == 30
    assert got[("treasury_clock_offset_seconds", ())] == -0.25
    assert got[("treasury_last_poll_timestamp_seconds", ())] == (NOW - 6_000) / 1000


def test_withdrawals_by_final_status_are_counters_without_denied_intents():
    """Final statuses are `_total` counters; a denied intent never became a withdrawal."""
    got = exposed(snapshot())
    assert got[("treasury_withdrawals_total", (("status", "completed"),))] == 5
    assert not any(name == "treasury_withdrawals_total" and dict(labels)["status"] == "denied"
                   for name, labels in got)
    assert got[("treasury_alert_mails_sent_total", ())] == 4


def test_the_frozen_gauge_has_one_series_per_reason_of_the_fixed_set():
    """Every breaker and `operator` is a series; only the standing freeze's is 1."""
    got = exposed(snapshot(frozen_reason=freeze.FOREIGN_WITHDRAWAL, frozen_at=NOW - 1000))
    values = {dict(labels)["reason"]: v for (name, labels), v in got.items() if name == "treasury_frozen"}
    assert set(values) == set(FROZEN_REASONS)
    assert values[freeze.FOREIGN_WITHDRAWAL] == 1 and sum(values.values()) == 1


def test_no_label_carries_an_intent_id_or_an_amount():
    """Labels come from small fixed sets: status, coin, reason."""
    labels = {k for (_, pairs) in exposed(snapshot()) for k, _ in pairs}
    assert labels <= {"status", "coin", "reason"}


def test_ready_needs_a_recent_exchange_answer_a_writable_ledger_and_no_freeze_or_halt():
    """Each condition fails its own check; all four pass together."""
    fine = LedgerState(writable=True)
    assert all(c.ok for c in ready_checks(ExchangeSeen(at=95.0, result="ok"), 100.0, 60, fine))
    assert not ready_checks(ExchangeSeen(), 100.0, 60, fine)[0].ok
    assert not ready_checks(ExchangeSeen(at=10.0), 100.0, 60, fine)[0].ok
    checks = {c.name: c for c in ready_checks(ExchangeSeen(at=99.0), 100.0, 60,
                                              LedgerState(False, "disk I/O error", "operator", "auth"))}
    assert not checks["ledger_writable"].ok and not checks["not_frozen"].ok and not checks["not_halted"].ok
