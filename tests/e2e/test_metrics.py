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


def test_the_signal_bot_metrics_move_with_a_webhook_an_order_and_a_completed_sweep(tmp_path, sandbox):
    """A SELL signal shows in the bot's /metrics as a 202, a placed order with its latency,
    exchange requests, and a sweep the treasury decided and completed; health answers 200."""
    from tests.support.signal_proc import SignalBot
    from signal_bot.sweep import sweep_intent_id
    treasury = TreasuryProcess(tmp_path, sandbox).start()
    sandbox.set_balance("USDT", "1000")
    bot = SignalBot(tmp_path / "bot", sandbox, treasury)
    try:
        def bot_scrape() -> dict:
            status, body = bot.http_get("/metrics")
            assert status == 200, body
            return samples(body)
        before = bot_scrape()
        assert value(before, "signal_bot_signals", mode="live", state="placed") == 0
        assert value(before, "signal_bot_treasury_link_up") == 1
        bot.sell("metrics-fill-1", "120")
        intent_id = sweep_intent_id("metrics-fill-1")
        treasury.wait_status(intent_id, "completed", timeout=30)
        wait_until(lambda: value(bot_scrape(), "signal_bot_sweeps", state="decided", status="completed") == 1,
                   timeout=15, what="the completed sweep in the bot's /metrics")
        after = bot_scrape()
        assert value(after, "signal_bot_webhook_requests_total", code="202") == 1
        assert value(after, "signal_bot_signals", mode="live", state="placed") == 1
        assert value(after, "signal_bot_signals_handled_total", outcome="placed") == 1
        assert value(after, "signal_bot_order_seconds_count") == 1
        assert value(after, "signal_bot_orders", mode="live", status="FILLED") == 1
        assert value(after, "signal_bot_exchange_requests_total", endpoint="POST /api/v3/order", result="ok") == 1
        assert bot.http_get("/healthz")[0] == 200
        status, body = bot.http_get("/readyz")
        assert status == 200, body
        # The treasury saw the same story from its side.
        treasury_side = scrape(treasury)
        assert value(treasury_side, "treasury_decisions_total", outcome="accepted", reason_code="none") == 1
    finally:
        assert bot.proc.terminate() == 0
        treasury.terminate()
