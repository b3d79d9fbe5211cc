"""treasury_bot/bootstrap.py: building the treasury's objects from settings touches nothing.

Settings point at an exchange, endpoints and an SMTP server nobody listens on, and at a
ledger, a policy and a clients folder that do not exist; every socket, file and request
is refused while building (tests/support/no_io.py). The I/O is in the start steps
treasury_bot/app.py runs: sync_clock, measure, Authenticator.start, IntentServer.open,
the threads' run.
"""

from __future__ import annotations



from common.clock import FakeClock
from treasury_bot import bootstrap
from treasury_bot.decider import DecisionContext
from treasury_bot.loosening import Resolution
from treasury_bot.policy_file import LoadedPolicy
from tests.support.no_io import forbid_io
from tests.support.treasury_core import T0
from tests.support.bootstrap_cases import NOWHERE, POLICY, settings, NotALedger


def test_the_clock_the_sender_and_the_coin_rules_are_built_without_io(monkeypatch):
    """No clock reading, no SMTP, no coin-config request, no ledger file while building."""
    touched = forbid_io(monkeypatch)
    host = FakeClock(T0)
    clock = bootstrap.trusted_clock(settings(), host)
    sender = bootstrap.alert_sender(settings(), clock)
    cache = bootstrap.coin_rules(settings(), clock)
    client = bootstrap.exchange_client(settings(), clock)
    assert touched == [] and not clock.anchored
    assert cache.rules == {} and cache.fetched_at_ms is None and client.base_url == "http://127.0.0.1:9"
    assert sender is not None


def test_the_workers_are_built_on_a_ledger_they_do_not_touch(monkeypatch):
    """Executor, poller and clock watch take their thread's ledger and client; building uses neither."""
    clock = bootstrap.trusted_clock(settings(), FakeClock(T0))
    touched = forbid_io(monkeypatch)
    workers = bootstrap.Workers(settings(), POLICY, bootstrap.pacing(settings(), POLICY), clock)
    executor = workers.executor(NotALedger(), workers.exchange())
    poller = workers.poller(NotALedger(), workers.exchange())
    watch = workers.clock_watch(NotALedger())
    assert touched == []
    assert executor.reconcile_every_s == workers.pacing.reconcile_s and poller.interval_s == workers.pacing.poll_s
    assert watch.clock is clock


def test_the_policy_paces_polls_and_look_ups_the_sandbox_setting_overrides_it():
    """Against Binance: the policy's interval, look-ups at least every 15 s; the sandbox: its own, 2x for look-ups."""
    interval = float(POLICY.limits.poll_interval_seconds)
    assert bootstrap.pacing(settings(), POLICY) == bootstrap.Pacing(interval, max(15.0, 2 * interval), False)
    assert bootstrap.pacing(settings(sandbox_poll_seconds=0.2), POLICY) == bootstrap.Pacing(0.2, 0.4, True)


def test_decisions_use_the_policy_in_force_and_the_cached_rules_now():
    """The server's decision context, built from the recorded resolution: read at each call, not at build."""
    clock = FakeClock(T0)
    cache = bootstrap.coin_rules(settings(), clock)
    loaded = LoadedPolicy(POLICY, "0" * 64, NOWHERE / "policy.toml")
    decisions = bootstrap.decisions(loaded, Resolution(POLICY, {"cold": 5}, POLICY, ()), cache, clock)
    clock.advance(1.0)
    got = decisions()
    assert isinstance(got, DecisionContext) and got.policy == POLICY and got.now_ms == T0 + 1000
    assert got.usable_from_ms == {"cold": 5} and got.coin_rules == {} and got.rules_fetched_at_ms is None
