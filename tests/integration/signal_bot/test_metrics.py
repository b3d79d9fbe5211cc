"""Issue 14: the signal bot's collector on a real state file, the readiness probe of that
file, and SIGNAL_METRICS_BIND as a setting."""

from __future__ import annotations

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from common.config import ConfigError, load_signal_settings
from common.config.metrics_bind import MetricsBind
from signal_bot.metrics import SignalMetrics
from signal_bot.state import StateStore
from tests.integration.common.test_config import SIGNAL_ENV
from tests.support.config_cases import env_file

ORDER = {"symbol": "BTCUSDT", "side": "SELL", "type": "MARKET", "quote_order_qty": "120"}


def samples(registry) -> dict:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for f in text_string_to_metric_families(generate_latest(registry).decode()) for s in f.samples}


def test_a_scrape_reads_signals_and_orders_from_the_state_file(tmp_path):
    """A placed and a received signal show by state; the placed one's order by its status."""
    path = tmp_path / "state.sqlite"
    store = StateStore(path).open()
    store.journal("live", "s-1", ORDER, 1_000)
    store.journal("live", "s-2", ORDER, 1_001)
    store.finish("live", "s-1", "placed", 1_050, order_id="7", order_status="FILLED", executed_qty="0.001",
                 cummulative_quote_qty="120")
    store.close()
    figures = SignalMetrics(state_path=path, webhook_counts=lambda: {202: 2, 401: 1}, monotonic=lambda: 0.0)
    got = samples(figures.registry)
    assert got[("signal_bot_state_readable", ())] == 1
    assert got[("signal_bot_signals", (("mode", "live"), ("state", "placed")))] == 1
    assert got[("signal_bot_signals", (("mode", "live"), ("state", "received")))] == 1
    assert got[("signal_bot_orders", (("mode", "live"), ("status", "FILLED")))] == 1
    assert got[("signal_bot_webhook_requests_total", (("code", "401"),))] == 1
    assert {c.name: c.ok for c in figures.ready()}["state_writable"]


def test_a_missing_state_file_is_unreadable_and_not_ready_and_never_created(tmp_path):
    """No file: state_readable 0, state_writable FAIL, and the scrape creates nothing."""
    path = tmp_path / "absent.sqlite"
    figures = SignalMetrics(state_path=path, webhook_counts=dict, monotonic=lambda: 0.0)
    assert samples(figures.registry)[("signal_bot_state_readable", ())] == 0
    assert not {c.name: c.ok for c in figures.ready()}["state_writable"]
    assert not path.exists()


def test_readiness_pings_the_exchange_only_when_it_has_been_quiet_and_a_failed_ping_waits_30_s(tmp_path):
    """An idle bot proves the exchange reachable with a ping; an answer counts for 120 s; a
    failed ping is not retried for 30 s."""
    now, pings, fail = [1000.0], [], [False]

    def ping() -> None:
        pings.append(now[0])
        if fail[0]:
            raise OSError("unreachable")
    figures = SignalMetrics(state_path=tmp_path / "s.sqlite", webhook_counts=dict, monotonic=lambda: now[0],
                            ping=ping)
    assert figures._exchange_check().ok and len(pings) == 1
    now[0] += 100
    assert figures._exchange_check().ok and len(pings) == 1
    now[0] += 30
    fail[0] = True
    assert not figures._exchange_check().ok and len(pings) == 2
    now[0] += 10
    assert not figures._exchange_check().ok and len(pings) == 2
    now[0] += 25
    fail[0] = False
    assert figures._exchange_check().ok and len(pings) == 3


def test_the_signal_metrics_bind_defaults_to_loopback_and_refuses_a_bad_value(tmp_path):
    """Unset: 127.0.0.1:9465; empty: off; `host:port` with a bad port: ConfigError naming it."""
    path = env_file(tmp_path / "sig", SIGNAL_ENV)
    assert load_signal_settings(path, environ={}).metrics_bind == MetricsBind("127.0.0.1", 9465)
    assert load_signal_settings(path, environ={"SIGNAL_METRICS_BIND": ""}).metrics_bind is None
    with pytest.raises(ConfigError, match="SIGNAL_METRICS_BIND"):
        load_signal_settings(path, environ={"SIGNAL_METRICS_BIND": "127.0.0.1:http"})
