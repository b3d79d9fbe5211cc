"""Issue 14: deploy/prometheus and deploy/grafana: the alert rules are well-formed, cover the
issue's list, and name only metrics the bots expose; the dashboard does too."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from signal_bot.metrics import SignalMetrics, StateSnapshot, state_families
from treasury_bot.metrics import Snapshot, TreasuryMetrics, snapshot_families

DEPLOY = Path(__file__).resolve().parents[3] / "deploy"
RULES = DEPLOY / "prometheus" / "alerts.yml"
DASHBOARD = DEPLOY / "grafana" / "treasury-signal-bots.json"
NAME = re.compile(r"\b((?:treasury|signal_bot)_[a-z_]+)\b")


def exposed_names() -> set[str]:
    """Every sample name both bots can expose (in-process metrics and scrape-time families)."""
    snap = Snapshot(now_ms=0, status_counts={}, oldest_open_received_at=None, stalled=0,
                    window_usage={"USDT": Decimal(0)}, outbox_unsent=0, oldest_unsent_alert_at=None,
                    alerts_raised=0, mails={}, frozen_reason=None, frozen_at=None, halted=False,
                    last_poll_at=None, poll_interval_s=6, clock_offset_ms=None, ledger_bytes=0, disk_free_bytes=1)
    state = StateSnapshot(signals={}, orders={("live", "FILLED"): 1}, sweeps={}, unanswered_sweeps=0)

    class Families:
        def collect(self):
            return [*snapshot_families(snap), *state_families(state, {202: 1})]
    registry = CollectorRegistry(auto_describe=False)
    registry.register(Families())
    treasury = TreasuryMetrics(open_ledger=_no_ledger, policy=None, now_ms=lambda: 0, poll_interval_s=6,
                               monotonic=lambda: 0.0)
    treasury.on_decided([("c", type("R", (), {"outcome": "accepted", "reason_code": None})())], 0.001)
    treasury.on_exchange("GET /api/v3/time", "ok", {"x-mbx-used-weight-1m": 1})
    signal = SignalMetrics(state_path=Path("/nonexistent/state.sqlite"), webhook_counts=dict, monotonic=lambda: 0.0)
    signal.on_handled(type("H", (), {"state": "placed"})(), 0.1)
    signal.on_exchange("POST /api/v3/order", "ok", {"x-mbx-order-count-10s": 1})
    names = set()
    for text in (generate_latest(registry), generate_latest(treasury.registry)):
        names |= {s.name for f in text_string_to_metric_families(text.decode()) for s in f.samples}
    signal_text = generate_latest(_without_state(signal.registry)).decode()
    names |= {s.name for f in text_string_to_metric_families(signal_text) for s in f.samples}
    return names


def _no_ledger():
    raise OSError("no ledger in the unit tier")


def _without_state(registry):
    from signal_bot.metrics import StateCollector
    for collector in list(registry._collector_to_names):
        if isinstance(collector, StateCollector):
            registry.unregister(collector)
    return registry


def rules() -> list[dict]:
    yaml = pytest.importorskip("yaml", reason="pyyaml is not installed: the rules' YAML is checked by promtool "
                                              "(tests/integration/deploy) where it is")
    document = yaml.safe_load(RULES.read_text())
    return [rule for group in document["groups"] for rule in group["rules"]]


def test_every_alert_rule_has_an_expression_a_severity_and_a_summary():
    """Each rule is complete: alert, expr, labels.severity (critical or warning), summary."""
    for rule in rules():
        assert rule["alert"] and rule["expr"], rule
        assert rule["labels"]["severity"] in ("critical", "warning"), rule
        assert rule["annotations"]["summary"], rule


def test_the_rules_cover_the_issues_list():
    """Stalled queue, needs_review, frozen or halted, outbox backlog, clock offset, window
    over 80%, no poll for 3 intervals: each has its rule."""
    exprs = {rule["alert"]: rule["expr"] for rule in rules()}
    assert "treasury_stalled_intents" in exprs["TreasuryQueueStalled"]
    assert 'status="needs_review"' in exprs["TreasuryNeedsReview"]
    assert "treasury_frozen" in exprs["TreasuryFrozenOrHalted"] and "halted" in exprs["TreasuryFrozenOrHalted"]
    assert "treasury_outbox_oldest_unsent_age_seconds" in exprs["TreasuryOutboxBacklog"]
    assert "treasury_clock_offset_seconds" in exprs["TreasuryClockOffset"]
    assert "> 0.8" in exprs["TreasuryWindowUsageHigh"]
    assert "3 * treasury_poll_interval_seconds" in exprs["TreasuryNoPoll"]


def test_the_rules_and_the_dashboard_name_only_metrics_the_bots_expose():
    """A typo in a rule or a panel would alert or graph nothing, silently."""
    names = exposed_names()
    used = {n for rule in rules() for n in NAME.findall(rule["expr"])}
    dashboard = json.loads(DASHBOARD.read_text())
    used_in_dashboard = {n for p in dashboard["panels"] for t in p.get("targets", []) for n in NAME.findall(t["expr"])}
    assert used and used_in_dashboard
    assert used - names == set()
    assert used_in_dashboard - names == set()
