"""The exchange's withdraw rules per (coin, network), cached so deciding never waits on them.

A refresher thread reloads `/sapi/v1/capital/config/getall` every few minutes and swaps
the whole mapping at once (one attribute assignment: readers see the old or the new
mapping, never half of one). The latest snapshot is saved in the ledger so that
`treasuryctl approve` re-checks against the same rules without the exchange.
"""

from __future__ import annotations

import threading
from decimal import Decimal
from typing import Iterable

from common.binance import ExchangeError
from common.clock import Clock
from common.logs import get_logger
from treasury_bot.destination_watch import DestinationWatch
from treasury_bot.quota_guard import QuotaGuard
from treasury_bot.exchange import CoinRulesSource
from treasury_bot.ledger import Ledger
from treasury_bot.withdraw_rules import CoinRules, NetworkRule, coin_rules_from_config
from treasury_bot.supervised import Supervised, ledger_recorder

log = get_logger("treasury.coin_rules")

def to_snapshot(rules: CoinRules) -> list[dict]:
    return [{"coin": r.coin, "network": r.network, "withdraw_enable": r.withdraw_enable,
             "withdraw_min": str(r.withdraw_min), "withdraw_max": str(r.withdraw_max),
             "withdraw_multiple": str(r.withdraw_multiple), "address_regex": r.address_regex,
             "memo_regex": r.memo_regex, "withdraw_tag": r.withdraw_tag} for r in rules.values()]


def from_snapshot(items: Iterable[dict]) -> dict[tuple[str, str], NetworkRule]:
    rules = {}
    for item in items:
        rule = NetworkRule(
            coin=item["coin"], network=item["network"], withdraw_enable=bool(item["withdraw_enable"]),
            withdraw_min=Decimal(item["withdraw_min"]), withdraw_max=Decimal(item["withdraw_max"]),
            withdraw_multiple=Decimal(item["withdraw_multiple"]),
            address_regex=item["address_regex"], memo_regex=item["memo_regex"],
            withdraw_tag=item.get("withdraw_tag"))  # absent in snapshots saved before issue 12
        rules[(rule.coin, rule.network)] = rule
    return rules


class CoinRulesCache:
    """The current rules; `refresh` fetches and saves them, `run` refreshes periodically."""

    def __init__(self, client: CoinRulesSource, ledger_path, clock: Clock, *, every_s: float = 300.0,
                 backoff_start_s: float = 1.0) -> None:
        self.client = client
        self.backoff_start_s = backoff_start_s
        self.ledger_path = ledger_path
        self.clock = clock
        self.every_s = every_s
        self.rules: CoinRules = {}
        self.fetched_at_ms: int | None = None
        # Issue 12: the address book and the tags, checked after each refresh (set at start).
        self.watch: DestinationWatch | None = None
        self.quota: QuotaGuard | None = None  # issue 12 item 4: a quota reading after each refresh

    def refresh(self, ledger: Ledger) -> CoinRules:
        rules = coin_rules_from_config(self.client.coin_config())
        now = self.clock.now_ms()
        with ledger.transaction():
            ledger.save_coin_rules(to_snapshot(rules), now)
        self.rules, self.fetched_at_ms = rules, now
        return rules

    def run(self, stop: threading.Event) -> None:
        """Refresh every `every_s`; any failure (the exchange, a locked ledger, a bug) is
        retried with backoff and alerted once per episode (issue 10 defect 8). Meanwhile
        decisions use the last rules until they are older than the policy allows
        (exchange_rules_stale)."""
        ledger = Ledger(self.ledger_path)
        supervisor = Supervised("coin-rules", ledger_recorder(lambda: ledger, self.clock),
                                backoff_start_s=self.backoff_start_s)
        try:
            if stop.wait(self.every_s):  # the start has just refreshed them
                return
            supervisor.run(stop, lambda: self._refresh_step(ledger))
        finally:
            ledger.close()

    def _refresh_step(self, ledger: Ledger) -> float:
        try:
            self.refresh(ledger)
        except ExchangeError as exc:
            # Keep deciding on the last rules; they were right a few minutes ago.
            log.warning("coin_rules_refresh_failed", error=str(exc))
            raise
        log.debug("coin_rules_refreshed", networks=len(self.rules))
        if self.watch is not None:
            self.watch.after_refresh(ledger, self.rules)
        if self.quota is not None:
            self.quota.observe(ledger, self.clock.now_ms())
        return self.every_s
