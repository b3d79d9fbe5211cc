"""Issue 10 defect 8 against a real sandbox process: the coin-rules refresher keeps failing
(a 5XX fault on /sapi/v1/capital/config/getall); it survives, alerts thread_failing once,
and once the cached rules are older than max_exchange_rules_age_minutes new intents are
refused exchange_rules_stale; when the exchange answers again the rules are fresh again."""

from __future__ import annotations

import threading
import time

import pytest

from common.binance import BinanceClient
from common.clock import FakeClock
from tests.support.ledger_peek import outbox_facts, peek_one
from tests.support.sandbox import DEMO_TREASURY
from tests.support.treasury import open_ledger
from tests.support.treasury_proc import E2E_POLICY, new_intent
from tests.support.waiting import wait_until
from treasury_bot.coin_rules import CoinRulesCache
from treasury_bot.decider import DecisionContext, Incoming, decide_batch
from treasury_bot.policy_file import parse_policy

pytestmark = pytest.mark.e2e

CONFIG = "/sapi/v1/capital/config/getall"


def test_a_refresher_that_keeps_failing_makes_the_rules_stale_after_the_max_age(tmp_path, sandbox):
    policy = parse_policy(E2E_POLICY)
    path = tmp_path / "ledger.sqlite"
    ledger = open_ledger(path)
    clock = FakeClock(int(time.time() * 1000))   # signed requests need a real time; rules age on this one
    client = BinanceClient(sandbox.base_url, DEMO_TREASURY.api_key, DEMO_TREASURY.api_secret)
    cache = CoinRulesCache(client, path, clock, every_s=0.05, backoff_start_s=0.05)
    cache.refresh(ledger)
    fetched = cache.fetched_at_ms
    usable = {d.label: 0 for d in policy.destinations}

    def decide(intent_id: str):
        intent = new_intent(intent_id, created_at=clock.now_ms())
        ctx = DecisionContext(policy, cache.rules, usable, clock.now_ms(), rules_fetched_at_ms=cache.fetched_at_ms)
        return decide_batch(ledger, [Incoming("signal", intent, b"raw")], ctx).replies[0]

    sandbox.add_fault(CONFIG, "5xx_before", count=-1)
    stop = threading.Event()
    thread = threading.Thread(target=cache.run, args=(stop,), name="coin-rules")
    thread.start()
    try:
        wait_until(lambda: peek_one(
            ledger, "SELECT COUNT(*) FROM alert_outbox WHERE kind = 'thread_failing'") == 1,
            timeout=30, what="the thread_failing alert")
        assert thread.is_alive() and cache.fetched_at_ms == fetched
        clock.advance(policy.limits.max_exchange_rules_age_minutes * 60)      # exactly the max: fine
        assert decide("fresh-enough").outcome == "accepted"
        clock.advance(0.001)                                                   # 1 ms over
        stale = decide("too-old")
        assert (stale.outcome, stale.reason_code, stale.status) == ("rejected", "exchange_rules_stale", "denied")
        [facts] = outbox_facts(ledger, "kind = 'thread_failing'")
        assert facts["thread"] == "coin-rules" and facts["error_type"]

        sandbox.clear_faults()
        wait_until(lambda: cache.fetched_at_ms != fetched, timeout=30, what="a refresh once the exchange answers")
        assert decide("fresh-again").outcome == "accepted"
        assert peek_one(ledger, "SELECT COUNT(*) FROM alert_outbox WHERE kind = 'thread_failing'") == 1
    finally:
        stop.set()
        thread.join(10)
        ledger.close()
    assert not thread.is_alive()
