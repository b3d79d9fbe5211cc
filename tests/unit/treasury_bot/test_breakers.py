"""The circuit breakers' pure rules (issue 13 item 2): which are on, and when a client's
rejections are too many."""

from __future__ import annotations

import pytest

from treasury_bot import breakers, freeze
from treasury_bot.policy_model import CircuitBreakers

MINUTE = 60_000
NOW = 1_700_000_000_000


def test_every_breaker_is_on_by_default_and_each_switch_turns_only_its_own_off():
    """Defaults: all on (a custody default is the strict one); a switch names one breaker."""
    assert all(breakers.enabled(CircuitBreakers(), name) for name in freeze.BREAKERS)
    off = CircuitBreakers(policy_changed=False)
    assert [name for name in freeze.BREAKERS if not breakers.enabled(off, name)] == [freeze.POLICY_CHANGED]


@pytest.mark.parametrize("count, tripped", [(0, False), (20, False), (21, True), (500, True)])
def test_more_than_client_rejections_trips_exactly_n_do_not(count, tripped):
    """N rejections are allowed (a misconfigured signal makes a few); N + 1 trips."""
    assert breakers.over_rejections(count, CircuitBreakers(client_rejections=20)) is tripped


def test_the_counting_window_starts_at_the_later_of_m_minutes_ago_and_the_last_unfreeze():
    """An unfreeze is a fresh start: the rejections before it tripped the breaker already."""
    config = CircuitBreakers(client_rejections_minutes=10)
    assert breakers.rejections_since(NOW, config, None) == NOW - 10 * MINUTE
    assert breakers.rejections_since(NOW, config, NOW - 3 * MINUTE) == NOW - 3 * MINUTE + 1
    assert breakers.rejections_since(NOW, config, NOW - 30 * MINUTE) == NOW - 10 * MINUTE


def test_the_rejection_detail_names_the_client_and_the_numbers():
    detail = breakers.rejection_detail("signal", 21, CircuitBreakers(client_rejections=20))
    assert detail.startswith("client signal: 21 rejected intents within 10 minutes")
    assert "client_rejections = 20" in detail


def test_rejections_the_client_did_not_cause_are_not_counted():
    """The freeze's own, the operator's and an expiry's rejections are not probing."""
    assert set(breakers.NOT_THE_CLIENTS) == {"frozen", "operator_rejected", "approval_expired"}
