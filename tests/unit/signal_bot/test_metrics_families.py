"""Issue 14: the signal bot's scrape-time figures from a state snapshot (pure)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from signal_bot.metrics import StateSnapshot, state_families


def exposed(snap: StateSnapshot, webhook: dict[int, int]) -> dict:
    class One:
        def collect(self):
            return state_families(snap, webhook)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(One())
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for f in text_string_to_metric_families(generate_latest(registry).decode()) for s in f.samples}


def test_webhook_answers_signals_orders_and_sweeps_are_exposed_by_their_small_label_sets():
    """Each figure is a series per HTTP code, state, order status or sweep state."""
    snap = StateSnapshot(signals={("live", "placed"): 3, ("live", "refused"): 1},
                         orders={("live", "FILLED"): 3}, sweeps={("decided", "completed"): 2}, unanswered_sweeps=0)
    got = exposed(snap, {202: 4, 401: 2})
    assert got[("signal_bot_webhook_requests_total", (("code", "202"),))] == 4
    assert got[("signal_bot_webhook_requests_total", (("code", "401"),))] == 2
    assert got[("signal_bot_signals", (("mode", "live"), ("state", "placed")))] == 3
    assert got[("signal_bot_signals", (("mode", "live"), ("state", "failed")))] == 0
    assert got[("signal_bot_orders", (("mode", "live"), ("status", "FILLED")))] == 3
    assert got[("signal_bot_sweeps", (("state", "decided"), ("status", "completed")))] == 2
    assert got[("signal_bot_treasury_link_up", ())] == 1


def test_an_unanswered_sweep_marks_the_treasury_link_down():
    """A sweep whose last try found no treasury: link_up 0 and the count of such sweeps."""
    snap = StateSnapshot(signals={}, orders={}, sweeps={("unsent", ""): 1}, unanswered_sweeps=1)
    got = exposed(snap, {})
    assert got[("signal_bot_treasury_link_up", ())] == 0
    assert got[("signal_bot_treasury_unanswered_sweeps", ())] == 1
