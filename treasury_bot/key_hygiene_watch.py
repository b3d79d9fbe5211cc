"""The weekly key-hygiene alert (issue 16 item 2): a duty of the clock thread's minute loop.

Once a week (durable: ledger meta `key_hygiene_checked_at`, exchange ms, so a restart does
not repeat it and a week of downtime makes it due at once) it reads the key's own
apiRestrictions (weight 1) and enqueues one `key_hygiene` alert per warning of
common/key_hygiene.py (older than `[keys] rotate_after_days`, or its trading right expiring
within 14 days). A failed read is logged and retried at the next minute; the week is only
marked once the key was read.
"""

from __future__ import annotations

from typing import Callable

from common.binance import ExchangeError
from common.clock import Clock
from common.key_hygiene import WEEK_MS, key_hygiene, weekly_due
from common.logs import get_logger
from treasury_bot.alerts import events
from treasury_bot.ledger import Ledger
from treasury_bot.policy_model import Policy

log = get_logger("treasury.key_hygiene")
META_KEY = "key_hygiene_checked_at"


class KeyHygieneWatch:
    def __init__(self, ledger: Ledger, restrictions: Callable[[], object], policy: Policy, clock: Clock) -> None:
        self.ledger = ledger
        self.restrictions = restrictions  # the key's GET /sapi/v1/account/apiRestrictions
        self.policy = policy
        self.clock = clock
        self._told_next = False

    def _last(self) -> int | None:
        text = self.ledger.get_meta(META_KEY)
        return int(text) if text is not None and text.isdigit() else None

    def check_once(self) -> int | None:
        """Return how many warnings were alerted, or None when no check was due (or the read failed)."""
        last = self._last()
        if not weekly_due(last, self.clock.now_ms()):
            if not self._told_next:  # once per run: when the next check is due
                self._told_next = True
                log.info("key_hygiene_next", due_at_ms=last + WEEK_MS)
            return None  # the usual minute: one read of the ledger, no exchange call
        try:
            rights = self.restrictions()
        except ExchangeError as exc:
            log.warning("key_hygiene_read_failed", error=str(exc))
            return None
        now = self.clock.now_ms()
        days = self.policy.keys.rotate_after_days
        warnings = key_hygiene(rights, now, days, who="TREASURY_API_KEY")
        with self.ledger.transaction():
            if not weekly_due(self._last(), now):
                return None  # another opener marked this week meanwhile
            self.ledger.set_meta(META_KEY, str(now))
            for warning in warnings:
                self.ledger.enqueue(events.key_hygiene(at_ms=now, code=warning.code, detail=warning.detail,
                                                       rotate_after_days=days))
        log.info("key_hygiene_checked", warnings=len(warnings), rotate_after_days=days)
        return len(warnings)
