"""The foreign-withdrawal watch (issue 13 item 5): the account's whole withdrawal history
matched against the ledger, at start (before any apply) and every `[watch] every_seconds`.

What counts as foreign is treasury_bot/foreign_match.py (pure). This module reads the
windows and pages (AccountWithdrawals: the capital or the local-entity history, as the
account's Travel Rule route says), and writes what it found in one transaction: a row per
foreign withdrawal (`foreign_withdrawals`, so it is alerted once, across restarts), its
CRITICAL `foreign_withdrawal` alert, and the breaker `freeze.FOREIGN_WITHDRAWAL` (unless
`[circuit_breakers] foreign_withdrawal = false`). The history is read BEFORE the ledger,
so a withdrawal the executor applies meanwhile is already `submitting` in the ledger, ours.

After a restore from an older copy this is what stops a double: every withdrawal the lost
records made is found here at start, before the executor's first step, and its intent id
is used for ever (batch_plan refuses it; the executor adopts, never applies, an intent
the ledger holds with that id).

Weight: each request costs 18000 of the account's 180000 UID weight a minute (10 a
second); the scheduled pass is one request while fewer than 1000 withdrawals fall in its
window. A rate-limited or failed pass is logged and tried at the next interval; at start
a failure refuses the start (the caller's), as unreadable coin rules do.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from common.binance import ExchangeError, RateLimitError, WithdrawRecord
from common.clock import Clock
from common.logs import get_logger
from treasury_bot import foreign_match, freeze
from treasury_bot.alerts import events
from treasury_bot.exchange import AccountWithdrawals
from treasury_bot.foreign_match import Finding, KnownIntent
from treasury_bot.ledger import ForeignRow, Ledger
from treasury_bot.policy_model import Policy

log = get_logger("treasury.foreign_watch")
LAST_PASS_META = "foreign_watch.last_pass_at"
MAX_PAGES = 100   # per window: 100,000 withdrawals; more is an account this bot does not serve


@dataclass(frozen=True)
class PassResult:
    read: int                  # withdrawals read (after deduplication)
    found: tuple[Finding, ...]  # newly recorded as foreign
    requests: int


class ForeignWatch:
    def __init__(self, ledger: Ledger, history: AccountWithdrawals, clock: Clock, policy: Policy) -> None:
        self.ledger = ledger
        self.history = history
        self.clock = clock
        self.every_s = float(policy.watch.every_seconds)
        self.lookback_days = policy.watch.lookback_days
        self.trips = policy.circuit_breakers.foreign_withdrawal

    # -- the passes ------------------------------------------------------------------

    def at_start(self) -> PassResult:
        """Back to the ledger's first start (at most `lookback_days`); raises ExchangeError."""
        now = self.clock.now_ms()
        start = foreign_match.start_lookback(self.ledger.ledger_born_at(), now, self.lookback_days)
        result = self.check(start, now)
        log.info("foreign_watch_start", since_ms=start, read=result.read, found=len(result.found),
                 requests=result.requests)
        return result

    def check_recent(self) -> PassResult:
        now = self.clock.now_ms()
        return self.check(foreign_match.recent_lookback(now, self.every_s), now)

    def check(self, start_ms: int, end_ms: int) -> PassResult:
        records, requests = self._read(start_ms, end_ms)
        found = self._record(records)
        return PassResult(len({r.id for r in records}), tuple(found), requests)

    def run(self, stop: threading.Event) -> None:
        """The scheduled passes, the first one interval after the start's."""
        from treasury_bot.supervised import Supervised, ledger_recorder  # issue 10 defect 8
        guard = Supervised("foreign-watch", ledger_recorder(lambda: self.ledger, self.clock))
        while not stop.wait(self.every_s):
            try:
                result = self.check_recent()
            except RateLimitError as exc:
                log.warning("foreign_watch_rate_limited", retry_after=exc.retry_after)
            except ExchangeError as exc:
                log.warning("foreign_watch_exchange_error", error=str(exc))
            except Exception as exc:
                log.critical("foreign_watch_failed", exc_info=True)
                stop.wait(guard.failed(exc))
            else:
                guard.succeeded()
                if result.found:
                    log.critical("foreign_withdrawals_found", count=len(result.found))

    # -- reading and recording ---------------------------------------------------------

    def _read(self, start_ms: int, end_ms: int) -> tuple[list[WithdrawRecord], int]:
        records: list[WithdrawRecord] = []
        requests = 0
        for bottom, top in foreign_match.windows(start_ms, end_ms):
            for page in range(MAX_PAGES):
                rows = self.history.withdrawals_between(start_time=bottom, end_time=top,
                                                        offset=page * foreign_match.PAGE_LIMIT,
                                                        limit=foreign_match.PAGE_LIMIT)
                requests += 1
                records.extend(rows)
                if len(rows) < foreign_match.PAGE_LIMIT:
                    break
        return records, requests

    def _record(self, records: list[WithdrawRecord]) -> list[Finding]:
        now = self.clock.now_ms()
        recorded: list[Finding] = []
        with self.ledger.transaction():
            ids = [r.id for r in records]
            ours = self.ledger.known_withdrawal_ids(ids)
            already = self.ledger.foreign_withdrawal_ids(ids)
            held = self.ledger.find_intents(r.withdraw_order_id for r in records if r.withdraw_order_id)
            intents = {}
            for intent_id, intent in held.items():
                withdrawal = self.ledger.withdrawal(intent.seq)
                intents[intent_id] = KnownIntent(intent, withdrawal.withdrawal_id if withdrawal else None)
            for finding in foreign_match.judge_all(records, ours=ours, already=already, intents=intents):
                if self.ledger.insert_foreign_withdrawal(_row(finding, now)):
                    self.ledger.enqueue(_alert(finding, now))
                    recorded.append(finding)
            if recorded and self.trips:
                freeze.trip(self.ledger, freeze.FOREIGN_WITHDRAWAL, _trip_detail(recorded), now)
            self.ledger.set_meta(LAST_PASS_META, str(now))
        for finding in recorded:
            log.critical("foreign_withdrawal", withdrawal_id=finding.record.id,
                         withdraw_order_id=finding.record.withdraw_order_id, coin=finding.record.coin,
                         amount=str(finding.record.amount), detail=finding.detail)
        return recorded


def _row(finding: Finding, now: int) -> ForeignRow:
    r = finding.record
    return ForeignRow(withdrawal_id=r.id, withdraw_order_id=r.withdraw_order_id, coin=r.coin, network=r.network,
                      address=r.address, address_tag=r.address_tag, amount=str(r.amount),
                      exchange_status=r.status, apply_time=r.apply_time, intent_seq=finding.intent_seq,
                      found_at=now, detail=finding.detail)


def _alert(finding: Finding, now: int):
    r = finding.record
    return events.foreign_withdrawal(at_ms=now, withdrawal_id=r.id, withdraw_order_id=r.withdraw_order_id,
                                     coin=r.coin, network=r.network, amount=r.amount, address=r.address,
                                     exchange_status=r.status, apply_time=r.apply_time, detail=finding.detail)


def _trip_detail(found: list[Finding]) -> str:
    first = found[0]
    more = f" and {len(found) - 1} more" if len(found) > 1 else ""
    return f"{len(found)} withdrawal(s) on the account the ledger did not make: " \
           f"{foreign_match.describe(first.record)}{more}"
