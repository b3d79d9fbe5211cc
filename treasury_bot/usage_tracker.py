"""The window sums and hourly count, kept up to date in memory for the decider's thread.

Summing the whole window from the ledger for every batch costs time in proportion to the
transfers in the window; this keeps the same figures incrementally instead:
- `reload` computes them from the ledger (at start, and every `resync_s` to self-heal);
- `add` counts what the decider itself just accepted, after its commit;
- `drop_from_window` / `uncount` follow what other writers did (the executor, the
  poller, treasuryctl), learned from the transitions table;
- `restamp` follows an operator's approval: the intent counts again from that moment
  (docs/design.md section 9; issue 10 defect 2);
- time expires entries as the rolling window and the hour move on.
Besides the decider, only an approval adds to the usage, and the server follows other
writers' transitions before each batch it decides; other writers only ever remove. So
between a removal in the ledger and the moment we learn of it, these figures can only be
too high, never too low: the error is on the safe side (a transfer refused, never one
allowed too many).
The deques are kept in the order of `at` (an approval's new time, or a decision stamped
a little before an approval, lands in its place), so expiry from their fronts is exact.
The semantics are `usage.summarize_usage`'s, and a test holds the two equal.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from decimal import Decimal

from common.money import add, subtract
from treasury_bot import lifecycle
from treasury_bot.ledger import Ledger
from treasury_bot.usage import HOUR_MS, CountedTransfer, Usage


@dataclass
class _Entry:
    coin: str
    destination: str
    amount: Decimal
    at: int
    in_window: bool
    in_hour: bool = True
    counted: bool = True


class UsageTracker:
    def __init__(self, window_hours: int, *, resync_s: float = 60.0) -> None:
        self.window_ms = window_hours * HOUR_MS
        self.window_hours = window_hours
        self.resync_s = resync_s
        self.next_resync = 0.0
        self._reset()

    def _reset(self) -> None:
        self.entries: dict[str, _Entry] = {}
        self.by_time: deque[str] = deque()       # window expiry order
        self.hour_order: deque[str] = deque()    # hour expiry order
        self.hour_count = 0
        self.coin_sums: dict[str, Decimal] = {}
        self.destination_sums: dict[str, Decimal] = {}

    # -- loading and following ----------------------------------------------------------

    def reload(self, ledger: Ledger, now_ms: int, monotonic_now: float) -> None:
        from treasury_bot.decider import counted_transfers  # the ledger-to-policy mapping
        self._reset()
        span = max(self.window_ms, HOUR_MS)
        for transfer in sorted(counted_transfers(ledger.counted_since(now_ms - span)),
                               key=lambda t: t.accepted_at_ms):
            self.add(transfer)
        self.expire(now_ms)
        self.next_resync = monotonic_now + self.resync_s

    def add(self, transfer: CountedTransfer) -> None:
        if transfer.intent_id in self.entries:
            return
        entry = _Entry(transfer.coin, transfer.destination, transfer.amount, transfer.accepted_at_ms,
                       transfer.in_window)
        self.entries[transfer.intent_id] = entry
        self._insert_in_order(self.by_time, transfer.intent_id, entry.at)
        self._insert_in_order(self.hour_order, transfer.intent_id, entry.at)
        self.hour_count += 1
        if entry.in_window:
            self._add_sums(entry, +1)

    def drop_from_window(self, intent_id: str) -> None:
        """A failed, rejected or cancelled withdrawal no longer uses the window."""
        entry = self.entries.get(intent_id)
        if entry is not None and entry.in_window:
            entry.in_window = False
            self._add_sums(entry, -1)

    def uncount(self, intent_id: str) -> None:
        """An operator's rejection: the intent counts nowhere any more."""
        self.drop_from_window(intent_id)
        entry = self.entries.get(intent_id)
        if entry is not None and entry.in_hour:
            entry.in_hour = False
            self.hour_count -= 1

    def follow(self, intent_id: str, to_status: str, source: str) -> None:
        if to_status in lifecycle.GIVES_BACK_TO_WINDOW:
            self.drop_from_window(intent_id)
        elif to_status == lifecycle.DENIED and source == lifecycle.OPERATOR:
            self.uncount(intent_id)

    # -- reading ----------------------------------------------------------------------------

    def expire(self, now_ms: int) -> None:
        hour_start = now_ms - HOUR_MS
        while self.hour_order and self.entries[self.hour_order[0]].at <= hour_start:
            entry = self.entries[self.hour_order.popleft()]
            if entry.in_hour:
                entry.in_hour = False
                self.hour_count -= 1
        window_start = now_ms - self.window_ms
        while self.by_time and self.entries[self.by_time[0]].at <= window_start:
            # window_hours >= 1, so anything leaving the window has already left the hour.
            intent_id = self.by_time.popleft()
            entry = self.entries[intent_id]
            if entry.in_window:
                entry.in_window = False
                self._add_sums(entry, -1)
            del self.entries[intent_id]

    def usage(self, now_ms: int) -> Usage:
        self.expire(now_ms)
        return Usage(self.hour_count, dict(self.coin_sums), dict(self.destination_sums))

    def _add_sums(self, entry: _Entry, sign: int) -> None:
        op = add if sign > 0 else subtract
        self.coin_sums[entry.coin] = op(self.coin_sums.get(entry.coin, Decimal(0)), entry.amount)
        self.destination_sums[entry.destination] = op(
            self.destination_sums.get(entry.destination, Decimal(0)), entry.amount)
        for sums, key in ((self.coin_sums, entry.coin), (self.destination_sums, entry.destination)):
            if sums[key] == 0:
                del sums[key]

    # -- approvals (issue 10 defect 2) ---------------------------------------------------

    def restamp(self, transfer: CountedTransfer) -> None:
        """An approved intent counts from `transfer.accepted_at_ms` (the approval), whether
        its pending count is still held or already expired."""
        old = self.entries.pop(transfer.intent_id, None)
        if old is not None:
            if old.in_window:
                self._add_sums(old, -1)
            if old.in_hour:
                self.hour_count -= 1
            for order in (self.by_time, self.hour_order):
                try:
                    order.remove(transfer.intent_id)
                except ValueError:
                    pass  # already expired from the hour
        self.add(transfer)

    def _insert_in_order(self, order: deque[str], intent_id: str, at: int) -> None:
        """Append, or insert before the newer entries (rare: approvals, and decisions stamped
        just before an approval), so that each deque stays sorted by `at`."""
        if not order or self.entries[order[-1]].at <= at:
            order.append(intent_id)
            return
        index = len(order)
        while index > 0 and self.entries[order[index - 1]].at > at:
            index -= 1
        order.insert(index, intent_id)
