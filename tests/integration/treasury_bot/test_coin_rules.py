"""The exchange's withdraw rules: from /capital/config/getall, to and from the ledger's
snapshot, and the cache that refreshes them without ever waiting in a decision."""

from __future__ import annotations

import json
import threading

import pytest

from common.binance import ExchangeUnavailable
from common.clock import FakeClock
from tests.support.ledger_peek import peek, peek_one
from tests.support.waiting import wait_until
from tests.support.treasury_core import T0, open_ledger
from treasury_bot.coin_rules import CoinRulesCache, from_snapshot
from treasury_bot.withdraw_rules import NetworkRule
from tests.support.coin_rules_cases import CONFIG, FakeConfigClient


def test_refresh_saves_the_snapshot_and_swaps_the_rules(tmp_path):
    """refresh() fetches, saves to the ledger in one transaction and replaces the mapping whole."""
    ledger = open_ledger(tmp_path / "l.sqlite")
    cache = CoinRulesCache(FakeConfigClient(CONFIG), tmp_path / "l.sqlite", FakeClock(T0))
    old = cache.rules
    rules = cache.refresh(ledger)
    assert cache.rules is rules and rules is not old and cache.fetched_at_ms == T0
    fetched_at, body = ledger.load_coin_rules()
    assert fetched_at == T0 and from_snapshot(body) == rules
    ledger.close()


def test_a_failed_refresh_keeps_the_last_rules(tmp_path):
    """An exchange error leaves the previous rules and snapshot in place."""
    ledger = open_ledger(tmp_path / "l.sqlite")
    client = FakeConfigClient(CONFIG)
    cache = CoinRulesCache(client, tmp_path / "l.sqlite", FakeClock(T0))
    first = cache.refresh(ledger)
    client.errors.append(ExchangeUnavailable("down"))
    with pytest.raises(ExchangeUnavailable):
        cache.refresh(ledger)
    assert cache.rules is first and ledger.load_coin_rules()[0] == T0
    ledger.close()


def test_the_refresher_thread_survives_exchange_errors(tmp_path):
    """run() keeps refreshing after errors and stops when told; the rules arrive once the exchange answers."""
    open_ledger(tmp_path / "l.sqlite").close()
    client = FakeConfigClient(CONFIG, errors=[ExchangeUnavailable("down")] * 2)
    cache = CoinRulesCache(client, tmp_path / "l.sqlite", FakeClock(T0), every_s=0.01, backoff_start_s=0.01)
    stop = threading.Event()
    thread = threading.Thread(target=cache.run, args=(stop,))
    thread.start()
    try:
        wait_until(lambda: cache.rules, timeout=5, what="rules after two failures")
    finally:
        stop.set()
        thread.join(5)
    assert not thread.is_alive() and client.calls >= 3
    assert isinstance(next(iter(cache.rules.values())), NetworkRule)


def test_an_unexpected_exception_in_a_refresh_does_not_kill_the_refresher(tmp_path):
    """Issue 10 defect 8: a non-exchange failure (here a KeyError, then a locked ledger) is
    retried with backoff, alerted once as thread_failing, and its recovery is alerted too."""
    import sqlite3
    open_ledger(tmp_path / "l.sqlite").close()
    # Errors that are not ExchangeError: a bug, a lock.
    client = FakeConfigClient(CONFIG, errors=[KeyError("networkList"),
                                              sqlite3.OperationalError("database is locked"), ValueError("bad")])
    cache = CoinRulesCache(client, tmp_path / "l.sqlite", FakeClock(T0), every_s=0.01, backoff_start_s=0.01)
    stop = threading.Event()
    thread = threading.Thread(target=cache.run, args=(stop,))
    thread.start()
    try:
        wait_until(lambda: cache.rules, timeout=5, what="rules after three unexpected failures")
        ledger = open_ledger(tmp_path / "l.sqlite")
        try:
            wait_until(lambda: peek_one(
                ledger, "SELECT COUNT(*) FROM alert_outbox WHERE kind = 'thread_recovered'") == 1,
                timeout=5, what="the recovery alert")
            rows = peek(ledger, "SELECT kind, facts FROM alert_outbox ORDER BY seq")
        finally:
            ledger.close()
    finally:
        stop.set()
        thread.join(5)
    assert not thread.is_alive() and client.calls >= 4
    kinds = [kind for kind, _ in rows]
    assert kinds == ["thread_failing", "thread_recovered"]          # one alert per episode
    failing = json.loads(rows[0][1])
    assert failing["thread"] == "coin-rules" and failing["error_type"] == "KeyError"
    assert "networkList" not in rows[0][1]                           # the type, never the text
