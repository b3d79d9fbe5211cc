"""The sender without a mail server: log-only mode, an unreachable server, lifecycle.

Delivery through a real SMTP server is proven in tests/e2e/test_alerts_smtp.py.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from common.clock import FakeClock
from common.config import SmtpSettings
from tests.support.alert_samples import every_kind
from tests.support.ports import free_port
from tests.support.waiting import wait_until
from tests.support.ledger_peek import peek
from treasury_bot.alerts import drain, model, sender, transport
from treasury_bot.ledger import Ledger


@pytest.fixture
def ledger(tmp_path: Path) -> Path:
    path = tmp_path / "ledger.sqlite"
    Ledger(path).close()  # a new ledger file, outbox tables included
    return path


def enqueue(path: Path, *alerts: model.Alert) -> None:
    ledger = Ledger(path)
    with ledger.transaction():
        for alert in alerts:
            ledger.enqueue(alert)
    ledger.close()


def outbox_rows(path: Path) -> list[tuple]:
    return peek(path, "SELECT kind, mail_id, sent_at_ms, channel FROM alert_delivery ORDER BY seq")


def alert_records(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "treasury.alerts" and r.getMessage() == "alert"]


def test_without_smtp_each_alert_is_one_log_line_and_marked_sent_on_the_log_channel(ledger, caplog):
    """SMTP_HOST unset: every alert is logged once, with its kind and facts, then done."""
    caplog.set_level(logging.INFO, logger="treasury.alerts")
    kinds = every_kind()
    enqueue(ledger, kinds[model.NEEDS_REVIEW], kinds[model.INTENT_REJECTED], kinds[model.WITHDRAWAL_COMPLETED])
    clock = FakeClock()
    log_only = sender.AlertSender(ledger, None, clock)
    result = log_only.drain_once()
    assert result.sent == 3 and not result.unreachable
    records = alert_records(caplog)
    assert [(r.fields["kind"], r.levelname) for r in records] == [
        ("needs_review", "CRITICAL"), ("intent_rejected", "WARNING"), ("withdrawal_completed", "INFO")]
    assert records[0].fields["intent_id"] == "needs_review"
    assert records[1].fields["reason_code"] == "over_window_limit"
    assert outbox_rows(ledger) == [(k, None, clock.now_ms(), "log") for k in
                                   ("needs_review", "intent_rejected", "withdrawal_completed")]
    assert log_only.drain_once().sent == 0  # logged once, never again
    assert len(alert_records(caplog)) == 3
    assert log_only.stats.alerts_logged == 3
    log_only.stop()


def test_the_log_only_thread_drains_and_stops_promptly(ledger):
    """start() runs the loop in a daemon thread; stop() ends it and closes its connection."""
    running = sender.AlertSender(ledger, None, poll_s=0.05)
    running.start()
    try:
        enqueue(ledger, *every_kind().values())
        wait_until(lambda: all(row[3] == "log" for row in outbox_rows(ledger)), what="alerts logged")
    finally:
        assert running.stop(timeout=5)
    with pytest.raises(RuntimeError):
        running.start()


def test_an_unreachable_server_records_nothing_and_asks_for_backoff(ledger):
    """Connection refused: no mail row, no alert touched, the pass says 'back off'."""
    closed = SmtpSettings("127.0.0.1", free_port(), "none", None, None, "treasury@example.com",
                          ("ops@example.com",))
    enqueue(ledger, every_kind()[model.NEEDS_REVIEW], every_kind()[model.INTENT_REJECTED])
    unreachable = sender.AlertSender(ledger, closed, FakeClock(), smtp_timeout_s=2)
    result = unreachable.drain_once()
    assert result.unreachable and result.waiting == 2 and result.sent == 0
    assert outbox_rows(ledger) == [("needs_review", None, None, None), ("intent_rejected", None, None, None)]
    assert "ConnectionRefusedError" in unreachable.stats.last_error
    unreachable.stop()


def test_nothing_due_means_no_connection_at_all(ledger):
    """An empty outbox (or only held alerts) never dials the server."""
    closed = SmtpSettings("127.0.0.1", free_port(), "none", None, None, "treasury@example.com",
                          ("ops@example.com",))
    idle = sender.AlertSender(ledger, closed, FakeClock())
    assert idle.drain_once() == drain.DrainResult()
    idle.stop()


def test_send_test_mail_to_a_closed_port_says_why_it_failed():
    """The operator reads where it tried and what went wrong."""
    port = free_port()
    smtp = SmtpSettings("127.0.0.1", port, "none", None, None, "treasury@example.com", ("ops@example.com",))
    accepted, detail = transport.send_test_mail(smtp, timeout=2)
    assert not accepted
    assert detail.startswith(f"not accepted by 127.0.0.1:{port} (none): ConnectionRefusedError")


def test_the_sender_refuses_nonsense_timings(ledger):
    """A zero window or poll would spin or never fold."""
    for kwargs in (dict(window_s=0), dict(poll_s=0), dict(batch_size=0)):
        with pytest.raises(ValueError):
            sender.AlertSender(ledger, None, **kwargs)


def test_log_only_mode_leaves_mails_recorded_for_smtp_waiting_and_says_so(ledger, caplog):
    """Mails recorded under an earlier SMTP setup are kept for SMTP's return, with a warning,
    and their alerts are not logged as if delivered."""
    caplog.set_level(logging.INFO, logger="treasury.alerts")
    enqueue(ledger, every_kind()[model.NEEDS_REVIEW], every_kind()[model.INTENT_REJECTED])
    earlier = Ledger(ledger)
    with earlier.transaction():
        earlier.outbox.create_mail(kind=model.NEEDS_REVIEW, severity=model.CRITICAL, seqs=[1],
                                   message_id="<w@example.com>", recipients=("ops@example.com",), now_ms=1)
    earlier.close()
    log_only = sender.AlertSender(ledger, None, FakeClock())
    assert log_only.drain_once().sent == 1
    log_only.stop()
    warned = [r for r in caplog.records if r.getMessage() == "alert_mails_waiting_for_smtp"]
    assert len(warned) == 1 and warned[0].fields == {"mails": 1, "alerts": 1}
    assert [r.fields["kind"] for r in alert_records(caplog)] == ["intent_rejected"]
    assert [row[3] for row in outbox_rows(ledger)] == [None, "log"]
