"""Which mails to send now: a pure function of the unsent alerts, past mails and the time.

Rules (docs/design.md section 6, "Digests"):
- CRITICAL: one mail per alert, at once, never folded, whatever else is going on.
- Everything else is handled per (kind, severity):
  - An alert raised when no mail of its kind went out in the `window` before it is
    mailed alone, at once: a lone alert is never delayed.
  - Otherwise it is held, and opens a fold window of `window` from its own creation:
    the alerts of that kind raised in that window are folded into one digest mail,
    sent when the window closes. The next alert after a digest starts a new window.
  So a burst of 1,000 rejected intents over a few seconds is two mails (the first alone,
  then one digest of 999), a steady stream is about one mail per window, and after a
  mail-server outage every window that has closed goes at once (the backlog drains in
  one pass instead of one window at a time).

Times are the alerts' `created_at_ms` and the previous mails' planning times, all from
the treasury's one clock. Within one pass a planned mail counts from the creation time of
the alert that triggered it, as if it had been sent then; that is what lets a backlog be
replayed in one pass with the same folding a live run would have had.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import groupby
from typing import Iterable, Mapping, Sequence

from treasury_bot.alerts.model import CRITICAL, PendingAlert

Key = tuple[str, str]  # (kind, severity)


@dataclass(frozen=True)
class PlannedMail:
    """One mail to send now: one alert, or a digest of several of one kind and severity."""

    kind: str
    severity: str
    items: tuple[PendingAlert, ...]

    @property
    def is_digest(self) -> bool:
        return len(self.items) > 1

    @property
    def seqs(self) -> tuple[int, ...]:
        return tuple(item.seq for item in self.items)


@dataclass(frozen=True)
class Plan:
    mails: tuple[PlannedMail, ...]
    next_due_ms: int | None  # when the earliest held window closes (None: nothing held)
    held: int                # alerts held for a digest, not in `mails`


def plan(unsent: Iterable[PendingAlert], last_mail_ms: Mapping[Key, int], window_ms: int,
         now_ms: int) -> Plan:
    """Decide which mails to send now. CRITICAL mails come first, each alone."""
    if window_ms <= 0:
        raise ValueError("window_ms must be positive")
    items = sorted(unsent, key=lambda item: item.seq)
    mails = [_single(item) for item in items if item.severity == CRITICAL]
    folded = sorted((item for item in items if item.severity != CRITICAL), key=_fold_order)
    next_due: int | None = None
    held = 0
    for key, group in groupby(folded, key=_key):
        key_mails, due, key_held = _fold(list(group), last_mail_ms.get(key), window_ms, now_ms)
        mails.extend(key_mails)
        held += key_held
        if due is not None and (next_due is None or due < next_due):
            next_due = due
    return Plan(tuple(mails), next_due, held)


def _key(item: PendingAlert) -> Key:
    return (item.kind, item.severity)


def _fold_order(item: PendingAlert) -> tuple:
    return (_key(item), item.created_at_ms, item.seq)


def _single(item: PendingAlert) -> PlannedMail:
    return PlannedMail(item.kind, item.severity, (item,))


def _fold(items: Sequence[PendingAlert], last_mail: int | None, window_ms: int,
          now_ms: int) -> tuple[list[PlannedMail], int | None, int]:
    """One kind's alerts (in creation order) -> mails due now, next due time, count held."""
    mails: list[PlannedMail] = []
    previous = last_mail
    i = 0
    while i < len(items):
        first = items[i]
        opened_at = first.created_at_ms
        if previous is None or opened_at >= previous + window_ms:
            mails.append(_single(first))  # nothing of its kind mailed in the window before it
            previous = opened_at
            i += 1
            continue
        closes_at = opened_at + window_ms
        end = i
        while end < len(items) and items[end].created_at_ms < closes_at:
            end += 1
        if now_ms < closes_at:
            return mails, closes_at, len(items) - i  # window still open: hold it and the rest
        chunk = tuple(items[i:end])
        mails.append(PlannedMail(first.kind, first.severity, chunk))
        previous = closes_at  # the digest counts as sent when its window closed
        i = end
    return mails, None, 0
