"""Issue 14: the treasury's collector on a real ledger file, served by the real listener, and
the output parsed with prometheus_client's parser; TREASURY_METRICS_BIND as a setting."""

from __future__ import annotations

import urllib.error
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from common.clock import FakeClock
from common.config import ConfigError, load_treasury_settings
from common.config.metrics_bind import MetricsBind
from common.metrics_http import MetricsServer
from tests.support.treasury_core import T0, accept, make_policy, open_ledger
from treasury_bot import freeze
from treasury_bot.metrics import TreasuryMetrics


def samples(text: str) -> dict:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for f in text_string_to_metric_families(text) for s in f.samples}


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as reply:
            return reply.status, reply.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


@pytest.fixture
def served(tmp_path):
    """A ledger with one accepted intent, its metrics served on a free loopback port."""
    path = tmp_path / "ledger.sqlite"
    policy, clock = make_policy(), FakeClock(T0)
    ledger = open_ledger(path)
    accept(ledger, policy, clock, "m-1", "100")
    figures = TreasuryMetrics(open_ledger=lambda: open_ledger(path), policy=policy, now_ms=lambda: T0 + 60_000,
                              poll_interval_s=6.0, monotonic=clock.monotonic)
    server = MetricsServer(MetricsBind("127.0.0.1", 0), figures.registry, figures.health()).start()
    try:
        yield ledger, figures, server
    finally:
        server.stop()
        ledger.close()


def test_a_scrape_reads_the_ledger_an_accepted_intent_is_open_and_counts_in_the_window(served):
    """The collector's figures come from the ledger file at scrape time."""
    _, _, server = served
    status, body = get(server.url + "/metrics")
    assert status == 200
    got = samples(body)
    assert got[("treasury_ledger_readable", ())] == 1
    assert got[("treasury_open_intents", (("status", "queued"),))] == 1
    assert got[("treasury_oldest_open_intent_age_seconds", ())] == 60
    assert got[("treasury_window_usage_ratio", (("coin", "USDT"),))] > 0
    assert got[("treasury_info", (("mode", "live"), ("version", next(
        dict(l)["version"] for n, l in got if n == "treasury_info"))))] == 1


def test_decisions_and_exchange_requests_counted_in_process_show_in_the_next_scrape(served):
    """on_decided and on_exchange feed the counters and the latency histogram."""
    _, figures, server = served

    class Reply:
        outcome, reason_code = "rejected", "over_window_cap"
    figures.on_decided([("signal", Reply())], 0.002)
    figures.on_exchange("GET /sapi/v1/capital/withdraw/history", "ok", {"x-sapi-used-uid-weight-1m": 30})
    got = samples(get(server.url + "/metrics")[1])
    assert got[("treasury_decisions_total", (("outcome", "rejected"), ("reason_code", "over_window_cap")))] == 1
    assert got[("treasury_decision_seconds_count", ())] == 1
    assert got[("treasury_exchange_requests_total", (("endpoint", "GET /sapi/v1/capital/withdraw/history"),
                                                     ("result", "ok")))] == 1
    assert got[("treasury_exchange_used_weight", (("header", "x-sapi-used-uid-weight-1m"),))] == 30


def test_readyz_fails_until_the_exchange_answered_and_again_once_frozen(served):
    """Ready needs an exchange answer; an operator's freeze makes it 503 naming the reason."""
    ledger, figures, server = served
    figures.heartbeat.beat()
    assert get(server.url + "/healthz")[0] == 200
    status, body = get(server.url + "/readyz")
    assert status == 503 and "exchange: FAIL" in body
    figures.on_exchange("GET /api/v3/time", "ok", {})
    assert get(server.url + "/readyz")[0] == 200
    freeze.freeze(ledger, by="ops@test", reason="drill", now=T0 + 1)
    status, body = get(server.url + "/readyz")
    assert status == 503 and "not_frozen: FAIL frozen (operator)" in body
    assert samples(get(server.url + "/metrics")[1])[("treasury_frozen", (("reason", "operator"),))] == 1


def test_an_unknown_path_is_404_and_names_the_three_pages(served):
    """The listener serves /metrics, /healthz and /readyz only."""
    status, body = get(served[2].url + "/nope")
    assert status == 404 and "/readyz" in body


def test_healthz_fails_when_the_loop_has_not_turned(served):
    """No heartbeat yet: /healthz is 503."""
    status, body = get(served[2].url + "/healthz")
    assert status == 503 and "intent_loop: FAIL" in body


BASE_ENV = {"TREASURY_API_KEY": "test-key-not-real-0001", "TREASURY_API_SECRET": "test-secret-not-real-0001",
            "TREASURY_CURVE_SECRET_FILE": "t.key_secret", "TREASURY_AUTHORIZED_CLIENTS_DIR": "clients"}


def test_the_metrics_bind_defaults_to_loopback_turns_off_when_empty_and_refuses_a_bad_value(tmp_path):
    """Unset: 127.0.0.1:9464; empty: None; bad: ConfigError naming the variable."""
    env_file = tmp_path / "treasury.env"
    env_file.write_text("")
    env_file.chmod(0o600)
    assert load_treasury_settings(env_file, environ=BASE_ENV).metrics_bind == MetricsBind("127.0.0.1", 9464)
    assert load_treasury_settings(env_file, environ={**BASE_ENV, "TREASURY_METRICS_BIND": ""}).metrics_bind is None
    with pytest.raises(ConfigError, match="TREASURY_METRICS_BIND"):
        load_treasury_settings(env_file, environ={**BASE_ENV, "TREASURY_METRICS_BIND": "9464"})
