"""Issue 14: scrape the real treasury and signal bot processes; the figures move as the
story goes on (a decision, a withdrawal completing, an alert mailed), and the health pages
answer."""

from __future__ import annotations

from typing import Iterator

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.smtp import SmtpSink
from tests.support.treasury_proc import TreasuryProcess
from tests.support.waiting import wait_until

pytestmark = pytest.mark.e2e


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    with SmtpSink() as running:
        yield running


def samples(text: str) -> dict[tuple[str, tuple], float]:
    """Every sample of a scrape, keyed by (name, sorted labels)."""
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def value(scrape: dict, name: str, **labels: str) -> float:
    return scrape.get((name, tuple(sorted(labels.items()))), 0.0)


def scrape(treasury: TreasuryProcess) -> dict:
    status, body = treasury.http_get("/metrics")
    assert status == 200, body
    return samples(body)


def test_the_treasury_metrics_move_with_a_decision_a_completed_withdrawal_and_a_mailed_alert(tmp_path, sandbox, sink):
    """A scrape before and after one withdrawal shows the decision, its latency, the completed
    withdrawal, the exchange requests and the start summary mailed; health answers 200."""
    treasury = TreasuryProcess(tmp_path, sandbox, smtp=(sink.host, sink.port)).start()
    try:
        wait_until(lambda: value(scrape(treasury), "treasury_alert_mails_sent_total") >= 1, timeout=20,
                   what="the start summary mail to be counted as sent")
        before = scrape(treasury)
        assert value(before, "treasury_info", version=_version(before), mode="live") == 1
        assert value(before, "treasury_decisions_total", outcome="accepted", reason_code="none") == 0
        assert value(before, "treasury_frozen", reason="operator") == 0
        assert value(before, "treasury_ledger_readable") == 1
        assert value(before, "treasury_ledger_size_bytes") > 0
        assert value(before, "treasury_disk_free_bytes") > 0
        treasury.withdraw_once("metrics-e2e-1", "25")
        wait_until(lambda: value(scrape(treasury), "treasury_withdrawals_total", status="completed") == 1,
                   timeout=20, what="the completed withdrawal in /metrics")
        after = scrape(treasury)
        assert value(after, "treasury_decisions_total", outcome="accepted", reason_code="none") == 1
        assert value(after, "treasury_decision_seconds_count") == 1
        assert value(after, "treasury_window_usage_ratio", coin="USDT") > 0
        assert value(after, "treasury_last_poll_timestamp_seconds") > 0
        assert value(after, "treasury_open_intents", status="queued") == 0
        assert value(after, "treasury_exchange_requests_total",
                     endpoint="POST /sapi/v1/capital/withdraw/apply", result="ok") == 1
        assert value(after, "treasury_exchange_requests_total",
                     endpoint="GET /sapi/v1/capital/withdraw/history", result="ok") >= 1
        assert any(name == "treasury_exchange_used_weight" for name, _ in after)
        status, body = treasury.http_get("/healthz")
        assert status == 200, body
        wait_until(lambda: treasury.http_get("/readyz")[0] == 200, timeout=10, what="/readyz to answer 200")
        # A freeze shows in /metrics with its reason, and makes the treasury not ready.
        assert treasury.ctl("freeze", "--reason", "metrics test").returncode == 0
        frozen = scrape(treasury)
        assert value(frozen, "treasury_frozen", reason="operator") == 1
        status, body = treasury.http_get("/readyz")
        assert status == 503 and "not_frozen: FAIL" in body, body
        wait_until(lambda: value(scrape(treasury), "treasury_alert_mails_sent_total") >= 2, timeout=20,
                   what="the freeze mail to be counted as sent")
    finally:
        treasury.terminate()


def _version(scrape: dict) -> str:
    return next(dict(labels)["version"] for name, labels in scrape if name == "treasury_info")
