"""The weekly key-hygiene alert (issue 16 item 2) against a real ledger: once a week,
durable across a new Ledger (a restart), a failed read retried."""

from __future__ import annotations

from types import SimpleNamespace

from common.binance import ExchangeError
from common.clock import FakeClock
from common.key_hygiene import DAY_MS, WEEK_MS
from tests.support.treasury_core import make_policy
from treasury_bot.alerts import model
from treasury_bot.key_hygiene_watch import META_KEY, KeyHygieneWatch
from treasury_bot.ledger import Ledger

T0 = 1_800_000_000_000


def key_hygiene_alerts(ledger: Ledger) -> list:
    return [item.alert for item in ledger.outbox.unsent(100) if item.alert.kind == model.KEY_HYGIENE]


def test_an_old_key_is_alerted_once_a_week_across_restarts(tmp_path):
    """First check alerts; the same week (even after a reopen) does not; a week later it does again."""
    clock = FakeClock(T0)
    rights = SimpleNamespace(create_time=T0 - 100 * DAY_MS, trading_authority_expiration_time=None)
    policy = make_policy()
    path = tmp_path / "ledger.sqlite"
    ledger = Ledger(path)
    assert KeyHygieneWatch(ledger, lambda: rights, policy, clock).check_once() == 1
    [alert] = key_hygiene_alerts(ledger)
    assert alert.severity == "WARNING" and "100 days ago" in str(alert.facts["detail"])
    ledger.close()
    clock.advance((WEEK_MS - 60_000) / 1000)
    again = Ledger(path)  # a restart within the week
    assert KeyHygieneWatch(again, lambda: rights, policy, clock).check_once() is None
    clock.advance(60)
    assert KeyHygieneWatch(again, lambda: rights, policy, clock).check_once() == 1
    assert len(key_hygiene_alerts(again)) == 2
    again.close()


def test_a_young_key_marks_the_week_without_an_alert_and_a_failed_read_is_retried(tmp_path):
    """A failed read leaves the week unmarked; the next read of a fresh key alerts nothing."""
    clock = FakeClock(T0)
    policy = make_policy()
    ledger = Ledger(tmp_path / "ledger.sqlite")

    def fails():
        raise ExchangeError("sandbox down")
    assert KeyHygieneWatch(ledger, fails, policy, clock).check_once() is None
    assert ledger.get_meta(META_KEY) is None
    fresh = SimpleNamespace(create_time=T0 - DAY_MS, trading_authority_expiration_time=None)
    assert KeyHygieneWatch(ledger, lambda: fresh, policy, clock).check_once() == 0
    assert ledger.get_meta(META_KEY) == str(T0) and key_hygiene_alerts(ledger) == []
    ledger.close()
