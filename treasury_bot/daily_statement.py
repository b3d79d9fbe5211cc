"""The daily statement mail (issue 13 item 4): once per UTC day, what moved the day before,
what is open, window usage and the journal's chain head, so the operator's mailbox holds
an anchor of the history outside the host.

Durable: the last day stated is a meta row written in the SAME transaction as the mail's
outbox row, so a day is stated exactly once across restarts and crashes. A ledger that has
never stated a day (new, or upgraded) records yesterday as stated without mailing: its
first statement comes after the next UTC midnight (the start summary already carries the
head). Run from the clock watch's loop (treasury_bot/trusted_clock.py), which survives a
failing step; the composition of the texts is pure (`statement_texts`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from typing import Iterable, Mapping

from common.clock import Clock
from common.logs import get_logger
from treasury_bot import lifecycle
from treasury_bot.alerts import events
from treasury_bot.decider import load_usage
from treasury_bot.ledger import Ledger
from treasury_bot.policy_model import Policy
from treasury_bot.usage import Usage

log = get_logger("treasury.daily_statement")
META_LAST_DAY = "daily_statement_day"
DAY_MS = 86_400_000


def utc_day(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).strftime("%Y-%m-%d")


def day_start_ms(day: str) -> int:
    return int(datetime.strptime(day, "%Y-%m-%d").replace(tzinfo=timezone.utc).timestamp() * 1000)


def day_to_state(now_ms: int, last_stated: str | None) -> str | None:
    """The day a statement is due for now (yesterday, UTC), or None if it was stated."""
    yesterday = utc_day(day_start_ms(utc_day(now_ms)) - DAY_MS)
    if last_stated is not None and last_stated >= yesterday:
        return None
    return yesterday


@dataclass(frozen=True)
class StatementTexts:
    moved: str
    open_intents: str
    window_usage: str


def statement_texts(completed: Iterable[tuple[str, str]], failed: int, open_count: int, pending: int,
                    usage: Usage, caps: Mapping[str, Decimal]) -> StatementTexts:
    """One line each: completed withdrawals per coin, the open intents, each coin's window."""
    sums: dict[str, Decimal] = {}
    counts: dict[str, int] = {}
    for coin, amount in completed:
        sums[coin] = sums.get(coin, Decimal(0)) + Decimal(amount)
        counts[coin] = counts.get(coin, 0) + 1
    moved = "; ".join(f"{counts[c]} withdrawal(s) completed: {sums[c]} {c}" for c in sorted(sums)) or "nothing moved"
    if failed:
        moved += f"; {failed} ended without moving (failed, rejected or cancelled)"
    open_text = f"{open_count} open ({pending} pending approval)"
    window = "; ".join(f"{coin} {usage.coin_sum(coin)} of {cap}" for coin, cap in sorted(caps.items())) or "-"
    return StatementTexts(moved, open_text, window)


class DailyStatement:
    """`check_once` mails the statement when one is due (one short transaction)."""

    def __init__(self, ledger: Ledger, policy: Policy, clock: Clock) -> None:
        self.ledger = ledger
        self.policy = policy
        self.clock = clock

    def check_once(self) -> str | None:
        """Return the day stated now, or None."""
        now = self.clock.now_ms()
        if day_to_state(now, self.ledger.get_meta(META_LAST_DAY)) is None:
            return None  # the usual minute: one read, no write lock
        with self.ledger.transaction():
            last = self.ledger.get_meta(META_LAST_DAY)
            day = day_to_state(now, last)
            if day is None:
                return None
            self.ledger.set_meta(META_LAST_DAY, day)
            if last is None:
                return None  # a first start: the start summary carries the head; nothing to state yet
            start = day_start_ms(day)
            ends = self.ledger.withdrawal_ends_between(start, start + DAY_MS)
            completed = [(coin, amount) for coin, amount, status in ends if status == lifecycle.COMPLETED]
            pending = self.ledger.count_with_status([lifecycle.PENDING_APPROVAL])
            open_count = self.ledger.count_with_status(lifecycle.OPEN)
            usage = load_usage(self.ledger, self.policy, now)
            caps = {coin: limits.window_cap for coin, limits in self.policy.limits.coins.items()}
            texts = statement_texts(completed, len(ends) - len(completed), open_count, pending, usage, caps)
            head = self.ledger.chain_head()
            self.ledger.enqueue(events.daily_statement(
                at_ms=now, day=day, moved=texts.moved, open_intents=texts.open_intents,
                window_usage=f"last {self.policy.limits.window_hours} h: {texts.window_usage}",
                chain_head=str(head)))
        log.info("daily_statement", day=day, chain_head=str(head))
        return day
